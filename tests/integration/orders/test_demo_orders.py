"""The demo's APs and orders, and an order placed through the API on the demo, priced at the next strike.

The demo replays real prices up to 2021-04-21 and publishes the Creation Basket of 2021-04-22. The test
places an order as the demo ``ap`` user at 10:15 ET on 2021-04-22, delivers that day's 12:00 ET prices
(as the vendor would), runs the beat's strike-and-pricing task at 12:01 ET, and checks the Balancing
Amount by hand from the published basket and the struck NAV.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest
import time_machine
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from baskets.models import Publication, SubstituteBasket
from baskets.services.demo import demo_baskets_load
from funds.models import IntradaySnapshot, NetAssetValue, Strike
from funds.services.demo import demo_load
from orders.demo import demo_orders_load
from orders.models import AuthorizedParticipant, CreationBasketRecord, Order
from orders.tasks import nav_strikes_and_pricing_due_task
from tests.orders_fixtures import add_intraday_snapshots, et

pytestmark = pytest.mark.django_db


def call_verify() -> int:
    from django.core.management import call_command

    try:
        call_command("verify_publications", stdout=io.StringIO())
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
NEXT_DAY = dt.date(2021, 4, 22)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_demo_orders_then_an_api_order_priced_at_the_next_intraday_nav_checked_by_hand():
    demo_load(replay_days=21)
    demo_baskets_load()
    out = io.StringIO()
    result = demo_orders_load(stdout=out)

    # the demo: two APs with agreements, six orders in every state the day allows
    assert AuthorizedParticipant.objects.count() == 2
    statuses = sorted(Order.objects.values_list("status", flat=True))
    assert statuses == ["CANCELLED", "PRICED", "PRICED", "REJECTED", "SETTLED", "SETTLED", "SETTLED"]
    assert result["priced"] == 5 and CreationBasketRecord.objects.count() == 5
    assert Order.objects.filter(ap_affiliated=True).count() == 2
    alternate = Order.objects.get(basket_type="ALTERNATE")
    assert alternate.basket_record.is_alternate_basket and alternate.alternate_basket.decided_by.username == "pm2"
    # the cash day turned DAVE's in-kind redemption into a cash redemption
    assert Order.objects.get(fund__ticker="DAVE", side="REDEEM").basket_type == "CASH"
    assert Publication.objects.filter(kind__in=["ALTERNATE_BASKET", "CASH_ANNOUNCEMENT"]).count() == 2
    assert call_verify() == 0
    assert demo_orders_load() == {"orders": 7}  # no-op the second time

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user__username='ap').key}")
    with time_machine.travel(et(NEXT_DAY, 10, 15), tick=False):
        response = client.post(
            "/api/orders/", {"fund": "DAGE", "side": "CREATE", "creation_units": 3, "settlement_channel": "NSCC"},
            format="json", HTTP_IDEMPOTENCY_KEY="demo-api-order-1",
        )
    assert response.status_code == 201, response.json()
    assert response.json()["strike"] == "INTRADAY" and response.json()["trade_date"] == "2021-04-22"

    add_intraday_snapshots(NEXT_DAY)  # the 12:00 ET prices arrive from the vendor
    with time_machine.travel(et(NEXT_DAY, 12, 1), tick=False):
        nav_strikes_and_pricing_due_task.delay()

    order = Order.objects.get(reference=response.json()["reference"])
    assert order.status == Order.Status.PRICED
    nav = NetAssetValue.objects.get(fund__ticker="DAGE", date=NEXT_DAY, strike=Strike.INTRADAY)
    basket = SubstituteBasket.objects.filter(fund__ticker="DAGE", trade_date=NEXT_DAY).order_by("-version").first()
    prices = dict(IntradaySnapshot.objects.filter(date=NEXT_DAY).values_list("security_id", "price"))
    cent = D("0.01")
    nav_per_cu = (nav.nav_per_share * 25_000).quantize(cent, rounding=ROUND_HALF_UP)
    basket_per_cu = sum(c.quantity * prices[c.security_id] for c in basket.components.all()).quantize(cent, rounding=ROUND_HALF_UP)
    assert order.nav_id == nav.pk and order.priced_basket_id == basket.pk
    assert order.nav_per_creation_unit == nav_per_cu
    assert order.basket_value == basket_per_cu * 3
    assert order.balancing_amount == (nav_per_cu - basket_per_cu) * 3
    assert order.balancing_amount_payer == ("AP" if nav_per_cu > basket_per_cu else "FUND")
    assert order.total_fees == D("250.00")  # NSCC fixed fee, no cash legs
    expected_net = (nav_per_cu - basket_per_cu) * 3 + D("250.00")
    assert order.net_cash_amount == abs(expected_net)

    detail = client.get(f"/api/orders/{order.reference}/").json()
    assert [e["to_status"] for e in detail["events"]] == ["RECEIVED", "ACCEPTED", "PRICED"]
    assert D(detail["balancing_amount"]) == order.balancing_amount
