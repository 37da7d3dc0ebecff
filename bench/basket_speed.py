"""Benchmark: Substitute Basket engine speed, against cvxpy + Clarabel on the same problem.

Run from the repository root (``make bench-baskets`` installs bench/requirements.txt first):

    .venv/bin/pip install -r bench/requirements.txt     # cvxpy: for this benchmark only
    .venv/bin/python bench/basket_speed.py               # ../shared/data when present, else data/demo
    .venv/bin/python bench/basket_speed.py --data data/demo/prices.csv.gz

``--data`` takes any long CSV (gzip allowed) with the columns date, ticker, close, adj_close, volume.

What it measures (prices are real; portfolios, protected sets and Creation Units are synthetic and
seeded, so every run builds the same problems):

(a) One basket for a 500-holding Fund over the full universe: every ticker with a complete
    ``history_days + 1`` price window at the end of the file (about 500 on the S&P 500 file); the
    holdings are 500 of them (all of them on a smaller file), lognormal weights, no cash, a random
    protected set weighing about 15%, per-name cap 5%, active-share band [5%, 30%]. The engine is
    timed with the covariance estimated once beforehand and passed as ``covariance=`` (median of
    ``--runs``); the covariance estimate (the engine's default risk model, over the whole universe)
    is timed on its own, and the engine end to end (it estimates the covariance itself) too.
    The headline run uses ``min_weight=0`` so both sides solve exactly the same problem; the
    engine's default ``min_weight`` (drop weights below 1e-4, re-solve) is reported on its own row.
(b) The same problem in cvxpy, solved by Clarabel: variable w over the universe, w >= 0, w <= cap,
    sum(w) == 1, w == 0 on the protected names, 0.5 * sum(|w - w_p|) <= 30% written with cp.abs,
    objective the tracking variance under the same covariance model. The 5% floor does not bind
    here (the protected weight alone puts the Active Share Differential above 15%; the script checks
    the engine's ``lower_bound.binding`` is False), so neither side carries it. Two ways a user
    would write the objective:
      - "dense" (the headline reference): ``cp.quad_form(w - w_p, cp.psd_wrap(S))`` with the full
        n x n matrix S = B B' + diag(d), the textbook way (psd_wrap only skips cvxpy's eigenvalue
        check, in the reference's favour);
      - "factor": ``cp.sum_squares(B'(w - w_p)) + cp.sum(cp.multiply(d, cp.square(w - w_p)))``, the
        factor form of cvxpy's portfolio-optimisation guide and the engine's own formulation.
    Both are given S scaled by 1 / mean(variance), as the engine scales it internally (unscaled, the
    daily variances ~1e-4 sit near Clarabel's absolute tolerances and the reference is less exact).
    The reference time is the whole user call: build the cvxpy Problem and ``solve()`` (a fresh
    problem per run, as a daily job would do); cvxpy's compile time and Clarabel's solve time are
    reported separately. Objectives are recomputed from each solution with the unscaled model:
    objective_gap = (engine - reference) / reference (negative: the engine is lower).
(c) A daily run for 100 Funds (holdings 50-500, protected weight 2-25% so the floor binds for
    some, some Funds with a name limit, a liquidity cap, some cash) over the full universe: the
    covariance estimated once and shared through ``covariance=``, then build_substitute_basket and
    weights_to_quantities for each Fund. Wall time from the returns matrix in memory to the last
    quantities (reading the CSV is reported apart).

Threads: numpy's BLAS is limited to one thread (``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` /
``MKL_NUM_THREADS`` default to 1 here; set them to override). On a 2-core machine with anything else
running, multi-threaded OpenBLAS oversubscribes the cores: the 252 x 502 SVD of the covariance
estimate went from ~20 ms to a median of 160 ms and spikes of 4 s. Clarabel is single-threaded either
way. The load average is printed, since wall times depend on what else the machine is doing.

The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before numpy is imported; see the docstring

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_PRICES = REPO_ROOT.parent / "shared" / "data" / "sp500_daily_2013_2021.csv.gz"
DEMO_PRICES = REPO_ROOT / "data" / "demo" / "prices.csv.gz"
sys.path.insert(0, str(REPO_ROOT))

from baskets.engine.errors import BasketEngineError  # noqa: E402
from baskets.engine.optimizer import BasketParams, build_substitute_basket  # noqa: E402
from baskets.engine.quantities import weights_to_quantities  # noqa: E402
from baskets.engine.risk import CovarianceModel, estimate_covariance  # noqa: E402

TARGET_GAP = 0.005
TARGET_SPEEDUP = 5.0
TARGET_DAILY_S = 60.0
HOLDINGS = 500
PROTECTED_WEIGHT = 0.15
MAX_WEIGHT = 0.05
MAX_HOLDING = 0.08  # largest portfolio weight of a synthetic Fund

try:  # the reference only; the rest of the benchmark runs without it
    import cvxpy as cp
except ImportError:  # pragma: no cover - depends on the environment
    cp = None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = SHARED_PRICES if SHARED_PRICES.exists() else DEMO_PRICES
    parser.add_argument("--data", type=Path, default=default, help=f"long price CSV, gzip allowed (default {default})")
    parser.add_argument("--runs", type=int, default=9,
                        help="interleaved timed rounds of the single basket: engine, cvxpy dense, cvxpy factor (medians)")
    parser.add_argument("--funds", type=int, default=100, help="Funds in the daily run")
    parser.add_argument("--seed", type=int, default=20210421)
    return parser.parse_args()


# --------------------------------------------------------------------------- data


class Market:
    def __init__(self, returns: pd.DataFrame, close: pd.Series, adv: pd.Series, as_of: str, load_s: float, rows: int):
        self.returns, self.close, self.adv, self.as_of, self.load_s, self.rows = returns, close, adv, as_of, load_s, rows

    @property
    def universe(self) -> pd.Index:
        return self.returns.columns


def load_market(path: Path, history_days: int) -> Market:
    started = time.perf_counter()
    frame = pd.read_csv(path, usecols=["date", "ticker", "close", "adj_close", "volume"], dtype={"ticker": str})
    missing = {"date", "ticker", "close", "adj_close", "volume"} - set(frame.columns)
    if missing:
        raise SystemExit(f"{path}: missing columns {sorted(missing)}")
    adj = frame.pivot_table(index="date", columns="ticker", values="adj_close", aggfunc="last").sort_index()
    close = frame.pivot_table(index="date", columns="ticker", values="close", aggfunc="last").sort_index()
    volume = frame.pivot_table(index="date", columns="ticker", values="volume", aggfunc="last").sort_index()
    window = adj.iloc[-(history_days + 1):]
    if len(window) < history_days + 1:
        raise SystemExit(f"{path}: {len(adj)} trading days, need at least {history_days + 1}")
    complete = window.columns[window.notna().all().to_numpy() & (window > 0).all().to_numpy()]
    returns = window.loc[:, complete].pct_change().iloc[1:]
    last_close = close.loc[:, complete].iloc[-1]
    adv = volume.loc[:, complete].iloc[-63:].mean()
    return Market(returns, last_close, adv, str(window.index[-1]), time.perf_counter() - started, len(frame))


def engine_covariance(returns: pd.DataFrame, params: BasketParams) -> CovarianceModel:
    """The engine's own risk model, over the whole universe (as build_substitute_basket estimates it)."""
    options = {"n_factors": params.pca_factors} if params.risk_model == "pca" else {}
    return estimate_covariance(returns, params.risk_model, **options)


def synthetic_fund(rng: np.random.Generator, universe: pd.Index, holdings: int, protected_weight: float) -> tuple[pd.Series, list]:
    """Lognormal weights (none above 8%) over ``holdings`` random names; a random protected set of about
    ``protected_weight``."""
    names = universe[np.sort(rng.choice(len(universe), size=min(holdings, len(universe)), replace=False))]
    weights = pd.Series(rng.lognormal(0.0, 1.0, len(names)), index=names)
    weights /= weights.sum()
    for _ in range(20):  # no holding above MAX_HOLDING (as an active ETF's own concentration limit would keep it)
        over = weights > MAX_HOLDING
        if not over.any():
            break
        weights[over] = MAX_HOLDING
        weights[~over] *= (1.0 - MAX_HOLDING * over.sum()) / weights[~over].sum()
    order = rng.permutation(len(names))
    cumulative = np.cumsum(weights.to_numpy()[order])
    count = int(np.searchsorted(cumulative, protected_weight)) + 1
    count = min(count, len(names) - 1)
    return weights, list(names[order[:count]])


# --------------------------------------------------------------------------- helpers


def tracking_variance(model: CovarianceModel, portfolio: pd.Series, basket: pd.Series) -> float:
    active = basket.reindex(model.tickers, fill_value=0.0) - portfolio.reindex(model.tickers, fill_value=0.0)
    return model.quadratic_form(active)


def active_share(portfolio: pd.Series, basket: pd.Series) -> float:
    union = portfolio.index.union(basket.index)
    return 0.5 * float((portfolio.reindex(union, fill_value=0.0) - basket.reindex(union, fill_value=0.0)).abs().sum())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def table(rows: list[tuple], headers: tuple) -> str:
    cells = [tuple(str(c) for c in headers)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------- (b) the cvxpy reference


def cvxpy_reference(form: str, model: CovarianceModel, portfolio: pd.Series, protected: list, cap: float,
                    max_as: float, **solver_options) -> dict:
    """Build and solve the problem in cvxpy with Clarabel; ``form`` is "dense" or "factor"."""
    names = model.tickers
    scale = 1.0 / float(np.mean(model.variances().to_numpy()))
    wp = portfolio.reindex(names, fill_value=0.0).to_numpy()
    protected_idx = np.flatnonzero(names.isin(protected))
    started = time.perf_counter()
    w = cp.Variable(len(names))
    if form == "dense":
        sigma = scale * (model.loadings @ model.loadings.T + np.diag(model.specific))
        objective = cp.quad_form(w - wp, cp.psd_wrap(sigma))
    else:
        loadings = math.sqrt(scale) * model.loadings
        objective = cp.sum_squares(loadings.T @ (w - wp)) + cp.sum(cp.multiply(scale * model.specific, cp.square(w - wp)))
    constraints = [w >= 0, w <= cap, cp.sum(w) == 1.0, w[protected_idx] == 0, 0.5 * cp.sum(cp.abs(w - wp)) <= max_as]
    problem = cp.Problem(cp.Minimize(objective), constraints)
    problem.solve(solver=cp.CLARABEL, **solver_options)
    total = time.perf_counter() - started
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"cvxpy ({form}) ended with status {problem.status}")
    weights = pd.Series(np.clip(w.value, 0.0, None), index=names)
    weights = weights[weights > 1e-9]
    return {
        "total_s": total,
        "compile_s": float(problem.compilation_time or 0.0),
        "solve_s": float(problem.solver_stats.solve_time or 0.0),
        "iterations": problem.solver_stats.num_iters,
        "status": problem.status,
        "weights": weights,
    }


# --------------------------------------------------------------------------- (c) the daily run


def daily_run(market: Market, n_funds: int, seed: int) -> dict:
    """Covariance once, then a basket and its Creation Unit quantities for every Fund."""
    rng = np.random.default_rng(seed + 1)
    specs = []
    for number in range(n_funds):
        holdings = int(rng.integers(50, 501))
        weights, protected = synthetic_fund(rng, market.universe, holdings, float(rng.uniform(0.02, 0.25)))
        cash = float(rng.choice([0.0, 0.005, 0.01, 0.02]))
        weights = weights * (1.0 - cash)
        cu_shares = int(rng.choice([25_000, 50_000]))
        nav_cu = cu_shares * 25.0
        max_weight = 0.10 if len(weights) < 100 else MAX_WEIGHT
        max_names = None
        if number % 3 == 0:  # a name limit a PM could set: enough names to stay 3 points inside the ceiling
            reachable = np.cumsum(np.sort(weights.drop(protected).clip(upper=max_weight).to_numpy())[::-1]) + cash
            needed = int(np.searchsorted(reachable, 1.0 - 0.30 + 0.03)) + 1
            max_names = needed + int(rng.integers(10, 60))
        params = BasketParams(
            max_weight=max_weight,
            max_names=max_names,
            adv_fraction=0.02 if number % 2 else None,
            nav_per_creation_unit=nav_cu,
        )
        specs.append((weights, protected, cash, params, nav_cu))

    default = BasketParams()
    started, cpu_started = time.perf_counter(), time.process_time()
    model = engine_covariance(market.returns, default)
    covariance_s = time.perf_counter() - started
    per_fund, failures, solves, binding, names, drift = [], [], 0, 0, [], []
    for number, (weights, protected, cash, params, nav_cu) in enumerate(specs):
        fund_started = time.perf_counter()
        try:
            result = build_substitute_basket(
                weights, protected, market.returns, params, portfolio_cash=cash,
                prices=market.close, adv=market.adv, covariance=model,
            )
            basket = weights_to_quantities(result.weights, nav_cu, market.close)
        except BasketEngineError as error:
            failures.append(f"fund {number}: {type(error).__name__}: {error}")
            per_fund.append(time.perf_counter() - fund_started)
            continue
        per_fund.append(time.perf_counter() - fund_started)
        solves += result.diagnostics.solves
        binding += result.diagnostics.lower_bound.binding
        names.append(result.diagnostics.n_names)
        drift.append(basket.weight_drift)
    total = time.perf_counter() - started
    return {
        "total_s": total,
        "cpu_s": time.process_time() - cpu_started,
        "covariance_s": covariance_s,
        "per_fund_median_s": statistics.median(per_fund),
        "per_fund_max_s": max(per_fund),
        "solves": solves,
        "floor_binding": binding,
        "failures": failures,
        "median_names": statistics.median(names) if names else 0,
        "median_drift": statistics.median(drift) if drift else float("nan"),
        "holdings_range": (min(len(s[0]) for s in specs), max(len(s[0]) for s in specs)),
    }


# --------------------------------------------------------------------------- main


def main() -> int:
    args = parse_args()
    if cp is None:
        print(
            "cvxpy is not installed, so the reference part (b) is skipped. It is a benchmark-only dependency:\n"
            "    .venv/bin/pip install -r bench/requirements.txt     (or: make bench-baskets)",
            file=sys.stderr,
        )
    default = BasketParams()
    market = load_market(args.data, default.history_days)
    n = len(market.universe)
    print(f"data: {args.data} ({market.rows:,} rows); universe: {n} tickers with {default.history_days} daily "
          f"returns to {market.as_of}; CSV read and pivot {market.load_s:.2f} s")
    print("machine: {} cores, load average {:.2f} {:.2f} {:.2f} at start (wall times are sensitive to other "
          "processes); BLAS threads: {}".format(os.cpu_count(), *os.getloadavg(), os.environ["OPENBLAS_NUM_THREADS"]))

    # (a) the single basket
    rng = np.random.default_rng(args.seed)
    portfolio, protected = synthetic_fund(rng, market.universe, HOLDINGS, PROTECTED_WEIGHT)
    protected_weight = float(portfolio[protected].sum())
    params = BasketParams(max_weight=MAX_WEIGHT, min_weight=0.0)
    model = engine_covariance(market.returns, params)
    default_params = BasketParams(max_weight=MAX_WEIGHT)
    call = lambda p: build_substitute_basket(portfolio, protected, market.returns, p, covariance=model)  # noqa: E731
    forms = ("dense", "factor") if cp is not None else ()
    reference_call = lambda form: cvxpy_reference(  # noqa: E731
        form, model, portfolio, protected, MAX_WEIGHT, default.max_active_share)
    call(params)  # warm-up (imports, caches)
    for form in forms:
        reference_call(form)
    # interleaved rounds: on a shared machine every contender sees the same background load
    timed: dict[str, list] = {}
    for _ in range(args.runs):
        for label, fn in [
            ("covariance", lambda: engine_covariance(market.returns, params)),
            ("engine", lambda: call(params)),
            ("end_to_end", lambda: build_substitute_basket(portfolio, protected, market.returns, params)),
            ("engine_default", lambda: call(default_params)),
        ] + [(form, lambda form=form: reference_call(form)) for form in forms]:
            started = time.perf_counter()
            value = fn()
            timed.setdefault(label, []).append((time.perf_counter() - started, value))
    median = lambda label: statistics.median(t for t, _ in timed[label])  # noqa: E731
    covariance_s, engine_s, end_to_end_s, engine_default_s = (
        median("covariance"), median("engine"), median("end_to_end"), median("engine_default"))
    result, result_default = timed["engine"][-1][1], timed["engine_default"][-1][1]
    engine_solver_s = statistics.median(r.diagnostics.solve_seconds for _, r in timed["engine"])
    engine_default_solver_s = statistics.median(r.diagnostics.solve_seconds for _, r in timed["engine_default"])
    if result.diagnostics.lower_bound.binding:
        print("warning: the active-share floor binds in the single-basket instance; the reference omits it", file=sys.stderr)
    engine_obj = tracking_variance(model, portfolio, result.weights)
    engine_default_obj = tracking_variance(model, portfolio, result_default.weights)

    # (b) the reference: wall time of the whole cvxpy call; compile and Clarabel times from cvxpy's stats
    reference = {}
    for form in forms:
        runs = [value for _, value in timed[form]]
        chosen = dict(runs[-1])
        chosen["obj"] = tracking_variance(model, portfolio, chosen["weights"])
        chosen["active_share"] = active_share(portfolio, chosen["weights"])
        chosen["total_s"] = median(form)
        for key in ("compile_s", "solve_s"):
            chosen[key] = statistics.median(r[key] for r in runs)
        reference[form] = chosen
    if forms:  # a tight-tolerance solve, untimed: how exact the timed reference objective is
        tight = cvxpy_reference("factor", model, portfolio, protected, MAX_WEIGHT, default.max_active_share,
                                tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500)
        tight_obj = tracking_variance(model, portfolio, tight["weights"])

    ref = reference.get("dense")
    gap = (engine_obj - ref["obj"]) / ref["obj"] if ref else None
    speedup = ref["total_s"] / engine_s if ref else None

    # (c) the daily run
    daily = daily_run(market, args.funds, args.seed)

    # tables
    d = result.diagnostics
    print()
    print(f"(a)+(b) one basket: {len(portfolio)} holdings, {len(protected)} protected ({protected_weight:.1%}), "
          f"universe {n}, cap {MAX_WEIGHT:.0%}, band [{default.min_active_share:.0%}, {default.max_active_share:.0%}], "
          f"floor binding: {d.lower_bound.binding}; risk model {d.risk_model} ({model.n_factors} factor columns)")
    te = lambda v: f"{math.sqrt(v) * math.sqrt(252) * 100:.4f}%"  # noqa: E731
    rows = [
        ("covariance estimate (universe)", f"{covariance_s * 1000:.1f}", "", "", "", "", "", ""),
        ("engine, covariance= given", f"{engine_s * 1000:.1f}", "", f"{engine_solver_s * 1000:.1f}", d.solves,
         f"{engine_obj:.6e}", te(engine_obj), f"{d.active_share:.2%}"),
        ("engine, end to end", f"{end_to_end_s * 1000:.1f}", "", "", "", "", "", ""),
        ("engine, default min_weight", f"{engine_default_s * 1000:.1f}", "",
         f"{engine_default_solver_s * 1000:.1f}", result_default.diagnostics.solves,
         f"{engine_default_obj:.6e}", te(engine_default_obj), f"{result_default.diagnostics.active_share:.2%}"),
    ]
    for form, label in (("dense", "cvxpy+Clarabel, dense quad_form"), ("factor", "cvxpy+Clarabel, factor form")):
        if form in reference:
            r = reference[form]
            rows.append((label, f"{r['total_s'] * 1000:.1f}", f"{r['compile_s'] * 1000:.1f}", f"{r['solve_s'] * 1000:.1f}",
                         r["iterations"], f"{r['obj']:.6e}", te(r["obj"]), f"{r['active_share']:.2%}"))
    if reference:
        rows.append(("cvxpy, factor, tolerances 1e-12", "", "", "", tight["iterations"], f"{tight_obj:.6e}", te(tight_obj), ""))
    print(table(rows, ("solve", "wall ms", "compile ms", "solver ms", "QPs/iters", "tracking var", "ex-ante TE/yr", "active share")))

    print()
    if reference:
        rows = []
        for form in ("dense", "factor"):
            r = reference[form]
            g = (engine_obj - r["obj"]) / r["obj"]
            rows.append((f"vs cvxpy {form}", f"{r['total_s'] / engine_s:.1f}x", f"{r['solve_s'] / engine_solver_s:.1f}x",
                         f"{g:+.2e}", f"{(engine_default_obj - r['obj']) / r['obj']:+.2e}"))
        rows.append(("vs tight-tolerance solve", "", "", f"{(engine_obj - tight_obj) / tight_obj:+.2e}",
                     f"{(engine_default_obj - tight_obj) / tight_obj:+.2e}"))
        print(table(rows, ("engine", "speedup (wall)", "speedup (Clarabel time only)", "objective gap (relative)", "gap, default min_weight")))
        print(f"targets: objective gap <= {TARGET_GAP:.1%}, speedup >= {TARGET_SPEEDUP:.0f}x (headline reference: dense quad_form)")
    else:
        print("reference skipped: cvxpy is not installed (pip install -r bench/requirements.txt)")

    print()
    lo, hi = daily["holdings_range"]
    print(f"(c) daily run: {args.funds} Funds, holdings {lo}-{hi}, covariance once over {n} names")
    rows = [
        ("covariance estimate", f"{daily['covariance_s']:.3f}"),
        ("baskets + quantities, per Fund median", f"{daily['per_fund_median_s']:.3f}"),
        ("baskets + quantities, per Fund max", f"{daily['per_fund_max_s']:.3f}"),
        ("QPs solved", daily["solves"]),
        ("Funds where the 5% floor bound", daily["floor_binding"]),
        ("median names per basket", daily["median_names"]),
        ("median weight drift from whole shares", f"{daily['median_drift']:.4%}"),
        ("failures", len(daily["failures"])),
        ("total CPU time (all threads), s", f"{daily['cpu_s']:.2f}"),
        ("total wall time, s", f"{daily['total_s']:.2f}"),
    ]
    print(table(rows, ("daily run", "value")))
    print(f"target: < {TARGET_DAILY_S:.0f} s on this {os.cpu_count()}-core machine")
    for failure in daily["failures"]:
        print("  " + failure)

    summary = {
        "data": str(args.data),
        "n_universe": n,
        "n_holdings": len(portfolio),
        "protected_weight": round(protected_weight, 4),
        "engine_s": round(engine_s, 5),
        "engine_end_to_end_s": round(end_to_end_s, 5),
        "engine_default_min_weight_s": round(engine_default_s, 5),
        "engine_solver_s": round(engine_solver_s, 5),
        "covariance_s": round(covariance_s, 5),
        "reference_form": "dense quad_form (psd_wrap), scaled S" if ref else None,
        "reference_s": round(ref["total_s"], 5) if ref else None,
        "cvxpy_compile_s": round(ref["compile_s"], 5) if ref else None,
        "cvxpy_solve_s": round(ref["solve_s"], 5) if ref else None,
        "speedup": round(speedup, 2) if ref else None,
        "objective_gap": float(f"{gap:.3e}") if ref else None,
        "reference_factor_s": round(reference["factor"]["total_s"], 5) if ref else None,
        "cvxpy_factor_compile_s": round(reference["factor"]["compile_s"], 5) if ref else None,
        "cvxpy_factor_solve_s": round(reference["factor"]["solve_s"], 5) if ref else None,
        "speedup_vs_factor_form": round(reference["factor"]["total_s"] / engine_s, 2) if ref else None,
        "objective_gap_vs_factor_form": float(f"{(engine_obj - reference['factor']['obj']) / reference['factor']['obj']:.3e}") if ref else None,
        "objective_gap_vs_tight": float(f"{(engine_obj - tight_obj) / tight_obj:.3e}") if ref else None,
        "objective_gap_default_min_weight": float(f"{(engine_default_obj - ref['obj']) / ref['obj']:.3e}") if ref else None,
        "floor_binding": bool(d.lower_bound.binding),
        "daily_run_100_funds_s": round(daily["total_s"], 3),
        "daily_run_cpu_s": round(daily["cpu_s"], 3),
        "daily_run_funds": args.funds,
        "daily_run_failures": len(daily["failures"]),
        "daily_run_qps": daily["solves"],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
    }
    print(json.dumps(summary))
    return 0 if cp is not None else 2


if __name__ == "__main__":
    sys.exit(main())
