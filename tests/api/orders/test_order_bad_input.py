"""Bad order requests: each is a 4xx naming what is wrong, and writes nothing (no Order, no OrderEvent)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from backoffice import roles
from baskets.services import substitute_baskets_publish
from orders import services
from orders.models import AuthorizedParticipant, Order, OrderEvent
from tests.baskets_fixtures import PRIOR, before_open
from tests.factories import UserFactory
from tests.orders_fixtures import (  # noqa: F401  (trading_day is a fixture)
    TRADE_DATE,
    client_for,
    et,
    make_agreement,
    make_ap_user,
    make_participant,
    order_payload,
    trading_day,
)

pytestmark = pytest.mark.django_db

OPEN = et(TRADE_DATE, 10, 0)


def _post(client, payload, key="bad-1"):
    with time_machine.travel(OPEN, tick=False):
        return client.post("/api/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _counts() -> tuple[int, int]:
    return Order.objects.count(), OrderEvent.objects.count()


def _assert_refused(response, status: int, field: str | None, before: tuple[int, int], code: str = "invalid_input") -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    if field is not None:
        assert field in (error.get("details") or {}), error
    assert _counts() == before, "a refused request wrote rows"
    return error


def test_an_unknown_fund_is_refused_naming_fund(trading_day):
    # given
    before = _counts()
    # when
    response = _post(client_for(trading_day.user_one), order_payload(fund="NOPE"))
    # then
    error = _assert_refused(response, 400, "fund", before)
    assert "NOPE" in error["message"]


@pytest.mark.parametrize("units", [0, -1, 1.5, "2", True, None], ids=["zero", "negative", "fraction", "string", "bool", "null"])
def test_creation_units_must_be_a_positive_json_integer(trading_day, units):
    before = _counts()
    response = _post(client_for(trading_day.user_one), order_payload(creation_units=units))
    _assert_refused(response, 400, "creation_units", before)


def test_creation_units_missing_is_refused(trading_day):
    before = _counts()
    payload = order_payload()
    del payload["creation_units"]
    response = _post(client_for(trading_day.user_one), payload)
    error = _assert_refused(response, 400, "creation_units", before)
    assert "required" in str(error["details"]["creation_units"]).lower()


def test_a_redemption_of_more_than_the_shares_outstanding_is_refused(trading_day):
    # given: 400,000 Shares outstanding = 16 Creation Units of 25,000
    before = _counts()
    # when: 17 units
    response = _post(client_for(trading_day.user_one), order_payload(side="REDEEM", creation_units=17))
    # then
    error = _assert_refused(response, 400, "creation_units", before)
    assert "425,000" in error["message"] and "400,000" in error["message"]


def test_pending_redemptions_count_against_the_shares_outstanding(trading_day):
    # given: 10 units (250,000 Shares) tendered and pending
    client = client_for(trading_day.user_one)
    first = _post(client, order_payload(side="REDEEM", creation_units=10), key="redeem-10")
    assert first.status_code == 201, first.json()
    before = _counts()
    # when: 7 more (175,000 > the 150,000 left), from the other AP
    response = _post(client_for(trading_day.user_two), order_payload(side="REDEEM", creation_units=7, settlement_channel="DTC"), key="redeem-7")
    # then
    error = _assert_refused(response, 400, "creation_units", before)
    assert "150,000" in error["message"] and "250,000" in error["message"]
    # and 6 units (150,000) still fit exactly
    assert _post(client_for(trading_day.user_two), order_payload(side="REDEEM", creation_units=6, settlement_channel="DTC"), key="redeem-6").status_code == 201


def test_a_cancelled_redemption_no_longer_counts_as_pending(trading_day):
    client = client_for(trading_day.user_one)
    first = _post(client, order_payload(side="REDEEM", creation_units=10), key="redeem-10")
    assert first.status_code == 201
    with time_machine.travel(et(TRADE_DATE, 10, 5), tick=False):
        assert client.post(f"/api/orders/{first.json()['reference']}/cancel/").status_code == 200
    assert _post(client, order_payload(side="REDEEM", creation_units=16), key="redeem-16").status_code == 201


def test_the_basket_of_another_day_is_refused_as_not_todays(trading_day, actor):
    # given: the PRIOR day's basket is published too
    (outcome,) = substitute_baskets_publish(trade_date=PRIOR, fund_ids=[trading_day.fund.pk], actor=actor, now=before_open(PRIOR))
    assert outcome.basket is not None, outcome
    before = _counts()
    # when
    response = _post(client_for(trading_day.user_one), order_payload(substitute_basket_id=outcome.basket.pk))
    # then
    error = _assert_refused(response, 400, "substitute_basket_id", before)
    assert "not today's" in error["message"] and PRIOR.isoformat() in error["message"]


def test_a_nonexistent_basket_id_is_refused(trading_day):
    before = _counts()
    response = _post(client_for(trading_day.user_one), order_payload(substitute_basket_id=trading_day.basket.pk + 10_000))
    _assert_refused(response, 400, "substitute_basket_id", before)


def test_todays_basket_named_explicitly_is_accepted(trading_day):
    response = _post(client_for(trading_day.user_one), order_payload(substitute_basket_id=trading_day.basket.pk))
    assert response.status_code == 201, response.json()
    assert response.json()["creation_basket_id"] == trading_day.basket.pk


def test_an_alternate_basket_needs_an_id(trading_day):
    before = _counts()
    response = _post(client_for(trading_day.user_one), order_payload(basket_type="ALTERNATE"))
    _assert_refused(response, 400, "alternate_basket_id", before)


def test_no_alternate_basket_is_disseminated_yet(trading_day):
    before = _counts()
    response = _post(client_for(trading_day.user_one), order_payload(basket_type="ALTERNATE", alternate_basket_id=1))
    error = _assert_refused(response, 400, "alternate_basket_id", before)
    assert "Alternate Basket" in error["message"]


def test_the_idempotency_key_header_is_required(trading_day):
    before = _counts()
    with time_machine.travel(OPEN, tick=False):
        response = client_for(trading_day.user_one).post("/api/orders/", order_payload(), format="json")
    error = _assert_refused(response, 400, "Idempotency-Key", before)
    assert "Idempotency-Key" in error["message"]


def test_a_blank_idempotency_key_is_refused(trading_day):
    before = _counts()
    response = _post(client_for(trading_day.user_one), order_payload(), key="   ")
    _assert_refused(response, 400, "Idempotency-Key", before)


def test_malformed_json_is_refused(trading_day):
    before = _counts()
    with time_machine.travel(OPEN, tick=False):
        response = client_for(trading_day.user_one).post(
            "/api/orders/", data=b'{"fund": ', content_type="application/json", HTTP_IDEMPOTENCY_KEY="bad-json"
        )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "parse_error"
    assert _counts() == before


def test_an_unknown_settlement_channel_is_refused(trading_day):
    before = _counts()
    response = _post(client_for(trading_day.user_one), order_payload(settlement_channel="FEDWIRE"))
    _assert_refused(response, 400, "settlement_channel", before)


def test_a_dtc_only_ap_cannot_settle_through_nscc(trading_day):
    # given: ap_two is not an NSCC member
    before = _counts()
    # when
    response = _post(client_for(trading_day.user_two), order_payload(settlement_channel="NSCC"))
    # then
    error = _assert_refused(response, 400, "settlement_channel", before)
    assert "NSCC" in error["message"]
    # and DTC works
    assert _post(client_for(trading_day.user_two), order_payload(settlement_channel="DTC"), key="dtc").status_code == 201


def test_an_unknown_field_is_refused(trading_day):
    before = _counts()
    response = _post(client_for(trading_day.user_one), order_payload(limit_price="25.00"))
    _assert_refused(response, 400, "limit_price", before)


def test_a_client_supplied_received_at_is_ignored(trading_day):
    # when: the client claims the order was sent at 09:00 and at 11:00 (before the cut-off), at 16:30 ET
    with time_machine.travel(et(TRADE_DATE, 10, 30), tick=False):
        response = client_for(trading_day.user_one).post(
            "/api/orders/", order_payload(received_at="2021-04-20T16:30:00-04:00"), format="json", HTTP_IDEMPOTENCY_KEY="own-time"
        )
    # then: accepted, stamped with the server's clock
    assert response.status_code == 201, response.json()
    assert response.json()["received_at"] == "2021-04-20T14:30:00Z"
    assert response.json()["strike"] == "INTRADAY"


def test_a_terminated_agreement_is_not_entitled(trading_day, actor):
    # given: ap_one's agreement ended the day before the trade date (last day in force: 2021-04-16)
    agreement = trading_day.ap_one.agreements.get()
    services.agreement_terminate(actor=actor, agreement=agreement, terminated_on=PRIOR, reason="relationship ended")
    before = _counts()
    # when
    response = _post(client_for(trading_day.user_one), order_payload())
    # then
    _assert_refused(response, 403, None, before, code="not_entitled")


def test_a_terminated_agreement_is_not_entitled_after_the_cut_off_either(trading_day, actor):
    # given: no agreement in force; the order would be late anyway
    services.agreement_terminate(actor=actor, agreement=trading_day.ap_one.agreements.get(), terminated_on=PRIOR, reason="ended")
    before = _counts()
    # when
    with time_machine.travel(et(TRADE_DATE, 16, 30), tick=False):
        response = client_for(trading_day.user_one).post("/api/orders/", order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="late")
    # then: refused as not entitled, not recorded as a late (REJECTED) order of an AP without an agreement
    _assert_refused(response, 403, None, before, code="not_entitled")


def test_an_agreement_not_yet_effective_is_not_entitled(trading_day, actor):
    # given: a new AP whose agreement takes effect in May
    gamma = make_participant(actor, "Gamma Markets LLC", "0303")
    make_agreement(actor, gamma, effective_from=dt.date(2021, 5, 3))
    user = make_ap_user(actor, gamma, "gamma-trader")
    before = _counts()
    # when
    response = _post(client_for(user), order_payload())
    # then
    error = _assert_refused(response, 403, None, before, code="not_entitled")
    assert TRADE_DATE.isoformat() in error["message"]


def test_a_suspended_ap_is_refused(trading_day, actor):
    participant = trading_day.ap_one
    participant.status = AuthorizedParticipant.Status.SUSPENDED
    services.participant_save(actor=actor, participant=participant)
    before = _counts()
    response = _post(client_for(trading_day.user_one), order_payload())
    error = _assert_refused(response, 403, None, before, code="not_entitled")
    assert "suspended" in error["message"]


@pytest.mark.parametrize("role", [roles.OPERATIONS, roles.COMPLIANCE, roles.AP_RELATIONSHIP])
def test_internal_staff_cannot_place_orders(trading_day, role):
    before = _counts()
    response = _post(client_for(UserFactory(roles=[role])), order_payload())
    _assert_refused(response, 403, None, before, code="permission_denied")


def test_anonymous_gets_401(trading_day):
    from rest_framework.test import APIClient

    before = _counts()
    response = _post(APIClient(), order_payload())
    _assert_refused(response, 401, None, before, code="not_authenticated")
    assert response.has_header("WWW-Authenticate")
