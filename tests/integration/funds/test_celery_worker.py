"""A NAV strike through a real Celery worker process on Redis, sharing the PostgreSQL test database."""

import time
from decimal import Decimal as D

import pytest

from backoffice.celery import app
from funds.models import NetAssetValue, Strike
from funds.tasks import nav_strike_task
from tests.integration.funds.conftest import DAY
from tests.services import worker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_nav_strike_runs_on_a_real_worker(priced_fund, worker):
    # given: the broker is Redis, not the in-memory eager default
    assert app.conf.broker_url.startswith("redis://")
    # when: the task goes through the broker to the worker process
    started = time.monotonic()
    result = nav_strike_task.apply_async(kwargs={"fund_id": priced_fund.pk, "day": DAY.isoformat(), "strike": Strike.END_OF_DAY}, queue=worker)
    summary = result.get(timeout=90)
    # then: the worker struck the hand-computed NAV (see the priced_fund fixture) as the system user
    assert summary == [{"fund": "ACTV", "date": DAY.isoformat(), "strike": "END_OF_DAY", "status": "STRUCK", "nav_per_share": "25.8000", "missing": []}]
    nav = NetAssetValue.objects.get(fund=priced_fund, date=DAY, strike=Strike.END_OF_DAY)
    assert nav.net_assets == D("129000.00")
    assert nav.struck_by.username == "system"
    assert nav.history.get().history_user.username == "system"
    # and a duplicate delivery (acks_late redelivery) is a no-op
    again = nav_strike_task.apply_async(kwargs={"fund_id": priced_fund.pk, "day": DAY.isoformat(), "strike": Strike.END_OF_DAY}, queue=worker)
    assert again.get(timeout=60)[0]["status"] == "ALREADY_STRUCK"
    assert NetAssetValue.objects.count() == 1
    assert time.monotonic() - started < 90
