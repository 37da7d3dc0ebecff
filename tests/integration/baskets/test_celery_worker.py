"""The morning publication through a real Celery worker process on Redis, sharing the PostgreSQL test database."""

import datetime as dt

import pytest

from backoffice.celery import app
from baskets.models import BasketEvent, SubstituteBasket
from baskets.tasks import baskets_publish_task
from tests.baskets_fixtures import TRADE_DATE, market  # noqa: F401  (fixture)
from tests.services import worker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_baskets_publish_on_a_real_worker(market, worker):
    # given: the broker is Redis
    assert app.conf.broker_url.startswith("redis://")
    # when
    result = baskets_publish_task.apply_async(kwargs={"trade_date": TRADE_DATE.isoformat(), "fund_ids": [market.fund.pk]}, queue=worker)
    summary = result.get(timeout=120)
    # then: the worker built and published the basket as the system user
    assert [(s["fund"], s["status"], s["version"]) for s in summary] == [("BSKT", "PUBLISHED", 1)]
    basket = SubstituteBasket.objects.get(fund=market.fund, trade_date=TRADE_DATE)
    assert basket.published_by.username == "system" and basket.component_count > 0
    assert BasketEvent.objects.get(basket=basket).kind == BasketEvent.Kind.PUBLISHED
    # and a redelivery is a no-op
    again = baskets_publish_task.apply_async(kwargs={"trade_date": TRADE_DATE.isoformat(), "fund_ids": [market.fund.pk]}, queue=worker)
    assert again.get(timeout=60)[0]["status"] == "ALREADY_PUBLISHED"
    assert SubstituteBasket.objects.count() == 1
    assert dt.date.fromisoformat(summary[0]["trade_date"]) == TRADE_DATE
