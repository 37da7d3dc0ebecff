"""Order pricing through a real Celery worker process on Redis, sharing the PostgreSQL test database."""

import pytest

from backoffice.celery import app
from orders import services
from orders.models import CreationBasketRecord, Order
from orders.tasks import orders_price_due_task
from tests.orders_fixtures import TRADE_DATE, et, trading_day  # noqa: F401  (fixture)
from tests.services import worker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_orders_are_priced_on_a_real_worker(trading_day, worker):
    assert app.conf.broker_url.startswith("redis://")
    request = services.OrderRequest(fund="BSKT", side="CREATE", creation_units=1, basket_type="STANDARD", settlement_channel="NSCC")
    placed = services.order_place(actor=trading_day.user_one, participant=trading_day.ap_one, request=request,
                                  idempotency_key="worker-1", received_at=et(TRADE_DATE, 13, 0))
    assert placed.order.strike == "END_OF_DAY"  # the fixture's End of Day NAV of TRADE_DATE is struck

    summary = orders_price_due_task.apply_async(queue=worker).get(timeout=120)

    assert [(s["fund"], s["strike"], s["priced"]) for s in summary] == [("BSKT", "END_OF_DAY", 1)]
    order = Order.objects.get(pk=placed.order.pk)
    assert order.status == Order.Status.PRICED and order.nav.strike == "END_OF_DAY"
    assert order.nav_amount == order.basket_value + order.balancing_amount
    assert CreationBasketRecord.objects.filter(order=order).exists()
    # a redelivery prices nothing twice
    assert orders_price_due_task.apply_async(queue=worker).get(timeout=60) == []
