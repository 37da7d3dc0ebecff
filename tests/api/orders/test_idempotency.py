"""Idempotency-Key semantics of POST /api/orders/ (like Stripe's), and the races behind them on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backoffice import roles
from backoffice.exceptions import InvalidInput
from funds.models import Strike
from orders import services
from orders.models import Order, OrderEvent
from tests.orders_fixtures import TRADE_DATE, build_trading_day, client_for, et, order_payload, trading_day  # noqa: F401
from tests.services import require_postgres

OPEN = et(TRADE_DATE, 10, 0)


def _post(client, payload, key, at=OPEN):
    with time_machine.travel(at, tick=False):
        return client.post("/api/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_same_key_and_payload_gives_back_the_same_order(trading_day):
    # given
    client = client_for(trading_day.user_one)
    first = _post(client, order_payload(), "retry-me")
    assert first.status_code == 201, first.json()
    assert not first.has_header("Idempotent-Replayed")
    # when: the client retries (a minute later, e.g. after a timeout)
    second = _post(client, order_payload(), "retry-me", at=et(TRADE_DATE, 10, 1))
    # then
    assert second.status_code == 200, second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["reference"] == first.json()["reference"]
    assert second.json()["received_at"] == first.json()["received_at"]  # the original receipt, not the retry's
    assert Order.objects.count() == 1
    assert OrderEvent.objects.count() == 2  # RECEIVED, ACCEPTED: the replay wrote nothing


@pytest.mark.django_db
def test_same_key_with_another_payload_is_refused_naming_the_original(trading_day):
    # given
    client = client_for(trading_day.user_one)
    first = _post(client, order_payload(creation_units=2), "k-1")
    assert first.status_code == 201
    # when
    second = _post(client, order_payload(creation_units=3), "k-1")
    # then
    assert second.status_code == 422, second.json()
    error = second.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["details"]["order"] == first.json()["reference"]
    assert first.json()["reference"] in error["message"]
    assert Order.objects.count() == 1
    assert Order.objects.get().creation_units == 2


@pytest.mark.django_db
def test_the_same_payload_spelt_differently_is_still_a_replay(trading_day):
    # the fingerprint is of the validated request: lower-case ticker and the default basket type are the same order
    client = client_for(trading_day.user_one)
    first = _post(client, order_payload(), "k-1")
    payload = order_payload(fund="bskt")
    del payload["basket_type"]
    second = _post(client, payload, "k-1")
    assert second.status_code == 200, second.json()
    assert second.json()["reference"] == first.json()["reference"]


@pytest.mark.django_db
def test_keys_are_per_ap(trading_day):
    # when: both APs happen to use the same key
    one = _post(client_for(trading_day.user_one), order_payload(settlement_channel="DTC"), "shared-key")
    two = _post(client_for(trading_day.user_two), order_payload(settlement_channel="DTC"), "shared-key")
    # then: two orders, one each
    assert one.status_code == 201 and two.status_code == 201, (one.json(), two.json())
    assert one.json()["reference"] != two.json()["reference"]
    assert sorted(Order.objects.values_list("participant__legal_name", flat=True)) == ["Alpha Clearing LLC", "Beta Securities Inc."]
    # and neither AP learns of the other's order through the key
    assert one.json()["authorized_participant"] == "Alpha Clearing LLC"
    assert two.json()["authorized_participant"] == "Beta Securities Inc."


@pytest.mark.django_db
def test_a_rejected_order_replays_as_the_same_rejection(trading_day):
    # given: an order after the last cut-off (16:00 ET) is recorded as REJECTED
    client = client_for(trading_day.user_one)
    first = _post(client, order_payload(), "late-1", at=et(TRADE_DATE, 16, 0, 5))
    assert first.status_code == 422, first.json()
    rejection = first.json()["error"]
    assert rejection["code"] == "order_rejected"
    reference = rejection["details"]["order"]["reference"]
    assert Order.objects.get(reference=reference).status == Order.Status.REJECTED
    # when: retried with the same key (even the next morning, before the cut-off)
    second = _post(client, order_payload(), "late-1", at=et(dt.date(2021, 4, 21), 10, 0))
    # then: the same rejection, not a new order
    assert second.status_code == 422, second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["error"]["code"] == "order_rejected"
    assert second.json()["error"]["details"]["order"]["reference"] == reference
    assert second.json()["error"]["message"] == rejection["message"]
    assert Order.objects.count() == 1
    # and a new key the next morning is a new, accepted order (all cash: no basket is published for 04-21 here)
    third = _post(client, order_payload(basket_type="CASH"), "late-2", at=et(dt.date(2021, 4, 21), 10, 0))
    assert third.status_code == 201 and third.json()["trade_date"] == "2021-04-21"


# --- PostgreSQL: concurrent requests ---------------------------------------------------------

@pytest.fixture
def pg_trading_day(actor):
    require_postgres()
    roles.sync_roles()  # a transactional test flushes the role groups the data migration made
    return build_trading_day(actor)


def _run_in_threads(n: int, work) -> list:
    """``work(i)`` in n threads released together; each thread uses and then closes its own DB connection."""
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait(timeout=30)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_make_one_order(pg_trading_day):
    # given: one AP token, 20 clients
    token, _ = Token.objects.get_or_create(user=pg_trading_day.user_one)

    def post(_):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        response = client.post("/api/orders/", order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="same-key")
        return response.status_code, response.json(), response.get("Idempotent-Replayed")

    # when: time is frozen for the whole process (every thread) inside the trading day
    with time_machine.travel(OPEN, tick=False):
        results = _run_in_threads(20, post)
    # then: exactly one order; one 201, the others 200 replays of it
    assert Order.objects.count() == 1, results
    order = Order.objects.get()
    statuses = sorted(status for status, _, _ in results)
    assert set(statuses) <= {200, 201}, results
    assert statuses.count(201) == 1, statuses
    assert {body["reference"] for _, body, _ in results} == {order.reference}
    assert all(replayed == "true" for status, _, replayed in results if status == 200)
    assert OrderEvent.objects.filter(order=order).count() == 2
    assert order.history.count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_cut_off_race_strike_follows_the_receipt_time(pg_trading_day):
    # given: 20 orders received alternately 1 ms before and exactly at the 12:00:00 ET Intra-Day strike
    day = pg_trading_day
    before_noon, at_noon = et(TRADE_DATE, 11, 59, 59, 999_000), et(TRADE_DATE, 12, 0)
    request = services.OrderRequest(fund="BSKT", side="CREATE", creation_units=1, basket_type="STANDARD", settlement_channel="NSCC")

    def place(i):
        received_at = before_noon if i % 2 == 0 else at_noon
        placed = services.order_place(actor=day.user_one, participant=day.ap_one, request=request, idempotency_key=f"race-{i}",
                                      received_at=received_at)
        return placed.order.reference, received_at

    # when
    results = _run_in_threads(20, place)
    # then: INTRADAY iff received strictly before 12:00:00 ET; the window is half-open
    orders = {o.reference: o for o in Order.objects.all()}
    assert len(orders) == 20
    noon = et(TRADE_DATE, 12, 0)
    for reference, received_at in results:
        order = orders[reference]
        assert order.status == Order.Status.ACCEPTED
        assert order.received_at == received_at
        expected = Strike.INTRADAY if received_at < noon else Strike.END_OF_DAY
        assert order.strike == expected, (reference, received_at, order.strike)
        assert order.cutoff_at == (noon if expected == Strike.INTRADAY else et(TRADE_DATE, 16, 0))
    assert sum(o.strike == Strike.INTRADAY for o in orders.values()) == 10


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_never_exceed_the_shares_outstanding(pg_trading_day):
    # given: 400,000 Shares outstanding = 16 Creation Units; 10 APs' worth of requests of 3 units each (30 units)
    day = pg_trading_day
    request = services.OrderRequest(fund="BSKT", side="REDEEM", creation_units=3, basket_type="STANDARD", settlement_channel="DTC")

    def redeem(i):
        participant, user = (day.ap_one, day.user_one) if i % 2 == 0 else (day.ap_two, day.user_two)
        try:
            placed = services.order_place(actor=user, participant=participant, request=request, idempotency_key=f"redeem-{i}",
                                          received_at=et(TRADE_DATE, 10, 0, i))
        except InvalidInput as refused:
            assert "creation_units" in refused.details, refused.details
            return None
        return placed.order.reference

    # when
    results = _run_in_threads(10, redeem)
    # then: the checks ran one after the other: five orders (15 units) accepted, five refused, nothing written for those
    accepted = [r for r in results if r]
    assert len(accepted) == 5, results
    assert Order.objects.filter(side=Order.Side.REDEEM, status=Order.Status.ACCEPTED).count() == 5
    assert sum(Order.objects.values_list("shares", flat=True)) == 375_000
    assert Order.objects.count() == 5 and OrderEvent.objects.count() == 10
