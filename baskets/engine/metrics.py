"""Substitute Basket Metrics, exactly as the exemptive application (812-15070) defines them.

Weights are pandas Series indexed by security identifier (ticker or id), as fractions of net assets
(0.05 = 5%). Cash is passed separately as a float weight. Where a metric compares two portfolios,
the cash leg is treated as one more asset, labelled ``CASH``: a Fund holding 2% cash and a basket
with 2% cash "hold cash in common". With cash included and both sides summing to one,

    Basket Overlap + Active Share Differential == 1

because min(p, b) = (p + b - |p - b|) / 2 summed over the union gives 1 - 0.5 * sum|p - b|.

Definitions (section III.B.3 and footnote 29 of the application):

- Basket Overlap: "the lesser weight of each asset held in common between a Fund's portfolio and the
  Substitute Basket, and adding the totals" -> ``sum_i min(p_i, b_i)``.
- Active Share Differential: "the sum of the absolute differences between the weight of each holding
  in the Fund's portfolio and the weight of each holding in the Substitute Basket and dividing by
  two" -> ``0.5 * sum_i |p_i - b_i|`` over the union (a name absent from one side weighs 0 there).
- proxy spread: "the difference, in percentage terms, between the Substitute Basket per share NAV
  and that of the Fund at the end of the trading day" -> see ``proxy_spread``.
- Tracking Error: "the standard deviation over the past three months of the proxy spread" -> see
  ``tracking_error`` (63 business days, sample standard deviation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from baskets.engine.errors import MetricInputError

CASH = "CASH"
"""Label of the cash leg when cash is compared as an asset."""

TRADING_DAYS_PER_YEAR = 252
TRACKING_ERROR_WINDOW = 63
""""Three months" of the application = 63 business days (252 / 4), counted in observations."""
TRACKING_ERROR_MIN_OBSERVATIONS = 20
"""Below this many daily proxy spreads in the window, no Tracking Error is reported."""

_NEGATIVE_TOLERANCE = 1e-12


def _as_weights(weights: pd.Series | dict, name: str) -> pd.Series:
    series = pd.Series(weights, dtype=float) if not isinstance(weights, pd.Series) else weights.astype(float)
    if not series.index.is_unique:
        duplicated = sorted(map(str, series.index[series.index.duplicated()].unique()))
        raise MetricInputError(f"{name} lists a security more than once: {duplicated}")
    values = series.to_numpy()
    if not np.all(np.isfinite(values)):
        raise MetricInputError(f"{name} has non-finite weights")
    if np.any(values < -_NEGATIVE_TOLERANCE):
        raise MetricInputError(f"{name} has negative weights; short positions are not supported")
    if CASH in series.index:
        raise MetricInputError(f"{name} uses the reserved label {CASH!r}; pass cash separately")
    return series.clip(lower=0.0)


def _with_cash(weights: pd.Series, cash: float, name: str) -> pd.Series:
    if not math.isfinite(cash) or cash < -_NEGATIVE_TOLERANCE:
        raise MetricInputError(f"{name} cash weight must be a finite non-negative number, got {cash}")
    if cash <= 0:
        return weights
    return pd.concat([weights, pd.Series({CASH: float(cash)})])


def _aligned(portfolio_w, basket_w, portfolio_cash: float, basket_cash: float) -> tuple[np.ndarray, np.ndarray]:
    p = _with_cash(_as_weights(portfolio_w, "portfolio weights"), portfolio_cash, "portfolio")
    b = _with_cash(_as_weights(basket_w, "basket weights"), basket_cash, "basket")
    union = p.index.union(b.index, sort=False)
    return (
        p.reindex(union, fill_value=0.0).to_numpy(),
        b.reindex(union, fill_value=0.0).to_numpy(),
    )


def basket_overlap(
    portfolio_w: pd.Series | dict,
    basket_w: pd.Series | dict,
    *,
    portfolio_cash: float = 0.0,
    basket_cash: float = 0.0,
) -> float:
    """Basket Overlap: the sum, over assets held in both, of the lesser of the two weights.

    Cash counts as an asset held in common when both sides hold some (pass it via the ``*_cash``
    arguments; leaving them at 0 compares securities only). The application publishes the overlap
    of the prior day's Substitute Basket with the holdings behind the prior End of Day NAV
    (footnote 7); which two weight vectors to pass is the caller's choice.
    """
    p, b = _aligned(portfolio_w, basket_w, portfolio_cash, basket_cash)
    return float(np.minimum(p, b).sum())


def active_share(
    portfolio_w: pd.Series | dict,
    basket_w: pd.Series | dict,
    *,
    portfolio_cash: float = 0.0,
    basket_cash: float = 0.0,
) -> float:
    """Active Share Differential: 0.5 * sum |w_p - w_b| over the union of holdings (absent = 0).

    Cash is one more line of the union when given (footnote 29 speaks of "each holding").
    """
    p, b = _aligned(portfolio_w, basket_w, portfolio_cash, basket_cash)
    return float(0.5 * np.abs(p - b).sum())


def names_count(basket_w: pd.Series | dict, *, tolerance: float = 0.0) -> int:
    """Number of securities in the basket with a weight above ``tolerance`` (cash is not a name)."""
    b = _as_weights(basket_w, "basket weights")
    return int((b > tolerance).sum())


def represented_share(portfolio_w: pd.Series | dict, basket_w: pd.Series | dict) -> float:
    """Share of the Fund's assets invested in securities that are in the basket.

    Sum, over securities held by both the Fund and the basket, of the Fund's (portfolio) weight;
    cash is not a security and does not count. The application expects 70-95% ("at least 70-95% of
    the assets of each Fund will be invested in securities that are in its identified Substitute
    Basket", section III.D).
    """
    p = _as_weights(portfolio_w, "portfolio weights")
    b = _as_weights(basket_w, "basket weights")
    held_in_basket = b.index[b.to_numpy() > 0]
    common = p.index.intersection(held_in_basket)
    return float(p.loc[common].sum())


def basket_return(weights: pd.Series | dict, asset_returns: pd.DataFrame | pd.Series) -> pd.Series | float:
    """Return of a buy-and-hold basket over one day: sum_i w_i * r_i (cash earns 0 intra-day).

    ``weights`` are the basket's weights at the prior close (quantity x prior close / prior NAV);
    ``asset_returns`` is one day's returns (Series) or days x securities (DataFrame). A basket
    security without a return raises: a missing price is not a zero return.
    """
    w = _as_weights(weights, "basket weights")
    columns = asset_returns.index if isinstance(asset_returns, pd.Series) else asset_returns.columns
    missing = w.index.difference(columns)
    if len(missing):
        raise MetricInputError(f"no return for basket securities: {sorted(map(str, missing))[:10]}")
    if isinstance(asset_returns, pd.Series):
        r = asset_returns.loc[w.index].astype(float)
        if r.isna().any():
            raise MetricInputError("missing return for a basket security")
        return float((w * r).sum())
    r = asset_returns.loc[:, w.index].astype(float)
    if r.isna().to_numpy().any():
        raise MetricInputError("missing return for a basket security")
    return r @ w


def basket_nav_per_share(prior_fund_nav_per_share: pd.Series | float, basket_returns: pd.Series | float):
    """Substitute Basket per-share NAV for day t, valued from the prior End of Day NAV.

    basket_nav[t] = fund_nav[t-1] * (1 + basket_return[t]), where basket_return[t] is the return of
    the basket quantities held at the prior close (``basket_return``). In words: a per-share stake
    in the basket, bought at the prior close for exactly the prior End of Day NAV per share, then
    valued at day t's close. Both arguments share a date index (the prior NAV already shifted).
    """
    return prior_fund_nav_per_share * (1 + basket_returns)


def proxy_spread(basket_nav_per_share: pd.Series | float, fund_nav_per_share: pd.Series | float):
    """Daily proxy spread in percent: (basket NAV per share - Fund NAV per share) / Fund NAV * 100.

    Definition used throughout the engine. For trading day t:

        basket_nav[t] = fund_nav[t-1] * (1 + r_basket[t])     (``basket_nav_per_share``)
        spread[t]     = (basket_nav[t] - fund_nav[t]) / fund_nav[t] * 100

    i.e. the Substitute Basket per-share NAV at the end of day t, with the basket valued from the
    prior End of Day Fund NAV (the basket quantities at the prior close, scaled to that NAV), minus
    the Fund's End of Day NAV of day t, in percent of the Fund's NAV. Equivalently
    ``((1 + r_basket) / (1 + r_fund) - 1) * 100``. Vectorised: pass Series on the same date index.
    """
    if isinstance(fund_nav_per_share, pd.Series):
        if (fund_nav_per_share <= 0).any():
            raise MetricInputError("Fund NAV per share must be positive")
    elif not fund_nav_per_share > 0:
        raise MetricInputError("Fund NAV per share must be positive")
    return (basket_nav_per_share - fund_nav_per_share) / fund_nav_per_share * 100.0


def proxy_spreads_from_returns(fund_nav_per_share: pd.Series, basket_returns: pd.Series) -> pd.Series:
    """Daily proxy spreads (percent) from the Fund's End of Day NAV series and the basket's daily returns.

    ``fund_nav_per_share`` and ``basket_returns`` are indexed by business day; the first day has
    no prior NAV and gives no spread. ``basket_returns[t]`` is the return over day t of the basket
    published for day t (quantities fixed at the prior close).
    """
    prior = fund_nav_per_share.shift(1)
    basket = basket_nav_per_share(prior, basket_returns.reindex(fund_nav_per_share.index))
    return proxy_spread(basket, fund_nav_per_share).iloc[1:].dropna()


@dataclass(frozen=True)
class TrackingErrorResult:
    """Tracking Error in percentage points (the spreads are in percent), or None with a reason."""

    value: float | None
    n_observations: int
    window: int
    start: Any = None
    end: Any = None
    reason: str | None = None


def tracking_error(
    spreads: pd.Series,
    *,
    window: int = TRACKING_ERROR_WINDOW,
    min_observations: int = TRACKING_ERROR_MIN_OBSERVATIONS,
) -> TrackingErrorResult:
    """Tracking Error: sample standard deviation (ddof=1) of the last ``window`` daily proxy spreads.

    "Over the past three months" is read as the past 63 business days (252 / 4): the last 63 rows
    of ``spreads``, which must hold one row per business day in date order (missing spreads as NaN
    are left out of the count, not filled). The sample standard deviation is used because the 63
    days are a sample of the basket's spread process, and it is the estimator the public expects
    from a "standard deviation" of a short series. The result is in percentage points, like the
    spreads. With fewer than ``min_observations`` spreads in the window there is no Tracking Error:
    ``value`` is None and ``reason`` says why (a new Fund's first weeks).
    """
    if window < 2 or min_observations < 2:
        raise MetricInputError("window and min_observations must be at least 2")
    tail = pd.Series(spreads, dtype=float).iloc[-window:]
    observed = tail.dropna()
    n = int(observed.size)
    if n < min_observations:
        return TrackingErrorResult(
            value=None,
            n_observations=n,
            window=window,
            start=observed.index[0] if n else None,
            end=observed.index[-1] if n else None,
            reason=f"only {n} daily proxy spread(s) in the last {window} business days; at least {min_observations} needed",
        )
    if not np.all(np.isfinite(observed.to_numpy())):
        raise MetricInputError("proxy spreads must be finite")
    return TrackingErrorResult(
        value=float(observed.std(ddof=1)),
        n_observations=n,
        window=window,
        start=observed.index[0],
        end=observed.index[-1],
    )


def rolling_tracking_error(
    spreads: pd.Series,
    *,
    window: int = TRACKING_ERROR_WINDOW,
    min_observations: int = TRACKING_ERROR_MIN_OBSERVATIONS,
) -> pd.Series:
    """``tracking_error`` for every day of ``spreads`` (NaN while too few observations)."""
    return pd.Series(spreads, dtype=float).rolling(window, min_periods=min_observations).std(ddof=1)


def ex_ante_tracking_error(active_w: pd.Series | dict, cov, *, annualise: bool = False) -> float:
    """Ex-ante tracking error of active weights ``w_b - w_p`` under covariance ``cov``, in percent.

    sqrt(a' S a) * 100 with S the covariance of daily returns: a daily figure in percentage points,
    directly comparable with the published Tracking Error (the standard deviation of daily proxy
    spreads, in percent). ``annualise=True`` multiplies by sqrt(252). Cash has no risk: a ``CASH``
    entry in ``active_w`` is ignored. ``cov`` is a DataFrame indexed and labelled by security, or
    any object with ``quadratic_form(series) -> float`` (``risk.CovarianceModel``).
    """
    a = pd.Series(active_w, dtype=float).drop(labels=[CASH], errors="ignore")
    if not np.all(np.isfinite(a.to_numpy())):
        raise MetricInputError("active weights must be finite")
    if hasattr(cov, "quadratic_form"):
        variance = float(cov.quadratic_form(a))
    else:
        missing = a.index[a.to_numpy() != 0].difference(cov.index)
        if len(missing):
            raise MetricInputError(f"no covariance for: {sorted(map(str, missing))[:10]}")
        a = a.reindex(cov.index, fill_value=0.0)
        values = a.to_numpy()
        variance = float(values @ cov.loc[a.index, a.index].to_numpy() @ values)
    daily = math.sqrt(max(variance, 0.0)) * 100.0
    return daily * math.sqrt(TRADING_DAYS_PER_YEAR) if annualise else daily


def return_correlation(basket_returns: pd.Series, fund_returns: pd.Series) -> float:
    """Pearson correlation of daily basket and Fund returns over their common, non-missing days.

    NaN when fewer than three common days or when either series is constant.
    """
    joined = pd.concat([pd.Series(basket_returns, dtype=float), pd.Series(fund_returns, dtype=float)], axis=1, join="inner").dropna()
    if len(joined) < 3:
        return float("nan")
    x, y = joined.iloc[:, 0].to_numpy(), joined.iloc[:, 1].to_numpy()
    if np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])
