"""Booking the confidential portfolio and seeding the shares-outstanding ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Iterable

from django.db import transaction
from simple_history.utils import bulk_create_with_history

from funds import business_calendar
from funds.exceptions import NotABusinessDay, PennyStockPurchase
from funds.models import AssetClass, DailyPrice, Fund, Holding, Portfolio, Security, SharesOutstandingEntry
from backoffice.exceptions import InvalidInput

# Rule 3a51-1 defines penny stocks among equity securities; notes, futures and cash are outside it.
PENNY_RULE_EXEMPT = {AssetClass.CASH_EQUIVALENT, AssetClass.FUTURE, AssetClass.ETN}


def _as_decimal(value, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidInput(f"{what} must be a number, got {value!r}") from None
    if not number.is_finite():
        raise InvalidInput(f"{what} must be finite, got {value!r}")
    return number


def _latest_closes(security_ids: Iterable[int], on: dt.date) -> dict[int, Decimal]:
    """Latest close on or before ``on`` per security (one query)."""
    closes: dict[int, Decimal] = {}
    rows = (
        DailyPrice.objects.filter(security_id__in=list(security_ids), date__lte=on)
        .order_by("security_id", "-date")
        .values_list("security_id", "close")
    )
    for security_id, close in rows:
        closes.setdefault(security_id, close)
    return closes


@transaction.atomic
def portfolio_book(
    *,
    fund_id: int,
    as_of: dt.date,
    positions: Iterable[tuple[int, Decimal]],
    cash: Decimal,
    liabilities: Decimal = Decimal("0"),
    notes: str = "",
    actor,
) -> Portfolio:
    """Book the Fund's portfolio for a business day: (security id, quantity) pairs, cash, liabilities.

    Refuses, naming the culprit: a non-business day, a date already booked, a
    duplicate or unknown security, a non-positive quantity, or the purchase of a
    penny stock (a new or increased position in an equity priced under $5).
    """
    fund = Fund.objects.select_for_update().get(pk=fund_id)
    if not business_calendar.is_business_day(as_of):
        raise NotABusinessDay(f"{as_of.isoformat()} is not an NYSE business day.")
    if Portfolio.objects.filter(fund=fund, as_of=as_of).exists():
        raise InvalidInput(f"{fund.ticker} already has a portfolio booked for {as_of.isoformat()}; book the next business day instead.")
    cash = _as_decimal(cash, "cash")
    liabilities = _as_decimal(liabilities, "liabilities")
    if liabilities < 0:
        raise InvalidInput("liabilities cannot be negative.")

    quantities: dict[int, Decimal] = {}
    for security_id, quantity in positions:
        if security_id in quantities:
            raise InvalidInput(f"security id {security_id} appears twice in the portfolio.")
        quantity = _as_decimal(quantity, f"quantity of security id {security_id}")
        if quantity <= 0:
            raise InvalidInput(f"quantity of security id {security_id} must be positive (the Funds hold no short positions).")
        quantities[security_id] = quantity

    securities = Security.objects.in_bulk(list(quantities))
    unknown = sorted(set(quantities) - set(securities))
    if unknown:
        raise InvalidInput(f"unknown security id(s): {', '.join(map(str, unknown))}.")
    inactive = sorted(s.ticker for s in securities.values() if not s.is_active)
    if inactive:
        raise InvalidInput(f"inactive security(ies) cannot be held: {', '.join(inactive)}.")

    previous = Portfolio.objects.filter(fund=fund, as_of__lt=as_of).order_by("-as_of").first()
    previous_quantities = dict(previous.holdings.values_list("security_id", "quantity")) if previous else {}
    bought = [sid for sid, qty in quantities.items() if qty > previous_quantities.get(sid, Decimal(0))]
    bought = [sid for sid in bought if securities[sid].asset_class not in PENNY_RULE_EXEMPT]
    closes = _latest_closes(bought, as_of)
    unpriced = sorted(securities[sid].ticker for sid in bought if sid not in closes)
    if unpriced:
        raise PennyStockPurchase(
            f"cannot verify the penny-stock rule for purchases without a price: {', '.join(unpriced)}.", details={"tickers": unpriced}
        )
    penny = sorted(securities[sid].ticker for sid in bought if Security.is_penny_stock_price(closes[sid]))
    if penny:
        raise PennyStockPurchase(
            f"a Fund may not buy penny stocks (priced under $5): {', '.join(penny)}.", details={"tickers": penny}
        )

    portfolio = Portfolio(fund=fund, as_of=as_of, cash=cash, liabilities=liabilities, notes=notes, created_by=actor)
    portfolio._history_user = actor
    portfolio.save()
    holdings = [Holding(portfolio=portfolio, security_id=sid, quantity=qty) for sid, qty in quantities.items()]
    bulk_create_with_history(holdings, Holding, default_user=actor)
    return portfolio


@transaction.atomic
def shares_outstanding_launch(*, fund_id: int, shares: Decimal, effective_date: dt.date, actor) -> SharesOutstandingEntry:
    """Seed the ledger once, at launch. Later changes come only from creations and redemptions."""
    fund = Fund.objects.select_for_update().get(pk=fund_id)
    shares = _as_decimal(shares, "shares")
    if shares <= 0:
        raise InvalidInput("seed shares must be positive.")
    if SharesOutstandingEntry.objects.filter(fund=fund, kind=SharesOutstandingEntry.Kind.LAUNCH).exists():
        raise InvalidInput(f"{fund.ticker} already has its launch entry.")
    entry = SharesOutstandingEntry(
        fund=fund, effective_date=effective_date, kind=SharesOutstandingEntry.Kind.LAUNCH, change=shares,
        reference="launch", created_by=actor,
    )
    entry._history_user = actor
    entry.save()
    return entry
