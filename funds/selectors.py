"""Reads of the fund core. Confidential holdings are reachable only through ``portfolio_visible_to``."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from backoffice import roles
from backoffice.exceptions import NotFound
from decimal import Decimal

from funds.models import DailyPrice, Fund, IntradaySnapshot, NetAssetValue, Portfolio, Security, Strike


def fund_list(*, active_only: bool = True) -> QuerySet[Fund]:
    funds = Fund.objects.select_related("trust", "adviser", "distributor")
    return funds.active() if active_only else funds


def fund_get(*, ticker: str) -> Fund:
    fund = fund_list(active_only=False).filter(ticker=ticker.upper()).first()
    if fund is None:
        raise NotFound(f"No Fund with ticker {ticker!r}.")
    return fund


def nav_list(*, fund: Fund, start: dt.date | None = None, end: dt.date | None = None) -> QuerySet[NetAssetValue]:
    navs = NetAssetValue.objects.filter(fund=fund).defer("inputs").order_by("-date", "-strike_at")
    if start:
        navs = navs.filter(date__gte=start)
    if end:
        navs = navs.filter(date__lte=end)
    return navs


def nav_get(*, fund: Fund, day: dt.date, strike: str) -> NetAssetValue:
    nav = NetAssetValue.objects.select_related("portfolio").filter(fund=fund, date=day, strike=strike.upper()).first()
    if nav is None:
        raise NotFound(f"No {strike.upper()} NAV for {fund.ticker} on {day.isoformat()}.")
    return nav


def portfolio_for(*, fund: Fund, on: dt.date) -> Portfolio | None:
    """The portfolio that forms the basis of the NAV on ``on``: the latest booked on or before it."""
    return Portfolio.objects.filter(fund=fund, as_of__lte=on).order_by("-as_of").first()


def portfolio_visible_to(*, user, fund: Fund, on: dt.date) -> Portfolio:
    """Holdings only for the roles that may see them; everyone else gets the same 404 as a missing one."""
    if not roles.user_has_role(user, *roles.HOLDINGS_ROLES):
        raise NotFound("No portfolio found.")
    portfolio = portfolio_for(fund=fund, on=on)
    if portfolio is None:
        raise NotFound("No portfolio found.")
    return portfolio


def security_list() -> QuerySet[Security]:
    return Security.objects.all()


def strike_prices(*, strike: str, day: dt.date, security_ids) -> dict[int, Decimal]:
    """Each security's price at a strike: the 12:00 ET snapshot (Intra-Day) or the official close (End of Day)."""
    if strike == Strike.INTRADAY:
        rows = IntradaySnapshot.objects.filter(date=day, security_id__in=security_ids).values_list("security_id", "price")
    else:
        rows = DailyPrice.objects.filter(date=day, security_id__in=security_ids).values_list("security_id", "close")
    return dict(rows)


def funds_group_role(name: str) -> str | None:
    """What of the Funds' group a legal name is ("the Trust", "the Adviser", "the Distributor"), or None.

    APs (the Distributor and affiliated persons may not be one) and Investing Funds (outside the group)
    are both refused on it."""
    from funds.models import Adviser, Distributor, Trust

    name = (name or "").strip()
    for model, what in ((Trust, "the Trust"), (Adviser, "the Adviser"), (Distributor, "the Distributor")):
        if model.objects.filter(name__iexact=name).exists():
            return what
    return None
