"""The Alternate Basket admin driven through the test client by two Portfolio Managers (issue 5).

PM one drafts (the add form and its component rows go through ``alternate_basket_draft``), submits (the
policy checks), PM two approves (four eyes: PM one cannot), and the approval commits the Publication every
AP receives. The trading day (BSKT, 2021-04-20, its Substitute Basket published) is built once per module;
the clock stands at 09:00 ET on that day so a draft for it is not in the past.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal as D

import pytest
import time_machine
from django.contrib.auth.models import Group

from backoffice import roles
from baskets.models import AlternateBasket, AlternateBasketEvent, Publication
from baskets.services import DraftLine, alternate_basket_draft, alternate_basket_submit
from tests.factories import UserFactory
from tests.orders_fixtures import TRADE_DATE, et, module_trading_day_fixtures

pytestmark = pytest.mark.django_db

URL = "/admin/baskets/alternatebasket/"
PUBLICATION_URL = "/admin/baskets/publication/"
S = AlternateBasket.Status
RATIONALE = "Bring in a name the Fund is building, in kind, without trading it in the market."

_built_day, trading_day = module_trading_day_fixtures()


@pytest.fixture(autouse=True)
def _morning_of_trade_date(trading_day):
    if not Group.objects.filter(name=roles.PORTFOLIO_MANAGER).exists():
        roles.sync_roles()  # a transactional test ran before and flushed the groups the data migration made
    with time_machine.travel(et(TRADE_DATE, 9, 0), tick=False):
        yield


@pytest.fixture
def pm_one(db):
    return UserFactory(username="pm-one", roles=[roles.PORTFOLIO_MANAGER])


@pytest.fixture
def pm_two(db):
    return UserFactory(username="pm-two", roles=[roles.PORTFOLIO_MANAGER])


def text(response) -> str:
    return response.content.decode()


def valid_rows(day, *, attested: bool = True) -> list[dict]:
    """The day's Substitute Basket (no cash-in-lieu lines), two quantities 2% lower: inside the value band, low active share."""
    components = list(day.basket.components.select_related("security").filter(cash_in_lieu=False).order_by("security__ticker"))
    rows = []
    for index, component in enumerate(components):
        quantity = D(component.quantity) * (D("0.98") if index < 2 else 1)
        rows.append({"ticker": component.security.ticker, "quantity": str(quantity.quantize(D(1), rounding=ROUND_HALF_UP)),
                     "attested": attested, "note": "no order flow in this name"})
    return rows


def draft_form(day, rows: list[dict], *, purpose: str = "BRING_IN", prefix: str = "components") -> dict:
    data = {"fund": str(day.fund.pk), "trade_date": TRADE_DATE.isoformat(), "purpose": purpose, "rationale": RATIONALE,
            f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        data[f"{prefix}-{i}-ticker"] = row["ticker"]
        data[f"{prefix}-{i}-quantity"] = row["quantity"]
        data[f"{prefix}-{i}-attestation_note"] = row.get("note", "")
        if row.get("attested"):
            data[f"{prefix}-{i}-no_front_running_risk"] = "on"
    return data


def draft_through_admin(client, day, rows) -> AlternateBasket:
    response = client.post(f"{URL}add/", draft_form(day, rows))
    assert response.status_code == 302, text(response)
    basket = AlternateBasket.objects.latest("id")
    assert response["Location"] == f"{URL}{basket.pk}/change/"  # the new draft opens on its own page, to be submitted
    client.get(response["Location"])
    return basket


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def submitted_by_service(day, drafter) -> AlternateBasket:
    lines = [DraftLine(r["ticker"], D(r["quantity"]), True, r["note"]) for r in valid_rows(day)]
    basket = alternate_basket_draft(actor=drafter, fund=day.fund, trade_date=TRADE_DATE, purpose="BRING_IN", rationale=RATIONALE,
                                    lines=lines)
    return alternate_basket_submit(actor=drafter, basket=basket)


# --- drafting ------------------------------------------------------------------------------------------------


def test_a_draft_with_a_protected_security_is_refused_naming_the_line_and_nothing_is_saved(client, trading_day, pm_one):
    # given: a PM puts one of the Fund's Protected Securities on the third line
    client.force_login(pm_one)
    protected = trading_day.market.protected[0]
    rows = valid_rows(trading_day)[:2] + [{"ticker": protected.lower(), "quantity": "100", "attested": True}]
    # when
    response = client.post(f"{URL}add/", draft_form(trading_day, rows))
    # then: the form comes back with the offending line named, and nothing is written
    assert response.status_code == 200
    body = text(response)
    assert "The draft is refused and nothing was saved" in body
    assert f"line 3 ({protected}): {protected} is a Protected Security of BSKT on 2021-04-20" in body
    assert f'value="{protected.lower()}"' in body  # what was typed is shown again
    assert not AlternateBasket.objects.exists() and not AlternateBasket.history.exists()
    assert not AlternateBasketEvent.objects.exists()


def test_a_pm_drafts_through_the_add_form_and_revises_the_draft(client, trading_day, pm_one):
    # given
    client.force_login(pm_one)
    rows = valid_rows(trading_day)
    assert client.get(f"{URL}add/").status_code == 200
    # when
    basket = draft_through_admin(client, trading_day, rows)
    # then: written by the service, with its event and history rows
    assert basket.status == S.DRAFT and basket.drafted_by == pm_one and basket.fund == trading_day.fund
    assert basket.trade_date == TRADE_DATE and basket.rationale == RATIONALE
    assert {c.security.ticker: c.quantity for c in basket.components.select_related("security")} == \
        {r["ticker"]: D(r["quantity"]) for r in rows}
    assert all(c.no_front_running_risk for c in basket.components.all())
    event = basket.events.get()
    assert (event.from_status, event.to_status, event.actor) == ("", S.DRAFT, pm_one)
    assert basket.history.earliest().history_user == pm_one

    # when: the draft is revised on its change page (the last line dropped, one quantity changed)
    page = client.get(f"{URL}{basket.pk}/change/")
    assert page.status_code == 200 and "Submit for approval" in text(page)
    components = list(basket.components.order_by("security__ticker"))
    data = draft_form(trading_day, rows)
    data.update({"components-INITIAL_FORMS": str(len(components)), f"components-{len(rows) - 1}-DELETE": "on",
                 "components-0-quantity": "1000", "events-TOTAL_FORMS": "1", "events-INITIAL_FORMS": "1",
                 "events-MIN_NUM_FORMS": "0", "events-MAX_NUM_FORMS": "1000", "events-0-id": str(event.pk),
                 "events-0-basket": str(basket.pk)})
    for i, component in enumerate(components):
        data[f"components-{i}-id"] = str(component.pk)
        data[f"components-{i}-basket"] = str(basket.pk)
    response = client.post(f"{URL}{basket.pk}/change/", data)
    # then
    assert response.status_code == 302, text(response)
    quantities = {c.security.ticker: c.quantity for c in basket.components.select_related("security")}
    assert len(quantities) == len(rows) - 1 and rows[-1]["ticker"] not in quantities
    assert quantities[rows[0]["ticker"]] == D("1000")
    assert list(basket.events.values_list("to_status", flat=True)) == [S.DRAFT, S.DRAFT]


# --- submission: the automatic policy checks -----------------------------------------------------------------


def test_submission_failing_the_policy_lists_each_failed_check_and_changes_nothing(client, trading_day, pm_one):
    # given: a draft whose lines are not attested and whose securities are worth far less than NAV per Creation Unit
    client.force_login(pm_one)
    rows = valid_rows(trading_day, attested=False)[:3]
    basket = draft_through_admin(client, trading_day, rows)
    # when
    response = client.post(f"{URL}{basket.pk}/submit/", follow=True)
    # then: one message per failed check, each offending line named; the basket is still a draft
    shown = messages_of(response)
    assert shown[0].startswith("Not submitted: the basket fails the Fund's basket policy")
    assert any(m.startswith("attestation: no front-running or free-riding risk") and f"{rows[0]['ticker']}: not attested" in m
               for m in shown)
    assert any(m.startswith("value within tolerance of NAV per Creation Unit") for m in shown)
    basket.refresh_from_db()
    assert basket.status == S.DRAFT and basket.check_report == {} and basket.submitted_by is None
    assert basket.events.count() == 1


def test_a_valid_draft_is_submitted_and_becomes_read_only(client, trading_day, pm_one):
    # given
    client.force_login(pm_one)
    basket = draft_through_admin(client, trading_day, valid_rows(trading_day))
    # when
    response = client.post(f"{URL}{basket.pk}/submit/", follow=True)
    # then
    assert any("submitted for approval: every policy check passed" in m for m in messages_of(response)), messages_of(response)
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED and basket.submitted_by == pm_one
    assert basket.check_report["passed"] is True and len(basket.check_report_sha256) == 64
    page = text(response)
    assert basket.check_report_sha256 in page and "active share against the day&#x27;s Substitute Basket" in page
    assert "Submit for approval" not in page and 'name="_save"' not in page  # a record now, no save buttons
    # the change form refuses a write (the service would too)
    assert client.post(f"{URL}{basket.pk}/change/", draft_form(trading_day, valid_rows(trading_day))).status_code == 403
    # and submitting twice is refused with a message
    again = client.post(f"{URL}{basket.pk}/submit/", follow=True)
    assert any("only a draft can be submitted" in m for m in messages_of(again))


# --- approval: four eyes ---------------------------------------------------------------------------------------


def test_the_drafter_sees_approve_disabled_and_a_forced_approval_is_refused(client, trading_day, pm_one):
    # given
    basket = submitted_by_service(trading_day, pm_one)
    client.force_login(pm_one)
    # when: the drafter opens the page
    page = text(client.get(f"{URL}{basket.pk}/change/"))
    # then
    assert re.search(r'<input type="submit" value="Approve"[^>]* disabled', page)
    assert "a second person must approve or reject it (four eyes)" in page
    # when: the drafter posts the approval anyway
    response = client.post(f"{URL}{basket.pk}/approve/", {"release_at": "", "note": ""}, follow=True)
    # then: the four-eyes refusal, and nothing is committed
    assert any("Not approved:" in m and "four eyes" in m for m in messages_of(response)), messages_of(response)
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED and basket.decided_by is None
    assert not Publication.objects.filter(alternate_basket=basket).exists()


def test_whoever_submitted_a_colleagues_draft_cannot_decide_it_either(client, trading_day, pm_one, pm_two):
    # given: PM one drafts, PM two submits
    lines = [DraftLine(r["ticker"], D(r["quantity"]), True) for r in valid_rows(trading_day)]
    basket = alternate_basket_draft(actor=pm_one, fund=trading_day.fund, trade_date=TRADE_DATE, purpose="BRING_IN", rationale=RATIONALE,
                                    lines=lines)
    client.force_login(pm_two)
    client.post(f"{URL}{basket.pk}/submit/")
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED and basket.submitted_by == pm_two
    # then: neither of them may decide it
    for user in (pm_one, pm_two):
        client.force_login(user)
        assert re.search(r'<input type="submit" value="Approve"[^>]* disabled', text(client.get(f"{URL}{basket.pk}/change/")))
        response = client.post(f"{URL}{basket.pk}/reject/", {"note": "not mine to decide"}, follow=True)
        assert any("Not rejected:" in m and "four eyes" in m for m in messages_of(response)), messages_of(response)
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED and basket.decided_by is None


def test_a_second_pm_approves_and_the_publication_is_committed_and_shown(client, trading_day, pm_one, pm_two):
    # given
    basket = submitted_by_service(trading_day, pm_one)
    client.force_login(pm_two)
    page = text(client.get(f"{URL}{basket.pk}/change/"))
    assert re.search(r'<input type="submit" value="Approve" class="default" name="_approve">', page)
    # when: approved for release now
    response = client.post(f"{URL}{basket.pk}/approve/", {"release_at": "", "note": "in the Fund's interest"}, follow=True)
    # then: released to every AP at once (DISSEMINATED), one Publication with the same components
    basket.refresh_from_db()
    assert basket.status == S.DISSEMINATED and basket.decided_by == pm_two and basket.release_at == et(TRADE_DATE, 9, 0)
    publication = Publication.objects.get(alternate_basket=basket)
    payload = json.loads(publication.payload)
    assert payload["alternate_basket_id"] == basket.pk and payload["kind"] == "ALTERNATE_BASKET"
    assert {c["ticker"]: c["quantity"] for c in payload["components"]} == \
        {c.security.ticker: str(c.quantity) for c in basket.components.select_related("security")}
    assert any(f"Publication #{publication.sequence} is released to every AP at 2021-04-20 09:00:00 ET" in m
               for m in messages_of(response))
    body = text(response)
    assert "Disseminated to every AP" in body and publication.chain_sha256 in body and publication.payload_sha256 in body
    assert list(basket.events.values_list("to_status", "actor__username")) == [
        (S.DRAFT, "pm-one"), (S.SUBMITTED, "pm-one"), (S.APPROVED, "pm-two"), (S.DISSEMINATED, "pm-two")]
    # the read-only Publication admin shows it, payload pretty-printed
    listing = text(client.get(PUBLICATION_URL))
    assert publication.payload_sha256[:12] in listing and "ALTERNATE_BASKET" in listing
    detail = client.get(f"{PUBLICATION_URL}{publication.pk}/change/")
    assert detail.status_code == 200 and '"alternate_basket_id": ' + str(basket.pk) in text(detail).replace("&quot;", '"')
    assert client.post(f"{PUBLICATION_URL}{publication.pk}/change/", {}).status_code == 403


def test_a_release_time_later_in_the_day_is_typed_in_new_york_time(client, trading_day, pm_one, pm_two):
    basket = submitted_by_service(trading_day, pm_one)
    client.force_login(pm_two)
    client.post(f"{URL}{basket.pk}/approve/", {"release_at": "2021-04-20T10:30", "note": ""})
    basket.refresh_from_db()
    assert basket.status == S.APPROVED and basket.release_at == et(TRADE_DATE, 10, 30)
    assert Publication.objects.get(alternate_basket=basket).release_at == et(TRADE_DATE, 10, 30)


def test_a_second_pm_rejects_with_a_note(client, trading_day, pm_one, pm_two):
    basket = submitted_by_service(trading_day, pm_one)
    client.force_login(pm_two)
    # a rejection needs its reason
    client.post(f"{URL}{basket.pk}/reject/", {"note": ""})
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED
    client.post(f"{URL}{basket.pk}/reject/", {"note": "the value is too close to the floor"})
    basket.refresh_from_db()
    assert basket.status == S.REJECTED and basket.decided_by == pm_two and basket.decision_note == "the value is too close to the floor"
    assert not Publication.objects.filter(alternate_basket=basket).exists()


# --- who may do what ---------------------------------------------------------------------------------------------


def test_the_list_shows_the_workflow_columns_and_filters(client, trading_day, pm_one):
    basket = submitted_by_service(trading_day, pm_one)
    client.force_login(pm_one)
    listing = text(client.get(URL))
    for column in ("Fund", "Trade date", "Status", "Purpose", "Drafted by", "Decided by", "Release time"):
        assert column in listing
    assert "pm-one" in listing and "Submitted for approval" in listing
    assert str(basket.pk) in text(client.get(f"{URL}?status__exact=SUBMITTED"))
    assert f"{URL}{basket.pk}/change/" not in text(client.get(f"{URL}?status__exact=DRAFT"))


def test_nobody_deletes_an_alternate_basket(client, trading_day, pm_one):
    basket = submitted_by_service(trading_day, pm_one)
    superuser = UserFactory(is_superuser=True)
    for user in (pm_one, superuser):
        client.force_login(user)
        assert client.get(f"{URL}{basket.pk}/delete/").status_code == 403
        client.post(URL, {"action": "delete_selected", "_selected_action": [basket.pk], "post": "yes"})
        assert AlternateBasket.objects.filter(pk=basket.pk).exists()


def test_compliance_reads_but_cannot_draft_submit_or_approve(client, trading_day, pm_one):
    basket = submitted_by_service(trading_day, pm_one)
    client.force_login(UserFactory(roles=[roles.COMPLIANCE]))
    page = client.get(f"{URL}{basket.pk}/change/")
    assert page.status_code == 200 and 'value="Approve"' not in text(page)
    assert client.get(f"{URL}add/").status_code == 403
    assert client.post(f"{URL}{basket.pk}/approve/", {"release_at": ""}).status_code == 403
    assert client.post(f"{URL}{basket.pk}/reject/", {"note": "no"}).status_code == 403
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED


def test_an_authorized_participant_cannot_reach_the_admin_pages(client, trading_day, pm_one):
    basket = submitted_by_service(trading_day, pm_one)
    # an AP API user (not staff) is sent to the login page
    client.force_login(trading_day.user_one)
    for url in (URL, f"{URL}add/", f"{URL}{basket.pk}/change/", PUBLICATION_URL):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    response = client.post(f"{URL}{basket.pk}/approve/", {"release_at": ""})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    # even an AP-role user wrongly marked staff has no permission
    client.force_login(UserFactory(roles=[roles.AUTHORIZED_PARTICIPANT]))
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{basket.pk}/change/").status_code == 403
    assert client.post(f"{URL}{basket.pk}/approve/", {"release_at": ""}).status_code == 403
    basket.refresh_from_db()
    assert basket.status == S.SUBMITTED
