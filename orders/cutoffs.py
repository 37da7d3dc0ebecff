"""Order cut-offs and Rule 22c-1 forward pricing: which NAV an order gets.

Pure module (no Django). An order is priced at the next NAV struck after the
server received it:

- received before the Intra-Day strike (12:00 ET by default): the Intra-Day NAV;
- received before the last cut-off (the End of Day strike, which is the NYSE
  close, 13:00 ET on early-close days): the End of Day NAV;
- cash orders may have an earlier last cut-off set by the Fund (never after the close);
- at or after the last cut-off, or on a day that is not an NYSE session: rejected.

Exactly on a cut-off instant counts as late: the window is half-open, [start, cut-off).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from funds import business_calendar

INTRADAY = "INTRADAY"
END_OF_DAY = "END_OF_DAY"


class OrderTooLate(Exception):
    """The order arrived after the last cut-off of its business day, or on a non-business day."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PricingWindow:
    trade_date: dt.date
    strike: str  # INTRADAY or END_OF_DAY
    cutoff_at: dt.datetime  # aware UTC: the order must be received strictly before this instant
    strike_at: dt.datetime  # aware UTC: the NAV the order is priced at


def _et(instant: dt.datetime) -> str:
    return instant.astimezone(business_calendar.NEW_YORK).strftime("%H:%M:%S ET")


def pricing_window(
    received_at: dt.datetime,
    *,
    intraday_strike_time: dt.time,
    end_of_day_strike_time: dt.time | None,
    cash_cutoff_time: dt.time | None = None,
    is_cash: bool = False,
) -> PricingWindow:
    """The NAV an order received at ``received_at`` (aware) is priced at, or ``OrderTooLate``."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    day = business_calendar.business_date(received_at)
    if not business_calendar.is_business_day(day):
        raise OrderTooLate(
            f"received {received_at.astimezone(business_calendar.NEW_YORK):%Y-%m-%d %H:%M:%S} ET, "
            f"{day:%A} {day.isoformat()} is not an NYSE business day: no NAV is struck, orders are not accepted. "
            f"Resubmit on the next business day, {business_calendar.next_business_day(day).isoformat()}.",
            reason="NOT_A_BUSINESS_DAY",
        )
    intraday_at = business_calendar.intraday_strike_at(day, intraday_strike_time)
    end_of_day_at = business_calendar.end_of_day_strike_at(day, end_of_day_strike_time)
    last_cutoff = end_of_day_at
    if is_cash and cash_cutoff_time is not None:
        last_cutoff = min(last_cutoff, business_calendar.at_new_york(day, cash_cutoff_time))

    if received_at < intraday_at and received_at < last_cutoff:
        return PricingWindow(day, INTRADAY, min(intraday_at, last_cutoff), intraday_at)
    if received_at < last_cutoff:
        return PricingWindow(day, END_OF_DAY, last_cutoff, end_of_day_at)
    kind = "cash orders' cut-off" if last_cutoff < end_of_day_at else "last cut-off"
    early = " (early close)" if business_calendar.is_early_close(day) else ""
    raise OrderTooLate(
        f"received at {_et(received_at)} on {day.isoformat()}, at or after the {kind} of {_et(last_cutoff)}{early}: "
        f"orders for {day.isoformat()} are closed. Resubmit on the next business day, "
        f"{business_calendar.next_business_day(day).isoformat()}.",
        reason="AFTER_CASH_CUTOFF" if last_cutoff < end_of_day_at else "AFTER_LAST_CUTOFF",
    )
