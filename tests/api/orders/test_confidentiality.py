"""Who sees what: each AP only its own orders, records and agreements; another AP's answer like missing ones;
no AP response carries holdings or the protected set; staff see every AP; agreements are kept for their retention."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass

import pytest
import time_machine

from backoffice import roles
from funds import services as fund_services
from funds.models import Strike
from orders import services
from orders.models import AuthorizedParticipantAgreement, Order
from tests.factories import UserFactory
from tests.orders_fixtures import TRADE_DATE, TradingDay, client_for, et, order_payload, trading_day  # noqa: F401

pytestmark = pytest.mark.django_db


def _place(user, key, at=et(TRADE_DATE, 10, 0), **overrides) -> str:
    with time_machine.travel(at, tick=False):
        response = client_for(user).post("/api/orders/", order_payload(**overrides), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.json()
    return response.json()["reference"]


@dataclass
class Book:
    day: TradingDay
    one_priced: str  # ap_one, in kind, priced at the Intra-Day NAV
    one_cancelled: str  # ap_one, cancelled before the cut-off
    two_priced: str  # ap_two (DTC only), in kind, priced


@pytest.fixture
def book(trading_day, actor) -> Book:
    """Both APs place orders before 12:00 ET; one of ap_one's is cancelled; the rest are priced at the Intra-Day NAV."""
    day = trading_day
    one_priced = _place(day.user_one, "one-a", creation_units=2)
    one_cancelled = _place(day.user_one, "one-b", creation_units=1, side="REDEEM")
    two_priced = _place(day.user_two, "two-a", creation_units=3, settlement_channel="DTC")
    with time_machine.travel(et(TRADE_DATE, 10, 30), tick=False):
        assert client_for(day.user_one).post(f"/api/orders/{one_cancelled}/cancel/").status_code == 200
    with time_machine.travel(et(TRADE_DATE, 12, 1), tick=False):
        fund_services.nav_strike(fund_id=day.fund.pk, day=TRADE_DATE, strike=Strike.INTRADAY, actor=actor)
        services.orders_price_due(actor=actor)
    assert Order.objects.get(reference=one_priced).status == Order.Status.PRICED
    assert Order.objects.get(reference=two_priced).status == Order.Status.PRICED
    return Book(day, one_priced, one_cancelled, two_priced)


def _refs(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["reference"] for row in response.json()["results"]}


# --- Orders -------------------------------------------------------------------------------


def test_each_ap_lists_only_its_own_orders(book):
    one, two = client_for(book.day.user_one), client_for(book.day.user_two)
    # list
    assert _refs(one.get("/api/orders/")) == {book.one_priced, book.one_cancelled}
    assert _refs(two.get("/api/orders/")) == {book.two_priced}
    # the count does not leak the other AP's orders either
    assert one.get("/api/orders/").json()["count"] == 2
    # with filters
    assert _refs(one.get("/api/orders/?fund=BSKT")) == {book.one_priced, book.one_cancelled}
    assert _refs(two.get("/api/orders/?fund=bskt")) == {book.two_priced}
    assert _refs(one.get("/api/orders/?status=PRICED")) == {book.one_priced}
    assert _refs(one.get("/api/orders/?status=CANCELLED")) == {book.one_cancelled}
    assert _refs(two.get("/api/orders/?status=CANCELLED")) == set()
    assert _refs(two.get("/api/orders/?side=CREATE&start=2021-04-20&end=2021-04-20")) == {book.two_priced}


def _assert_like_missing(client, path_of_other: str, path_of_missing: str, method: str = "get") -> None:
    other = getattr(client, method)(path_of_other)
    missing = getattr(client, method)(path_of_missing)
    assert other.status_code == missing.status_code == 404, (other.content, missing.content)
    assert other.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert set(other.json()["error"]) == set(missing.json()["error"])


def test_another_aps_order_answers_exactly_like_a_missing_one(book):
    one, two = client_for(book.day.user_one), client_for(book.day.user_two)
    missing = "O20210420-0000000000"
    for client, others in ((one, book.two_priced), (two, book.one_priced)):
        _assert_like_missing(client, f"/api/orders/{others}/", f"/api/orders/{missing}/")
        _assert_like_missing(client, f"/api/orders/{others}/basket-record/", f"/api/orders/{missing}/basket-record/")
        _assert_like_missing(client, f"/api/orders/{others}/basket-record/?format=csv", f"/api/orders/{missing}/basket-record/?format=csv")
    # cancelling another AP's accepted order before its cut-off: 404, and it stays as it was
    accepted = _place(book.day.user_two, "two-b", creation_units=1, settlement_channel="DTC", at=et(TRADE_DATE, 12, 30))
    with time_machine.travel(et(TRADE_DATE, 12, 35), tick=False):
        _assert_like_missing(one, f"/api/orders/{accepted}/cancel/", f"/api/orders/{missing}/cancel/", method="post")
    assert Order.objects.get(reference=accepted).status == Order.Status.ACCEPTED


def test_own_order_detail_and_basket_record_are_served(book):
    one = client_for(book.day.user_one)
    detail = one.get(f"/api/orders/{book.one_priced}/")
    assert detail.status_code == 200
    assert [e["to_status"] for e in detail.json()["events"]] == ["RECEIVED", "ACCEPTED", "PRICED"]
    record = one.get(f"/api/orders/{book.one_priced}/basket-record/")
    assert record.status_code == 200
    assert record.json()["authorized_participant"] == "Alpha Clearing LLC"
    as_csv = one.get(f"/api/orders/{book.one_priced}/basket-record/?format=csv")
    assert as_csv.status_code == 200, as_csv.content
    assert as_csv["Content-Type"].startswith("text/csv") and book.one_priced in as_csv["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert {row["authorized_participant"] for row in rows} == {"Alpha Clearing LLC"}
    assert len(rows) == len(record.json()["lines"])


def _strings(value) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_strings(v) | {str(k)} for k, v in value.items())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return {str(value)}


def test_no_order_response_carries_protected_securities_or_holdings(book):
    # given: the protected securities are held by the Fund but excluded from the published basket
    market = book.day.market
    protected = set(market.protected)
    basket_tickers = set(book.day.basket.components.values_list("security__ticker", flat=True))
    assert protected and protected <= set(market.held) and not protected & basket_tickers
    unpublished_holdings = set(market.held) - basket_tickers  # held, not in the basket: must not leak either
    one = client_for(book.day.user_one)
    responses = [
        one.get("/api/orders/"),
        one.get(f"/api/orders/{book.one_priced}/"),
        one.get(f"/api/orders/{book.one_priced}/basket-record/"),
        one.get("/api/ap/me/"),
    ]
    for response in responses:
        assert response.status_code == 200
        seen = _strings(response.json())
        assert not seen & protected, (response.request["PATH_INFO"], seen & protected)
        assert not seen & unpublished_holdings, (response.request["PATH_INFO"], seen & unpublished_holdings)
        assert not {"holdings", "portfolio", "positions", "protected"} & seen
    csv_body = one.get(f"/api/orders/{book.one_priced}/basket-record/?format=csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(csv_body)))
    assert {row["ticker"] for row in rows} == basket_tickers
    # the basket record lists exactly the published basket, nothing more of the portfolio
    record = one.get(f"/api/orders/{book.one_priced}/basket-record/").json()
    assert {line["ticker"] for line in record["lines"]} == basket_tickers


@pytest.mark.parametrize("user", ["user_one", "user_two"])
def test_ap_users_cannot_read_the_portfolio(book, user):
    client = client_for(getattr(book.day, user))
    for path in ("/api/funds/BSKT/portfolio/", "/api/funds/BSKT/portfolio/?date=2021-04-15"):
        response = client.get(path)
        assert response.status_code in (403, 404), response.content
        assert not _strings(response.json()) & set(book.day.market.held)


@pytest.mark.parametrize("role", [roles.OPERATIONS, roles.COMPLIANCE, roles.AP_RELATIONSHIP, roles.BOARD])
def test_staff_see_every_aps_orders(book, role):
    staff = client_for(UserFactory(roles=[role]))
    assert _refs(staff.get("/api/orders/")) == {book.one_priced, book.one_cancelled, book.two_priced}
    assert _refs(staff.get("/api/orders/?status=PRICED")) == {book.one_priced, book.two_priced}
    for reference in (book.one_priced, book.two_priced):
        assert staff.get(f"/api/orders/{reference}/").status_code == 200
        assert staff.get(f"/api/orders/{reference}/basket-record/").status_code == 200


def test_a_user_with_no_role_sees_no_orders(book):
    nobody = client_for(UserFactory(roles=[]))
    assert nobody.get("/api/orders/").status_code == 403
    assert nobody.get(f"/api/orders/{book.one_priced}/").status_code == 403


def test_staff_cannot_cancel_an_aps_order(trading_day):
    reference = _place(trading_day.user_one, "k")
    with time_machine.travel(et(TRADE_DATE, 10, 5), tick=False):
        response = client_for(UserFactory(roles=[roles.OPERATIONS])).post(f"/api/orders/{reference}/cancel/")
    assert response.status_code == 403
    assert Order.objects.get(reference=reference).status == Order.Status.ACCEPTED


# --- A.9(c) records export ---------------------------------------------------------------------


def test_compliance_exports_every_aps_basket_records(book):
    response = client_for(UserFactory(roles=[roles.COMPLIANCE])).get("/api/orders/records.csv?start=2021-04-20&end=2021-04-20")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["authorized_participant"] for row in rows} == {"Alpha Clearing LLC", "Beta Securities Inc."}
    assert {row["order_reference"] for row in rows} == {book.one_priced, book.two_priced}  # the cancelled one exchanged nothing
    # another day is empty
    other_day = client_for(UserFactory(roles=[roles.COMPLIANCE])).get("/api/orders/records.csv?start=2021-04-21&end=2021-04-21")
    assert list(csv.DictReader(io.StringIO(other_day.content.decode()))) == []


@pytest.mark.parametrize("user", ["user_one", "user_two"])
def test_ap_users_cannot_export_records(book, user):
    response = client_for(getattr(book.day, user)).get("/api/orders/records.csv?start=2021-04-20&end=2021-04-20")
    assert response.status_code == 403
    assert "Alpha" not in response.content.decode() and "Beta" not in response.content.decode()


# --- The AP itself and its agreements -------------------------------------------------------


def test_me_is_the_users_own_ap(trading_day):
    assert client_for(trading_day.user_one).get("/api/ap/me/").json()["legal_name"] == "Alpha Clearing LLC"
    assert client_for(trading_day.user_two).get("/api/ap/me/").json()["legal_name"] == "Beta Securities Inc."
    assert client_for(UserFactory(roles=[roles.OPERATIONS])).get("/api/ap/me/").status_code == 403


def test_each_ap_sees_only_its_own_agreements(trading_day):
    one, two = client_for(trading_day.user_one), client_for(trading_day.user_two)
    own = trading_day.ap_one.agreements.get()
    others = trading_day.ap_two.agreements.get()
    # list
    listed = one.get("/api/ap/agreements/").json()
    assert [row["id"] for row in listed["results"]] == [own.pk] and listed["count"] == 1
    assert [row["authorized_participant"] for row in two.get("/api/ap/agreements/").json()["results"]] == ["Beta Securities Inc."]
    # detail
    assert one.get(f"/api/ap/agreements/{own.pk}/").json()["document_sha256"] == own.document_sha256
    _assert_like_missing(one, f"/api/ap/agreements/{others.pk}/", f"/api/ap/agreements/{others.pk + 1000}/")
    _assert_like_missing(two, f"/api/ap/agreements/{own.pk}/", f"/api/ap/agreements/{own.pk + 1000}/")
    # staff see both
    staff = client_for(UserFactory(roles=[roles.AP_RELATIONSHIP]))
    assert {row["id"] for row in staff.get("/api/ap/agreements/").json()["results"]} == {own.pk, others.pk}


def test_an_agreement_in_force_cannot_be_deleted(trading_day):
    agreement = trading_day.ap_two.agreements.get()
    response = client_for(UserFactory(roles=[roles.AP_RELATIONSHIP])).delete(f"/api/ap/agreements/{agreement.pk}/")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "retention_period"
    assert AuthorizedParticipantAgreement.objects.filter(pk=agreement.pk).exists()


def test_an_agreement_is_kept_five_years_after_termination(trading_day, actor):
    # given: ap_two's agreement terminated on 2021-06-01 (it has no orders)
    agreement = trading_day.ap_two.agreements.get()
    services.agreement_terminate(actor=actor, agreement=agreement, terminated_on=dt.date(2021, 6, 1), reason="ceased trading")
    relationship = client_for(UserFactory(roles=[roles.AP_RELATIONSHIP]))
    path = f"/api/ap/agreements/{agreement.pk}/"
    # when: the last day of the retention period
    with time_machine.travel(dt.datetime(2026, 5, 31, 12, 0, tzinfo=dt.timezone.utc), tick=False):
        inside = relationship.delete(path)
    # then
    assert inside.status_code == 409, inside.content
    assert inside.json()["error"]["code"] == "retention_period"
    assert inside.json()["error"]["details"]["retained_until"] == "2026-06-01"
    assert AuthorizedParticipantAgreement.objects.filter(pk=agreement.pk).exists()
    # the AP itself may never delete it, nor may Compliance
    with time_machine.travel(dt.datetime(2026, 6, 2, 12, 0, tzinfo=dt.timezone.utc), tick=False):
        assert client_for(trading_day.user_two).delete(path).status_code == 403
        assert client_for(UserFactory(roles=[roles.COMPLIANCE])).delete(path).status_code == 403
        assert AuthorizedParticipantAgreement.objects.filter(pk=agreement.pk).exists()
        # when: AP Relationship, after the retention period
        after = relationship.delete(path)
    # then
    assert after.status_code == 204, after.content
    assert not AuthorizedParticipantAgreement.objects.filter(pk=agreement.pk).exists()
    assert agreement.history.filter(history_type="-").count() == 1  # the deletion is itself recorded


def test_an_agreement_that_orders_were_placed_under_is_not_deleted_with_a_server_error(trading_day, actor):
    # given: an order placed under ap_one's agreement, which later ended and whose retention ran out
    reference = _place(trading_day.user_one, "k")
    agreement = trading_day.ap_one.agreements.get()
    services.agreement_terminate(actor=actor, agreement=agreement, terminated_on=dt.date(2021, 6, 1), reason="ceased trading")
    # when
    with time_machine.travel(dt.datetime(2026, 6, 2, 12, 0, tzinfo=dt.timezone.utc), tick=False):
        response = client_for(UserFactory(roles=[roles.AP_RELATIONSHIP])).delete(f"/api/ap/agreements/{agreement.pk}/")
    # then: refused with a reason (the orders still point to it), not a 500
    assert response.status_code == 409, response.content
    assert reference in json.dumps(response.json()) or "order" in response.json()["error"]["message"].lower()
    assert AuthorizedParticipantAgreement.objects.filter(pk=agreement.pk).exists()
