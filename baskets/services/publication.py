"""The daily Substitute Basket cycle: build, validate, publish; proxy spreads at the close; corrections.

Before the open of business day D (``substitute_baskets_publish``), for every active Fund:

1. inputs from the database: the portfolio that forms the basis of D's NAV (the latest booked on or
   before D), valued at the prior session's closes; the prior End of Day NAV (the basket is sized
   to NAV per Share x Creation Unit); the protected set in force on D; the eligible universe
   (Permissible Investments traded on an exchange, a quotation in the last five sessions, not a
   penny stock, average daily dollar volume above the Fund's floor); the return history;
2. the pure engine (``baskets.engine``) builds the weights, then whole-share quantities per
   Creation Unit and the estimated Cash Amount; a name without a quotation on the prior session has
   no readily available quotation and is delivered as cash in lieu (footnote 55);
3. the metrics: Active Share Differential of the published quantities against the portfolio (it
   must be inside the Fund's band after rounding, else nothing is published), Basket Overlap of the
   prior day's basket against the prior day's NAV holdings (footnote 7), Tracking Error of the last
   63 business days of proxy spreads, ex-ante tracking error, represented share, correlation;
4. one transaction writes the basket, its components and a PUBLISHED event.

Any failure (a ``BasketEngineError`` from the engine, or missing inputs) publishes nothing for that
Fund, never reuses the previous basket, records a FAILED event naming the constraint and e-mails
Operations once the transaction commits. Other Funds are not affected.

At the close (``proxy_spreads_record``), after the End of Day NAV: the day's proxy spread.
Intra-day (``substitute_basket_correct``): a correction re-builds the basket with the error removed
and publishes it as a new version linked to the old one, with the reason. The Basket Overlap and
Tracking Error are published once a day, so a correction carries them over unchanged.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from backoffice import roles
from backoffice.exceptions import InvalidInput, InvalidTransition
from baskets import selectors
from baskets.engine import metrics
from baskets.engine.errors import BasketEngineError, InfeasibleBasket, InsufficientHistory
from baskets.engine.optimizer import BasketParams, build_substitute_basket
from baskets.engine.quantities import weights_to_quantities
from baskets.engine.risk import estimate_covariance
from baskets.models import BasketComponent, BasketEvent, BasketPolicy, ProxySpread, SubstituteBasket
from baskets.services.dissemination import substitute_basket_publish_payload
from funds import business_calendar
from funds.exceptions import NotABusinessDay
from funds.models import AssetClass, Fund, NetAssetValue, Portfolio, Security, SharesOutstandingEntry, Strike

logger = logging.getLogger(__name__)

# Permissible Investments that trade on an exchange and can be delivered in kind. Futures and cash
# equivalents are Permissible Investments but are not delivered in a Creation Basket.
BASKET_ASSET_CLASSES = tuple(c for c in AssetClass.values if c not in (AssetClass.FUTURE, AssetClass.CASH_EQUIVALENT))
QUOTE_STALE_SESSIONS = 5  # no close in this many sessions: not eligible at all
ADV_SESSIONS = 63
PERCENT_PLACES = Decimal("0.0001")
# The engine aims this far inside the band so rounding to whole shares cannot leave it; tried in turn.
ROUNDING_BUFFERS = (0.0025, 0.01, 0.02)
PENNY_STOCK_PRICE = 5.0


class BasketInputError(Exception):
    """The database lacks an input the basket needs; ``constraint`` names it like the engine's errors."""

    def __init__(self, message: str, *, constraint: str):
        super().__init__(message)
        self.constraint = constraint

    def __str__(self) -> str:
        return f"[{self.constraint}] {super().__str__()}"


class Status:
    PUBLISHED = "PUBLISHED"
    ALREADY_PUBLISHED = "ALREADY_PUBLISHED"
    FAILED = "FAILED"


@dataclass
class BasketOutcome:
    fund_id: int
    ticker: str
    trade_date: dt.date
    status: str
    basket: SubstituteBasket | None = None
    constraint: str = ""
    message: str = ""
    seconds: float = 0.0


@dataclass
class _Built:
    """Everything a basket row needs, computed before the write transaction opens."""

    fund: Fund
    trade_date: dt.date
    portfolio: Portfolio
    basis_nav: NetAssetValue
    nav_per_creation_unit: Decimal
    shares_outstanding: Decimal
    components: list[dict]
    securities_value: Decimal
    cash_amount: Decimal
    active_share_pct: Decimal
    represented_share_pct: Decimal
    ex_ante_tracking_error_pct: Decimal
    basket_overlap_pct: Decimal | None
    basket_overlap_note: str
    tracking_error_pct: Decimal | None
    tracking_error_observations: int
    tracking_error_note: str
    correlation: Decimal | None
    engine_report: dict = field(default_factory=dict)


def _pct(value: float | None) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return Decimal(str(value)).quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)


# --- inputs -----------------------------------------------------------------------------------


def _prior_end_of_day_nav(fund: Fund, prior: dt.date) -> NetAssetValue:
    nav = NetAssetValue.objects.filter(fund=fund, date=prior, strike=Strike.END_OF_DAY).select_related("portfolio").first()
    if nav is None:
        raise BasketInputError(
            f"no End of Day NAV for {fund.ticker} on {prior.isoformat()}: the basket is sized to the prior End of Day NAV",
            constraint="prior-nav",
        )
    return nav


def _portfolio_weights(portfolio: Portfolio, market: selectors.MarketHistory) -> tuple[pd.Series, float, float]:
    """Securities weights (by security id) and cash weight of the portfolio at the prior closes, and net assets."""
    holdings = list(portfolio.holdings.values_list("security_id", "quantity"))
    unpriced = [sid for sid, _ in holdings if sid not in market.last_close]
    if unpriced:
        tickers = sorted(Security.objects.filter(pk__in=unpriced).values_list("ticker", flat=True))
        raise BasketInputError(f"no close in the last {len(market.sessions)} sessions for held securities: {', '.join(tickers[:10])}", constraint="prices")
    values = pd.Series({sid: float(qty) * float(market.last_close[sid][1]) for sid, qty in holdings}, dtype=float)
    net_cash = float(portfolio.cash - portfolio.liabilities)
    net_assets = float(values.sum()) + net_cash
    if net_assets <= 0:
        raise BasketInputError(f"the portfolio's net assets are not positive ({net_assets:,.2f})", constraint="portfolio")
    return values / net_assets, net_cash / net_assets, net_assets


def _params(policy: BasketPolicy, nav_per_cu: float, *, buffer: float) -> BasketParams:
    lo, hi = float(policy.min_active_share_pct) / 100, float(policy.max_active_share_pct) / 100
    if hi - lo > 4 * buffer:
        lo, hi = lo + buffer, hi - buffer
    return BasketParams(
        min_active_share=lo,
        max_active_share=hi,
        max_weight=float(policy.max_weight_pct) / 100,
        max_names=policy.max_names,
        risk_model=policy.risk_model,
        history_days=policy.history_days,
        min_history_days=min(126, policy.history_days),
        adv_fraction=float(policy.adv_fraction_pct) / 100,
        nav_per_creation_unit=nav_per_cu,
    )


class _Context:
    """Market data and risk models shared by every Fund of one run (loaded and estimated once)."""

    def __init__(self, trade_date: dt.date, history_days: int, market: selectors.MarketHistory | None = None):
        self.trade_date = trade_date
        self.prior = business_calendar.previous_business_day(trade_date)
        sessions = max(history_days, ADV_SESSIONS) + 1
        if market is not None:  # a replay loaded the prices once (the demo)
            self.market = market.window(end=self.prior, sessions=sessions)
        else:
            self.market = selectors.market_history(end=self.prior, sessions=sessions)
        self.securities = {s.pk: s for s in Security.objects.all()}
        self._models: dict = {}

    def risk_model(self, policy: BasketPolicy, returns: pd.DataFrame):
        key = (policy.risk_model, policy.history_days)
        if key not in self._models:
            needed = min(126, policy.history_days)
            counts = returns.notna().sum()
            usable = returns.columns[counts >= needed]
            if len(usable) < 2:
                raise InsufficientHistory(
                    f"at most {int(counts.max()) if len(counts) else 0} daily returns are stored for any security in the last "
                    f"{policy.history_days} sessions; at least {needed} are needed to estimate risk",
                    constraint="history",
                )
            # sessions before any stored price (a young database, the demo) carry no information
            returns = returns.loc[returns.notna().any(axis=1)]
            options = {"n_factors": 30} if policy.risk_model == "pca" else {}
            # industry classification from the security master: GICS sector, then sub-industry (finer)
            groups = pd.DataFrame(
                {
                    "sector": [self.securities[sid].sector if sid in self.securities else "" for sid in usable],
                    "industry": [self.securities[sid].industry if sid in self.securities else "" for sid in usable],
                },
                index=usable,
            )
            self._models[key] = estimate_covariance(returns.loc[:, usable], policy.risk_model, groups=groups, **options)
        return self._models[key]


def _build(fund: Fund, ctx: _Context, *, excluded=(), forced_cash_in_lieu=()) -> _Built:
    trade_date, prior, market = ctx.trade_date, ctx.prior, ctx.market
    policy = selectors.basket_policy_for(fund=fund)
    portfolio = _portfolio_behind_next_nav(fund, trade_date)
    basis_nav = _prior_end_of_day_nav(fund, prior)
    nav_per_cu = basis_nav.nav_per_share * fund.creation_unit_size
    shares_outstanding = SharesOutstandingEntry.outstanding(fund.pk, trade_date)
    portfolio_w, cash_w, _ = _portfolio_weights(portfolio, market)
    protected = selectors.protected_security_ids(fund_id=fund.pk, on=trade_date)

    # eligible universe: Permissible, exchange-delivered, quoted recently, not penny, liquid enough
    returns = market.returns(policy.history_days)
    last_quote_day = {sid: day for sid, (day, _) in market.last_close.items()}
    stale_limit = market.sessions[-QUOTE_STALE_SESSIONS]
    dollar_volume = market.average_dollar_volume(ADV_SESSIONS)
    floor = float(policy.min_average_dollar_volume)
    eligible, screened_out = [], {}
    for sid in returns.columns:
        security = ctx.securities.get(sid)
        if security is None or sid in protected or sid in excluded:
            continue
        reason = None
        if not security.is_active or security.asset_class not in BASKET_ASSET_CLASSES:
            reason = "not an exchange-traded Permissible Investment"
        elif sid not in last_quote_day or last_quote_day[sid] < stale_limit:
            reason = f"no quotation in the last {QUOTE_STALE_SESSIONS} sessions"
        elif float(market.last_close[sid][1]) < PENNY_STOCK_PRICE and security.asset_class not in (AssetClass.ETN,):
            reason = "penny stock (under $5)"
        elif not dollar_volume.get(sid, 0) >= floor:
            reason = f"average daily dollar volume below the Fund's floor of ${floor:,.0f}"
        if reason is None:
            eligible.append(sid)
        elif sid in portfolio_w.index:
            screened_out[security.ticker] = reason
    cash_in_lieu = {sid for sid in eligible if last_quote_day.get(sid) != prior} | set(forced_cash_in_lieu)

    prices = pd.Series({sid: float(market.last_close[sid][1]) for sid in eligible}, dtype=float)
    adv = market.average_volume(ADV_SESSIONS).reindex(eligible)
    covariance = ctx.risk_model(policy, returns)
    build = dict(portfolio_cash=cash_w, eligible=eligible, prices=prices, adv=adv, covariance=covariance)
    lo, hi = float(policy.min_active_share_pct) / 100, float(policy.max_active_share_pct) / 100
    # Whole shares move the Active Share Differential a little (more with small Creation Units and high-priced
    # names), so the engine aims inside the band and, if rounding still leaves it, again further inside.
    for buffer in ROUNDING_BUFFERS:
        params = _params(policy, float(nav_per_cu), buffer=buffer)
        try:
            result = build_substitute_basket(portfolio_w, protected, None, params, **build)
        except InfeasibleBasket:
            if buffer == 0:
                raise
            # the buffer may be what made it infeasible (e.g. protected weight just under the ceiling)
            params = _params(policy, float(nav_per_cu), buffer=0)
            result = build_substitute_basket(portfolio_w, protected, None, params, **build)
        exact_prices = pd.Series({sid: market.last_close[sid][1] for sid in result.weights.index}, dtype=object)
        lots = pd.Series({sid: ctx.securities[sid].round_lot for sid in result.weights.index})
        units = weights_to_quantities(result.weights, nav_per_cu, exact_prices, round_lots=lots, cash_in_lieu=cash_in_lieu & set(result.weights.index))
        # the published basket's own weights (cash in lieu counts as held: it is part of the composition)
        realised = units.weights.astype(float)
        basket_cash_w = 1.0 - float(realised.sum())
        active_share = _published_active_share(portfolio_w, realised, cash_w, basket_cash_w)
        if lo - 1e-9 <= active_share <= hi + 1e-9:
            break
    else:
        raise BasketInputError(
            f"after rounding to whole shares the Active Share Differential is {active_share:.4%}, outside the Fund's "
            f"[{lo:.2%}, {hi:.2%}] band even with the engine aiming {ROUNDING_BUFFERS[-1]:.2%} inside it",
            constraint="active-share-after-rounding",
        )
    active = realised.reindex(realised.index.union(portfolio_w.index), fill_value=0.0) - portfolio_w.reindex(
        realised.index.union(portfolio_w.index), fill_value=0.0
    )
    ex_ante = metrics.ex_ante_tracking_error(active, covariance)
    represented = metrics.represented_share(portfolio_w, realised)
    overlap, overlap_note = _published_overlap(fund, prior, basis_nav, market)
    te, te_obs, te_note, correlation = _tracking_error(fund, prior)

    components = []
    target = result.weights
    for sid in units.quantities.index:
        quantity = int(units.quantities[sid])
        components.append(
            {
                "security_id": int(sid),
                "quantity": quantity,
                "price": market.last_close[sid][1],
                "market_value": units.values[sid],
                "weight_pct": _pct(float(units.weights[sid]) * 100),
                "target_weight_pct": _pct(float(target[sid]) * 100),
                "cash_in_lieu": sid in units.cash_in_lieu or sid in cash_in_lieu,
            }
        )
    report = _engine_report(result, units, ctx, screened_out, params)
    return _Built(
        fund=fund, trade_date=trade_date, portfolio=portfolio, basis_nav=basis_nav, nav_per_creation_unit=nav_per_cu,
        shares_outstanding=shares_outstanding, components=components, securities_value=units.securities_value,
        cash_amount=units.cash_amount, active_share_pct=_pct(active_share * 100), represented_share_pct=_pct(represented * 100),
        ex_ante_tracking_error_pct=_pct(ex_ante), basket_overlap_pct=overlap, basket_overlap_note=overlap_note,
        tracking_error_pct=te, tracking_error_observations=te_obs, tracking_error_note=te_note,
        correlation=correlation, engine_report=report,
    )


def _published_active_share(portfolio_w: pd.Series, basket_w: pd.Series, portfolio_cash: float, basket_cash: float) -> float:
    """Active Share Differential of the quantities actually published (what the band is checked on)."""
    return metrics.active_share(portfolio_w, basket_w, portfolio_cash=portfolio_cash, basket_cash=basket_cash)


def _portfolio_behind_next_nav(fund: Fund, trade_date: dt.date) -> Portfolio:
    from funds.selectors import portfolio_for

    portfolio = portfolio_for(fund=fund, on=trade_date)
    if portfolio is None:
        raise BasketInputError(f"no portfolio booked for {fund.ticker} on or before {trade_date.isoformat()}", constraint="portfolio")
    return portfolio


def _engine_report(result, units, ctx: _Context, screened_out: dict, params: BasketParams) -> dict:
    """The engine's diagnostics for PMs and Compliance, by ticker, with protected names left out."""
    d = result.diagnostics.as_dict()
    d.pop("protected_not_held", None)  # names protected but not held: never stored

    def tickers(ids) -> list[str]:
        out = []
        for sid in ids:
            try:
                out.append(ctx.securities[int(sid)].ticker)
            except (KeyError, ValueError):
                out.append(str(sid))
        return sorted(out)

    for key in ("capped", "dropped_history", "dropped_liquidity", "ineligible_holdings"):
        d[key] = tickers(d.get(key, ()))
    lower = d.get("lower_bound") or {}
    if "excluded" in lower:
        lower["excluded"] = tickers(lower["excluded"])
    d["notes"] = list(d.get("notes", ()))
    d["screened_out_holdings"] = screened_out
    d["weight_drift"] = units.weight_drift
    d["max_name_drift"] = units.max_name_drift
    d["dropped_below_one_share"] = tickers(units.dropped)
    d["engine_band"] = [params.min_active_share, params.max_active_share]  # the band the engine aimed at

    def clean(value):
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (np.floating, float)):
            return float(value) if math.isfinite(value) else None
        if isinstance(value, np.integer):
            return int(value)
        return value

    return clean(d)


def _published_overlap(fund: Fund, prior: dt.date, basis_nav: NetAssetValue, market) -> tuple[Decimal | None, str]:
    """Basket Overlap as footnote 7 publishes it: the prior day's basket against the holdings behind the prior day's
    End of Day NAV, both valued at the prior close (cash compared as an asset)."""
    previous = SubstituteBasket.objects.current().filter(fund=fund, trade_date=prior).first()
    if previous is None:
        return None, f"no Substitute Basket was published for {prior.isoformat()}"
    net_assets = float(basis_nav.net_assets)
    holdings = pd.Series({int(row[0]): float(row[4]) / net_assets for row in basis_nav.inputs["rows"]}, dtype=float)
    holdings_cash = float(basis_nav.cash - basis_nav.liabilities) / net_assets
    values = {}
    for security_id, quantity, price, cil in previous.components.values_list("security_id", "quantity", "price", "cash_in_lieu"):
        close = market.last_close.get(security_id, (None, price))[1]
        values[security_id] = quantity * float(close if not cil else price)
    basket_values = pd.Series(values, dtype=float)
    total = float(basket_values.sum()) + float(previous.cash_amount)
    basket_w = basket_values / total
    overlap = metrics.basket_overlap(holdings, basket_w, portfolio_cash=max(holdings_cash, 0.0), basket_cash=float(previous.cash_amount) / total)
    return _pct(overlap * 100), ""


def _tracking_error(fund: Fund, prior: dt.date) -> tuple[Decimal | None, int, str, Decimal | None]:
    spreads = selectors.proxy_spreads(fund=fund, end=prior, sessions=metrics.TRACKING_ERROR_WINDOW)
    result = metrics.tracking_error(spreads["spread"])
    correlation = None
    if result.value is not None:
        rho = metrics.return_correlation(spreads["basket_return"], spreads["fund_return"])
        correlation = Decimal(str(rho)).quantize(PERCENT_PLACES) if math.isfinite(rho) else None
    return _pct(result.value), result.n_observations, result.reason or "", correlation


# --- writes ---------------------------------------------------------------------------------------


def _write(built: _Built, *, actor, now: dt.datetime, version: int = 1, supersedes: SubstituteBasket | None = None, reason: str = "") -> SubstituteBasket:
    basket = SubstituteBasket(
        fund=built.fund, trade_date=built.trade_date, version=version, supersedes=supersedes, correction_reason=reason,
        portfolio=built.portfolio, basis_nav=built.basis_nav, nav_per_share=built.basis_nav.nav_per_share,
        creation_unit_size=built.fund.creation_unit_size, nav_per_creation_unit=built.nav_per_creation_unit,
        securities_value=built.securities_value.quantize(Decimal("0.000001")), cash_amount=built.cash_amount,
        shares_outstanding=built.shares_outstanding, component_count=len(built.components),
        basket_overlap_pct=built.basket_overlap_pct, basket_overlap_note=built.basket_overlap_note,
        active_share_pct=built.active_share_pct, tracking_error_pct=built.tracking_error_pct,
        tracking_error_observations=built.tracking_error_observations, tracking_error_note=built.tracking_error_note,
        ex_ante_tracking_error_pct=built.ex_ante_tracking_error_pct, represented_share_pct=built.represented_share_pct,
        correlation=built.correlation, engine_report=built.engine_report, published_at=now, published_by=actor,
    )
    basket._history_user = actor
    basket.save()
    BasketComponent.objects.bulk_create(
        [
            BasketComponent(basket=basket, market_value=c["market_value"].quantize(Decimal("0.000001")), **{k: v for k, v in c.items() if k != "market_value"})
            for c in built.components
        ]
    )
    kind = BasketEvent.Kind.CORRECTED if supersedes else BasketEvent.Kind.PUBLISHED
    BasketEvent.objects.create(
        fund=built.fund, trade_date=built.trade_date, kind=kind, basket=basket, message=reason, actor=actor, at=now,
        details={"version": version, "components": len(built.components), "cash_amount": str(built.cash_amount)},
    )
    # Leaves the system only through the one dissemination channel, in the same transaction.
    substitute_basket_publish_payload(basket=basket, actor=actor, now=now)
    return basket


def _fail(fund: Fund, trade_date: dt.date, error: Exception, *, actor, now: dt.datetime) -> BasketOutcome:
    constraint = getattr(error, "constraint", "engine")
    message = str(error)
    with transaction.atomic():
        BasketEvent.objects.create(
            fund=fund, trade_date=trade_date, kind=BasketEvent.Kind.FAILED, constraint=constraint, message=message,
            actor=actor, at=now, details={"error": type(error).__name__},
        )
        transaction.on_commit(lambda: _alert_operations(fund.ticker, trade_date, constraint, message))
    logger.warning("Substitute Basket for %s on %s not published: %s", fund.ticker, trade_date, message)
    return BasketOutcome(fund.pk, fund.ticker, trade_date, Status.FAILED, constraint=constraint, message=message)


def _alert_operations(ticker: str, trade_date: dt.date, constraint: str, message: str) -> None:
    """E-mail every active Operations user (and superusers) that a basket was not published."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    recipients = sorted(set(users.filter(groups__name=roles.OPERATIONS).values_list("email", flat=True)) | set(users.filter(is_superuser=True).values_list("email", flat=True)))
    subject = f"[baskets] {ticker} Substitute Basket for {trade_date.isoformat()} NOT published ({constraint})"
    body = (
        f"The Substitute Basket of {ticker} for {trade_date.isoformat()} was not published.\n\n"
        f"Failed constraint: {constraint}\n{message}\n\n"
        "Nothing was published and the previous basket is not reused. Fix the input and publish again from the "
        "admin (Substitute baskets > Publish) or with `manage.py publish_baskets`."
    )
    if recipients:
        send_mail(subject, body, None, recipients, fail_silently=True)
    logger.error("%s: %s", subject, message)


def substitute_baskets_publish(
    *, trade_date: dt.date, actor, fund_ids: list[int] | None = None, now: dt.datetime | None = None,
    market: selectors.MarketHistory | None = None,
) -> list[BasketOutcome]:
    """Build and publish the baskets of ``trade_date`` for the given (default: every active) Fund.

    ``market``: prices already loaded over a longer window (a replay); default: loaded here.
    Idempotent: a Fund whose basket for the day is published is skipped. Each Fund is written in its
    own transaction, so one Fund's failure publishes nothing for it and leaves the others alone.
    """
    if not business_calendar.is_business_day(trade_date):
        raise NotABusinessDay(f"{trade_date.isoformat()} is not an NYSE business day: no basket is published.")
    now = now or timezone.now()
    funds = Fund.objects.active().filter(launch_date__lt=trade_date).order_by("ticker")
    if fund_ids is not None:
        funds = funds.filter(pk__in=fund_ids)
    funds = list(funds)
    published = set(SubstituteBasket.objects.filter(trade_date=trade_date, fund__in=funds).values_list("fund_id", flat=True))
    outcomes = [
        BasketOutcome(f.pk, f.ticker, trade_date, Status.ALREADY_PUBLISHED) for f in funds if f.pk in published
    ]
    todo = [f for f in funds if f.pk not in published]
    if not todo:
        return outcomes
    policies = {p.fund_id: p for p in BasketPolicy.objects.filter(fund__in=todo)}
    ctx = _Context(trade_date, max([p.history_days for p in policies.values()] + [BasketPolicy().history_days]), market)
    for fund in todo:
        started = timezone.now()
        try:
            built = _build(fund, ctx)
            with transaction.atomic():
                basket = _write(built, actor=actor, now=now)
        except (BasketEngineError, BasketInputError) as error:
            outcomes.append(_fail(fund, trade_date, error, actor=actor, now=now))
            continue
        except IntegrityError:  # another worker published it first
            outcomes.append(BasketOutcome(fund.pk, fund.ticker, trade_date, Status.ALREADY_PUBLISHED))
            continue
        seconds = (timezone.now() - started).total_seconds()
        outcomes.append(BasketOutcome(fund.pk, fund.ticker, trade_date, Status.PUBLISHED, basket=basket, seconds=seconds))
    return outcomes


def substitute_baskets_publish_due(*, actor, fund_ids: list[int] | None = None, now: dt.datetime | None = None) -> list[BasketOutcome]:
    """Today's baskets, on business days, for Funds without one (the beat's morning run; the admin's re-run)."""
    now = now or timezone.now()
    today = business_calendar.business_date(now)
    if not business_calendar.is_business_day(today):
        return []
    return substitute_baskets_publish(trade_date=today, fund_ids=fund_ids, actor=actor, now=now)


def substitute_basket_correct(
    *, basket_id: int, reason: str, actor, excluded_security_ids=(), cash_in_lieu_security_ids=(), now: dt.datetime | None = None
) -> SubstituteBasket:
    """Publish a correction of a basket during its trade date: re-built from the current inputs, with the securities
    published in error excluded and the ones without a readily available quotation delivered as cash in lieu.

    The new version supersedes the old one (both kept), carries the reason, and is what every reader gets from
    then on. Basket Overlap and Tracking Error are published once a day: they are carried over unchanged.
    """
    now = now or timezone.now()
    if not (reason or "").strip():
        raise InvalidInput("a correction needs a reason (what was wrong in the published basket).")
    with transaction.atomic():
        original = SubstituteBasket.objects.select_for_update().select_related("fund").get(pk=basket_id)
        if SubstituteBasket.objects.filter(supersedes=original).exists():
            raise InvalidTransition(f"version {original.version} of {original} is already superseded; correct the current version.")
        today = business_calendar.business_date(now)
        if original.trade_date < today:
            raise InvalidTransition(
                f"the basket of {original.trade_date.isoformat()} can no longer be corrected: corrections are intra-day only."
            )
        unknown = set(excluded_security_ids) | set(cash_in_lieu_security_ids)
        known = set(Security.objects.filter(pk__in=unknown).values_list("pk", flat=True))
        if unknown - known:
            raise InvalidInput(f"unknown security id(s): {sorted(unknown - known)}.")
        ctx = _Context(original.trade_date, selectors.basket_policy_for(fund=original.fund).history_days)
        try:
            built = _build(original.fund, ctx, excluded=set(excluded_security_ids), forced_cash_in_lieu=set(cash_in_lieu_security_ids))
        except (BasketEngineError, BasketInputError) as error:
            raise InvalidInput(f"the corrected basket cannot be built: {error}") from error
        built.basket_overlap_pct, built.basket_overlap_note = original.basket_overlap_pct, original.basket_overlap_note
        built.tracking_error_pct, built.tracking_error_observations = original.tracking_error_pct, original.tracking_error_observations
        built.tracking_error_note, built.correlation = original.tracking_error_note, original.correlation
        return _write(built, actor=actor, now=now, version=original.version + 1, supersedes=original, reason=reason.strip())


# --- the close: proxy spreads ----------------------------------------------------------------------


@dataclass
class SpreadOutcome:
    fund_id: int
    ticker: str
    date: dt.date
    status: str  # RECORDED | ALREADY_RECORDED | SKIPPED
    spread: ProxySpread | None = None
    reason: str = ""


def proxy_spreads_record(*, day: dt.date, actor, fund_ids: list[int] | None = None, now: dt.datetime | None = None) -> list[SpreadOutcome]:
    """Record the day's proxy spread for each Fund with a basket for the day and its End of Day NAV.

    basket NAV per Share = (sum over in-kind components of quantity x prior close x (adjusted close today /
    adjusted close at the prior session) + Cash Amount) / Creation Unit size: the basket bought at the prior close
    for exactly the prior End of Day NAV per Creation Unit and valued at today's close (adjusted closes carry
    splits and dividends through). spread = (basket NAV per Share - Fund NAV per Share) / Fund NAV per Share x 100.
    """
    now = now or timezone.now()
    funds = Fund.objects.active()
    if fund_ids is not None:
        funds = funds.filter(pk__in=fund_ids)
    funds = list(funds)
    done = set(ProxySpread.objects.filter(date=day, fund__in=funds).values_list("fund_id", flat=True))
    baskets = {b.fund_id: b for b in SubstituteBasket.objects.current().filter(trade_date=day, fund__in=funds)}
    navs = {n.fund_id: n for n in NetAssetValue.objects.filter(date=day, strike=Strike.END_OF_DAY, fund__in=funds).defer("inputs")}
    outcomes: list[SpreadOutcome] = []
    market = None
    for fund in funds:
        if fund.pk in done:
            outcomes.append(SpreadOutcome(fund.pk, fund.ticker, day, "ALREADY_RECORDED"))
            continue
        basket, nav = baskets.get(fund.pk), navs.get(fund.pk)
        if basket is None or nav is None:
            missing = "no basket published" if basket is None else "no End of Day NAV"
            outcomes.append(SpreadOutcome(fund.pk, fund.ticker, day, "SKIPPED", reason=f"{missing} for {day.isoformat()}"))
            continue
        if market is None:
            market = selectors.market_history(end=day, sessions=2)
        components = list(basket.components.values_list("security_id", "quantity", "price", "cash_in_lieu"))
        value = basket.cash_amount
        unpriced = []
        for security_id, quantity, price, cil in components:
            if cil:
                continue  # delivered as cash: its value is already in the Cash Amount
            today_close = market.close.iloc[-1].get(security_id)
            if today_close is None or not np.isfinite(today_close):
                unpriced.append(security_id)
                continue
            growth = _growth(market, security_id)
            value += Decimal(quantity) * price * growth
        if unpriced:
            tickers = sorted(Security.objects.filter(pk__in=unpriced).values_list("ticker", flat=True))
            outcomes.append(SpreadOutcome(fund.pk, fund.ticker, day, "SKIPPED", reason=f"no close on {day.isoformat()} for {', '.join(tickers)}"))
            continue
        basket_nav = value / basket.creation_unit_size
        fund_nav = nav.nav_per_share
        spread = ProxySpread(
            fund=fund, date=day, basket=basket, prior_nav_per_share=basket.nav_per_share,
            basket_nav_per_share=basket_nav.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP),
            fund_nav_per_share=fund_nav,
            basket_return_pct=((basket_nav / basket.nav_per_share - 1) * 100).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP),
            fund_return_pct=((fund_nav / basket.nav_per_share - 1) * 100).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP),
            spread_pct=((basket_nav - fund_nav) / fund_nav * 100).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP),
            computed_at=now,
        )
        spread._history_user = actor
        try:
            with transaction.atomic():
                spread.save()
        except IntegrityError:
            outcomes.append(SpreadOutcome(fund.pk, fund.ticker, day, "ALREADY_RECORDED"))
            continue
        outcomes.append(SpreadOutcome(fund.pk, fund.ticker, day, "RECORDED", spread=spread))
    return outcomes


def _growth(market, security_id: int) -> Decimal:
    """Price relative from the prior session to today: adjusted closes when both exist, else closes."""
    adj, close = market.adj_close.get(security_id), market.close.get(security_id)
    for series in (adj, close):
        if series is not None and np.isfinite(series.iloc[-2]) and np.isfinite(series.iloc[-1]) and series.iloc[-2] > 0:
            return Decimal(repr(float(series.iloc[-1]))) / Decimal(repr(float(series.iloc[-2])))
    return Decimal(1)


def proxy_spreads_record_due(*, actor, now: dt.datetime | None = None) -> list[SpreadOutcome]:
    """The beat's evening run: today's proxy spreads once End of Day NAVs are struck."""
    now = now or timezone.now()
    today = business_calendar.business_date(now)
    if not business_calendar.is_business_day(today):
        return []
    return proxy_spreads_record(day=today, actor=actor, now=now)
