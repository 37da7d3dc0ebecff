"""Reads of the baskets app.

The protected set is confidential: only PMs and Compliance may see it. Published baskets are
public once published (they are the day's Creation Basket); the portfolio and engine report
behind them are not, and no selector here serves them to AP users.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from backoffice import roles
from backoffice.exceptions import NotFound
from baskets.models import GENESIS_SHA256, BasketPolicy, ProtectedSecurity, ProxySpread, Publication, PublicationChainHead, SubstituteBasket
from funds import business_calendar
from funds.models import DailyPrice, Fund, Holding, Security

PROTECTED_SET_ROLES = (roles.PORTFOLIO_MANAGER, roles.COMPLIANCE)
# Roles that may read published baskets, metrics and PCFs through the API.
BASKET_READER_ROLES = (roles.AUTHORIZED_PARTICIPANT, *roles.INTERNAL_ROLES)


def protected_security_ids(*, fund_id: int, on: dt.date) -> set[int]:
    """The Fund's protected set on a date: for the engine, never for a response."""
    return set(ProtectedSecurity.objects.in_force(on).filter(fund_id=fund_id).values_list("security_id", flat=True))


def protected_securities_visible_to(*, user, fund_id: int) -> QuerySet[ProtectedSecurity]:
    if not roles.user_has_role(user, *PROTECTED_SET_ROLES):
        raise NotFound("No protected securities found.")
    return ProtectedSecurity.objects.filter(fund_id=fund_id).select_related("security", "designated_by", "ended_by")


def basket_policy_for(*, fund: Fund) -> BasketPolicy:
    """The Fund's policy, or the defaults (unsaved) when none was set."""
    policy = BasketPolicy.objects.filter(fund=fund).first()
    return policy or BasketPolicy(fund=fund)


# --- published baskets ---------------------------------------------------------------------------


def baskets_released(*, at: dt.datetime | None = None) -> QuerySet[SubstituteBasket]:
    """Substitute Baskets whose Publication is released at ``at`` (default: now): the only ones any reader
    outside the back office may see. Before its release time a basket answers like a missing one."""
    at = at or timezone.now()
    released = Publication.objects.filter(substitute_basket=OuterRef("pk"), release_at__lte=at)
    return SubstituteBasket.objects.filter(Exists(released))


def basket_get(*, fund: Fund, trade_date: dt.date | None = None, version: int | None = None, at: dt.datetime | None = None) -> SubstituteBasket:
    """The current version of the basket for ``trade_date`` (default: the latest published), or one version;
    released ones only (``baskets_released``). The current version is the newest released one."""
    baskets = baskets_released(at=at).filter(fund=fund).select_related("fund", "supersedes")
    if trade_date is None:
        latest = baskets.order_by("-trade_date").values_list("trade_date", flat=True).first()
        if latest is None:
            raise NotFound(f"No Substitute Basket has been published for {fund.ticker}.")
        trade_date = latest
    baskets = baskets.filter(trade_date=trade_date)
    basket = baskets.filter(version=version).first() if version else baskets.order_by("-version").first()
    if basket is None:
        what = f"version {version} of the Substitute Basket" if version else "Substitute Basket"
        raise NotFound(f"No {what} for {fund.ticker} on {trade_date.isoformat()}.")
    return basket


def basket_components(*, basket: SubstituteBasket):
    return basket.components.select_related("security").order_by("-market_value", "security__ticker")


def basket_history(*, fund: Fund, start: dt.date | None = None, end: dt.date | None = None, at: dt.datetime | None = None) -> QuerySet[SubstituteBasket]:
    """Every released version (corrections included), newest first."""
    baskets = baskets_released(at=at).filter(fund=fund).select_related("fund", "supersedes").order_by("-trade_date", "-version")
    if start:
        baskets = baskets.filter(trade_date__gte=start)
    if end:
        baskets = baskets.filter(trade_date__lte=end)
    return baskets


def proxy_spreads(*, fund: Fund, end: dt.date, sessions: int) -> pd.DataFrame:
    """Proxy spreads of the ``sessions`` business days ending at ``end``, one row per business day
    (NaN where none was recorded), columns spread, basket_return, fund_return (percent)."""
    days = business_calendar.business_days(business_calendar.previous_business_day(end, sessions - 1), end)
    rows = ProxySpread.objects.filter(fund=fund, date__gte=days[0], date__lte=end).values_list(
        "date", "spread_pct", "basket_return_pct", "fund_return_pct"
    )
    frame = pd.DataFrame(
        [(d, float(s), float(b), float(f)) for d, s, b, f in rows], columns=["date", "spread", "basket_return", "fund_return"]
    ).set_index("date")
    return frame.reindex(days)


# --- Publications: the one channel (released ones only, the same for every AP) ---------------------


def publications_released(
    *, at: dt.datetime | None = None, after: int = 0, kind: str | None = None, fund_ticker: str | None = None,
    trade_date: dt.date | None = None,
) -> QuerySet[Publication]:
    """Publications released at ``at`` (default: now), in sequence order, after sequence ``after``.
    Takes no user: what one AP may read, every AP may read."""
    publications = Publication.objects.filter(release_at__lte=at or timezone.now(), sequence__gt=after).select_related("fund")
    if kind:
        publications = publications.filter(kind=kind)
    if fund_ticker:
        publications = publications.filter(fund__ticker=fund_ticker.upper())
    if trade_date:
        publications = publications.filter(trade_date=trade_date)
    return publications.order_by("sequence")


def publication_released_get(*, sequence: int, at: dt.datetime | None = None) -> Publication:
    """One released Publication. Unreleased and missing answer the same NotFound, word for word."""
    in_range = 0 < sequence < 2**63  # a larger number cannot be a sequence (and would overflow the column)
    publication = publications_released(at=at).filter(sequence=sequence).first() if in_range else None
    if publication is None:
        raise NotFound("No released publication has this sequence.")  # the same bytes, whatever was asked
    return publication


@dataclass
class ChainReport:
    """The outcome of ``publication_chain_verify``: ``broken`` is None when the chain is intact."""

    count: int
    head: str
    broken: str | None = None
    sequence: int | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def publication_chain_verify() -> ChainReport:
    """Recompute every Publication's payload hash and chain link, in sequence order, streaming.

    Stops at the first broken row and names it (sequence, kind, fund, what differs): an edited payload,
    an edited hash, release time, kind or fund (all inside the link), an edited trade date (inside the
    payload), a missing (deleted) row, and a chain head that does not match the last row.
    """
    from baskets.services.dissemination import chain_hash, sha256_hex  # the same functions that wrote the chain

    previous, expected, count = GENESIS_SHA256, 1, 0
    rows = Publication.objects.order_by("sequence").values_list(
        "sequence", "kind", "fund__ticker", "trade_date", "release_at", "payload", "payload_sha256", "previous_chain_sha256", "chain_sha256",
    )
    for sequence, kind, ticker, trade_date, release_at, payload, payload_sha256, previous_stored, chained in rows.iterator(chunk_size=1000):
        name = f"publication #{sequence} ({kind}, {ticker}, {trade_date.isoformat()})"

        def broken(what: str) -> ChainReport:
            return ChainReport(count=count, head=previous, broken=f"{name}: {what}", sequence=sequence)

        if sequence != expected:
            missing = f"#{expected}" if sequence == expected + 1 else f"#{expected} to #{sequence - 1}"
            return broken(f"publication {missing} is missing before it (the sequence jumps from #{expected - 1} to #{sequence})")
        actual = sha256_hex(payload.encode("utf-8"))
        if actual != payload_sha256:
            return broken(f"payload SHA-256 is {actual}, the row stores {payload_sha256} (the payload was edited)")
        if previous_stored != previous:
            return broken(f"previous chain hash stored {previous_stored}, the previous row's chain hash is {previous}")
        link = chain_hash(previous=previous, sequence=sequence, kind=kind, fund_ticker=ticker, release_at=release_at, payload_sha256=payload_sha256)
        if link != chained:
            return broken(f"chain hash recomputes to {link}, the row stores {chained} (its chain hash, kind, fund or release time was edited)")
        embedded = _payload_fields(payload)
        for column, value in (("kind", kind), ("fund", ticker), ("trade_date", trade_date.isoformat())):
            if embedded.get(column) != value:
                return broken(f"{column} is {value!r} but the payload says {embedded.get(column)!r}")
        previous, expected, count = chained, expected + 1, count + 1
    head = PublicationChainHead.objects.filter(pk=1).values_list("last_sequence", "last_chain_sha256").first() or (0, GENESIS_SHA256)
    if head != (count, previous):
        return ChainReport(count=count, head=previous, sequence=head[0] or None, broken=(
            f"the chain head says #{head[0]} {head[1]}, the last publication is #{count} {previous} "
            "(a row at the end was deleted, or the head was edited)"))
    return ChainReport(count=count, head=previous)


def _payload_fields(payload: str) -> dict:
    try:
        data = json.loads(payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --- market data for the engine -------------------------------------------------------------------


@dataclass
class MarketHistory:
    """Daily closes, adjusted closes and volumes over a window of NYSE sessions, by security id."""

    sessions: list[dt.date]
    close: pd.DataFrame  # sessions x security id, float, NaN where no row
    adj_close: pd.DataFrame
    volume: pd.DataFrame
    last_close: dict[int, tuple[dt.date, Decimal]]  # exact latest close on or before the window end
    exact_closes: dict[int, list[tuple[dt.date, Decimal]]] = None  # every exact close in the window, by date

    @property
    def end(self) -> dt.date:
        return self.sessions[-1]

    def window(self, *, end: dt.date, sessions: int) -> "MarketHistory":
        """The same data cut to the ``sessions`` sessions ending at ``end`` (for replays over a long load)."""
        stop = self.sessions.index(end) + 1
        if stop < sessions:
            raise ValueError(f"the loaded prices start too late for {sessions} sessions ending {end.isoformat()}")
        days = self.sessions[stop - sessions : stop]
        close = self.close.loc[days]
        last_close: dict[int, tuple[dt.date, Decimal]] = {}
        for security_id, series in self.exact_closes.items():
            before = [item for item in series if item[0] <= end]
            if before and before[-1][0] >= days[0]:
                last_close[security_id] = before[-1]
        return MarketHistory(
            sessions=days, close=close, adj_close=self.adj_close.loc[days], volume=self.volume.loc[days],
            last_close=last_close, exact_closes=self.exact_closes,
        )

    def returns(self, days: int) -> pd.DataFrame:
        """Daily total returns (adjusted closes; the close where no adjusted close) of the last ``days`` sessions."""
        prices = self.adj_close.where(self.adj_close.notna(), self.close)
        returns = prices.pct_change(fill_method=None).iloc[1:]
        return returns.iloc[-days:]

    def average_volume(self, sessions: int = 63) -> pd.Series:
        return self.volume.iloc[-sessions:].mean(axis=0, skipna=True)

    def average_dollar_volume(self, sessions: int = 63) -> pd.Series:
        return (self.volume * self.close).iloc[-sessions:].mean(axis=0, skipna=True)


def market_history(*, end: dt.date, sessions: int, security_ids=None) -> MarketHistory:
    """Prices of the ``sessions`` NYSE sessions ending at ``end`` (one query)."""
    days = business_calendar.business_days(business_calendar.previous_business_day(end, sessions - 1), end)
    rows = DailyPrice.objects.filter(date__gte=days[0], date__lte=end)
    if security_ids is not None:
        rows = rows.filter(security_id__in=list(security_ids))
    data = list(rows.values_list("security_id", "date", "close", "adj_close", "volume").order_by("date"))
    last_close: dict[int, tuple[dt.date, Decimal]] = {}
    exact_closes: dict[int, list[tuple[dt.date, Decimal]]] = {}
    for security_id, day, close, _adj, _vol in data:
        last_close[security_id] = (day, close)
        exact_closes.setdefault(security_id, []).append((day, close))
    if data:
        ids, dates, closes, adjs, vols = zip(*data)
        frame = pd.DataFrame(
            {
                "security_id": np.asarray(ids, dtype=np.int64),
                "date": list(dates),
                "close": np.asarray([float(c) for c in closes]),
                "adj_close": np.asarray([float(a) if a is not None else np.nan for a in adjs]),
                "volume": np.asarray(vols, dtype=float),
            }
        )
    else:
        frame = pd.DataFrame(columns=["security_id", "date", "close", "adj_close", "volume"])

    def pivot(column: str) -> pd.DataFrame:
        if frame.empty:
            return pd.DataFrame(index=days, dtype=float)
        return frame.pivot(index="date", columns="security_id", values=column).reindex(days).astype(float)

    return MarketHistory(sessions=days, close=pivot("close"), adj_close=pivot("adj_close"), volume=pivot("volume"), last_close=last_close, exact_closes=exact_closes
    )


def basket_comparison(*, basket: SubstituteBasket) -> tuple[list[dict], dict]:
    """Basket against the portfolio it was built from, for PMs: weights side by side at the prior close.

    Confidential (holdings): callers check the user's role. Rows: security id, ticker, description,
    portfolio weight, basket weight (fractions), largest of the two first.
    """
    prior = basket.basis_nav.date
    holdings = dict(Holding.objects.filter(portfolio=basket.portfolio).values_list("security_id", "quantity"))
    closes: dict[int, Decimal] = {}
    rows = DailyPrice.objects.filter(security_id__in=list(holdings), date__lte=prior, date__gte=prior - dt.timedelta(days=10))
    for security_id, close in rows.order_by("date").values_list("security_id", "close"):
        closes[security_id] = close
    values = {sid: float(q) * float(closes.get(sid, 0)) for sid, q in holdings.items()}
    net_cash = float(basket.portfolio.cash - basket.portfolio.liabilities)
    net_assets = sum(values.values()) + net_cash
    portfolio_w = {sid: v / net_assets for sid, v in values.items()} if net_assets > 0 else {}
    basket_w = {sid: float(w) / 100 for sid, w in basket.components.values_list("security_id", "weight_pct")}
    ids = set(portfolio_w) | set(basket_w)
    securities = {s.pk: s for s in Security.objects.filter(pk__in=ids).only("ticker", "description")}
    table = [
        {"security_id": sid, "ticker": securities[sid].ticker, "description": securities[sid].description,
         "portfolio": portfolio_w.get(sid, 0.0), "basket": basket_w.get(sid, 0.0)}
        for sid in ids
    ]
    table.sort(key=lambda r: (-max(r["portfolio"], r["basket"]), r["ticker"]))
    basket_cash = float(basket.cash_amount) / float(basket.nav_per_creation_unit)
    cash_p = net_cash / net_assets if net_assets > 0 else 0.0
    overlap = sum(min(r["portfolio"], r["basket"]) for r in table) + min(max(cash_p, 0.0), max(basket_cash, 0.0))
    return table, {"overlap": overlap, "portfolio_cash": cash_p, "basket_cash": basket_cash}
