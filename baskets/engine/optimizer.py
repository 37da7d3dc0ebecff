"""The Substitute Basket optimiser: minimum ex-ante tracking variance inside the application's limits.

Problem (weights as fractions of net assets; ``a = w_b - w_p`` over every name the risk model knows):

    minimise    a' S a                        (S: a well-conditioned estimate, see ``risk``)
    subject to  w_b >= 0, w_b <= cap           (per-name cap, and the liquidity cap below)
                sum(w_b) + cash_b = 1           (cash_b = the Fund's cash weight unless set)
                w_b = 0 on Protected Securities and on names outside the eligible universe
                0.5 * sum|w_p - w_b| <= max_as  (Active Share Differential, cash as one more line)
                0.5 * sum|w_p - w_b| >= min_as  (non-convex, see below)
                at most ``max_names`` names     (heuristic, see below)

Formulation. S = B B' + diag(d) (``risk.CovarianceModel``) so with y = B'a the objective is
|y|^2 + sum d_i a_i^2: a sparse QP solved by Clarabel (interior point) called directly. Because
both sides sum to one (securities plus cash), 0.5 * sum|p - b| equals the total underweight
sum max(p_i - b_i, 0); the upper bound is written with one auxiliary u_i >= w_p_i - w_b_i, u_i >= 0
per held eligible name (names outside the portfolio can only be overweight, and names that cannot
be in the basket contribute their whole weight as a constant), and sum u <= max_as - constant.

Liquidity cap: the quantity per Creation Unit q_i = w_i * NAV_CU / price_i must be at most
``adv_fraction`` x ADV_i shares, i.e. w_i <= adv_fraction * ADV_i * price_i / NAV_CU.

The 5% lower bound. Active share is at least the weight that cannot be in the basket (Protected
Securities and held names outside the eligible universe, "forced-out" weight), so the lower bound
only binds when that weight is below ``min_as``. Equivalently (both sides sum to one) the Basket
Overlap sum_i min(p_i, b_i) must be at most 1 - min_as: a concave function below a constant. The
engine handles it with the convex-concave procedure: at the current basket each min(p_i, b_i) is
replaced by b_i (set L) or by the constant p_i (set G); since min(p, b) <= b and min(p, b) <= p,
any such partition gives an upper bound of the overlap, so every QP in the sequence returns a basket
that truly meets the floor. After each QP the partition is re-taken at the new basket (its tangent:
L = names at or below their portfolio weight), which cannot raise the tracking variance, until the
partition stops changing (a local optimum). Because the problem is non-convex the procedure runs
from more than one seed partition and keeps the best basket: the tangent at the optimum without
the floor, and the least-overweight holdings making up half of the held weight (with equal,
uncorrelated names the tangent seed has every name overweight and is infeasible, while the half
split lands near the optimum). If no seed is feasible it first builds a feasible basket by excluding
the largest non-protected holdings until the forced-out weight reaches the floor, then improves on
it with the same procedure. ``diagnostics.lower_bound`` says which, and how many QPs it took.

At most N names: solve, keep the N names with the largest max(basket weight, portfolio weight)
among those with basket weight >= ``min_weight`` (large holdings stay, so the overlap and the
active-share ceiling stay within reach), re-solve on those, repeated until the basket stops
shrinking (at most ``max_rounds`` solves of the whole problem). Names below ``min_weight`` are
dropped the same way.

Speed (bench/basket_speed.py, this 2-core machine): with the default PCA model (30 factors) a
500-holding Fund over the 502-name S&P 500 universe takes about 9 ms of Clarabel per QP and 15-20 ms
per basket with the covariance given (one QP; 25-35 ms with the default min_weight, which re-solves
once), against about 0.25 s for the same problem written in cvxpy with the dense covariance and 25-40
ms in cvxpy's factor form; 100 Funds with quantities take about 4 s. Ledoit-Wolf (T + 1 = 253 factor
columns) takes about 0.22 s per QP. The QP matrices are assembled directly in coordinate form, the
active-share ceiling is first left out (see ``_Solver.solve``), and Clarabel's "qdldl" factorisation
beat "faer" here (0.18 s vs 0.35 s with Ledoit-Wolf); tighter or looser tolerances, presolve and
equilibration settings made no measurable difference.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import clarabel
import numpy as np
import pandas as pd
from scipy import sparse

from baskets.engine import metrics
from baskets.engine.errors import (
    EmptyUniverse,
    InfeasibleBasket,
    InsufficientHistory,
    InvalidParameters,
    InvalidPortfolio,
)
from baskets.engine.risk import METHODS, CovarianceModel, estimate_covariance

APPLICATION_MIN_ACTIVE_SHARE = 0.05
APPLICATION_MAX_ACTIVE_SHARE = 0.30

_ZERO = 1e-8  # solver noise: weights below are zero
_MARGIN = 1e-6  # bounds are tightened by this much inside the solver, so reported values keep them
_CHECK = 1e-5  # post-solve verification tolerance
DIRECT_SOLVE_METHOD = "qdldl"


@dataclass(frozen=True)
class BasketParams:
    """Per-Fund parameters of the optimiser (defaults are the application's band and house values)."""

    min_active_share: float = APPLICATION_MIN_ACTIVE_SHARE
    max_active_share: float = APPLICATION_MAX_ACTIVE_SHARE
    max_weight: float = 0.10  # per-name cap on basket weight
    max_names: int | None = None
    min_weight: float = 1e-4  # smaller basket weights are dropped and the basket re-solved
    basket_cash: float | None = None  # None: the basket holds the Fund's cash weight
    weight_sum_tolerance: float = 1e-4  # |sum(w_p) + cash - 1| allowed before InvalidPortfolio
    risk_model: str = "hybrid"  # risk.DEFAULT_METHOD; see risk.py; chosen on out-of-sample tracking (bench/basket_quality.py)
    pca_factors: int = 30
    # industry labels for the "hybrid" risk model when the engine estimates it (covariance=None):
    # a Series ticker -> label or a DataFrame of labels, coarsest first (risk.group_labels)
    risk_groups: object = field(default=None, compare=False, repr=False)
    history_days: int = 252  # the most recent rows of the return history used
    min_history_days: int = 126  # fewest returns per name (and rows overall)
    adv_fraction: float | None = None  # quantity per Creation Unit <= adv_fraction x ADV
    nav_per_creation_unit: float | None = None  # needed with adv_fraction
    allow_outside_names: bool = True  # footnote 34: names outside the portfolio may track protected ones
    ccp_max_iterations: int = 10
    ccp_tolerance: float = 1e-6  # relative objective improvement that ends the procedure
    ccp_seed_fractions: tuple = (0.5,)  # extra seed partitions for the floor, see _split_partition
    max_rounds: int = 5

    def validate(self) -> None:
        lo, hi = self.min_active_share, self.max_active_share
        if not (APPLICATION_MIN_ACTIVE_SHARE - 1e-12 <= lo <= hi <= APPLICATION_MAX_ACTIVE_SHARE + 1e-12):
            raise InvalidParameters(
                f"active share band [{lo:.2%}, {hi:.2%}] must lie inside the application's "
                f"[{APPLICATION_MIN_ACTIVE_SHARE:.0%}, {APPLICATION_MAX_ACTIVE_SHARE:.0%}] with min <= max",
                constraint="active-share-band",
            )
        if not 0 < self.max_weight <= 1:
            raise InvalidParameters(f"max_weight must be in (0, 1], got {self.max_weight}", constraint="max-weight")
        if self.max_names is not None and self.max_names < 1:
            raise InvalidParameters("max_names must be at least 1", constraint="max-names")
        if not 0 <= self.min_weight < self.max_weight:
            raise InvalidParameters("min_weight must be in [0, max_weight)", constraint="min-weight")
        if self.basket_cash is not None and not 0 <= self.basket_cash < 1:
            raise InvalidParameters("basket_cash must be in [0, 1)", constraint="basket-cash")
        if self.risk_model not in METHODS:
            raise InvalidParameters(f"risk_model must be one of {METHODS}", constraint="risk-model")
        if self.min_history_days < 2 or self.history_days < self.min_history_days:
            raise InvalidParameters("need 2 <= min_history_days <= history_days", constraint="history")
        if self.max_rounds < 2 or self.ccp_max_iterations < 1:
            raise InvalidParameters("max_rounds must be at least 2 and ccp_max_iterations at least 1", constraint="iterations")
        if any(not 0 < f < 1 for f in self.ccp_seed_fractions):
            raise InvalidParameters("ccp_seed_fractions must lie in (0, 1)", constraint="iterations")
        if self.adv_fraction is not None:
            if not 0 < self.adv_fraction <= 1:
                raise InvalidParameters("adv_fraction must be in (0, 1]", constraint="liquidity")
            if not self.nav_per_creation_unit or self.nav_per_creation_unit <= 0:
                raise InvalidParameters("the liquidity cap needs a positive nav_per_creation_unit", constraint="liquidity")


@dataclass(frozen=True)
class LowerBoundReport:
    """How the active-share lower bound was met."""

    binding: bool
    method: str  # "not-binding" | "ccp" | "exclusion+ccp"
    forced_out_weight: float  # protected + ineligible held weight (+ any cash shortfall)
    iterations: int = 0
    excluded: tuple = ()
    explanation: str = ""


@dataclass(frozen=True)
class BasketDiagnostics:
    tracking_variance: float  # daily, a'Sa
    ex_ante_te_daily_pct: float
    ex_ante_te_annual_pct: float
    active_share: float
    basket_overlap: float
    represented_share: float
    n_names: int
    protected_weight: float
    lower_bound: LowerBoundReport
    risk_model: str
    shrinkage: float | None
    n_observations: int
    n_candidates: int
    capped: tuple  # names at their cap
    dropped_history: tuple  # eligible names without enough history
    dropped_liquidity: tuple  # eligible names without price/ADV or with a cap below min_weight
    ineligible_holdings: tuple  # held, not protected, but not eligible
    protected_not_held: tuple
    solves: int
    rounds: int
    solve_seconds: float
    total_seconds: float
    notes: tuple = ()

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BasketResult:
    weights: pd.Series  # basket securities, weight > 0, largest first
    cash_weight: float
    diagnostics: BasketDiagnostics
    caps: pd.Series = field(repr=False, default=None)  # the per-name caps that applied


# --- input checks ---------------------------------------------------------------------------


def _validate_portfolio(portfolio_w, cash: float, tolerance: float) -> pd.Series:
    if not isinstance(portfolio_w, pd.Series):
        portfolio_w = pd.Series(portfolio_w, dtype=float)
    w = portfolio_w.astype(float)
    if w.empty:
        raise InvalidPortfolio("the portfolio has no holdings", constraint="portfolio-empty")
    if not w.index.is_unique:
        raise InvalidPortfolio(f"securities listed twice: {sorted(map(str, w.index[w.index.duplicated()]))}", constraint="portfolio-duplicates")
    if not np.all(np.isfinite(w.to_numpy())) or not math.isfinite(cash):
        raise InvalidPortfolio("portfolio weights must be finite numbers", constraint="portfolio-finite")
    if (w < 0).any() or cash < 0:
        raise InvalidPortfolio(f"negative weights: {sorted(map(str, w.index[w < 0]))[:10]}", constraint="portfolio-long-only")
    total = float(w.sum()) + cash
    if abs(total - 1.0) > tolerance:
        raise InvalidPortfolio(
            f"portfolio weights plus cash sum to {total:.6f}, not 1 (tolerance {tolerance:g})",
            constraint="weights-sum-to-one",
        )
    w = w[w > 0]
    if w.empty:
        raise InvalidPortfolio("the portfolio holds only cash", constraint="portfolio-empty")
    return w * ((1.0 - cash) / float(w.sum()))  # exact sum, the tolerance absorbed


# --- the QP -----------------------------------------------------------------------------------


@dataclass
class _Space:
    """Everything fixed across the solves of one basket: the model's names and scaled risk."""

    names: pd.Index
    loadings: np.ndarray  # scaled B
    specific: np.ndarray  # scaled d
    wp: np.ndarray  # portfolio weights over names
    caps: np.ndarray  # per-name cap over names (0 where not a candidate)
    invested: float  # 1 - basket cash
    cash_under: float  # max(cash_p - cash_b, 0): the cash line's underweight
    cash_overlap: float  # min(cash_p, cash_b)
    min_as: float
    max_as: float
    exposure_p: np.ndarray = None  # B' w_p
    margin: float = _MARGIN

    def __post_init__(self):
        self.exposure_p = self.loadings.T @ self.wp
        self.margin = min(_MARGIN, (self.max_as - self.min_as) / 4)  # a band of zero width has none


@dataclass
class _Solution:
    w: np.ndarray  # over space.names
    objective: float  # scaled
    status: str


class _Solver:
    def __init__(self, space: _Space):
        self.space = space
        self.solves = 0
        self.seconds = 0.0
        self.ceiling_binds = False  # set once a relaxed solve broke the active-share ceiling
        self._factor_cache: tuple = (None, None)
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.max_iter = 200
        settings.direct_solve_method = DIRECT_SOLVE_METHOD
        self.settings = settings

    def solve(self, candidates: np.ndarray, *, upper: bool = True, overlap_cap: tuple | None = None) -> _Solution | None:
        """QP over ``candidates`` (indices into names); None when infeasible.

        ``overlap_cap = (in_l, rhs)``: sum of w over candidates flagged ``in_l`` <= rhs (the CCP cut).

        The active-share ceiling rarely binds (it does when the protected weight is close to it), and
        the QP without it is smaller (no u block: about 20% faster). So the ceiling is first left
        out: a relaxed optimum that meets the ceiling (with the margin) is an optimum with it, since
        the ceiling only shrinks the feasible set. Only when it does not is the full QP solved, and
        from then on for every later solve of this basket (``ceiling_binds``). The two routes agree
        to the solver's tolerance (objectives within ~1e-7 relative).
        """
        if upper and not self.ceiling_binds:
            relaxed = self._solve(candidates, upper=False, overlap_cap=overlap_cap)
            if relaxed is None:  # infeasible without the ceiling, so with it too
                return None
            if _active_share(relaxed.w, self.space) <= self.space.max_as - self.space.margin:
                return relaxed
            self.ceiling_binds = True
        return self._solve(candidates, upper=upper, overlap_cap=overlap_cap)

    def _solve(self, candidates: np.ndarray, *, upper: bool, overlap_cap: tuple | None) -> _Solution | None:
        """One Clarabel solve.

        Variables x = [w (m candidates), u (h held candidates, only with ``upper``), y (k factors)].
        Rows, in order: y - B_c' w = -B' w_p (k, zero cone); sum w = invested (1, zero cone);
        -w <= 0 (m); w <= cap (m); with ``upper``: -w_held - u <= -w_p_held (h), -u <= 0 (h),
        sum u <= room (1); with ``overlap_cap``: sum_{L} w <= rhs (1). The matrices are assembled
        directly in coordinate form (one concatenation, one conversion), not from sparse blocks.
        """
        sp = self.space
        m = candidates.size
        wp_c = sp.wp[candidates]
        held = np.flatnonzero(wp_c > 0)
        h = held.size if upper else 0
        k = sp.loadings.shape[1]
        d_c = sp.specific[candidates]
        n_var = m + h + k
        arange_m = np.arange(m)

        # P = diag(2 d_c, 0 (u), 2 (y)), upper triangle, explicit zeros left out
        p_diag = np.concatenate([2 * d_c, np.zeros(h), np.full(k, 2.0)])
        p_idx = np.flatnonzero(p_diag)
        p_mat = sparse.csc_matrix((p_diag[p_idx], (p_idx, p_idx)), shape=(n_var, n_var))
        q = np.concatenate([-2 * d_c * wp_c, np.zeros(h + k)])

        rows, cols, vals, rhs = [], [], [], []
        row = 0
        if k:  # y - B_c' w = -B' w_p
            f_rows, f_cols, f_vals = self._factor_block(candidates)
            rows += [f_rows, np.arange(k)]
            cols += [f_cols, m + h + np.arange(k)]
            vals += [f_vals, np.ones(k)]
            rhs.append(-sp.exposure_p)
            row = k
        rows.append(np.full(m, row))  # sum w = invested
        cols.append(arange_m)
        vals.append(np.ones(m))
        rhs.append([sp.invested])
        row += 1
        n_zero = row
        rows += [row + arange_m, row + m + arange_m]  # -w <= 0; w <= cap
        cols += [arange_m, arange_m]
        vals += [np.full(m, -1.0), np.ones(m)]
        rhs += [np.zeros(m), sp.caps[candidates]]
        row += 2 * m
        if upper:
            # u_j >= wp_j - w_j, u_j >= 0, sum u <= max_as - constant underweight
            arange_h = np.arange(h)
            rows += [row + arange_h, row + arange_h, row + h + arange_h, np.full(h, row + 2 * h)]
            cols += [held, m + arange_h, m + arange_h, m + arange_h]
            vals += [np.full(h, -1.0), np.full(h, -1.0), np.full(h, -1.0), np.ones(h)]
            constant_under = float(sp.wp.sum() - wp_c.sum()) + sp.cash_under
            room = sp.max_as - constant_under
            rhs += [-wp_c[held], np.zeros(h), [max(room - sp.margin, 0.0) if room >= -_CHECK / 10 else room]]  # at the ceiling: u = 0
            row += 2 * h + 1
        if overlap_cap is not None:
            in_l, cap_rhs = overlap_cap
            picked = np.flatnonzero(in_l)
            rows.append(np.full(picked.size, row))
            cols.append(picked)
            vals.append(np.ones(picked.size))
            rhs.append([cap_rhs])
            row += 1
        a_mat = sparse.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(row, n_var)
        )
        b_vec = np.concatenate([np.asarray(r, dtype=float) for r in rhs])
        cones = [clarabel.ZeroConeT(n_zero), clarabel.NonnegativeConeT(row - n_zero)]

        started = time.perf_counter()
        solution = clarabel.DefaultSolver(p_mat, q, a_mat, b_vec, cones, self.settings).solve()
        self.seconds += time.perf_counter() - started
        self.solves += 1
        status = str(solution.status)
        if status in ("PrimalInfeasible", "AlmostPrimalInfeasible"):
            return None
        if status not in ("Solved", "AlmostSolved"):
            raise InfeasibleBasket(f"the QP solver stopped with status {status}", constraint="solver")
        w = np.zeros(sp.names.size)
        w[candidates] = np.asarray(solution.x)[:m]
        w = _clean(w, sp)
        return _Solution(w=w, objective=self.objective(w), status=status)

    def _factor_block(self, candidates: np.ndarray) -> tuple:
        """Coordinates of -B_c' (k x m, row-major, exact zeros left out), cached per candidate set:
        the CCP re-solves the same candidates several times."""
        key = candidates.tobytes()
        if self._factor_cache[0] != key:
            block = -self.space.loadings[candidates].T
            f_rows, f_cols = np.nonzero(block)
            self._factor_cache = (key, (f_rows, f_cols, block[f_rows, f_cols]))
        return self._factor_cache[1]

    def objective(self, w: np.ndarray) -> float:
        a = w - self.space.wp
        y = self.space.loadings.T @ a
        return float(y @ y + np.sum(self.space.specific * a * a))


def _clean(w: np.ndarray, sp: _Space) -> np.ndarray:
    """Remove interior-point noise: clip to [0, cap], zero the dust, restore the exact sum."""
    w = np.clip(w, 0.0, sp.caps)
    w[w < _ZERO] = 0.0
    for _ in range(5):  # rescale the names below their cap until the budget is met exactly
        gap = sp.invested - w.sum()
        if abs(gap) <= 1e-15:
            break
        free = (w > 0) & (w < sp.caps) if gap > 0 else (w > 0)
        if not free.any():
            break
        w[free] *= 1 + gap / w[free].sum()
        w = np.minimum(w, sp.caps)
    return w


def _active_share(w: np.ndarray, sp: _Space) -> float:
    return float(np.clip(sp.wp - w, 0.0, None).sum() + sp.cash_under)


def _overlap_partition(w: np.ndarray, candidates: np.ndarray, sp: _Space) -> tuple[np.ndarray, float]:
    """Tangent of the overlap at ``w``: names at or below their portfolio weight count their basket
    weight (set L), names above count their portfolio weight (a constant). Returns (in_l over
    candidates, rhs of sum_{L} w <= rhs)."""
    wp_c, w_c = sp.wp[candidates], w[candidates]
    held = wp_c > 0
    in_l = held & (w_c <= wp_c + 1e-12)
    return in_l, _overlap_rhs(in_l, candidates, sp)


def _solve_band(solver: _Solver, candidates: np.ndarray, params: BasketParams, forced_out: float) -> tuple[_Solution, LowerBoundReport]:
    sp = solver.space
    first = solver.solve(candidates)
    if first is None:
        if solver.solve(candidates, upper=False) is not None:
            raise InfeasibleBasket(
                f"no basket keeps the Active Share Differential at or below {sp.max_as:.2%} "
                f"(forced-out weight {forced_out:.2%}) within the per-name and liquidity caps",
                constraint="max-active-share",
            )
        raise InfeasibleBasket(
            f"the per-name and liquidity caps of the {candidates.size} candidate(s) cannot hold {sp.invested:.2%} of assets",
            constraint="per-name-caps",
        )
    if _active_share(first.w, sp) >= sp.min_as - _CHECK / 10:
        return first, LowerBoundReport(
            binding=False,
            method="not-binding",
            forced_out_weight=forced_out,
            explanation=(
                f"the Active Share Differential {_active_share(first.w, sp):.2%} already meets the {sp.min_as:.2%} floor"
                + (" (protected and ineligible weight alone reach it)" if forced_out >= sp.min_as else "")
            ),
        )

    # convex-concave procedure on Basket Overlap <= 1 - min_as, from several seed partitions
    seeds = [("the names at or below their portfolio weight in the optimum without the floor", _overlap_partition(first.w, candidates, sp)[0])]
    for fraction in params.ccp_seed_fractions:
        seeds.append((f"the least overweight holdings making up {fraction:.0%} of the eligible held weight", _split_partition(first.w, candidates, sp, fraction)))
    best, best_label, total_iterations, excluded = None, "", 0, ()
    tried: list[np.ndarray] = []
    for label, in_l in seeds:
        if any(np.array_equal(in_l, other) for other in tried):
            continue
        tried.append(in_l)
        start = solver.solve(candidates, overlap_cap=(in_l, _overlap_rhs(in_l, candidates, sp)))
        if start is None:
            continue
        refined, iterations = _ccp_refine(solver, candidates, start, in_l, params)
        total_iterations += iterations
        if best is None or refined.objective < best.objective:
            best, best_label = refined, label
    method = "ccp"
    if best is None:
        start, excluded = _exclusion_start(solver, candidates, forced_out, params)
        best, iterations = _ccp_refine(solver, candidates, start, None, params)
        total_iterations += iterations
        method = "exclusion+ccp"
        best_label = f"a basket excluding the largest holdings {', '.join(map(str, excluded))} (no seed partition was feasible)"
    return best, LowerBoundReport(
        binding=True,
        method=method,
        forced_out_weight=forced_out,
        iterations=total_iterations,
        excluded=tuple(excluded),
        explanation=(
            f"protected and ineligible weight {forced_out:.2%} is below the {sp.min_as:.2%} floor: the floor was met as "
            f"Basket Overlap <= {1 - sp.min_as:.2%} by the convex-concave procedure ({total_iterations} QP(s)); "
            f"the best basket started from {best_label}"
        ),
    )


def _overlap_rhs(in_l: np.ndarray, candidates: np.ndarray, sp: _Space) -> float:
    """sum_{L} w <= 1 - min_as - cash overlap - sum_{G} w_p (G: held candidates not in L)."""
    wp_c = sp.wp[candidates]
    in_g = (wp_c > 0) & ~in_l
    return 1.0 - sp.min_as - sp.margin - sp.cash_overlap - float(wp_c[in_g].sum())


def _split_partition(w: np.ndarray, candidates: np.ndarray, sp: _Space, fraction: float) -> np.ndarray:
    """L = the held candidates least overweight at ``w`` whose portfolio weight adds up to ``fraction``."""
    wp_c, w_c = sp.wp[candidates], w[candidates]
    held = np.flatnonzero(wp_c > 0)
    order = held[np.argsort(w_c[held] - wp_c[held], kind="stable")]
    cumulative = np.cumsum(wp_c[order])
    count = int(np.searchsorted(cumulative, fraction * cumulative[-1] - 1e-12) + 1) if order.size else 0
    in_l = np.zeros(candidates.size, dtype=bool)
    in_l[order[:count]] = True
    return in_l


def _ccp_refine(solver: _Solver, candidates: np.ndarray, current: _Solution, used: np.ndarray | None, params: BasketParams) -> tuple[_Solution, int]:
    """Re-linearise the overlap at the current basket and re-solve until the partition settles."""
    iterations = 1 if used is not None else 0
    while iterations < params.ccp_max_iterations:
        in_l, rhs = _overlap_partition(current.w, candidates, solver.space)
        if used is not None and np.array_equal(in_l, used):
            break
        used = in_l
        step = solver.solve(candidates, overlap_cap=(in_l, rhs))
        iterations += 1
        if step is None:
            break
        improved = step.objective < current.objective * (1 - params.ccp_tolerance)
        if step.objective <= current.objective:
            current = step
        if not improved:
            break
    return current, iterations


def _exclusion_start(solver: _Solver, candidates: np.ndarray, forced_out: float, params: BasketParams) -> tuple[_Solution, list]:
    """A feasible basket for the floor: exclude the largest non-protected holdings until the
    forced-out weight reaches min_as, then solve without the floor (it holds automatically)."""
    sp = solver.space
    wp_c = sp.wp[candidates]
    order = np.argsort(-wp_c, kind="stable")
    need = sp.min_as + sp.margin - forced_out
    room = sp.max_as - sp.margin - forced_out  # excluding more than this would break the ceiling
    chosen, total = [], 0.0
    for position in order:
        if total >= need or wp_c[position] <= 0:
            break
        if total + wp_c[position] <= room:
            chosen.append(position)
            total += wp_c[position]
    if total < need:
        raise InfeasibleBasket(
            f"cannot reach the {sp.min_as:.2%} active-share floor: no seed partition was feasible and no set of "
            f"holdings weighs between {need:.2%} and {room:.2%} to exclude",
            constraint="min-active-share",
        )
    keep = np.ones(candidates.size, dtype=bool)
    keep[chosen] = False
    solution = solver.solve(candidates[keep])
    if solution is None:
        raise InfeasibleBasket(
            f"no basket reaches the {sp.min_as:.2%} active-share floor within the caps and the {sp.max_as:.2%} ceiling",
            constraint="min-active-share",
        )
    return solution, [sp.names[candidates[i]] for i in chosen]


# --- the public entry point ---------------------------------------------------------------------


def build_substitute_basket(
    portfolio_w: pd.Series,
    protected,
    universe_returns: pd.DataFrame,
    params: BasketParams | None = None,
    *,
    portfolio_cash: float = 0.0,
    eligible=None,
    prices: pd.Series | None = None,
    adv: pd.Series | None = None,
    covariance: CovarianceModel | None = None,
) -> BasketResult:
    """Build the Substitute Basket weights for one Fund and one day.

    - ``portfolio_w``: securities weights of the holdings behind the next NAV (Series by id);
      with ``portfolio_cash`` they must sum to one within ``params.weight_sum_tolerance``.
    - ``protected``: ids of the Protected Securities (never in the basket).
    - ``universe_returns``: daily returns, days x ids, oldest first; must cover every holding
      (protected ones included: the basket tracks them) and the eligible names.
    - ``eligible``: ids the basket may hold (Permissible Investments that passed the Fund's
      liquidity and price screens); default every column of ``universe_returns``. Protected ids
      are removed from it.
    - ``prices`` (per share) and ``adv`` (average daily volume, shares): for the liquidity cap.
    - ``covariance``: a ready ``CovarianceModel`` (estimated once a day over the whole universe and
      shared by every Fund, or given by a test); it replaces the estimate from ``universe_returns``,
      which may then be None. Names it does not cover count as names without history.

    Raises a ``BasketEngineError`` naming the failed constraint: ``InvalidParameters``,
    ``InvalidPortfolio``, ``InsufficientHistory``, ``EmptyUniverse`` or ``InfeasibleBasket``.
    """
    started = time.perf_counter()
    params = params or BasketParams()
    params.validate()
    wp = _validate_portfolio(portfolio_w, portfolio_cash, params.weight_sum_tolerance)
    protected_ids = pd.Index(list(protected)).unique()
    protected_held = wp.index.intersection(protected_ids)
    protected_weight = float(wp.loc[protected_held].sum())
    if len(protected_held) == len(wp):
        raise InfeasibleBasket(
            f"the protected set covers every holding ({protected_weight:.2%} of assets): nothing is left to publish",
            constraint="protected-covers-portfolio",
        )
    cash_b = portfolio_cash if params.basket_cash is None else params.basket_cash

    # history
    if covariance is not None:
        returns = None
        counts = pd.Series(params.min_history_days, index=covariance.tickers)
        available = covariance.tickers
    else:
        if not isinstance(universe_returns, pd.DataFrame) or universe_returns.shape[1] == 0:
            raise EmptyUniverse("no return history was given for any security", constraint="universe")
        returns = universe_returns.sort_index().iloc[-params.history_days :].astype(float)
        if len(returns) < params.min_history_days:
            raise InsufficientHistory(
                f"the return history has {len(returns)} day(s); at least {params.min_history_days} are needed",
                constraint="history",
            )
        counts = returns.notna().sum()
        available = returns.columns
    held_counts = counts.reindex(wp.index).to_numpy(dtype=float)  # vectorised: NaN = no history
    held_short = list(wp.index[~(held_counts >= params.min_history_days)])
    if held_short:
        raise InsufficientHistory(
            f"{len(held_short)} holding(s) have fewer than {params.min_history_days} daily returns in the last "
            f"{params.history_days} days, so their risk cannot be tracked: {sorted(map(str, held_short))[:10]}",
            constraint="history",
        )

    # candidates
    pool = available if eligible is None else pd.Index(list(eligible)).unique()
    pool = pool.difference(protected_ids, sort=False)
    if not params.allow_outside_names:
        pool = pool.intersection(wp.index, sort=False)
    pool_counts = counts.reindex(pool).to_numpy(dtype=float)
    no_history = list(pool[~(pool_counts >= params.min_history_days)])
    pool = pool.difference(pd.Index(no_history), sort=False)
    caps = pd.Series(params.max_weight, index=pool, dtype=float)
    dropped_liquidity: list = []
    if params.adv_fraction is not None:
        price = (prices if prices is not None else pd.Series(dtype=float)).reindex(pool).astype(float)
        volume = (adv if adv is not None else pd.Series(dtype=float)).reindex(pool).astype(float)
        liquidity_cap = params.adv_fraction * volume * price / params.nav_per_creation_unit
        usable = liquidity_cap.notna() & (price > 0) & (liquidity_cap >= max(params.min_weight, _ZERO))
        dropped_liquidity = sorted(map(str, pool[~usable.to_numpy()]))
        caps = np.minimum(caps[usable], liquidity_cap[usable])
    if caps.empty:
        raise EmptyUniverse(
            "no eligible security is left after removing protected names, names without enough history"
            + (" and names below the liquidity floor" if dropped_liquidity else ""),
            constraint="universe",
        )
    candidates_ids = caps.index
    ineligible = wp.index.difference(candidates_ids).difference(protected_held)
    forced_out = float(wp.loc[wp.index.difference(candidates_ids)].sum()) + max(portfolio_cash - cash_b, 0.0)
    invested = 1.0 - cash_b
    if forced_out > params.max_active_share + _CHECK:
        raise InfeasibleBasket(
            f"protected weight {protected_weight:.2%} plus ineligible holdings {float(wp.loc[ineligible].sum()):.2%} "
            f"give an Active Share Differential of at least {forced_out:.2%}, above the {params.max_active_share:.2%} ceiling",
            constraint="max-active-share",
        )
    if float(caps.sum()) < invested - _CHECK:
        raise InfeasibleBasket(
            f"the {len(caps)} eligible names can hold at most {float(caps.sum()):.2%} under their per-name and liquidity caps; "
            f"the basket must invest {invested:.2%}",
            constraint="per-name-caps",
        )
    if params.max_names is not None and float(caps.nlargest(params.max_names).sum()) < invested - _CHECK:
        raise InfeasibleBasket(
            f"{params.max_names} names under their caps cannot hold {invested:.2%} of assets",
            constraint="max-names",
        )

    if params.max_names is not None:
        reachable = wp.reindex(candidates_ids, fill_value=0.0).clip(upper=caps).nlargest(params.max_names).sum()
        best_share = 1.0 - float(reachable) - min(portfolio_cash, cash_b)
        if best_share > params.max_active_share + _CHECK:
            raise InfeasibleBasket(
                f"with at most {params.max_names} names the basket overlaps at most {float(reachable):.2%} of the "
                f"portfolio's securities: Active Share Differential >= {best_share:.2%}, above the {params.max_active_share:.2%} ceiling",
                constraint="max-names",
            )

    # risk model over holdings and candidates
    names = wp.index.append(candidates_ids.difference(wp.index, sort=False))
    if covariance is not None:
        model = covariance.subset(names)
    else:
        options = {"n_factors": params.pca_factors} if params.risk_model == "pca" else {}
        model = estimate_covariance(returns.loc[:, names], params.risk_model, groups=params.risk_groups, **options)
    scale = 1.0 / float(np.mean(model.variances().to_numpy()))
    space = _Space(
        names=names,
        loadings=model.loadings * math.sqrt(scale),
        specific=model.specific * scale,
        wp=wp.reindex(names, fill_value=0.0).to_numpy(),
        caps=caps.reindex(names, fill_value=0.0).to_numpy(),
        invested=invested,
        cash_under=max(portfolio_cash - cash_b, 0.0),
        cash_overlap=min(portfolio_cash, cash_b),
        min_as=params.min_active_share,
        max_as=params.max_active_share,
    )
    solver = _Solver(space)
    candidates = names.get_indexer(candidates_ids)

    # solve; then enforce max_names / min_weight by re-solving on the kept names
    notes: list[str] = []
    rounds = 0
    while True:
        rounds += 1
        # forced-out weight for this candidate set (held names no longer candidates count too)
        forced = float(space.wp.sum() - space.wp[candidates].sum()) + space.cash_under
        solution, lower_bound = _solve_band(solver, candidates, params, forced)
        w_c = solution.w[candidates]
        keep = w_c >= max(params.min_weight, _ZERO)
        if params.max_names is not None and keep.sum() > params.max_names:
            # rank by max(basket weight, portfolio weight): large holdings stay candidates, so the
            # re-solve keeps the overlap (and the active-share ceiling) within reach
            score = np.where(keep, np.maximum(w_c, space.wp[candidates]), -1.0)
            ranked = np.argsort(-score, kind="stable")[: params.max_names]
            keep = np.zeros_like(keep)
            keep[ranked] = True
        positive = w_c > 0
        if np.array_equal(keep, positive) or rounds >= params.max_rounds:
            if not np.array_equal(keep, positive):
                notes.append(f"stopped after {rounds} rounds with {int(positive.sum())} names; some weights are below min_weight")
            break
        if params.max_names is not None and positive.sum() > params.max_names:
            notes.append(f"round {rounds}: {int(positive.sum())} names, kept the {params.max_names} largest and re-solved")
        candidates = candidates[keep]

    weights = pd.Series(solution.w, index=names)
    weights = weights[weights > 0].sort_values(ascending=False, kind="stable")
    _verify(weights, caps, space, params)

    active = weights.reindex(names, fill_value=0.0) - wp.reindex(names, fill_value=0.0)
    variance = model.quadratic_form(active)
    capped = tuple(sorted(map(str, weights.index[(weights >= caps.reindex(weights.index) - 1e-7).to_numpy()])))
    diagnostics = BasketDiagnostics(
        tracking_variance=variance,
        ex_ante_te_daily_pct=math.sqrt(max(variance, 0.0)) * 100,
        ex_ante_te_annual_pct=math.sqrt(max(variance, 0.0) * metrics.TRADING_DAYS_PER_YEAR) * 100,
        active_share=metrics.active_share(wp, weights, portfolio_cash=portfolio_cash, basket_cash=cash_b),
        basket_overlap=metrics.basket_overlap(wp, weights, portfolio_cash=portfolio_cash, basket_cash=cash_b),
        represented_share=metrics.represented_share(wp, weights),
        n_names=int(weights.size),
        protected_weight=protected_weight,
        lower_bound=lower_bound,
        risk_model=model.method,
        shrinkage=model.shrinkage,
        n_observations=model.n_observations,
        n_candidates=int(len(candidates_ids)),
        capped=capped,
        dropped_history=tuple(sorted(map(str, no_history))),
        dropped_liquidity=tuple(dropped_liquidity),
        ineligible_holdings=tuple(sorted(map(str, ineligible))),
        protected_not_held=tuple(sorted(map(str, protected_ids.difference(wp.index)))),
        solves=solver.solves,
        rounds=rounds,
        solve_seconds=solver.seconds,
        total_seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )
    return BasketResult(weights=weights, cash_weight=cash_b, diagnostics=diagnostics, caps=caps)


def _verify(weights: pd.Series, caps: pd.Series, sp: _Space, params: BasketParams) -> None:
    """Check the returned basket against every constraint; a violation is a bug, raised loudly."""
    problems = []
    if (weights < 0).any():
        problems.append("negative weight")
    if abs(float(weights.sum()) - sp.invested) > _CHECK:
        problems.append(f"weights sum to {float(weights.sum()):.6f}, not {sp.invested:.6f}")
    over = weights - caps.reindex(weights.index)
    if over.isna().any():
        problems.append(f"non-candidate in basket: {list(over.index[over.isna()])[:5]}")
    elif (over > _CHECK).any():
        problems.append(f"cap exceeded: {list(over.index[over > _CHECK])[:5]}")
    w = weights.reindex(sp.names, fill_value=0.0).to_numpy()
    share = _active_share(w, sp)
    if share > sp.max_as + _CHECK or share < sp.min_as - _CHECK:
        problems.append(f"active share {share:.4%} outside [{sp.min_as:.2%}, {sp.max_as:.2%}]")
    if params.max_names is not None and weights.size > params.max_names:
        problems.append(f"{weights.size} names > {params.max_names}")
    if problems:
        raise InfeasibleBasket("the solver's basket breaks: " + "; ".join(problems), constraint="verification")


def naive_basket(portfolio_w: pd.Series, protected, *, portfolio_cash: float = 0.0) -> pd.Series:
    """The benchmark's naive basket: drop the protected names and rescale the rest (same cash)."""
    wp = pd.Series(portfolio_w, dtype=float)
    kept = wp.drop(labels=list(protected), errors="ignore")
    kept = kept[kept > 0]
    if kept.empty:
        raise InfeasibleBasket("the protected set covers every holding", constraint="protected-covers-portfolio")
    return kept * ((1.0 - portfolio_cash) / float(kept.sum()))


__all__ = [
    "BasketParams",
    "BasketResult",
    "BasketDiagnostics",
    "LowerBoundReport",
    "CovarianceModel",
    "build_substitute_basket",
    "naive_basket",
]
