"""The order's life through the API: placed before the Intra-Day cut-off, priced at the 12:00 NAV, settled T+1."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from backoffice import roles
from funds import services as fund_services
from funds.models import IntradaySnapshot, SharesOutstandingEntry, Strike
from orders.models import CreationBasketRecord, Order, OrderEvent
from tests.factories import UserFactory
from tests.orders_fixtures import TRADE_DATE, client_for, et, order_payload, trading_day  # noqa: F401

pytestmark = pytest.mark.django_db


def _place(client, key="k-1", **overrides):
    return client.post("/api/orders/", order_payload(**overrides), format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_in_kind_creation_is_priced_at_the_intraday_nav_with_a_hand_checked_balancing_amount(trading_day, actor):
    client = client_for(trading_day.user_one)
    with time_machine.travel(et(TRADE_DATE, 10, 15), tick=False):
        response = _place(client, creation_units=2, received_at="2021-04-20T09:00:00-04:00")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "ACCEPTED" and body["strike"] == "INTRADAY"
    assert body["received_at"] == "2021-04-20T14:15:00Z"  # the server's clock, not the client's 09:00

    with time_machine.travel(et(TRADE_DATE, 12, 1), tick=False):
        fund_services.nav_strike(fund_id=trading_day.fund.pk, day=TRADE_DATE, strike=Strike.INTRADAY, actor=actor)
        from orders.tasks import nav_strikes_and_pricing_due_task

        nav_strikes_and_pricing_due_task.delay()
    order = Order.objects.get(reference=body["reference"])
    assert order.status == Order.Status.PRICED

    # By hand: NAV per CU = NAV per Share x 25,000; basket = sum of quantity x 12:00 price per CU.
    nav = order.nav
    assert nav.strike == Strike.INTRADAY
    nav_per_cu = (nav.nav_per_share * 25_000).quantize(D("0.01"))
    prices = dict(IntradaySnapshot.objects.filter(date=TRADE_DATE).values_list("security_id", "price"))
    basket_per_cu = sum(c.quantity * prices[c.security_id] for c in trading_day.basket.components.all()).quantize(D("0.01"))
    assert order.nav_per_creation_unit == nav_per_cu
    assert order.basket_value == basket_per_cu * 2
    assert order.balancing_amount == (nav_per_cu - basket_per_cu) * 2
    assert order.nav_amount == order.basket_value + order.balancing_amount
    payer = "AP" if order.balancing_amount > 0 else "FUND"
    assert order.balancing_amount_payer == payer
    assert order.fixed_fee == D("250.00") and order.variable_fee == D("0.00")  # no cash-in-lieu legs
    assert order.settlement_date == dt.date(2021, 4, 21)

    record = CreationBasketRecord.objects.get(order=order)
    assert record.lines.count() == trading_day.basket.components.count()
    assert sum(line.weight_pct for line in record.lines.all()) == pytest.approx(D("100"), abs=D("0.01"))
    assert [e.to_status for e in OrderEvent.objects.filter(order=order)] == ["RECEIVED", "ACCEPTED", "PRICED"]

    ops = UserFactory(roles=[roles.OPERATIONS])
    before = SharesOutstandingEntry.outstanding(trading_day.fund.pk, dt.date(2021, 4, 21))
    response = client_for(ops).post(f"/api/orders/{order.reference}/settle/", {"settled_on": "2021-04-21"}, format="json")
    assert response.status_code == 200, response.json()
    assert SharesOutstandingEntry.outstanding(trading_day.fund.pk, dt.date(2021, 4, 21)) == before + 50_000
