"""The business calendar: NYSE sessions and early closes from exchange-calendars.

Pure module (no Django). Business rules run in America/New_York; every
instant returned is timezone-aware (UTC for storage, ET for display).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
CALENDAR_START = "2005-01-03"


@lru_cache(maxsize=1)
def _calendar(end_year: int) -> xcals.ExchangeCalendar:
    return xcals.get_calendar("XNYS", start=CALENDAR_START, end=f"{end_year}-12-31")


def nyse() -> xcals.ExchangeCalendar:
    # Two years past today covers every schedule question the system asks.
    return _calendar(dt.date.today().year + 2)


# The answers below are pure functions of their arguments (the calendar only ever grows at its end), and
# order intake asks them on every order (bench/order_load.py): exchange_calendars' lookups are cached.
_pure = lru_cache(maxsize=4096)


@_pure
def is_business_day(day: dt.date) -> bool:
    return bool(nyse().is_session(pd.Timestamp(day)))


@_pure
def session_close(day: dt.date) -> dt.datetime:
    """The NYSE close of a session (13:00 ET on early-close days), aware, in UTC."""
    if not is_business_day(day):
        raise ValueError(f"{day.isoformat()} is not an NYSE business day")
    return nyse().session_close(pd.Timestamp(day)).to_pydatetime().astimezone(UTC)


@_pure
def session_open(day: dt.date) -> dt.datetime:
    if not is_business_day(day):
        raise ValueError(f"{day.isoformat()} is not an NYSE business day")
    return nyse().session_open(pd.Timestamp(day)).to_pydatetime().astimezone(UTC)


@_pure
def is_early_close(day: dt.date) -> bool:
    return is_business_day(day) and session_close(day).astimezone(NEW_YORK).time() < dt.time(16, 0)


def at_new_york(day: dt.date, time_of_day: dt.time) -> dt.datetime:
    """The instant ``time_of_day`` America/New_York on ``day``, in UTC."""
    return dt.datetime.combine(day, time_of_day, tzinfo=NEW_YORK).astimezone(UTC)


def business_date(instant: dt.datetime) -> dt.date:
    """The New York calendar date of an aware instant."""
    return instant.astimezone(NEW_YORK).date()


def next_business_day(day: dt.date, n: int = 1) -> dt.date:
    sessions = nyse().sessions
    position = sessions.searchsorted(pd.Timestamp(day), side="right")
    return sessions[position + n - 1].date()


def previous_business_day(day: dt.date, n: int = 1) -> dt.date:
    sessions = nyse().sessions
    position = sessions.searchsorted(pd.Timestamp(day), side="left")
    return sessions[position - n].date()


def business_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Sessions from start to end, both included."""
    return [ts.date() for ts in nyse().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))]


@_pure
def intraday_strike_at(day: dt.date, strike_time: dt.time = dt.time(12, 0)) -> dt.datetime:
    """The Intra-Day NAV instant. It must fall inside the session."""
    instant = at_new_york(day, strike_time)
    if not session_open(day) < instant < session_close(day):
        raise ValueError(f"the Intra-Day strike at {strike_time} ET is outside the session of {day.isoformat()}")
    return instant


def end_of_day_strike_at(day: dt.date, strike_time: dt.time | None = None) -> dt.datetime:
    """The End of Day NAV instant: the close, or the Fund's time, never after an early close."""
    close = session_close(day)
    if strike_time is None:
        return close
    return min(at_new_york(day, strike_time), close)
