import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backoffice import roles
from baskets.models import BasketPolicy
from baskets.services import protected_security_designate, proxy_spreads_record, substitute_baskets_publish
from funds import business_calendar
from funds.models import DailyPrice, NetAssetValue, Portfolio, Strike
from funds.services import nav_strike_batch, portfolio_book
from tests.baskets_fixtures import PRIOR, TRADE_DATE, before_open, build_market, market  # noqa: F401
from tests.factories import SecurityFactory, UserFactory, make_cusip

pytestmark = pytest.mark.django_db


def token_client(*role_names):
    user = UserFactory(roles=list(role_names), is_staff=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def publish(market, day=TRADE_DATE):
    [outcome] = substitute_baskets_publish(trade_date=day, fund_ids=[market.fund.pk], actor=market.pm, now=before_open(day))
    assert outcome.basket is not None, outcome.message
    return outcome.basket


def test_ap_reads_the_days_creation_basket_with_its_metrics(market):
    # given
    basket = publish(market)
    client = token_client(roles.AUTHORIZED_PARTICIPANT)
    # when
    body = client.get(f"/api/funds/{market.fund.ticker}/basket/").json()
    # then
    assert (body["trade_date"], body["version"], body["fund"]) == (TRADE_DATE.isoformat(), 1, "BSKT")
    assert D(body["nav_per_creation_unit"]) == basket.nav_per_creation_unit
    assert D(body["cash_amount"]) == basket.cash_amount
    assert len(body["components"]) == basket.component_count
    total = sum(D(c["market_value"]) for c in body["components"]) + D(body["cash_amount"])
    assert abs(total - basket.nav_per_creation_unit) <= D("0.01")
    assert set(body) >= {"basket_overlap_pct", "active_share_pct", "tracking_error_pct", "ex_ante_tracking_error_pct",
                         "represented_share_pct", "correlation", "tracking_error_note"}
    # by date and version
    assert client.get(f"/api/funds/BSKT/basket/?date={TRADE_DATE}").json()["trade_date"] == TRADE_DATE.isoformat()
    assert client.get(f"/api/funds/BSKT/basket/?date={TRADE_DATE}&version=1").status_code == 200


def test_bad_requests_get_clear_errors(market):
    publish(market)
    client = token_client(roles.AUTHORIZED_PARTICIPANT)
    bad_date = client.get("/api/funds/BSKT/basket/?date=20-04-2021")
    assert bad_date.status_code == 400 and "date" in bad_date.json()["error"]["details"]
    missing_day = client.get("/api/funds/BSKT/basket/?date=2021-04-17")
    assert missing_day.status_code == 404 and "No Substitute Basket for BSKT on 2021-04-17" in missing_day.json()["error"]["message"]
    missing_version = client.get(f"/api/funds/BSKT/basket/?date={TRADE_DATE}&version=2")
    assert missing_version.status_code == 404 and "version 2" in missing_version.json()["error"]["message"]
    assert client.get("/api/funds/NOPE/basket/").status_code == 404
    assert client.get("/api/funds/BSKT/basket/metrics/?start=2021-04-20&end=2021-04-01").status_code == 400


def test_who_may_read_baskets(market):
    publish(market)
    assert APIClient().get("/api/funds/BSKT/basket/").status_code == 401
    assert token_client(roles.INVESTING_FUND).get("/api/funds/BSKT/basket/").status_code == 403
    for role in (roles.AUTHORIZED_PARTICIPANT, roles.OPERATIONS, roles.AP_RELATIONSHIP, roles.COMPLIANCE):
        assert token_client(role).get("/api/funds/BSKT/basket/pcf/").status_code == 200, role


def test_metrics_history_lists_every_version(market):
    publish(market, day=PRIOR)
    publish(market)
    body = token_client(roles.AUTHORIZED_PARTICIPANT).get("/api/funds/BSKT/basket/metrics/").json()
    assert [r["trade_date"] for r in body["results"]] == [TRADE_DATE.isoformat(), PRIOR.isoformat()]
    assert "components" not in body["results"][0]


def test_pcf_has_header_fund_and_component_records_and_escapes_formulas(market):
    # given: a basket name whose description starts like a formula
    basket = publish(market)
    component = basket.components.order_by("-market_value").first()
    security = component.security
    type(security).objects.filter(pk=security.pk).update(description='=HYPERLINK("http://evil","x")')
    client = token_client(roles.AUTHORIZED_PARTICIPANT)
    # when
    response = client.get("/api/funds/BSKT/basket/pcf/")
    # then
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="BSKT_PCF_{TRADE_DATE}.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header, fund, components = rows[1], rows[3], [r for r in rows[5:]]
    assert rows[0][0] == "record_type" and header[:2] == ["H", "PCF"] and header[5] == TRADE_DATE.isoformat()
    assert fund[0] == "F" and fund[1] == "BSKT" and fund[4] == "25000"
    assert D(fund[5]) == basket.nav_per_creation_unit.quantize(D("0.01")) and D(fund[6]) == basket.cash_amount
    assert int(fund[8]) == basket.component_count == len(components)
    assert all(r[0] == "D" and r[6] in ("Y", "N") for r in components)
    escaped = next(r for r in components if r[2] == security.ticker)
    assert escaped[3] == "'=HYPERLINK(\"http://evil\",\"x\")" and int(escaped[4]) == component.quantity
    assert sum(D(r[5]) for r in components) <= D("100")


# --- the canary leak test --------------------------------------------------------------------------

CANARIES = ("CANARYP", "CANARYQ", "CANARYH")


def test_no_ap_or_public_response_carries_holdings_or_protected_securities(actor):
    # given: canaries planted where only PMs and Compliance (protected) or holdings roles may look:
    # CANARYP is held and protected; CANARYQ is protected, not held; CANARYH is held but too illiquid for the basket
    market = build_market(actor)
    fund = market.fund
    canaries = {t: SecurityFactory(ticker=t, description=f"{t} Secret Holdings Corp", cusip=make_cusip(900 + i, "Q")) for i, t in enumerate(CANARIES)}
    for security in canaries.values():
        rows = DailyPrice.objects.filter(security=market.securities[market.held[-1]])
        DailyPrice.objects.bulk_create([
            DailyPrice(security=security, date=r.date, close=r.close, adj_close=r.adj_close,
                       volume=10 if security.ticker == "CANARYH" else r.volume)
            for r in rows
        ])
    base = Portfolio.objects.get(fund=fund)  # the fixture's portfolio, plus the two held canaries
    positions = [(h.security_id, h.quantity) for h in base.holdings.all()]
    positions += [(canaries["CANARYP"].pk, D("1000")), (canaries["CANARYH"].pk, D("800"))]
    portfolio_book(fund_id=fund.pk, as_of=PRIOR, positions=positions, cash=base.cash, actor=actor)
    # re-strike from PRIOR on so the NAVs (and the baskets' basis) include the canary holdings
    NetAssetValue.objects.filter(fund=fund, date__gte=PRIOR).delete()
    for day in (PRIOR, TRADE_DATE):
        nav_strike_batch(fund_ids=[fund.pk], day=day, strike=Strike.END_OF_DAY, actor=actor, now=business_calendar.session_close(day) + dt.timedelta(minutes=5))
    for ticker in ("CANARYP", "CANARYQ"):
        protected_security_designate(fund_id=fund.pk, security_id=canaries[ticker].pk, effective_from=PRIOR, reason="canary", actor=market.pm)
    publish(market, day=PRIOR)
    basket = publish(market)
    proxy_spreads_record(day=TRADE_DATE, fund_ids=[fund.pk], actor=actor)
    assert "CANARYH" in str(basket.engine_report)  # the engine saw it and screened it out (internal report only)
    secrets = [s for c in canaries.values() for s in (c.ticker, c.cusip, c.description)]

    # when: every endpoint an AP, an Investing Fund or the public can reach, with every parameter variant
    ap, investing, public = token_client(roles.AUTHORIZED_PARTICIPANT), token_client(roles.INVESTING_FUND), APIClient()
    urls = [
        "/", "/api/schema/", "/api/docs/", "/api/funds/", "/api/funds/BSKT/", "/api/funds/BSKT/navs/",
        f"/api/funds/BSKT/navs/{TRADE_DATE}/END_OF_DAY/", "/api/funds/BSKT/portfolio/", "/api/securities/",
        "/api/funds/BSKT/basket/", f"/api/funds/BSKT/basket/?date={PRIOR}", "/api/funds/BSKT/basket/pcf/",
        f"/api/funds/BSKT/basket/pcf/?date={PRIOR}", "/api/funds/BSKT/basket/metrics/",
    ]
    checked = 0
    for client in (ap, investing, public):
        for url in urls:
            response = client.get(url)
            body = response.content.decode()
            # then
            for secret in secrets:
                assert secret not in body, f"{secret} leaked by {url} ({response.status_code})"
            checked += 1
    assert checked == 3 * len(urls)
    # and the AP really got the basket (the test is not vacuous)
    assert ap.get("/api/funds/BSKT/basket/").json()["component_count"] == basket.component_count > 0


def test_basket_endpoints_are_in_the_openapi_schema_without_warnings(tmp_path):
    from django.core.management import call_command

    # --fail-on-warn: every view documents its parameters and responses
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    for path in ("/api/funds/{ticker}/basket/:", "/api/funds/{ticker}/basket/pcf/:", "/api/funds/{ticker}/basket/metrics/:"):
        assert path in schema
    assert "text/csv" in schema
