"""Issue 5 in a real browser: Playwright drives Debian's Chromium against the live server.

PM one logs into the admin, drafts an Alternate Basket (fund, day, purpose, rationale and component rows)
and submits it; PM two approves it; an Authorized Participant's client then reads it from the AP API, with
the same components. The approval result page is saved as a screenshot (var/test-artifacts/).

The live server runs on the real clock, so the fixture builds the minimum the policy checks need for the
next NYSE business day: the Fund, its securities with closes on the day before, the End of Day NAV and the
day's Substitute Basket (test data, inserted directly). Without /usr/bin/chromium or the playwright package
the test skips, except under REQUIRE_SERVICES=1 (CI), where it fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import re
import urllib.request
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from backoffice import roles
from backoffice.audit import system_user
from baskets.models import AlternateBasket, BasketComponent, Publication, SubstituteBasket
from funds import business_calendar
from funds.models import DailyPrice, NetAssetValue, Portfolio, Strike
from tests.factories import FundFactory, SecurityFactory, UserFactory
from tests.orders_fixtures import make_agreement, make_ap_user, make_participant
from tests.services import require

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "alternate_basket_approval.png"
PASSWORD = "correct horse battery staple"
CREATION_UNIT = 10_000
NAV_PER_SHARE = D("50.0000")  # NAV per Creation Unit 500,000.00
# The day's Substitute Basket: four names worth 495,000.00 per Creation Unit, cash 5,000.00.
SUBSTITUTE = {"ALPHA": (D("99.00"), 2000), "BRAVO": (D("49.50"), 2000), "CHARL": (D("33.00"), 3000), "DELTA": (D("198.00"), 500)}
# The Alternate Basket PM one types: BRAVO and DELTA slightly lower (493,515.00, cash 6,485.00).
ALTERNATE = [("ALPHA", "2000"), ("BRAVO", "1990"), ("CHARL", "3000"), ("DELTA", "495")]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]


def _browser_available() -> None:
    require(Path(CHROMIUM).exists(), f"Chromium ({CHROMIUM}; CI installs Debian's chromium in .ci/run)")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package (requirements.txt)")


def _next_trade_date() -> dt.date:
    """The next NYSE business day after today (New York): a draft for it is never in the past, and it is still open."""
    return business_calendar.next_business_day(business_calendar.business_date(timezone.now()))


def build_day(trade_date: dt.date):
    """A Fund, four securities with closes on the prior business day, its End of Day NAV and the day's Substitute Basket."""
    actor = system_user()
    prior = business_calendar.previous_business_day(trade_date)
    fund = FundFactory(ticker="ALTB", name="Alternate Active ETF", creation_unit_size=CREATION_UNIT, launch_date=dt.date(2024, 1, 2))
    securities = {ticker: SecurityFactory(ticker=ticker, description=f"{ticker.title()} Corp.") for ticker in SUBSTITUTE}
    for ticker, (close, _) in SUBSTITUTE.items():
        DailyPrice.objects.create(security=securities[ticker], date=prior, close=close, adj_close=close, volume=2_000_000)
    portfolio = Portfolio.objects.create(fund=fund, as_of=prior, cash=D("50000.00"), created_by=actor)
    shares = D("100000")
    nav = NetAssetValue.objects.create(
        fund=fund, date=prior, strike=Strike.END_OF_DAY, strike_at=business_calendar.session_close(prior),
        struck_at=business_calendar.session_close(prior) + dt.timedelta(minutes=5), portfolio=portfolio,
        price_basis=NetAssetValue.PriceBasis.CLOSE, holdings_count=len(SUBSTITUTE), securities_value=D("4950000.00"),
        cash=D("50000.00"), liabilities=D("0.00"), net_assets=D("5000000.00"), shares_outstanding=shares,
        nav_per_share=NAV_PER_SHARE, inputs=[], struck_by=actor,
    )
    nav_per_unit = NAV_PER_SHARE * CREATION_UNIT
    securities_value = sum((close * quantity for close, quantity in SUBSTITUTE.values()), D(0))
    basket = SubstituteBasket.objects.create(
        fund=fund, trade_date=trade_date, portfolio=portfolio, basis_nav=nav, nav_per_share=NAV_PER_SHARE,
        creation_unit_size=CREATION_UNIT, nav_per_creation_unit=nav_per_unit, securities_value=securities_value,
        cash_amount=nav_per_unit - securities_value, shares_outstanding=shares, component_count=len(SUBSTITUTE),
        active_share_pct=D("12.0000"), ex_ante_tracking_error_pct=D("0.2000"), represented_share_pct=D("99.0000"),
        published_at=business_calendar.at_new_york(trade_date, dt.time(8, 0)), published_by=actor,
    )
    for ticker, (close, quantity) in SUBSTITUTE.items():
        value = close * quantity
        BasketComponent.objects.create(basket=basket, security=securities[ticker], quantity=quantity, price=close, market_value=value,
                                       weight_pct=value / nav_per_unit * 100, target_weight_pct=value / nav_per_unit * 100)
    return fund


def staff(username: str):
    user = UserFactory(username=username, first_name=username.upper(), roles=[roles.PORTFOLIO_MANAGER])
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def log_out(page) -> None:
    page.click("#logout-form button[type=submit]")
    page.wait_for_selector("text=Logged out")


def ap_get_bytes(base: str, path: str, token: str) -> bytes:
    """What an AP's own HTTP client receives from the live server (token authentication, like any AP system)."""
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Token {token}", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - the live server on localhost
        assert response.status == 200
        return response.read()


def ap_get(base: str, path: str, token: str) -> dict | list:
    return json.loads(ap_get_bytes(base, path, token).decode("utf-8"))


def test_pm_drafts_and_submits_a_second_pm_approves_and_an_ap_reads_it(live_server, settings, tmp_path):
    _browser_available()
    from playwright.sync_api import expect, sync_playwright

    # given: the roles (a transactional test before may have flushed them), two PMs, an AP user, the next business day
    settings.MEDIA_ROOT = tmp_path / "media"
    roles.sync_roles()
    trade_date = _next_trade_date()
    fund = build_day(trade_date)
    staff("pm-one")
    staff("pm-two")
    actor = system_user()
    participant = make_participant(actor, "Alpha Clearing LLC", "0101")
    make_agreement(actor, participant)
    ap_token = Token.objects.create(user=make_ap_user(actor, participant, "alpha-trader")).key
    base = live_server.url
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)

    # No ORM calls while Playwright's event loop runs in this thread (Django refuses them in an async context).
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)

            # when: PM one drafts the basket on the add page (three rows are shown; a fourth is added)
            log_in(page, base, "pm-one")
            page.goto(f"{base}/admin/baskets/alternatebasket/add/")
            page.select_option("#id_fund", label=str(fund))
            page.fill("#id_trade_date", trade_date.isoformat())
            page.select_option("#id_purpose", "BRING_IN")
            page.fill("#id_rationale", "Bring BRAVO and DELTA in kind at slightly lower size: cheaper than buying in the market.")
            page.get_by_text(re.compile("Add another component", re.IGNORECASE)).click()
            for row, (ticker, quantity) in enumerate(ALTERNATE):
                page.fill(f"#id_components-{row}-ticker", ticker)
                page.fill(f"#id_components-{row}-quantity", quantity)
                page.check(f"#id_components-{row}-no_front_running_risk")
                page.fill(f"#id_components-{row}-attestation_note", "no pending Fund orders in this name")
            page.click("input[name=_save]")
            page.wait_for_url(re.compile(r"/admin/baskets/alternatebasket/\d+/change/$"))
            basket_id = int(re.search(r"/alternatebasket/(\d+)/change/", page.url).group(1))
            expect(page.locator(".messagelist")).to_contain_text("was added successfully")

            # and submits it: every policy check passes
            page.click("input[value='Submit for approval']")
            expect(page.locator(".messagelist")).to_contain_text("submitted for approval: every policy check passed")
            expect(page.locator("input[value=Approve]")).to_be_disabled()  # four eyes: not by the drafter
            log_out(page)

            # when: PM two approves it
            log_in(page, base, "pm-two")
            page.goto(f"{base}/admin/baskets/alternatebasket/{basket_id}/change/")
            expect(page.locator("input[value=Approve]")).to_be_enabled()
            page.fill("#id_approve_note", "Four eyes: checked against the day's Substitute Basket.")
            page.click("input[value=Approve]")

            # then: the approval result page shows the released basket and its Publication
            expect(page.locator(".messagelist")).to_contain_text("approved: Publication #")
            expect(page.locator(".field-status")).to_contain_text("Disseminated to every AP")
            expect(page.locator(".field-publication_display")).to_contain_text("chain SHA-256")
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()

    basket = AlternateBasket.objects.get(pk=basket_id)
    assert basket.status == AlternateBasket.Status.DISSEMINATED
    assert (basket.drafted_by.username, basket.submitted_by.username, basket.decided_by.username) == ("pm-one", "pm-one", "pm-two")
    publication = Publication.objects.get(alternate_basket=basket)
    assert SCREENSHOT.stat().st_size > 10_000

    # then: an AP client reads it from the AP API, with the components PM one typed, and the exact bytes committed
    served = ap_get(base, f"/api/funds/{fund.ticker}/alternate-baskets/?date={trade_date.isoformat()}", ap_token)
    (row,) = [row for row in served if row["payload"]["alternate_basket_id"] == basket_id]
    assert {c["ticker"]: D(c["quantity"]) for c in row["payload"]["components"]} == {ticker: D(quantity) for ticker, quantity in ALTERNATE}
    assert (row["sequence"], row["payload_sha256"], row["kind"]) == (publication.sequence, publication.payload_sha256, "ALTERNATE_BASKET")
    raw = ap_get_bytes(base, f"/api/publications/{publication.sequence}/", ap_token)
    assert hashlib.sha256(raw).hexdigest() == publication.payload_sha256 and raw == publication.payload_bytes
