"""Striking NAVs.

One path for one Fund or five hundred: ``nav_strike_batch`` loads portfolios,
holdings, prices and shares outstanding for every Fund in a handful of queries,
computes each NAV with the pure ``funds.nav_math`` module, and writes all NAVs
(and their history rows) in one transaction. A (fund, date, strike) already
struck is a no-op; a Fund lacking a price gets a ``NavStrikeFailure`` row naming
the securities, and no NAV.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from django.db import IntegrityError, transaction
from django.db.models import JSONField, OuterRef, Subquery, Sum, Value
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from funds import business_calendar, nav_math
from funds.selectors import strike_prices
from funds.exceptions import NavStrikeRefused, NotABusinessDay, StrikeNotDue
from funds.models import (
    Fund,
    Holding,
    NavStrikeFailure,
    NetAssetValue,
    Portfolio,
    SharesOutstandingEntry,
    Strike,
)

logger = logging.getLogger(__name__)


class Status:
    STRUCK = "STRUCK"
    ALREADY_STRUCK = "ALREADY_STRUCK"
    FAILED = "FAILED"


@dataclass
class NavStrikeOutcome:
    fund_id: int
    ticker: str
    date: dt.date
    strike: str
    status: str
    nav: NetAssetValue | None = None
    failure: NavStrikeFailure | None = None
    missing_tickers: list[str] = field(default_factory=list)


def strike_instant(fund: Fund, day: dt.date, strike: str) -> dt.datetime:
    """The scheduled instant of a strike (aware, UTC). Early closes move the End of Day strike to the close."""
    if strike == Strike.INTRADAY:
        return business_calendar.intraday_strike_at(day, fund.intraday_strike_time)
    if strike == Strike.END_OF_DAY:
        return business_calendar.end_of_day_strike_at(day, fund.end_of_day_strike_time)
    raise ValueError(f"unknown strike {strike!r}")


def _failure(fund, day, strike, reason, message, actor, now, missing=()) -> NavStrikeFailure:
    return NavStrikeFailure(
        fund=fund, date=day, strike=strike, reason=reason, message=message,
        missing_tickers=list(missing), attempted_at=now, attempted_by=actor,
    )


def nav_strike_batch(*, fund_ids: list[int], day: dt.date, strike: str, actor, now: dt.datetime | None = None) -> list[NavStrikeOutcome]:
    """Strike one kind of NAV for many Funds on one business day."""
    now = now or timezone.now()
    if strike not in Strike.values:
        raise ValueError(f"unknown strike {strike!r}; expected one of {', '.join(Strike.values)}")
    if not business_calendar.is_business_day(day):
        raise NotABusinessDay(f"{day.isoformat()} is not an NYSE business day: no NAV is struck.")

    latest_portfolio = Portfolio.objects.filter(fund=OuterRef("pk"), as_of__lte=day).order_by("-as_of").values("pk")[:1]
    funds = list(Fund.objects.filter(pk__in=fund_ids).annotate(portfolio_id=Subquery(latest_portfolio)).order_by("pk"))
    missing_funds = sorted(set(fund_ids) - {f.pk for f in funds})
    if missing_funds:
        raise Fund.DoesNotExist(f"unknown fund id(s): {missing_funds}")

    strike_at = {fund.pk: strike_instant(fund, day, strike) for fund in funds}
    for fund in funds:
        instant = strike_at[fund.pk]
        if now < instant:
            raise StrikeNotDue(
                f"{fund.ticker} {Strike(strike).label} for {day.isoformat()} is due at "
                f"{instant.astimezone(business_calendar.NEW_YORK):%H:%M} ET; it cannot be struck before then."
            )

    already = set(
        NetAssetValue.objects.filter(fund_id__in=fund_ids, date=day, strike=strike).values_list("fund_id", flat=True)
    )
    outcomes: dict[int, NavStrikeOutcome] = {
        f.pk: NavStrikeOutcome(f.pk, f.ticker, day, strike, Status.ALREADY_STRUCK) for f in funds if f.pk in already
    }
    pending = [f for f in funds if f.pk not in already]

    portfolio_ids = [f.portfolio_id for f in pending if f.portfolio_id]
    portfolios = Portfolio.objects.in_bulk(portfolio_ids)
    holdings = pd.DataFrame.from_records(
        Holding.objects.filter(portfolio_id__in=portfolio_ids)
        .order_by("portfolio_id", "security__ticker")
        .values_list("portfolio_id", "security_id", "security__ticker", "quantity"),
        columns=["portfolio_id", "security_id", "ticker", "quantity"],
    )
    prices = strike_prices(strike=strike, day=day, security_ids=holdings["security_id"].unique().tolist()) if len(holdings) else {}
    holdings["price"] = holdings["security_id"].map(prices).astype(object)
    holdings_by_portfolio = dict(tuple(holdings.groupby("portfolio_id", sort=False)))
    shares = dict(
        SharesOutstandingEntry.objects.filter(fund_id__in=[f.pk for f in pending], effective_date__lte=day)
        .values("fund_id")
        .annotate(total=Sum("change"))
        .values_list("fund_id", "total")
    )
    price_basis = NetAssetValue.PriceBasis.INTRADAY_SNAPSHOT if strike == Strike.INTRADAY else NetAssetValue.PriceBasis.CLOSE

    navs: list[NetAssetValue] = []
    failures: list[NavStrikeFailure] = []
    for fund in pending:
        outcome = NavStrikeOutcome(fund.pk, fund.ticker, day, strike, Status.FAILED)
        outcomes[fund.pk] = outcome
        if not fund.portfolio_id:
            outcome.failure = _failure(fund, day, strike, NavStrikeFailure.Reason.NO_PORTFOLIO,
                                       f"{fund.ticker} has no portfolio booked on or before {day.isoformat()}.", actor, now)
            failures.append(outcome.failure)
            continue
        outstanding = shares.get(fund.pk) or Decimal(0)
        if outstanding <= 0:
            outcome.failure = _failure(fund, day, strike, NavStrikeFailure.Reason.NO_SHARES_OUTSTANDING,
                                       f"{fund.ticker} has no shares outstanding on {day.isoformat()}.", actor, now)
            failures.append(outcome.failure)
            continue
        portfolio = portfolios[fund.portfolio_id]
        rows = holdings_by_portfolio.get(fund.portfolio_id, holdings.iloc[0:0])
        missing = rows.loc[rows["price"].isna(), "ticker"].tolist()
        if missing:
            basis = "12:00 snapshot" if strike == Strike.INTRADAY else "closing"
            outcome.missing_tickers = missing
            outcome.failure = _failure(
                fund, day, strike, NavStrikeFailure.Reason.MISSING_PRICES,
                f"{fund.ticker} {Strike(strike).label} for {day.isoformat()} not struck: no {basis} price for "
                f"{len(missing)} held security(ies): {', '.join(missing)}.",
                actor, now, missing,
            )
            failures.append(outcome.failure)
            continue
        computed = nav_math.compute_nav(
            rows["quantity"].to_numpy(dtype=object), rows["price"].to_numpy(dtype=object),
            cash=portfolio.cash, liabilities=portfolio.liabilities, shares_outstanding=outstanding,
        )
        inputs = {
            "columns": ["security_id", "ticker", "quantity", "price", "market_value"],
            "rows": list(zip(
                rows["security_id"].tolist(), rows["ticker"].tolist(), rows["quantity"].astype(str).tolist(),
                rows["price"].astype(str).tolist(), [str(v) for v in computed.market_values],
            )),
        }
        nav = NetAssetValue(
            fund=fund, date=day, strike=strike, strike_at=strike_at[fund.pk], struck_at=now,
            portfolio=portfolio, price_basis=price_basis, holdings_count=len(rows),
            securities_value=computed.securities_value, cash=computed.cash, liabilities=computed.liabilities,
            net_assets=computed.net_assets, shares_outstanding=outstanding, nav_per_share=computed.nav_per_share,
            inputs=inputs, struck_by=actor,
        )
        outcome.status, outcome.nav = Status.STRUCK, nav
        navs.append(nav)

    _write(navs, failures, outcomes, actor)
    for outcome in outcomes.values():
        if outcome.status == Status.FAILED:
            logger.warning("NAV strike refused: %s", outcome.failure.message)
    return [outcomes[f.pk] for f in funds]


def _write(navs: list[NetAssetValue], failures: list[NavStrikeFailure], outcomes: dict, actor) -> None:
    # Django 5.2 bulk-inserts on PostgreSQL through UNNEST(%s::jsonb[]), and psycopg then escapes every
    # quote of every inputs document in Python (half the strike time for 500 Funds). An expression
    # value makes Django use a plain VALUES insert; the stored JSON is identical.
    inputs = [nav.inputs for nav in navs]
    for nav in navs:
        nav.inputs = Value(nav.inputs, output_field=JSONField())
    try:
        with transaction.atomic():
            bulk_create_with_history(navs, NetAssetValue, default_user=actor, batch_size=500)
            NavStrikeFailure.objects.bulk_create(failures)
    except IntegrityError:
        # Another worker struck some of these concurrently: fall back to one row at a
        # time so its NAVs stand and ours become no-ops.
        with transaction.atomic():
            for nav in navs:
                try:
                    with transaction.atomic():
                        nav.pk = None
                        nav._history_user = actor
                        nav.save()
                except IntegrityError:
                    outcome = outcomes[nav.fund_id]
                    outcome.status, outcome.nav = Status.ALREADY_STRUCK, None
            NavStrikeFailure.objects.bulk_create(failures)
    finally:
        for nav, value in zip(navs, inputs):
            nav.inputs = value


def nav_strike(*, fund_id: int, day: dt.date, strike: str, actor, now: dt.datetime | None = None) -> NavStrikeOutcome:
    """Strike one Fund's NAV; the outcome carries the NAV, new or already struck.

    Running it twice is a no-op; a refused strike raises ``NavStrikeRefused``.
    """
    (outcome,) = nav_strike_batch(fund_ids=[fund_id], day=day, strike=strike, actor=actor, now=now)
    if outcome.status == Status.ALREADY_STRUCK:
        outcome.nav = NetAssetValue.objects.get(fund_id=fund_id, date=day, strike=strike)
    if outcome.status == Status.FAILED:
        raise NavStrikeRefused(
            outcome.failure.message, details={"reason": outcome.failure.reason, "missing_tickers": outcome.missing_tickers}
        )
    return outcome


def nav_strike_request(*, fund_ids: list[int], day: dt.date, strike: str, actor) -> None:
    """Queue a strike for the workers, sent only once the caller's transaction commits."""
    from funds.tasks import nav_strike_batch_task

    if not business_calendar.is_business_day(day):
        raise NotABusinessDay(f"{day.isoformat()} is not an NYSE business day: no NAV is struck.")
    transaction.on_commit(
        lambda: nav_strike_batch_task.delay(fund_ids=list(fund_ids), day=day.isoformat(), strike=strike, actor_id=actor.pk)
    )


def nav_strikes_due(*, actor, now: dt.datetime | None = None) -> list[NavStrikeOutcome]:
    """Strike every NAV of today whose instant has passed and that is not struck yet (the beat's dispatcher)."""
    now = now or timezone.now()
    today = business_calendar.business_date(now)
    if not business_calendar.is_business_day(today):
        return []
    funds = list(Fund.objects.active().filter(launch_date__lte=today))
    struck = set(NetAssetValue.objects.filter(date=today).values_list("fund_id", "strike"))
    outcomes: list[NavStrikeOutcome] = []
    for strike in Strike.values:
        due = [f.pk for f in funds if (f.pk, strike) not in struck and strike_instant(f, today, strike) <= now]
        if due:
            outcomes += nav_strike_batch(fund_ids=due, day=today, strike=strike, actor=actor, now=now)
    return outcomes
