"""A NAV strike through a real Celery worker process on Redis, sharing the PostgreSQL test database."""

import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal as D

import pytest
from django.db import connection

from backoffice.celery import app
from funds.models import NetAssetValue, Strike
from funds.tasks import nav_strike_task
from tests import services
from tests.integration.funds.conftest import DAY

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker():
    """A `celery worker` subprocess consuming a queue private to this test."""
    redis_url = services.redis_url()
    services.require_postgres()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "backoffice.settings"}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "backoffice", "worker", "--pool=solo", "-Q", queue, "--loglevel=INFO",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        app.conf.task_always_eager = previous
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        print(output[-4000:])


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
