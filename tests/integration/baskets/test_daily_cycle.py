"""The daily cycle on the beat: baskets before the open (08:00 ET), proxy spreads after the close."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.schedules import crontab

from backoffice.celery import app
from backoffice.celery_schedule import BASKETS_PUBLISH_CRONTAB, BEAT_SCHEDULE, PROXY_SPREADS_CRONTAB
from baskets.models import BasketEvent, ProxySpread, SubstituteBasket
from baskets.tasks import baskets_publish_due_task, proxy_spreads_due_task
from funds import business_calendar
from tests.baskets_fixtures import TRADE_DATE, market  # noqa: F401

ET = ZoneInfo("America/New_York")
UTC = dt.timezone.utc


def next_fire(schedule: crontab, after: dt.datetime) -> dt.datetime:
    """Emulates beat minute by minute, as tests/integration/backoffice/test_beat_schedule.py does."""
    now = after.astimezone(UTC)
    clock = crontab(minute=schedule._orig_minute, hour=schedule._orig_hour, day_of_week=schedule._orig_day_of_week,
                    nowfun=lambda: now, app=app)
    last = now
    while True:
        now += dt.timedelta(minutes=1)
        due, _ = clock.is_due(last)
        if due:
            return now


def test_tasks_are_registered_on_the_beat():
    app.loader.import_default_modules()
    assert BEAT_SCHEDULE["substitute-baskets-publish"]["task"] == "baskets.tasks.baskets_publish_due_task"
    assert BEAT_SCHEDULE["proxy-spreads-record"]["task"] == "baskets.tasks.proxy_spreads_due_task"
    assert {"baskets.tasks.baskets_publish_due_task", "baskets.tasks.proxy_spreads_due_task"} <= set(app.tasks)


@pytest.mark.parametrize(
    "after, expected_utc",
    [
        # 08:00 EDT = 12:00 UTC after the 2026-03-08 spring-forward; 08:00 EST = 13:00 UTC before it
        (dt.datetime(2026, 3, 7, 12, 0, tzinfo=ET), dt.datetime(2026, 3, 9, 12, 0, tzinfo=UTC)),
        (dt.datetime(2026, 3, 5, 9, 0, tzinfo=ET), dt.datetime(2026, 3, 6, 13, 0, tzinfo=UTC)),
        # after the 2026-11-01 fall-back
        (dt.datetime(2026, 10, 30, 9, 0, tzinfo=ET), dt.datetime(2026, 11, 2, 13, 0, tzinfo=UTC)),
    ],
)
def test_baskets_are_published_at_eight_new_york_time(after, expected_utc):
    assert next_fire(BASKETS_PUBLISH_CRONTAB, after) == expected_utc


def test_proxy_spreads_run_after_the_close_even_on_an_early_close():
    # 2026-11-27 closes at 13:00 ET; the first run is 16:15 ET, well after the End of Day NAV
    assert next_fire(PROXY_SPREADS_CRONTAB, dt.datetime(2026, 11, 27, 9, 0, tzinfo=ET)) == dt.datetime(2026, 11, 27, 21, 15, tzinfo=UTC)


@pytest.mark.django_db
def test_morning_task_publishes_and_evening_task_records_the_spread(market):
    # given the fixture's market; when the beat fires at 08:00 ET on the trade date
    with time_machine.travel(business_calendar.at_new_york(TRADE_DATE, dt.time(8, 0)), tick=False):
        summary = baskets_publish_due_task.delay().get()
    # then
    assert [(s["fund"], s["status"], s["version"]) for s in summary] == [("BSKT", "PUBLISHED", 1)]
    assert SubstituteBasket.objects.filter(fund=market.fund, trade_date=TRADE_DATE).count() == 1
    # and after the close
    with time_machine.travel(business_calendar.at_new_york(TRADE_DATE, dt.time(16, 15)), tick=False):
        spreads = proxy_spreads_due_task.delay().get()
    assert [(s["fund"], s["status"]) for s in spreads] == [("BSKT", "RECORDED")]
    assert ProxySpread.objects.filter(fund=market.fund, date=TRADE_DATE).count() == 1


@pytest.mark.django_db
def test_morning_task_does_nothing_on_a_holiday(market):
    with time_machine.travel(dt.datetime(2021, 4, 2, 8, 0, tzinfo=ET), tick=False):  # Good Friday 2021
        assert baskets_publish_due_task.delay().get() == []
    assert not BasketEvent.objects.exists()
