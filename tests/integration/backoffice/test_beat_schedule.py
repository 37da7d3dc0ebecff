"""The beat schedule in New York time: DST changes of 2026 and 2027, and an early close."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab

from backoffice.celery import app
from backoffice.celery_schedule import BEAT_SCHEDULE, NAV_STRIKES_DUE_CRONTAB
from funds.models import Strike
from funds.services import nav_strikes_due

ET = ZoneInfo("America/New_York")
UTC = dt.timezone.utc


class BeatClock:
    """Emulates celery beat: every minute it asks the crontab ``is_due(last_run_at)`` at that instant."""

    def __init__(self, start: dt.datetime):
        self.now = start
        self.schedule = crontab(
            minute=NAV_STRIKES_DUE_CRONTAB._orig_minute, hour=NAV_STRIKES_DUE_CRONTAB._orig_hour,
            day_of_week=NAV_STRIKES_DUE_CRONTAB._orig_day_of_week, nowfun=lambda: self.now, app=app,
        )
        self.last_run_at = start

    def runs(self, until: dt.datetime):
        while self.now < until:
            self.now += dt.timedelta(minutes=1)
            due, _ = self.schedule.is_due(self.last_run_at)
            if due:
                self.last_run_at = self.now
                yield self.now.astimezone(UTC)


def next_fire(after: dt.datetime) -> dt.datetime:
    return next(BeatClock(after.astimezone(UTC)).runs(after + dt.timedelta(days=5)))


def test_beat_runs_in_new_york_time():
    app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks
    assert app.conf.timezone == "America/New_York"
    assert BEAT_SCHEDULE["nav-strikes-due"]["task"] == "orders.tasks.nav_strikes_and_pricing_due_task"
    assert "orders.tasks.nav_strikes_and_pricing_due_task" in app.tasks


@pytest.mark.parametrize(
    "after, expected_utc",
    [
        # Saturday before the 2026-03-08 spring-forward: Monday 12:00 EDT = 16:00 UTC
        (dt.datetime(2026, 3, 7, 12, 0, tzinfo=ET), dt.datetime(2026, 3, 9, 16, 0, tzinfo=UTC)),
        # Friday before it, still EST: 12:00 EST = 17:00 UTC
        (dt.datetime(2026, 3, 6, 11, 0, tzinfo=ET), dt.datetime(2026, 3, 6, 17, 0, tzinfo=UTC)),
        # Friday evening before the 2026-11-01 fall-back: Monday 12:00 EST = 17:00 UTC
        (dt.datetime(2026, 10, 30, 19, 0, tzinfo=ET), dt.datetime(2026, 11, 2, 17, 0, tzinfo=UTC)),
        # 2027: spring-forward on 03-14, fall-back on 11-07
        (dt.datetime(2027, 3, 12, 19, 0, tzinfo=ET), dt.datetime(2027, 3, 15, 16, 0, tzinfo=UTC)),
        (dt.datetime(2027, 11, 5, 19, 0, tzinfo=ET), dt.datetime(2027, 11, 8, 17, 0, tzinfo=UTC)),
        # within the afternoon: every five minutes, last run 18:55 ET
        (dt.datetime(2026, 11, 25, 12, 2, tzinfo=ET), dt.datetime(2026, 11, 25, 17, 5, tzinfo=UTC)),
        # the crontab is weekday-based; on Thanksgiving it runs and the dispatcher strikes nothing
        (dt.datetime(2026, 11, 25, 18, 55, tzinfo=ET), dt.datetime(2026, 11, 26, 17, 0, tzinfo=UTC)),
    ],
)
def test_next_run_across_daylight_saving_changes(after, expected_utc):
    assert next_fire(after) == expected_utc


def beat_runs(day: dt.date) -> list[dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=ET).astimezone(UTC)
    return list(BeatClock(start).runs(start + dt.timedelta(hours=23, minutes=59)))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "day, intraday_at, end_of_day_at",
    [
        (dt.date(2026, 11, 25), dt.time(12, 0), dt.time(16, 0)),  # full session
        (dt.date(2026, 11, 27), dt.time(12, 0), dt.time(13, 0)),  # early close: End of Day moves to 13:00
        (dt.date(2026, 3, 9), dt.time(12, 0), dt.time(16, 0)),  # first session after the 2026 DST change
        (dt.date(2027, 11, 8), dt.time(12, 0), dt.time(16, 0)),  # first session after the 2027 DST change
    ],
)
def test_beat_strikes_each_nav_at_its_new_york_instant(priced_fund_on, actor, day, intraday_at, end_of_day_at):
    # given a Fund fully priced on that day
    fund = priced_fund_on(day)
    struck_at = {}
    # when beat fires through the day
    for run in beat_runs(day):
        for outcome in nav_strikes_due(actor=actor, now=run):
            assert outcome.status == "STRUCK", outcome.failure and outcome.failure.message
            struck_at[outcome.strike] = run.astimezone(ET).time()
    # then each strike happened at the first run at or after its instant
    assert struck_at == {Strike.INTRADAY: intraday_at, Strike.END_OF_DAY: end_of_day_at}
    assert fund.navs.count() == 2


# The scheduler closes stale connections as a beat process does, so no wrapping test transaction.
@pytest.mark.django_db(transaction=True)
def test_database_scheduler_installs_the_schedule_in_new_york_time():
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    DatabaseScheduler(app=app).setup_schedule()
    task = PeriodicTask.objects.get(name="nav-strikes-due")
    assert task.task == "orders.tasks.nav_strikes_and_pricing_due_task"
    assert str(task.crontab.timezone) == "America/New_York"
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("*/5", "12-18", "mon-fri")
