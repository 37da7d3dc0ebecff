"""Cut-offs and cancellation through the real API, with the server clock frozen in New York time.

The server stamps receipt (``time_machine`` moves its clock); the order gets the next NAV, or is
rejected and the rejection recorded. Bad input is refused and leaves no row.

The trading day is built once for the module (about 2 s) inside a transaction rolled back at the
end; each test runs in its own savepoint, as pytest-django's ``db`` fixture does.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from backoffice import roles
from orders.models import Order, OrderEvent
from tests.factories import UserFactory
from tests.orders_fixtures import TRADE_DATE, module_trading_day_fixtures, client_for, et, order_payload

pytestmark = pytest.mark.django_db

SATURDAY = dt.date(2021, 4, 24)
EARLY_CLOSE = dt.date(2021, 11, 26)  # 13:00 ET close, EST


_built_day, trading_day = module_trading_day_fixtures()


def place(user, at: dt.datetime, key: str, **overrides):
    with time_machine.travel(at, tick=False):
        return client_for(user).post("/api/orders/", order_payload(**overrides), format="json", HTTP_IDEMPOTENCY_KEY=key)


def cancel(user, reference: str, at: dt.datetime):
    with time_machine.travel(at, tick=False):
        return client_for(user).post(f"/api/orders/{reference}/cancel/", format="json")


def utc_z(instant: dt.datetime) -> str:
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the windows on the trade date ------------------------------------------------------------


def test_one_microsecond_before_noon_is_intraday(trading_day):
    # when
    response = place(trading_day.user_one, et(TRADE_DATE, 11, 59, 59, 999_999), "k-1")
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["strike"], body["trade_date"]) == ("ACCEPTED", "INTRADAY", "2021-04-20")
    assert body["cutoff_at"] == "2021-04-20T16:00:00Z"  # 12:00 EDT
    order = Order.objects.get(reference=body["reference"])
    assert order.received_at == et(TRADE_DATE, 11, 59, 59, 999_999)  # the server's clock, to the microsecond
    assert order.strike == "INTRADAY"


def test_exactly_noon_is_end_of_day(trading_day):
    response = place(trading_day.user_one, et(TRADE_DATE, 12, 0, 0), "k-1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["strike"]) == ("ACCEPTED", "END_OF_DAY")
    assert body["cutoff_at"] == "2021-04-20T20:00:00Z"  # 16:00 EDT
    assert Order.objects.get(reference=body["reference"]).strike == "END_OF_DAY"


def test_one_microsecond_before_the_close_is_still_end_of_day(trading_day):
    response = place(trading_day.user_one, et(TRADE_DATE, 15, 59, 59, 999_999), "k-1")
    assert response.status_code == 201, response.json()
    assert response.json()["strike"] == "END_OF_DAY"


def test_at_the_close_the_order_is_rejected_and_the_rejection_recorded(trading_day):
    # when
    response = place(trading_day.user_one, et(TRADE_DATE, 16, 0, 0), "k-late")
    # then
    assert response.status_code == 422, response.json()
    error = response.json()["error"]
    assert error["code"] == "order_rejected"
    assert "16:00:00 ET" in error["message"] and "2021-04-21" in error["message"]
    reference = error["details"]["order"]["reference"]
    order = Order.objects.get(reference=reference)
    assert order.status == Order.Status.REJECTED
    assert order.rejection_reason == "AFTER_LAST_CUTOFF"
    assert order.strike == "" and order.cutoff_at is None
    assert order.participant == trading_day.ap_one and order.placed_by == trading_day.user_one
    events = list(OrderEvent.objects.filter(order=order).values_list("from_status", "to_status", "actor_id"))
    assert events == [("", "RECEIVED", trading_day.user_one.pk), ("RECEIVED", "REJECTED", trading_day.user_one.pk)]
    # the same key and payload replays the rejection rather than creating a second row
    again = place(trading_day.user_one, et(TRADE_DATE, 16, 5), "k-late")
    assert again.status_code == 422 and again["Idempotent-Replayed"] == "true"
    assert Order.objects.filter(participant=trading_day.ap_one).count() == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"creation_units": 0},
        {"side": "BUY"},
        {"settlement_channel": "NSCC", "fund": "NOPE"},
    ],
)
def test_bad_input_after_the_close_is_refused_without_a_row(trading_day, overrides):
    response = place(trading_day.user_one, et(TRADE_DATE, 16, 30), "k-bad", **overrides)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "invalid_input"
    assert not Order.objects.exists()


def test_an_ap_without_the_channel_is_refused_without_a_row_even_after_the_close(trading_day):
    # Beta is DTC only: asking for the NSCC Process is bad input, not a late order
    response = place(trading_day.user_two, et(TRADE_DATE, 16, 30), "k-bad", settlement_channel="NSCC")
    assert response.status_code == 400, response.json()
    assert not Order.objects.exists()


def test_a_weekend_order_is_rejected_as_not_a_business_day(trading_day):
    response = place(trading_day.user_one, et(SATURDAY, 10, 0), "k-sat")
    assert response.status_code == 422, response.json()
    error = response.json()["error"]
    assert error["code"] == "order_rejected"
    assert "Saturday 2021-04-24 is not an NYSE business day" in error["message"]
    order = Order.objects.get(reference=error["details"]["order"]["reference"])
    assert (order.status, order.rejection_reason, order.trade_date) == (Order.Status.REJECTED, "NOT_A_BUSINESS_DAY", SATURDAY)


def test_late_evening_utc_of_the_next_day_is_still_late_for_the_trade_date(trading_day):
    # 2021-04-21 01:00 UTC is 21:00 ET on 2021-04-20
    response = place(trading_day.user_one, dt.datetime(2021, 4, 21, 1, 0, tzinfo=dt.timezone.utc), "k-night")
    assert response.status_code == 422
    order = Order.objects.get()
    assert (order.trade_date, order.rejection_reason) == (TRADE_DATE, "AFTER_LAST_CUTOFF")


def test_a_fund_cash_cutoff_rejects_cash_but_not_in_kind_orders(trading_day):
    # given: the Fund closes cash orders at 15:00 ET
    trading_day.terms.cash_order_cutoff = dt.time(15, 0)
    trading_day.terms.save()
    # when / then
    in_time = place(trading_day.user_one, et(TRADE_DATE, 14, 59, 59, 999_999), "k-cash-1", basket_type="CASH")
    assert in_time.status_code == 201, in_time.json()
    assert in_time.json()["cutoff_at"] == "2021-04-20T19:00:00Z"  # 15:00 EDT

    late = place(trading_day.user_one, et(TRADE_DATE, 15, 0), "k-cash-2", basket_type="CASH")
    assert late.status_code == 422
    assert Order.objects.get(reference=late.json()["error"]["details"]["order"]["reference"]).rejection_reason == "AFTER_CASH_CUTOFF"

    in_kind = place(trading_day.user_one, et(TRADE_DATE, 15, 0), "k-kind")
    assert in_kind.status_code == 201, in_kind.json()
    assert in_kind.json()["cutoff_at"] == "2021-04-20T20:00:00Z"


# --- daylight-saving changes and the early close (cash orders: no basket needed) --------------


@pytest.mark.parametrize(
    "day, noon_utc, close_utc",
    [
        (dt.date(2021, 3, 12), "17:00", "21:00"),  # Friday before the spring-forward: EST
        (dt.date(2021, 3, 15), "16:00", "20:00"),  # Monday after: EDT
        (dt.date(2021, 11, 5), "16:00", "20:00"),  # Friday before the fall-back: EDT
        (dt.date(2021, 11, 8), "17:00", "21:00"),  # Monday after: EST
    ],
)
def test_cash_orders_across_daylight_saving_changes(trading_day, day, noon_utc, close_utc):
    user = trading_day.user_one
    intraday = place(user, et(day, 11, 59, 59), "k-1", basket_type="CASH")
    assert intraday.status_code == 201, intraday.json()
    assert (intraday.json()["strike"], intraday.json()["cutoff_at"]) == ("INTRADAY", f"{day.isoformat()}T{noon_utc}:00Z")
    assert intraday.json()["received_at"] == utc_z(et(day, 11, 59, 59))

    end_of_day = place(user, et(day, 12, 0, 0), "k-2", basket_type="CASH")
    assert end_of_day.status_code == 201, end_of_day.json()
    assert (end_of_day.json()["strike"], end_of_day.json()["cutoff_at"]) == ("END_OF_DAY", f"{day.isoformat()}T{close_utc}:00Z")

    last = place(user, et(day, 15, 59, 59), "k-3", basket_type="CASH")
    assert last.status_code == 201 and last.json()["strike"] == "END_OF_DAY"

    late = place(user, et(day, 16, 0, 0), "k-4", basket_type="CASH")
    assert late.status_code == 422
    assert late.json()["error"]["details"]["order"]["rejection_reason"] == "AFTER_LAST_CUTOFF"
    assert list(Order.objects.order_by("received_at").values_list("status", flat=True)) == ["ACCEPTED", "ACCEPTED", "ACCEPTED", "REJECTED"]


def test_early_close_day_through_the_api(trading_day):
    user = trading_day.user_one
    morning = place(user, et(EARLY_CLOSE, 11, 0), "k-1", basket_type="CASH")
    assert morning.status_code == 201, morning.json()
    assert (morning.json()["strike"], morning.json()["cutoff_at"]) == ("INTRADAY", "2021-11-26T17:00:00Z")

    last_second = place(user, et(EARLY_CLOSE, 12, 59, 59), "k-2", basket_type="CASH")
    assert last_second.status_code == 201, last_second.json()
    assert (last_second.json()["strike"], last_second.json()["cutoff_at"]) == ("END_OF_DAY", "2021-11-26T18:00:00Z")

    for key, at in (("k-3", et(EARLY_CLOSE, 13, 0)), ("k-4", et(EARLY_CLOSE, 14, 0))):
        late = place(user, at, key, basket_type="CASH")
        assert late.status_code == 422, late.json()
        error = late.json()["error"]
        assert error["code"] == "order_rejected"
        assert "13:00:00 ET (early close)" in error["message"] and "2021-11-29" in error["message"]
        assert error["details"]["order"]["rejection_reason"] == "AFTER_LAST_CUTOFF"
    assert Order.objects.filter(status=Order.Status.REJECTED).count() == 2


# --- cancellation -------------------------------------------------------------------------------


def _accepted(trading_day, at=None, key="k-1") -> dict:
    response = place(trading_day.user_one, at or et(TRADE_DATE, 10, 0), key)
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_ap_cancels_before_the_cutoff(trading_day):
    # given: an Intra-Day order, cut-off 12:00 ET
    placed = _accepted(trading_day)
    # when
    response = cancel(trading_day.user_one, placed["reference"], et(TRADE_DATE, 11, 59, 59, 999_999))
    # then
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "CANCELLED"
    order = Order.objects.get(reference=placed["reference"])
    assert order.status == Order.Status.CANCELLED
    event = OrderEvent.objects.filter(order=order).latest("at", "id")
    assert (event.from_status, event.to_status, event.actor) == ("ACCEPTED", "CANCELLED", trading_day.user_one)
    assert event.at == et(TRADE_DATE, 11, 59, 59, 999_999)
    assert order.history.latest().history_user == trading_day.user_one
    # a second cancel is refused
    assert cancel(trading_day.user_one, placed["reference"], et(TRADE_DATE, 11, 59, 59, 999_999)).status_code == 409


@pytest.mark.parametrize("at", [et(TRADE_DATE, 12, 0, 0), et(TRADE_DATE, 12, 0, 0, 1), et(TRADE_DATE, 15, 0)])
def test_the_ap_cannot_cancel_at_or_after_the_cutoff(trading_day, at):
    placed = _accepted(trading_day)
    response = cancel(trading_day.user_one, placed["reference"], at)
    assert response.status_code == 409, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert "12:00:00 ET" in error["message"]
    order = Order.objects.get(reference=placed["reference"])
    assert order.status == Order.Status.ACCEPTED
    assert not OrderEvent.objects.filter(order=order, to_status="CANCELLED").exists()


def test_an_end_of_day_order_can_be_cancelled_until_the_close(trading_day):
    first = _accepted(trading_day, et(TRADE_DATE, 12, 30), "k-1")
    second = _accepted(trading_day, et(TRADE_DATE, 12, 31), "k-2")
    assert cancel(trading_day.user_one, first["reference"], et(TRADE_DATE, 15, 59, 59, 999_999)).status_code == 200
    assert cancel(trading_day.user_one, second["reference"], et(TRADE_DATE, 16, 0)).status_code == 409


def test_another_ap_cannot_see_nor_cancel_the_order(trading_day):
    placed = _accepted(trading_day)
    response = cancel(trading_day.user_two, placed["reference"], et(TRADE_DATE, 10, 30))
    assert response.status_code == 404, response.json()
    # answered exactly like a missing order
    missing = cancel(trading_day.user_two, "O20210420-NOSUCHORDER", et(TRADE_DATE, 10, 30))
    assert missing.status_code == 404
    assert response.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert client_for(trading_day.user_two).get(f"/api/orders/{placed['reference']}/").status_code == 404
    order = Order.objects.get(reference=placed["reference"])
    assert order.status == Order.Status.ACCEPTED
    assert not OrderEvent.objects.filter(order=order, to_status="CANCELLED").exists()


@pytest.mark.parametrize("role", [roles.OPERATIONS, roles.AP_RELATIONSHIP, roles.COMPLIANCE])
def test_staff_cannot_cancel(trading_day, role):
    placed = _accepted(trading_day)
    staff = UserFactory(roles=[role])
    response = cancel(staff, placed["reference"], et(TRADE_DATE, 10, 30))
    assert response.status_code == 403, response.json()
    assert Order.objects.get(reference=placed["reference"]).status == Order.Status.ACCEPTED
    # staff can read it, they just cannot cancel it
    assert client_for(staff).get(f"/api/orders/{placed['reference']}/").status_code == 200
