"""NYSE sessions, early closes and strike instants, in New York time."""

import datetime as dt

import pytest

from funds import business_calendar as bc

ET = bc.NEW_YORK


def test_weekends_and_holidays_are_not_business_days():
    assert bc.is_business_day(dt.date(2026, 11, 25))
    assert not bc.is_business_day(dt.date(2026, 11, 26))  # Thanksgiving
    assert not bc.is_business_day(dt.date(2026, 11, 22))  # Sunday
    assert not bc.is_business_day(dt.date(2027, 7, 5))  # Independence Day observed


def test_early_close_moves_end_of_day_strike_to_one_pm():
    # 2026-11-27, the day after Thanksgiving, closes at 13:00 ET
    assert bc.is_early_close(dt.date(2026, 11, 27))
    assert bc.end_of_day_strike_at(dt.date(2026, 11, 27)).astimezone(ET).time() == dt.time(13, 0)
    # a Fund's own 16:00 End of Day time never falls after an early close
    assert bc.end_of_day_strike_at(dt.date(2026, 11, 27), dt.time(16, 0)).astimezone(ET).time() == dt.time(13, 0)
    assert bc.end_of_day_strike_at(dt.date(2026, 11, 25)).astimezone(ET).time() == dt.time(16, 0)


@pytest.mark.parametrize(
    "day, utc_hour",
    [
        (dt.date(2026, 3, 6), 17),  # Friday before the March 2026 change: EST, 12:00 ET = 17:00 UTC
        (dt.date(2026, 3, 9), 16),  # Monday after: EDT, 12:00 ET = 16:00 UTC
        (dt.date(2026, 10, 30), 16),
        (dt.date(2026, 11, 2), 17),  # after the November 2026 change
        (dt.date(2027, 3, 12), 17),
        (dt.date(2027, 3, 15), 16),
        (dt.date(2027, 11, 5), 16),
        (dt.date(2027, 11, 8), 17),
    ],
)
def test_intraday_strike_is_noon_new_york_across_dst(day, utc_hour):
    instant = bc.intraday_strike_at(day)
    assert instant.utcoffset() == dt.timedelta(0)
    assert (instant.hour, instant.minute) == (utc_hour, 0)
    assert instant.astimezone(ET).time() == dt.time(12, 0)


def test_intraday_strike_outside_the_session_is_refused():
    with pytest.raises(ValueError, match="outside the session"):
        bc.intraday_strike_at(dt.date(2026, 11, 27), dt.time(14, 0))  # after the 13:00 early close


def test_next_and_previous_business_day_skip_holidays():
    assert bc.next_business_day(dt.date(2026, 11, 25)) == dt.date(2026, 11, 27)
    assert bc.previous_business_day(dt.date(2026, 11, 27)) == dt.date(2026, 11, 25)
    assert bc.next_business_day(dt.date(2026, 11, 26)) == dt.date(2026, 11, 27)
    assert bc.business_days(dt.date(2026, 11, 23), dt.date(2026, 11, 30)) == [
        dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 25), dt.date(2026, 11, 27), dt.date(2026, 11, 30),
    ]


def test_non_session_has_no_close():
    with pytest.raises(ValueError, match="not an NYSE business day"):
        bc.session_close(dt.date(2026, 12, 25))
