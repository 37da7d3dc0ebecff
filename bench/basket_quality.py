"""Benchmark: out-of-sample tracking quality of the Substitute Basket engine (issue 3, scope 7 "Quality").

Run from the repository root:

    .venv/bin/python bench/basket_quality.py                      # ../shared/data when present, else data/demo
    .venv/bin/python bench/basket_quality.py --data FILE.csv.gz --sectors FILE.csv
    .venv/bin/python bench/basket_quality.py --portfolios 48 --days 250 --workers 2

What it measures. Synthetic active portfolios are drawn from the real universe; every business day
of the evaluation window each one gets three baskets, all built before the day from data up to the
prior close and applied to that day's returns (out of sample):

- engine: ``build_substitute_basket`` with default ``BasketParams`` and the engine's default risk
  model (``risk.DEFAULT_METHOD``) estimated once per day over the whole universe, with the GICS
  labels of ``--sectors`` as groups, shared by every portfolio through ``covariance=``;
- naive: ``naive_basket`` (drop the Protected Securities, rescale the rest);
- sample QP: the same optimiser and parameters with the plain sample covariance of the last 252
  returns (the straw man of the issue).

Proxy spread and Tracking Error follow ``baskets.engine.metrics``: the basket is valued from the prior
End of Day NAV (``basket_nav_per_share``), so spread_t = ((1 + r_basket,t) / (1 + r_fund,t) - 1) x 100
(``proxy_spread``), with r_fund,t the portfolio's return over day t from its weights at the prior close
(cash earns nothing intra-day) and r_basket,t = sum_i b_i r_i,t (``basket_return``). The realised
Tracking Error of a portfolio is ``metrics.tracking_error`` over the whole window (``window`` = the
number of days, sample standard deviation, percentage points of daily spread); the table also shows the
application's 63-business-day figure at the end of the window. Ratios are per portfolio (engine TE /
naive TE on the same days), then the median across portfolios.

Choices (all seeded, so every run on the same file gives the same figures):

- Window: the last ``--days`` (default 126, at least 120) business days of the file, ending at
  ``--end`` when given. Universe: tickers with a row on every day from 252 sessions before the
  window to its end (the sample QP and the holdings need full history); the risk model reads up to
  ``--risk-history`` sessions (default ``risk.RECOMMENDED_HISTORY_DAYS``) and tolerates the shorter
  histories of the same names. Eligible basket names: that universe with a prior close of at least
  $5 (no penny stocks). No liquidity cap (the Speed benchmark exercises it).
- Portfolios (``--portfolios``, default 24): 50-200 holdings drawn without replacement from the
  universe, with a random sector tilt (each sector's sampling odds times exp(N(0, 0.7))) as active
  managers have; lognormal(0, 0.8) weights, at most 8% per name at each rebalance (a diversified
  fund; above the engine's 10% per-name cap the basket would have to underweight the name, and
  with 25% protected that breaks the 30% ceiling); cash uniform in 0-2%. The protected weight is drawn
  uniform in 5-25% and spread over k protected holdings, k uniform between ceil(p / 5%) and
  ceil(p / 1%) (each protected name weighs 1-5% on average, at most a quarter of the holdings).
- Weights drift: each day the weights drift with the day's returns (buy and hold, cash flat); every
  21 business days the manager trades back to the target weights. The Protected Securities stay the
  same over the window. So the protected weight moves a little around its target (it can dip below
  5%; the engine's active-share floor binds only when the other underweights do not reach 5%, and
  the summary counts those baskets).
- The engine and the naive basket are rebuilt every day. The sample QP is ~15x slower per basket
  (252 dense factor columns against 35 dense plus ~90 one-name industry columns, and it sits at
  the 30% ceiling, so three solves), so by default it is built every 6th day of the window (21 of
  126 days, the fewest for which ``metrics.tracking_error`` reports a figure; ``--sample-every 1``
  builds it every day) and its ratios compare Tracking Errors over those same days.

A basket the engine refuses (a named ``BasketEngineError``) is counted and printed, and that day is
left out of every method's Tracking Error for that portfolio. ``--sample-every 0`` skips the sample
QP (about a minute); ``--risk-groups none`` gives the risk model no labels; ``--risk-model pca
--risk-history 252`` is the former default.

Figures (2-core machine shared with other jobs; default run 270 s wall, of which the sample QP
190 s):

    window 2020-10-20..2021-04-21, 24 portfolios, 3024 engine baskets, no engine errors
    median realised TE, % of NAV per day: naive 0.118, sample QP 0.097, engine 0.090
    median ratio engine / naive 0.747 (target 0.70 not met; 24 of 24 portfolios beat naive;
      mean 0.724); engine / sample QP 0.894; sample QP / naive 0.867
    active share of every engine basket 10.3%-30.0%; the 5% floor never binds
    other draws (--seed 1..4): 0.741, 0.747, 0.733, 0.767; no labels 0.753-0.806; pca 252 days
      0.759-0.824; 2019-07..12 (--end 2019-12-31) 0.821 (pca 0.847); data/demo 0.670

The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_PRICES = REPO_ROOT.parent / "shared" / "data" / "sp500_daily_2013_2021.csv.gz"
SHARED_SECTORS = REPO_ROOT.parent / "shared" / "data" / "sp500_sectors.csv"
DEMO_PRICES = REPO_ROOT / "data" / "demo" / "prices.csv.gz"
DEMO_SECURITIES = REPO_ROOT / "data" / "demo" / "securities.csv"
TARGET_RATIO = 0.70
SAMPLE_HISTORY = 252  # the straw man's history (the engine's default history_days)
PENNY = 5.0
REBALANCE_EVERY = 21
MAX_HOLDING = 0.08  # target weight cap per holding (the engine's default per-name cap is 10%)
MIN_DAYS = 120

sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread per worker process
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from baskets.engine import metrics, risk  # noqa: E402
from baskets.engine.errors import BasketEngineError  # noqa: E402
from baskets.engine.optimizer import BasketParams, build_substitute_basket, naive_basket  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_PRICES if SHARED_PRICES.exists() else DEMO_PRICES,
                        help="long CSV (gzip ok): date,ticker,close,adj_close,volume")
    parser.add_argument("--sectors", type=Path, default=None,
                        help="CSV with ticker and gics_sector (and optionally gics_sub_industry_2024); "
                        "default the shared sectors file when present, else data/demo/securities.csv; 'none' for no labels")
    parser.add_argument("--portfolios", type=int, default=24)
    parser.add_argument("--days", type=int, default=126, help=f"business days in the evaluation window (>= {MIN_DAYS})")
    parser.add_argument("--end", default=None, help="last day of the window (default the file's last day)")
    parser.add_argument("--risk-model", default=risk.DEFAULT_METHOD, choices=risk.METHODS)
    parser.add_argument("--risk-groups", default="industry", choices=["industry", "sector", "none"],
                        help="labels given to the risk model: GICS sector and 2024 sub-industry (default), sector only, "
                        "or none (the portfolios' sector tilts still come from --sectors)")
    parser.add_argument("--risk-history", type=int, default=risk.RECOMMENDED_HISTORY_DAYS,
                        help="sessions of returns the engine's risk model reads each day")
    parser.add_argument("--sample-every", type=int, default=6,
                        help="build the sample-covariance QP every Nth day (default 6: 21 of 126 days; 1 = every day, about 4x longer; 0 = never)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=20210421)
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- data


def load_prices(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """adj_close and close as days x tickers (NaN before a ticker's first row)."""
    frame = pd.read_csv(path, usecols=["date", "ticker", "close", "adj_close"], parse_dates=["date"])
    adj = frame.pivot(index="date", columns="ticker", values="adj_close").sort_index()
    close = frame.pivot(index="date", columns="ticker", values="close").sort_index()
    return adj, close


def load_groups(path: Path | None) -> pd.DataFrame | None:
    """GICS labels per ticker: ``sector`` and, when the file has it, ``industry`` (2024 sub-industry)."""
    if path is None:
        return None
    frame = pd.read_csv(path).set_index("ticker")
    groups = pd.DataFrame(index=frame.index)
    if "gics_sector" in frame:
        groups["sector"] = frame["gics_sector"]
    if "gics_sub_industry_2024" in frame:
        groups["industry"] = frame["gics_sub_industry_2024"]
    return groups if groups.shape[1] else None


def default_sectors(data: Path) -> Path | None:
    if data.resolve() == DEMO_PRICES.resolve() and DEMO_SECURITIES.exists():
        return DEMO_SECURITIES
    if SHARED_SECTORS.exists():
        return SHARED_SECTORS
    return DEMO_SECURITIES if DEMO_SECURITIES.exists() else None


# --------------------------------------------------------------------------- portfolios


@dataclass
class Portfolio:
    target: pd.Series  # securities weights at each rebalance (sum = 1 - cash)
    cash: float
    protected: list
    protected_target: float
    weights: pd.Series = None  # current (drifted) securities weights
    cash_now: float = 0.0

    def reset(self) -> None:
        self.weights = self.target.copy()
        self.cash_now = self.cash

    def drift(self, day_returns: pd.Series) -> None:
        grown = self.weights * (1.0 + day_returns.reindex(self.weights.index).to_numpy())
        total = float(grown.sum()) + self.cash_now
        self.weights = grown / total
        self.cash_now = self.cash_now / total


def _capped(weights: np.ndarray, total: float, cap: float) -> np.ndarray:
    """Scale ``weights`` to ``total`` with no weight above ``cap`` (the excess spread pro rata)."""
    w = weights * (total / weights.sum())
    for _ in range(100):
        over = w > cap
        if not over.any():
            break
        excess = float((w[over] - cap).sum())
        w[over] = cap
        free = w < cap
        w[free] += excess * w[free] / w[free].sum()
    return w


def make_portfolios(universe: pd.Index, sectors: pd.Series | None, count: int, seed: int) -> list[Portfolio]:
    rng = np.random.default_rng(seed)
    labels = (sectors.reindex(universe) if sectors is not None else pd.Series(index=universe, dtype=object)).fillna("unlabelled")
    out = []
    for _ in range(count):
        tilt = {s: rng.normal(0.0, 0.7) for s in sorted(labels.unique())}
        odds = np.exp(labels.map(tilt).to_numpy(dtype=float))
        n = int(rng.integers(50, 201))
        n = min(n, len(universe))
        names = rng.choice(universe.to_numpy(), n, replace=False, p=odds / odds.sum())
        weights = rng.lognormal(0.0, 0.8, n)
        cash = float(rng.uniform(0.0, 0.02))
        target = float(rng.uniform(0.05, 0.25))
        k_lo = math.ceil(target / 0.05)
        k = int(rng.integers(k_lo, max(k_lo, math.ceil(target / 0.01)) + 1))
        k = max(1, min(k, n // 4))
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, k, replace=False)] = True
        invested = 1.0 - cash
        weights[mask] = _capped(weights[mask], target, MAX_HOLDING)
        weights[~mask] = _capped(weights[~mask], invested - target, MAX_HOLDING)
        portfolio = Portfolio(pd.Series(weights, index=names), cash, list(names[mask]), target)
        portfolio.reset()
        out.append(portfolio)
    return out


# --------------------------------------------------------------------------- the daily loop


@dataclass
class Day:
    date: pd.Timestamp
    engine_model: risk.CovarianceModel
    sample_model: risk.CovarianceModel | None
    eligible: pd.Index
    returns: pd.Series  # the day's returns (out of sample)


@dataclass
class Track:
    """Per-portfolio daily records."""

    spreads: dict = field(default_factory=lambda: {"engine": [], "naive": [], "sample": []})
    dates: list = field(default_factory=list)
    sample_days: list = field(default_factory=list)  # positions where the sample QP was built
    active_share: list = field(default_factory=list)
    naive_active_share: list = field(default_factory=list)
    ex_ante: list = field(default_factory=list)
    names: list = field(default_factory=list)
    represented: list = field(default_factory=list)
    protected_weight: list = field(default_factory=list)
    floor_binding: int = 0
    engine_seconds: float = 0.0
    sample_seconds: float = 0.0
    errors: list = field(default_factory=list)


def _spread(basket: pd.Series, portfolio: Portfolio, r: pd.Series) -> float:
    fund_return = float(metrics.basket_return(portfolio.weights, r))  # cash earns 0 intra-day
    basket_ret = float(metrics.basket_return(basket, r))
    # basket valued from the prior End of Day NAV (taken as 1): metrics.basket_nav_per_share
    return float(metrics.proxy_spread(metrics.basket_nav_per_share(1.0, basket_ret), 1.0 + fund_return))


def run_portfolio(args: tuple) -> Track:
    index, portfolio = args
    days: list[Day] = _SHARED["days"]
    params = BasketParams(risk_model=_SHARED["risk_model"])
    track = Track()
    portfolio.reset()
    for position, day in enumerate(days):
        if position and position % REBALANCE_EVERY == 0:
            portfolio.reset()
        r = day.returns
        wp, cash = portfolio.weights, portfolio.cash_now
        track.dates.append(day.date)
        track.protected_weight.append(float(wp.reindex(portfolio.protected).sum()))
        started = time.perf_counter()
        try:
            result = build_substitute_basket(wp, portfolio.protected, None, params, portfolio_cash=cash,
                                             eligible=day.eligible, covariance=day.engine_model)
        except BasketEngineError as error:  # a finding, not a crash: the day is left out for every method
            track.engine_seconds += time.perf_counter() - started
            track.errors.append(f"portfolio {index + 1} {day.date.date()}: {error}")
            for kind in ("engine", "naive"):
                track.spreads[kind].append(float("nan"))
            if day.sample_model is not None:
                track.spreads["sample"].append(float("nan"))
                track.sample_days.append(position)
            portfolio.drift(r)
            continue
        track.engine_seconds += time.perf_counter() - started
        d = result.diagnostics
        track.active_share.append(d.active_share)
        track.ex_ante.append(d.ex_ante_te_daily_pct)
        track.names.append(d.n_names)
        track.represented.append(d.represented_share)
        track.floor_binding += int(d.lower_bound.binding)
        track.spreads["engine"].append(_spread(result.weights, portfolio, r))
        naive = naive_basket(wp, portfolio.protected, portfolio_cash=cash)
        track.naive_active_share.append(metrics.active_share(wp, naive, portfolio_cash=cash, basket_cash=cash))
        track.spreads["naive"].append(_spread(naive, portfolio, r))
        if day.sample_model is not None:
            started = time.perf_counter()
            try:
                sample = build_substitute_basket(wp, portfolio.protected, None, params, portfolio_cash=cash,
                                                 eligible=day.eligible, covariance=day.sample_model)
                track.spreads["sample"].append(_spread(sample.weights, portfolio, r))
            except BasketEngineError as error:
                track.errors.append(f"portfolio {index + 1} {day.date.date()} (sample QP): {error}")
                track.spreads["sample"].append(float("nan"))
            track.sample_seconds += time.perf_counter() - started
            track.sample_days.append(position)
        portfolio.drift(r)
    return track


_SHARED: dict = {}


def _rounded(value, digits: int):
    """A JSON-safe figure: None for NaN (e.g. no sample QP with --sample-every 0)."""
    value = float(value)
    return None if math.isnan(value) else round(value, digits)


def realised_te(spreads: list, dates: list) -> float:
    """``metrics.tracking_error`` over the whole window; days without a basket (NaN) are left out."""
    series = pd.Series(spreads, index=pd.Index(dates[: len(spreads)]), dtype=float)
    observed = int(series.notna().sum())
    if observed < 2:
        return float("nan")
    value = metrics.tracking_error(series, window=len(series), min_observations=min(observed, 20)).value
    return float("nan") if value is None else value


def main(argv=None) -> dict:
    args = parse_args(argv)
    wall = time.perf_counter()
    if args.days < MIN_DAYS:
        raise SystemExit(f"--days must be at least {MIN_DAYS}")
    sectors_path = default_sectors(args.data) if args.sectors is None else (None if str(args.sectors).lower() == "none" else args.sectors)
    adj, close = load_prices(args.data)
    labels = load_groups(sectors_path)
    groups = labels
    if labels is not None and args.risk_groups != "industry":
        groups = labels[["sector"]] if args.risk_groups == "sector" and "sector" in labels else None
    returns_all = adj.pct_change(fill_method=None).iloc[1:]
    if args.end:
        returns_all = returns_all.loc[: pd.Timestamp(args.end)]
    if len(returns_all) < args.days + SAMPLE_HISTORY:
        raise SystemExit(f"{args.data} has {len(returns_all)} return days; need {args.days + SAMPLE_HISTORY}")
    window_start = len(returns_all) - args.days
    full = returns_all.iloc[window_start - SAMPLE_HISTORY :]
    universe = full.columns[full.notna().all().to_numpy()]
    universe = universe[np.isfinite(full[universe]).all().to_numpy()]
    risk_history = max(args.risk_history, SAMPLE_HISTORY)
    print(f"data {args.data} ({adj.shape[1]} tickers, {adj.index[0].date()} to {adj.index[-1].date()}); "
          f"sectors {sectors_path or 'none'}", flush=True)
    print(f"window {returns_all.index[window_start].date()} to {returns_all.index[-1].date()} ({args.days} business days); "
          f"universe {len(universe)} names with full history; risk model {args.risk_model!r} on up to {risk_history} sessions",
          flush=True)

    # risk models: once per day across the universe, shared by every portfolio
    started = time.perf_counter()
    days, estimate_engine, estimate_sample = [], 0.0, 0.0
    for position in range(window_start, len(returns_all)):
        history = returns_all.iloc[max(0, position - risk_history) : position][universe]
        t0 = time.perf_counter()
        engine_model = risk.estimate_covariance(history, args.risk_model, groups=groups)
        estimate_engine += time.perf_counter() - t0
        sample_model = None
        if args.sample_every and (position - window_start) % args.sample_every == 0:
            t0 = time.perf_counter()
            sample_model = risk.estimate_covariance(history.iloc[-SAMPLE_HISTORY:], "sample")
            estimate_sample += time.perf_counter() - t0
        prior_close = close.loc[returns_all.index[position - 1], universe]
        eligible = universe[(prior_close >= PENNY).to_numpy()]
        days.append(Day(returns_all.index[position], engine_model, sample_model, eligible, returns_all.iloc[position][universe]))
    estimate_seconds = time.perf_counter() - started

    portfolios = make_portfolios(universe, None if labels is None or "sector" not in labels else labels["sector"],
                                 args.portfolios, args.seed)
    _SHARED.update(days=days, risk_model=args.risk_model)
    started = time.perf_counter()
    jobs = list(enumerate(portfolios))
    if args.workers > 1:
        with mp.get_context("fork").Pool(args.workers) as pool:
            tracks = pool.map(run_portfolio, jobs, chunksize=1)
    else:
        tracks = [run_portfolio(job) for job in jobs]
    build_seconds = time.perf_counter() - started

    # per-portfolio figures
    rows = []
    for (index, portfolio), track in zip(jobs, tracks):
        te = {kind: realised_te(track.spreads[kind], track.dates) for kind in ("engine", "naive")}
        sample_dates = [track.dates[p] for p in track.sample_days]
        te_sample = realised_te(track.spreads["sample"], sample_dates)
        te_engine_on_sample_days = realised_te([track.spreads["engine"][p] for p in track.sample_days], sample_dates)
        te_naive_on_sample_days = realised_te([track.spreads["naive"][p] for p in track.sample_days], sample_dates)
        last63 = {kind: metrics.tracking_error(pd.Series(track.spreads[kind], dtype=float)).value for kind in ("engine", "naive")}
        last63 = {kind: float("nan") if value is None else value for kind, value in last63.items()}
        rows.append({
            "portfolio": index + 1,
            "holdings": len(portfolio.target),
            "protected": len(portfolio.protected),
            "protected_weight": portfolio.protected_target,
            "te_engine": te["engine"],
            "te_naive": te["naive"],
            "te_sample_qp": te_sample,
            "ratio_vs_naive": te["engine"] / te["naive"],
            "ratio_vs_sample_qp": te_engine_on_sample_days / te_sample,
            "sample_qp_vs_naive": te_sample / te_naive_on_sample_days,
            "te63_engine": last63["engine"],
            "te63_naive": last63["naive"],
            "ex_ante": float(np.sqrt(np.mean(np.square(track.ex_ante)))),
            "names": float(np.median(track.names)),
            "represented": float(np.median(track.represented)),
            "as_min": min(track.active_share),
            "as_max": max(track.active_share),
            "floor_binding": track.floor_binding,
            "protected_min": min(track.protected_weight),
            "protected_max": max(track.protected_weight),
        })
    table = pd.DataFrame(rows).set_index("portfolio")
    print()
    print("Realised Tracking Error (std of daily proxy spreads over the window, % of NAV, daily), per portfolio")
    print(f"(*) the sample-covariance QP is built every {args.sample_every} day(s): its TE and the eng/sampleQP ratio use those days only")
    shown = table[["holdings", "protected", "protected_weight", "te_naive", "te_sample_qp", "te_engine", "ex_ante",
                   "ratio_vs_naive", "ratio_vs_sample_qp", "names", "represented", "as_min", "as_max"]].copy()
    shown.columns = ["hold", "prot", "prot_w", "TE naive", "TE sampleQP", "TE engine", "ex-ante", "eng/naive",
                     "eng/sampleQP", "names", "repr", "AS min", "AS max"]
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.3f}".format):
        print(shown.to_string())
    median = table.median(numeric_only=True)
    print()
    summary = pd.DataFrame(
        {
            "median TE (%/day)": [median["te_naive"], median["te_sample_qp"], median["te_engine"]],
            "annualised (%)": [median[c] * math.sqrt(metrics.TRADING_DAYS_PER_YEAR) for c in ("te_naive", "te_sample_qp", "te_engine")],
            "median 63-day TE": [median["te63_naive"], float("nan"), median["te63_engine"]],
        },
        index=["naive (drop protected, rescale)", "same QP, sample covariance (*)", f"engine ({args.risk_model})"],
    )
    with pd.option_context("display.width", 200, "display.float_format", "{:.4f}".format):
        print(summary.to_string())
    all_as = [a for t in tracks for a in t.active_share]
    n_baskets = len(all_as)
    errors = [e for t in tracks for e in t.errors]
    floor_binding = int(sum(t.floor_binding for t in tracks))
    ratio_naive = float(table["ratio_vs_naive"].median())
    ratio_sample = float(table["ratio_vs_sample_qp"].median())
    print()
    print(f"median ratio engine / naive      {ratio_naive:.3f}   (target <= {TARGET_RATIO:.2f}: {'met' if ratio_naive <= TARGET_RATIO else 'NOT met'}); "
          f"portfolios better than naive: {int((table['ratio_vs_naive'] < 1).sum())}/{len(table)}")
    if args.sample_every:
        print(f"median ratio engine / sample QP  {ratio_sample:.3f}   (median ratio sample QP / naive "
              f"{float(table['sample_qp_vs_naive'].median()):.3f}; sample QP built every {args.sample_every} day(s), ratios over those days)")
    else:
        print("sample QP not built (--sample-every 0)")
    print(f"active share of the {n_baskets} engine baskets: {min(all_as):.2%} to {max(all_as):.2%} (band 5%-30%); "
          f"floor binding in {floor_binding}; protected weight {table['protected_min'].min():.2%} to {table['protected_max'].max():.2%}")
    if errors:
        print(f"{len(errors)} basket(s) not built (named engine errors; those days are left out for every method):")
        for line in errors[:10]:
            print("  " + line)
    wall_seconds = time.perf_counter() - wall
    engine_qp = sum(t.engine_seconds for t in tracks)
    sample_qp = sum(t.sample_seconds for t in tracks)
    print(f"time: {wall_seconds:.0f} s wall ({args.workers} worker(s)); risk models {estimate_engine:.1f} s engine + "
          f"{estimate_sample:.1f} s sample; engine baskets {engine_qp:.1f} s ({engine_qp / n_baskets * 1000:.0f} ms each); "
          f"sample-QP baskets {sample_qp:.1f} s")
    model = days[-1].engine_model
    figures = {
        "median_te_ratio_vs_naive": round(ratio_naive, 4),
        "median_te_ratio_vs_sample_qp": _rounded(ratio_sample, 4),
        "median_te_engine": round(float(median["te_engine"]), 5),
        "median_te_naive": round(float(median["te_naive"]), 5),
        "median_te_sample_qp": _rounded(median["te_sample_qp"], 5),
        "median_te_ratio_sample_qp_vs_naive": _rounded(table["sample_qp_vs_naive"].median(), 4),
        "mean_te_ratio_vs_naive": round(float(table["ratio_vs_naive"].mean()), 4),
        "te_units": "percent of NAV, daily (std of daily proxy spreads over the window, ddof=1)",
        "min_active_share": round(min(all_as), 6),
        "max_active_share": round(max(all_as), 6),
        "floor_binding_baskets": floor_binding,
        "n_portfolios": len(table),
        "n_days": args.days,
        "n_baskets": n_baskets,
        "engine_errors": len(errors),
        "sample_qp_every": args.sample_every,
        "window": [str(days[0].date.date()), str(days[-1].date.date())],
        "n_universe": int(len(universe)),
        "risk_model": args.risk_model,
        "risk_model_details": {k: v for k, v in model.details.items() if isinstance(v, (int, float, str, bool))},
        "risk_history_days": risk_history,
        "groups": None if groups is None else list(groups.columns),
        "target_ratio": TARGET_RATIO,
        "target_met": bool(ratio_naive <= TARGET_RATIO and min(all_as) >= 0.05 - 1e-5 and max(all_as) <= 0.30 + 1e-5),
        "seconds_total": round(wall_seconds, 1),
        "seconds_risk_models": round(estimate_seconds, 1),
        "seconds_engine_baskets": round(engine_qp, 1),
        "ms_per_engine_basket": round(engine_qp / n_baskets * 1000, 1),
        "seconds_sample_qp_baskets": round(sample_qp, 1),
        "workers": args.workers,
        "data": str(args.data),
        "seed": args.seed,
        "python": platform.python_version(),
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
