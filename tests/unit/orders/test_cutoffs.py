"""Order cut-offs (Rule 22c-1 forward pricing): which NAV an order received at an instant gets.

Pure module, no database. Every boundary is checked on both sides, to the microsecond: the window
is half-open, so an order received exactly on a cut-off instant is late.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from orders import cutoffs
from orders.cutoffs import END_OF_DAY, INTRADAY, OrderTooLate, pricing_window

ET = cutoffs.business_calendar.NEW_YORK
UTC = dt.timezone.utc
NOON = dt.time(12, 0)
TUESDAY = dt.date(2021, 4, 20)  # an ordinary session, EDT (UTC-4)
FRIDAY = dt.date(2021, 4, 23)
EARLY_CLOSE = dt.date(2021, 11, 26)  # the day after Thanksgiving: the NYSE closes at 13:00 ET (EST, UTC-5)


def et(day: dt.date, hour: int, minute: int = 0, second: int = 0, microsecond: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, microsecond, tzinfo=ET)


def utc(day: dt.date, hour: int, minute: int = 0, second: int = 0, microsecond: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, microsecond, tzinfo=UTC)


def window(received_at, *, intraday=NOON, end_of_day=None, cash_cutoff=None, is_cash=False):
    return pricing_window(
        received_at, intraday_strike_time=intraday, end_of_day_strike_time=end_of_day, cash_cutoff_time=cash_cutoff, is_cash=is_cash
    )


def too_late(received_at, **kwargs) -> OrderTooLate:
    with pytest.raises(OrderTooLate) as caught:
        window(received_at, **kwargs)
    return caught.value


def test_the_module_is_pure():
    code = "import sys, orders.cutoffs; sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": "."})
    assert result.returncode == 0, result.stderr


# --- the two windows of an ordinary day -------------------------------------------------------


@pytest.mark.parametrize(
    "received_at",
    [et(TUESDAY, 0, 0, 1), et(TUESDAY, 8, 0), et(TUESDAY, 9, 30), et(TUESDAY, 11, 0), et(TUESDAY, 11, 59, 59, 999_999)],
)
def test_before_noon_is_priced_at_the_intraday_nav(received_at):
    # when
    result = window(received_at)
    # then
    assert result.strike == INTRADAY
    assert result.trade_date == TUESDAY
    assert result.cutoff_at == result.strike_at == et(TUESDAY, 12, 0)
    assert result.cutoff_at.tzinfo is not None and result.cutoff_at.utcoffset() == dt.timedelta(0)  # stored in UTC


@pytest.mark.parametrize(
    "received_at", [et(TUESDAY, 12, 0), et(TUESDAY, 12, 0, 0, 1), et(TUESDAY, 14, 30), et(TUESDAY, 15, 59, 59, 999_999)]
)
def test_from_noon_until_the_close_is_priced_at_the_end_of_day_nav(received_at):
    result = window(received_at)
    assert result.strike == END_OF_DAY
    assert result.cutoff_at == result.strike_at == et(TUESDAY, 16, 0)


def test_exactly_on_the_intraday_cutoff_is_late_for_it():
    just_before = window(et(TUESDAY, 11, 59, 59, 999_999))
    on_the_instant = window(et(TUESDAY, 12, 0, 0, 0))
    assert (just_before.strike, on_the_instant.strike) == (INTRADAY, END_OF_DAY)


@pytest.mark.parametrize("received_at", [et(TUESDAY, 16, 0), et(TUESDAY, 16, 0, 0, 1), et(TUESDAY, 17, 30), et(TUESDAY, 23, 59, 59)])
def test_at_or_after_the_close_is_rejected(received_at):
    error = too_late(received_at)
    assert error.reason == "AFTER_LAST_CUTOFF"


def test_the_late_message_names_the_et_times_and_the_next_business_day():
    error = too_late(et(TUESDAY, 16, 0, 0))
    message = str(error)
    assert "received at 16:00:00 ET on 2021-04-20" in message
    assert "last cut-off of 16:00:00 ET" in message
    assert "2021-04-21" in message  # resubmit on Wednesday
    assert "early close" not in message


def test_a_friday_late_message_points_to_monday():
    message = str(too_late(et(FRIDAY, 16, 30)))
    assert "16:30:00 ET" in message and "2021-04-26" in message


def test_the_late_message_is_in_et_even_when_the_instant_is_given_in_utc():
    # 20:00 UTC on 2021-04-20 is 16:00 EDT
    message = str(too_late(utc(TUESDAY, 20, 0)))
    assert "16:00:00 ET" in message and "20:00" not in message


def test_the_business_date_is_the_new_york_date_not_the_utc_date():
    # 2021-04-21 02:30 UTC is still Tuesday 22:30 in New York: late for Tuesday, not early for Wednesday
    error = too_late(utc(dt.date(2021, 4, 21), 2, 30))
    assert error.reason == "AFTER_LAST_CUTOFF"
    assert "on 2021-04-20" in str(error)
    # Saturday 01:00 UTC is Friday 21:00 ET: late on a business day, not a weekend
    assert too_late(utc(dt.date(2021, 4, 24), 1, 0)).reason == "AFTER_LAST_CUTOFF"
    # and Wednesday 04:30 UTC is Wednesday 00:30 ET: Intra-Day of Wednesday
    result = window(utc(dt.date(2021, 4, 21), 4, 30))
    assert (result.trade_date, result.strike) == (dt.date(2021, 4, 21), INTRADAY)


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        window(dt.datetime(2021, 4, 20, 10, 0))


# --- days without a session -------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, weekday",
    [
        (dt.date(2021, 4, 24), "Saturday"),
        (dt.date(2021, 4, 25), "Sunday"),
        (dt.date(2021, 4, 2), "Friday"),  # Good Friday
        (dt.date(2021, 7, 5), "Monday"),  # Independence Day observed
        (dt.date(2021, 11, 25), "Thursday"),  # Thanksgiving
    ],
)
def test_a_day_without_an_nyse_session_is_rejected(day, weekday):
    error = too_late(et(day, 10, 0))
    assert error.reason == "NOT_A_BUSINESS_DAY"
    message = str(error)
    assert f"{day.isoformat()} 10:00:00 ET" in message
    assert f"{weekday} {day.isoformat()} is not an NYSE business day" in message


def test_the_not_a_business_day_message_names_the_next_business_day():
    assert "2021-04-05" in str(too_late(et(dt.date(2021, 4, 2), 10, 0)))  # Good Friday -> Monday
    assert "2021-07-06" in str(too_late(et(dt.date(2021, 7, 5), 9, 0)))


# --- the early close --------------------------------------------------------------------------


def test_early_close_day_keeps_the_intraday_window():
    result = window(et(EARLY_CLOSE, 11, 59, 59, 999_999))
    assert result.strike == INTRADAY
    assert result.cutoff_at == et(EARLY_CLOSE, 12, 0) == utc(EARLY_CLOSE, 17, 0)


@pytest.mark.parametrize("received_at", [et(EARLY_CLOSE, 12, 0), et(EARLY_CLOSE, 12, 59, 59), et(EARLY_CLOSE, 12, 59, 59, 999_999)])
def test_early_close_day_end_of_day_window_ends_at_one_pm(received_at):
    result = window(received_at)
    assert result.strike == END_OF_DAY
    assert result.cutoff_at == result.strike_at == et(EARLY_CLOSE, 13, 0) == utc(EARLY_CLOSE, 18, 0)


@pytest.mark.parametrize("received_at", [et(EARLY_CLOSE, 13, 0), et(EARLY_CLOSE, 14, 0), et(EARLY_CLOSE, 15, 59, 59)])
def test_early_close_day_rejects_from_one_pm(received_at):
    error = too_late(received_at)
    assert error.reason == "AFTER_LAST_CUTOFF"
    message = str(error)
    assert "13:00:00 ET (early close)" in message
    assert "2021-11-29" in message  # the Monday after


def test_a_fund_end_of_day_time_never_runs_past_an_early_close():
    # a Fund striking at 15:00 ET on ordinary days still closes its window at 13:00 on an early close
    assert window(et(EARLY_CLOSE, 12, 59, 59), end_of_day=dt.time(15, 0)).cutoff_at == et(EARLY_CLOSE, 13, 0)
    assert too_late(et(EARLY_CLOSE, 13, 0), end_of_day=dt.time(15, 0)).reason == "AFTER_LAST_CUTOFF"


def test_a_cash_cutoff_after_an_early_close_is_the_close():
    # 15:00 cash cut-off, but the session ends at 13:00: the last cut-off (not the cash one) applies
    assert window(et(EARLY_CLOSE, 12, 30), cash_cutoff=dt.time(15, 0), is_cash=True).cutoff_at == et(EARLY_CLOSE, 13, 0)
    assert too_late(et(EARLY_CLOSE, 13, 0), cash_cutoff=dt.time(15, 0), is_cash=True).reason == "AFTER_LAST_CUTOFF"


# --- daylight-saving changes ------------------------------------------------------------------

# (day, UTC hour of 12:00 ET, UTC hour of 16:00 ET)
DST_DAYS = [
    (dt.date(2021, 3, 12), 17, 21),  # Friday before the 2021-03-14 spring-forward: EST, UTC-5
    (dt.date(2021, 3, 15), 16, 20),  # Monday after: EDT, UTC-4
    (dt.date(2021, 11, 5), 16, 20),  # Friday before the 2021-11-07 fall-back: EDT
    (dt.date(2021, 11, 8), 17, 21),  # Monday after: EST
]


@pytest.mark.parametrize("day, noon_utc, close_utc", DST_DAYS)
def test_cutoffs_follow_new_york_wall_clock_across_daylight_saving_changes(day, noon_utc, close_utc):
    intraday = window(et(day, 11, 59, 59))
    assert intraday.strike == INTRADAY
    assert intraday.cutoff_at == utc(day, noon_utc, 0)

    end_of_day = window(et(day, 12, 0, 0))
    assert end_of_day.strike == END_OF_DAY
    assert end_of_day.cutoff_at == utc(day, close_utc, 0)

    assert window(et(day, 15, 59, 59)).strike == END_OF_DAY
    assert too_late(et(day, 16, 0, 0)).reason == "AFTER_LAST_CUTOFF"


@pytest.mark.parametrize("day, noon_utc, close_utc", DST_DAYS)
def test_the_same_utc_instants_fall_in_different_windows_across_the_change(day, noon_utc, close_utc):
    # Given in UTC: 16:30 UTC is 11:30 ET in winter (Intra-Day) but 12:30 ET in summer (End of Day).
    expected = INTRADAY if noon_utc == 17 else END_OF_DAY
    assert window(utc(day, 16, 30)).strike == expected
    # One microsecond before / on the UTC image of 12:00 ET and 16:00 ET.
    assert window(utc(day, noon_utc - 1, 59, 59, 999_999)).strike == INTRADAY
    assert window(utc(day, noon_utc, 0)).strike == END_OF_DAY
    assert window(utc(day, close_utc - 1, 59, 59, 999_999)).strike == END_OF_DAY
    assert too_late(utc(day, close_utc, 0)).reason == "AFTER_LAST_CUTOFF"
    # 20:30 UTC: 15:30 ET in winter (accepted), 16:30 ET in summer (rejected)
    if close_utc == 21:
        assert window(utc(day, 20, 30)).strike == END_OF_DAY
    else:
        assert too_late(utc(day, 20, 30)).reason == "AFTER_LAST_CUTOFF"


def test_the_noon_cutoff_is_an_hour_apart_in_utc_across_each_change():
    spring_before, spring_after = window(et(dt.date(2021, 3, 12), 10)), window(et(dt.date(2021, 3, 15), 10))
    fall_before, fall_after = window(et(dt.date(2021, 11, 5), 10)), window(et(dt.date(2021, 11, 8), 10))
    assert spring_before.cutoff_at.time() == dt.time(17, 0) and spring_after.cutoff_at.time() == dt.time(16, 0)
    assert fall_before.cutoff_at.time() == dt.time(16, 0) and fall_after.cutoff_at.time() == dt.time(17, 0)
    # and all four are 12:00 on the New York clock
    for result in (spring_before, spring_after, fall_before, fall_after):
        assert result.cutoff_at.astimezone(ET).time() == NOON


# --- the Fund's own times ---------------------------------------------------------------------


def test_a_cash_cutoff_rejects_cash_orders_but_not_in_kind_ones():
    cash_cutoff = dt.time(15, 0)
    # a cash order one microsecond before is still End of Day, with the earlier cut-off
    accepted = window(et(TUESDAY, 14, 59, 59, 999_999), cash_cutoff=cash_cutoff, is_cash=True)
    assert accepted.strike == END_OF_DAY
    assert accepted.cutoff_at == et(TUESDAY, 15, 0)
    assert accepted.strike_at == et(TUESDAY, 16, 0)  # still priced at the End of Day NAV
    # on the instant: rejected as a cash order
    error = too_late(et(TUESDAY, 15, 0), cash_cutoff=cash_cutoff, is_cash=True)
    assert error.reason == "AFTER_CASH_CUTOFF"
    assert "cash orders' cut-off of 15:00:00 ET" in str(error)
    assert "2021-04-21" in str(error)
    # the same instant in kind: End of Day, the cash cut-off does not apply
    in_kind = window(et(TUESDAY, 15, 0), cash_cutoff=cash_cutoff, is_cash=False)
    assert (in_kind.strike, in_kind.cutoff_at) == (END_OF_DAY, et(TUESDAY, 16, 0))


def test_a_cash_cutoff_before_noon_shortens_the_intraday_window():
    cash_cutoff = dt.time(11, 0)
    result = window(et(TUESDAY, 10, 59), cash_cutoff=cash_cutoff, is_cash=True)
    assert result.strike == INTRADAY
    assert result.cutoff_at == et(TUESDAY, 11, 0)  # cancel/receipt deadline: the cash cut-off
    assert result.strike_at == et(TUESDAY, 12, 0)  # but the NAV is still the 12:00 one
    assert too_late(et(TUESDAY, 11, 0), cash_cutoff=cash_cutoff, is_cash=True).reason == "AFTER_CASH_CUTOFF"
    assert too_late(et(TUESDAY, 11, 30), cash_cutoff=cash_cutoff, is_cash=True).reason == "AFTER_CASH_CUTOFF"
    # in kind at 11:30 is unaffected
    assert window(et(TUESDAY, 11, 30), cash_cutoff=cash_cutoff).strike == INTRADAY


def test_a_cash_cutoff_is_ignored_when_not_set():
    assert window(et(TUESDAY, 15, 30), cash_cutoff=None, is_cash=True).cutoff_at == et(TUESDAY, 16, 0)


def test_the_fund_intraday_strike_time_moves_the_first_cutoff():
    strike_time = dt.time(11, 30)
    before = window(et(TUESDAY, 11, 29, 59, 999_999), intraday=strike_time)
    assert (before.strike, before.cutoff_at, before.strike_at) == (INTRADAY, et(TUESDAY, 11, 30), et(TUESDAY, 11, 30))
    on = window(et(TUESDAY, 11, 30), intraday=strike_time)
    assert (on.strike, on.cutoff_at) == (END_OF_DAY, et(TUESDAY, 16, 0))
    # and 11:45, Intra-Day with the default time, is End of Day for this Fund
    assert window(et(TUESDAY, 11, 45)).strike == INTRADAY
    assert window(et(TUESDAY, 11, 45), intraday=strike_time).strike == END_OF_DAY


def test_a_fund_end_of_day_strike_time_is_its_last_cutoff():
    end_of_day = dt.time(15, 30)
    assert window(et(TUESDAY, 15, 29, 59, 999_999), end_of_day=end_of_day).cutoff_at == et(TUESDAY, 15, 30)
    error = too_late(et(TUESDAY, 15, 30), end_of_day=end_of_day)
    assert error.reason == "AFTER_LAST_CUTOFF"
    assert "15:30:00 ET" in str(error)
