"""The Substitute Basket optimiser: hand-checkable optima, every constraint, named errors (no database).

Most cases pass a ready covariance S = sigma^2 * I (plus a correlated pair where needed), so the
optimum of min (w_b - w_p)' S (w_b - w_p) can be worked out with a Lagrange multiplier: with equal
uncorrelated names and only the budget constraint, every free name moves by the same amount.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from baskets.engine.errors import (
    BasketEngineError,
    EmptyUniverse,
    InfeasibleBasket,
    InsufficientHistory,
    InvalidParameters,
    InvalidPortfolio,
)
from baskets.engine.metrics import active_share, basket_overlap
from baskets.engine.optimizer import BasketParams, build_substitute_basket, naive_basket
from baskets.engine.risk import CovarianceModel

SIGMA2 = 1e-4  # daily variance of every name: 1% daily volatility
LOOSE = BasketParams(max_weight=1.0)
PORTFOLIO = pd.Series({"A": 0.4, "B": 0.3, "C": 0.2, "D": 0.1})


def identity(names, pairs=None):
    """sigma^2 * I, with optional correlated pairs {(x, y): rho} written as a shared factor."""
    names = list(names)
    specific = np.full(len(names), SIGMA2)
    columns = []
    for (x, y), rho in (pairs or {}).items():
        # x = sqrt(rho) f + e_x, y = sqrt(rho) f + e_y: var 1, cov rho (in units of sigma^2)
        column = np.zeros(len(names))
        column[[names.index(x), names.index(y)]] = np.sqrt(rho * SIGMA2)
        specific[[names.index(x), names.index(y)]] = (1 - rho) * SIGMA2
        columns.append(column)
    loadings = np.column_stack(columns) if columns else np.zeros((len(names), 0))
    return CovarianceModel(pd.Index(names), loadings, specific, "test", 252)


def assert_weights(result, expected: dict):
    got = result.weights.to_dict()
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=2e-6), name


# --- hand-checkable optima ---------------------------------------------------------------------


def test_protected_weight_is_spread_evenly_over_uncorrelated_names():
    # given: D (10%) protected; A, B, C uncorrelated with equal variance
    # when
    result = build_substitute_basket(PORTFOLIO, ["D"], None, LOOSE, covariance=identity("ABCD"))
    # then: min sum a_i^2 with a_A + a_B + a_C = .1 -> each +.1/3: .4333, .3333, .2333
    assert_weights(result, {"A": 0.4 + 0.1 / 3, "B": 0.3 + 0.1 / 3, "C": 0.2 + 0.1 / 3})
    d = result.diagnostics
    # active share = the only underweight, D's 10%; overlap = .4 + .3 + .2 = .9
    assert d.active_share == pytest.approx(0.10)
    assert d.basket_overlap == pytest.approx(0.90)
    assert d.represented_share == pytest.approx(0.90)
    assert d.protected_weight == pytest.approx(0.10)
    # a'Sa = sigma^2 (3 * (1/30)^2 + .1^2) = sigma^2 * (.003333 + .01) = 1.3333e-6
    assert d.tracking_variance == pytest.approx(SIGMA2 * (3 / 900 + 0.01))
    assert d.ex_ante_te_daily_pct == pytest.approx(np.sqrt(SIGMA2 * (3 / 900 + 0.01)) * 100)
    assert not d.lower_bound.binding and d.lower_bound.method == "not-binding"


def test_names_outside_the_portfolio_may_enter():
    # given: E is eligible but not held (footnote 34)
    result = build_substitute_basket(PORTFOLIO, ["D"], None, LOOSE, covariance=identity("ABCDE"))
    # then: four free names share the .1: +.025 each; E enters at .025
    assert_weights(result, {"A": 0.425, "B": 0.325, "C": 0.225, "E": 0.025})
    # unless outside names are switched off
    inside = build_substitute_basket(PORTFOLIO, ["D"], None, BasketParams(max_weight=1.0, allow_outside_names=False), covariance=identity("ABCDE"))
    assert_weights(inside, {"A": 0.4 + 0.1 / 3, "B": 0.3 + 0.1 / 3, "C": 0.2 + 0.1 / 3})


def test_a_correlated_outside_name_tracks_the_protected_one():
    # given: E outside the portfolio with correlation .99 to the protected D
    cov = identity("ABCDE", pairs={("D", "E"): 0.99})
    # when
    result = build_substitute_basket(PORTFOLIO, ["D"], None, LOOSE, covariance=cov)
    # then: Lagrange: 2 a_i = lambda (A, B, C); 2 a_E - 2 * .99 * .1 = lambda -> a_E = a + .099;
    # budget 3a + a + .099 = .1 -> a = .00025, a_E = .09925
    assert_weights(result, {"A": 0.40025, "B": 0.30025, "C": 0.20025, "E": 0.09925})
    assert result.diagnostics.active_share == pytest.approx(0.10)


def test_per_name_cap():
    # given: cap .42; unconstrained A would be .4333
    result = build_substitute_basket(PORTFOLIO, ["D"], None, BasketParams(max_weight=0.42), covariance=identity("ABCD"))
    # then: A takes .02 up to its cap, B and C share the other .08: +.04 each
    assert_weights(result, {"A": 0.42, "B": 0.34, "C": 0.24})
    assert result.diagnostics.capped == ("A",)


def test_liquidity_cap_from_average_daily_volume():
    # given: NAV per Creation Unit $1,000,000; quantity per CU at most 1% of ADV
    # A: price $100, ADV 420,000 shares -> at most 4,200 shares = $420,000 = 42% of the CU
    prices = pd.Series({"A": 100.0, "B": 50.0, "C": 20.0, "D": 10.0})
    adv = pd.Series({"A": 420_000.0, "B": 10_000_000.0, "C": 10_000_000.0, "D": 10_000_000.0})
    params = BasketParams(max_weight=1.0, adv_fraction=0.01, nav_per_creation_unit=1_000_000.0)
    # when
    result = build_substitute_basket(PORTFOLIO, ["D"], None, params, prices=prices, adv=adv, covariance=identity("ABCD"))
    # then: the same optimum as a 42% per-name cap
    assert_weights(result, {"A": 0.42, "B": 0.34, "C": 0.24})
    assert result.caps["A"] == pytest.approx(0.42)
    # quantities implied: A .42 * 1e6 / 100 = 4,200 shares = 1% of 420,000
    assert result.weights["A"] * 1_000_000 / 100 <= 0.01 * 420_000 + 1e-6


def test_a_holding_without_liquidity_data_is_ineligible():
    prices = pd.Series({"A": 100.0, "B": 50.0, "D": 10.0})  # no price for C
    adv = pd.Series({"A": 1e9, "B": 1e9, "C": 1e9, "D": 1e9})
    params = BasketParams(max_weight=1.0, adv_fraction=0.01, nav_per_creation_unit=1_000_000.0)
    result = build_substitute_basket(PORTFOLIO, ["D"], None, params, prices=prices, adv=adv, covariance=identity("ABCD"))
    # C (.2) and D (.1) are out: A and B share .3 -> +.15 each; active share = .3
    assert_weights(result, {"A": 0.55, "B": 0.45})
    assert result.diagnostics.dropped_liquidity == ("C",)
    assert result.diagnostics.ineligible_holdings == ("C",)
    assert result.diagnostics.active_share == pytest.approx(0.30)


def test_cash_leg():
    # given: the Fund holds 5% cash; securities .38/.285/.19/.095 (the portfolio above x .95)
    wp = PORTFOLIO * 0.95
    # when: the basket holds the same cash by default
    result = build_substitute_basket(wp, ["D"], None, LOOSE, portfolio_cash=0.05, covariance=identity("ABCD"))
    # then: D's .095 spread over three: +.031667 each; cash .05; active share .095 (cash in common)
    assert result.cash_weight == 0.05
    assert result.weights.sum() == pytest.approx(0.95)
    assert_weights(result, {"A": 0.38 + 0.095 / 3, "B": 0.285 + 0.095 / 3, "C": 0.19 + 0.095 / 3})
    assert result.diagnostics.active_share == pytest.approx(0.095)
    assert result.diagnostics.basket_overlap == pytest.approx(0.905)  # .38 + .285 + .19 + cash .05
    # and a fully invested basket: cash is one more underweight line
    invested = build_substitute_basket(wp, ["D"], None, BasketParams(max_weight=1.0, basket_cash=0.0), portfolio_cash=0.05, covariance=identity("ABCD"))
    assert invested.weights.sum() == pytest.approx(1.0)
    # .145 (D .095 + cash .05) spread over three: +.048333 each; active share .145
    assert_weights(invested, {"A": 0.38 + 0.145 / 3, "B": 0.285 + 0.145 / 3, "C": 0.19 + 0.145 / 3})
    assert invested.diagnostics.active_share == pytest.approx(0.145)


def test_max_names_keeps_the_largest_and_re_solves():
    # given: the unconstrained basket holds A, B, C, E (E at .025); at most 3 names
    params = BasketParams(max_weight=1.0, max_names=3)
    result = build_substitute_basket(PORTFOLIO, ["D"], None, params, covariance=identity("ABCDE"))
    # then: E dropped, re-solved over A, B, C: +.1/3 each
    assert_weights(result, {"A": 0.4 + 0.1 / 3, "B": 0.3 + 0.1 / 3, "C": 0.2 + 0.1 / 3})
    assert result.diagnostics.rounds == 2
    assert "kept the 3 largest" in result.diagnostics.notes[0]


def test_min_weight_drops_dust():
    result = build_substitute_basket(PORTFOLIO, ["D"], None, BasketParams(max_weight=1.0, min_weight=0.03), covariance=identity("ABCDE"))
    assert "E" not in result.weights.index


# --- the 5% lower bound --------------------------------------------------------------------------

TEN = [f"N{i}" for i in range(10)]
EQUAL = pd.Series({**{n: 0.098 for n in TEN}, "P": 0.02})


def test_lower_bound_reached_by_the_convex_concave_procedure():
    # given: ten equal uncorrelated names at 9.8% and a 2% protected name: without the floor each
    # name gets +.2% and the active share is only 2%
    # when
    result = build_substitute_basket(EQUAL, ["P"], None, LOOSE, covariance=identity(TEN + ["P"]))
    # then: the half-split seed puts N0-N4 below their weight: they give up .03 (.006 each, to
    # .092) and N5-N9 take .05 (.01 each, to .108). Active share = .02 + .03 = .05.
    # a'Sa = sigma^2 (.02^2 + 5 * .006^2 + 5 * .01^2) = sigma^2 (.0004 + .00018 + .0005) = .00108 sigma^2
    assert_weights(result, {**{n: 0.092 for n in TEN[:5]}, **{n: 0.108 for n in TEN[5:]}})
    d = result.diagnostics
    assert d.active_share == pytest.approx(0.05, abs=1e-5)
    assert d.active_share >= 0.05
    assert d.tracking_variance == pytest.approx(0.00108 * SIGMA2, rel=1e-4)
    assert d.lower_bound.binding and d.lower_bound.method == "ccp"
    assert "2.00% is below the 5.00% floor" in d.lower_bound.explanation


def test_lower_bound_by_exclusion_when_no_seed_is_feasible():
    # given: only the tangent seed (every name overweight: infeasible)
    params = BasketParams(max_weight=1.0, ccp_seed_fractions=())
    # when
    result = build_substitute_basket(EQUAL, ["P"], None, params, covariance=identity(TEN + ["P"]))
    # then: N0 (largest, first) is excluded: .098 + .02 >= .05; the procedure then lets N0 back up
    # to .068 (overlap .95 = .068 + 9 * .098); the other nine share .02 + .03: +.005556 each
    # a'Sa = sigma^2 (.02^2 + .03^2 + 9 * (.05/9)^2) = sigma^2 (.0004 + .0009 + .00027778)
    assert_weights(result, {"N0": 0.068, **{n: 0.098 + 0.05 / 9 for n in TEN[1:]}})
    d = result.diagnostics
    assert d.lower_bound.method == "exclusion+ccp"
    assert d.lower_bound.excluded == ("N0",)
    assert d.tracking_variance == pytest.approx((0.0004 + 0.0009 + 0.0025 / 9) * SIGMA2, rel=1e-4)
    assert d.active_share >= 0.05


def test_lower_bound_with_nothing_protected():
    # given: no protected name at all, universe = portfolio
    wp = pd.Series({n: 0.1 for n in TEN})
    result = build_substitute_basket(wp, [], None, LOOSE, covariance=identity(TEN))
    # then: still 5% away from the portfolio, said how
    assert result.diagnostics.active_share >= 0.05
    assert result.diagnostics.active_share == pytest.approx(0.05, abs=1e-5)
    assert result.diagnostics.lower_bound.binding


def test_upper_bound_binds():
    # given: a random factor market where the unconstrained basket moves well beyond the protected weight
    returns = _factor_returns(names=40, days=300, seed=7)
    wp = pd.Series(1 / 20, index=returns.columns[:20])
    protected = list(returns.columns[:2])  # 10%
    free = build_substitute_basket(wp, protected, returns, BasketParams(max_weight=0.2))
    assert free.diagnostics.active_share > 0.12  # precondition of the test
    ceiling = round((free.diagnostics.active_share + 0.10) / 2, 4)
    # when
    capped = build_substitute_basket(wp, protected, returns, BasketParams(max_weight=0.2, max_active_share=ceiling))
    # then
    assert capped.diagnostics.active_share <= ceiling + 1e-9
    assert capped.diagnostics.active_share == pytest.approx(ceiling, abs=1e-4)
    assert capped.diagnostics.tracking_variance >= free.diagnostics.tracking_variance * (1 - 1e-6)


# --- with a return history -----------------------------------------------------------------------


def _factor_returns(names=30, days=300, seed=0):
    rng = np.random.default_rng(seed)
    factors = rng.normal(0, 0.01, (days, 3))
    beta = rng.normal(1, 0.5, (3, names))
    data = factors @ beta + rng.normal(0, 0.012, (days, names))
    return pd.DataFrame(data, index=pd.bdate_range("2023-01-02", periods=days), columns=[f"S{i:02d}" for i in range(names)])


@pytest.mark.parametrize("model", ["lw_cc", "lw_identity", "pca", "sample"])
def test_builds_from_a_return_history_with_every_risk_model(model):
    returns = _factor_returns()
    wp = pd.Series(np.linspace(1, 2, 15), index=returns.columns[:15])
    wp /= wp.sum()
    result = build_substitute_basket(wp, list(returns.columns[:2]), returns, BasketParams(risk_model=model))
    d = result.diagnostics
    assert d.risk_model == model
    assert d.n_observations == 252  # the last history_days rows
    assert 0.05 <= d.active_share <= 0.30
    assert set(result.weights.index).isdisjoint(returns.columns[:2])


def test_eligible_names_with_short_history_are_dropped_and_reported():
    returns = _factor_returns()
    returns.iloc[:250, 25] = np.nan  # S25: 50 returns
    wp = pd.Series(1 / 10, index=returns.columns[:10])
    result = build_substitute_basket(wp, ["S00"], returns)
    assert result.diagnostics.dropped_history == ("S25",)
    assert "S25" not in result.weights.index


def test_the_engine_beats_the_naive_basket_ex_ante():
    returns = _factor_returns(names=60, seed=3)
    wp = pd.Series(1 / 30, index=returns.columns[:30])
    protected = list(returns.columns[:4])
    result = build_substitute_basket(wp, protected, returns, BasketParams(risk_model="lw_cc"))
    naive = naive_basket(wp, protected)
    from baskets.engine.risk import ledoit_wolf_constant_correlation

    model = ledoit_wolf_constant_correlation(returns.iloc[-252:])
    active_naive = naive.reindex(returns.columns, fill_value=0) - wp.reindex(returns.columns, fill_value=0)
    assert result.diagnostics.tracking_variance < model.quadratic_form(active_naive)


def test_naive_basket():
    # drop D (.1) and rescale: A .4/.9, B .3/.9, C .2/.9
    naive = naive_basket(PORTFOLIO, ["D"])
    assert naive.to_dict() == pytest.approx({"A": 4 / 9, "B": 3 / 9, "C": 2 / 9})


# --- every constraint, on random problems ---------------------------------------------------------


@st.composite
def problems(draw):
    n_held = draw(st.integers(4, 12))
    n_outside = draw(st.integers(0, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    names = [f"H{i}" for i in range(n_held)] + [f"O{i}" for i in range(n_outside)]
    raw = rng.uniform(0.2, 1.0, n_held)
    cash = draw(st.sampled_from([0.0, 0.0, 0.02]))
    wp = pd.Series(raw / raw.sum() * (1 - cash), index=names[:n_held])
    k = draw(st.integers(0, 3))
    loadings = rng.normal(0, 0.01, (len(names), k))
    specific = rng.uniform(0.5, 2.0, len(names)) * 1e-4
    cov = CovarianceModel(pd.Index(names), loadings, specific, "test", 252)
    n_protected = draw(st.integers(0, max(0, n_held // 3)))
    protected = list(rng.choice(wp.index, size=n_protected, replace=False))
    params = BasketParams(
        max_weight=draw(st.floats(0.15, 0.6)),
        max_names=draw(st.one_of(st.none(), st.integers(n_held // 2 + 1, n_held + n_outside))),
        min_active_share=0.05,
        max_active_share=draw(st.floats(0.05, 0.30)),
        basket_cash=draw(st.sampled_from([None, 0.0])),
    )
    return wp, cash, protected, cov, params


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_constraint_holds_or_a_named_error_is_raised(problem):
    wp, cash, protected, cov, params = problem
    try:
        result = build_substitute_basket(wp, protected, None, params, portfolio_cash=cash, covariance=cov)
    except InfeasibleBasket as error:
        assert error.constraint in {"max-active-share", "min-active-share", "per-name-caps", "max-names"}
        assume(False)
        return
    w, basket_cash = result.weights, result.cash_weight
    assert (w > 0).all()
    assert w.sum() + basket_cash == pytest.approx(1.0, abs=1e-6)
    assert (w <= params.max_weight + 1e-6).all()
    assert set(w.index).isdisjoint(protected)
    share = active_share(wp, w, portfolio_cash=cash, basket_cash=basket_cash)
    assert params.min_active_share - 1e-6 <= share <= params.max_active_share + 1e-6
    assert basket_overlap(wp, w, portfolio_cash=cash, basket_cash=basket_cash) == pytest.approx(1 - share, abs=1e-8)
    if params.max_names is not None:
        assert len(w) <= params.max_names
    assert result.diagnostics.active_share == pytest.approx(share, abs=1e-9)


# --- bad input: named errors ------------------------------------------------------------------------


def test_weights_not_summing_to_one():
    with pytest.raises(InvalidPortfolio, match="sum to 0.950000, not 1") as caught:
        build_substitute_basket(PORTFOLIO * 0.95, ["D"], None, covariance=identity("ABCD"))
    assert caught.value.constraint == "weights-sum-to-one"
    assert "[weights-sum-to-one]" in str(caught.value)


def test_small_rounding_in_weights_is_tolerated():
    wp = PORTFOLIO.copy()
    wp["A"] += 5e-5
    result = build_substitute_basket(wp, ["D"], None, LOOSE, covariance=identity("ABCD"))
    assert result.weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "weights, constraint",
    [
        (pd.Series({"A": 1.2, "B": -0.2}), "portfolio-long-only"),
        (pd.Series({"A": np.nan, "B": 1.0}), "portfolio-finite"),
        (pd.Series(dtype=float), "portfolio-empty"),
        (pd.Series([0.5, 0.5], index=["A", "A"]), "portfolio-duplicates"),
    ],
)
def test_malformed_portfolios(weights, constraint):
    with pytest.raises(InvalidPortfolio) as caught:
        build_substitute_basket(weights, [], None, covariance=identity("ABCD"))
    assert caught.value.constraint == constraint


def test_protected_set_covering_everything():
    with pytest.raises(InfeasibleBasket, match="covers every holding") as caught:
        build_substitute_basket(PORTFOLIO, list("ABCD"), None, covariance=identity("ABCDE"))
    assert caught.value.constraint == "protected-covers-portfolio"


def test_protected_weight_above_the_ceiling():
    with pytest.raises(InfeasibleBasket, match="above the 30.00% ceiling") as caught:
        build_substitute_basket(PORTFOLIO, ["A"], None, covariance=identity("ABCD"))
    assert caught.value.constraint == "max-active-share"


def test_ceiling_unreachable_within_caps():
    # D protected (.1) and A capped at .3 (.1 underweight): active share >= .2 > .15
    params = BasketParams(max_weight=0.3, max_active_share=0.15)
    with pytest.raises(InfeasibleBasket, match="at or below 15.00%") as caught:
        build_substitute_basket(PORTFOLIO, ["D"], None, params, covariance=identity("ABCDEFG"))
    assert caught.value.constraint == "max-active-share"


def test_caps_too_tight():
    with pytest.raises(InfeasibleBasket, match="can hold at most 60.00%") as caught:
        build_substitute_basket(PORTFOLIO, ["D"], None, BasketParams(max_weight=0.2), covariance=identity("ABCD"))
    assert caught.value.constraint == "per-name-caps"


def test_too_few_names_allowed():
    with pytest.raises(InfeasibleBasket) as caught:
        build_substitute_basket(PORTFOLIO, ["D"], None, BasketParams(max_weight=0.3, max_names=2), covariance=identity("ABCDE"))
    assert caught.value.constraint == "max-names"


def test_too_little_price_history():
    returns = _factor_returns(days=100)
    wp = pd.Series(1 / 10, index=returns.columns[:10])
    with pytest.raises(InsufficientHistory, match="100 day\\(s\\); at least 126") as caught:
        build_substitute_basket(wp, ["S00"], returns)
    assert caught.value.constraint == "history"


def test_a_holding_without_enough_history_is_named():
    returns = _factor_returns()
    returns.iloc[:200, 3] = np.nan  # S03 held, only 100 returns
    wp = pd.Series(1 / 10, index=returns.columns[:10])
    with pytest.raises(InsufficientHistory, match="S03"):
        build_substitute_basket(wp, ["S00"], returns)


def test_a_holding_missing_from_the_history_is_named():
    returns = _factor_returns()
    wp = pd.Series(1 / 10, index=list(returns.columns[:9]) + ["NEW"])
    with pytest.raises(InsufficientHistory, match="NEW"):
        build_substitute_basket(wp, ["S00"], returns)


def test_empty_universe():
    with pytest.raises(EmptyUniverse) as caught:
        build_substitute_basket(PORTFOLIO, ["D"], None, covariance=identity("ABCD"), eligible=["D"])
    assert caught.value.constraint == "universe"
    with pytest.raises(EmptyUniverse):
        build_substitute_basket(PORTFOLIO, ["D"], pd.DataFrame())


@pytest.mark.parametrize(
    "params, constraint",
    [
        (BasketParams(min_active_share=0.04), "active-share-band"),
        (BasketParams(max_active_share=0.31), "active-share-band"),
        (BasketParams(min_active_share=0.2, max_active_share=0.1), "active-share-band"),
        (BasketParams(max_weight=0.0), "max-weight"),
        (BasketParams(adv_fraction=0.01), "liquidity"),
        (BasketParams(risk_model="magic"), "risk-model"),
    ],
)
def test_parameters_outside_the_application(params, constraint):
    with pytest.raises(InvalidParameters) as caught:
        build_substitute_basket(PORTFOLIO, ["D"], None, params, covariance=identity("ABCD"))
    assert caught.value.constraint == constraint


def test_every_engine_error_is_a_value_error():
    assert issubclass(BasketEngineError, ValueError)


def test_the_qp_optimum_matches_an_independent_solver():
    # given: 14 names (10 held, 2 protected, 4 outside), a 3-factor covariance; without a ceiling
    # this draw's basket has an active share of 20.3% against 14.8% protected: a 17.8% ceiling binds
    from scipy.optimize import minimize

    rng = np.random.default_rng(16)
    names = [f"H{i}" for i in range(10)] + [f"O{i}" for i in range(4)]
    loadings = rng.normal(0, 0.02, (14, 3))
    specific = rng.uniform(0.2, 2.0, 14) * 1e-4
    cov = CovarianceModel(pd.Index(names), loadings, specific, "test", 252)
    wp = pd.Series(rng.uniform(0.5, 1.5, 10), index=names[:10])
    wp /= wp.sum()
    protected = ["H0", "H1"]
    params = BasketParams(max_weight=0.25, max_active_share=round(wp[protected].sum() + 0.03, 4))
    # when
    result = build_substitute_basket(wp, protected, None, params, covariance=cov)
    # then: SLSQP on the same problem in the plain form (w over the 12 free names, u >= wp - w)
    dense = cov.dense().to_numpy()
    free = [n for n in names if n not in protected]
    index = [names.index(n) for n in free]
    held_free = [i for i, n in enumerate(free) if n in wp.index]
    wp_full = wp.reindex(names, fill_value=0).to_numpy()

    def objective(x):
        w = np.zeros(14)
        w[index] = x[:12]
        a = w - wp_full
        return a @ dense @ a * 1e4  # scaled for SLSQP's absolute tolerances

    constraints = [
        {"type": "eq", "fun": lambda x: x[:12].sum() - 1.0},
        {"type": "ineq", "fun": lambda x: params.max_active_share - wp[protected].sum() - x[12:].sum()},
    ]
    for j, i in enumerate(held_free):
        constraints.append({"type": "ineq", "fun": lambda x, i=i, j=j: x[12 + j] - (wp[free[i]] - x[i])})
    x0 = np.concatenate([naive_basket(wp, protected).reindex(free, fill_value=0).to_numpy(), np.zeros(len(held_free))])
    bounds = [(0, 0.25)] * 12 + [(0, None)] * len(held_free)
    reference = minimize(objective, x0, method="SLSQP", bounds=bounds, constraints=constraints, options={"ftol": 1e-14, "maxiter": 500})
    assert reference.success
    engine = result.diagnostics.tracking_variance * 1e4
    assert engine <= reference.fun * (1 + 1e-4)
    assert engine == pytest.approx(reference.fun, rel=1e-3)
    assert result.diagnostics.active_share == pytest.approx(params.max_active_share, abs=1e-5)  # the ceiling binds


def test_too_few_names_to_stay_under_the_ceiling():
    # with one name the basket overlaps at most A's .4: active share >= .6 > .3
    with pytest.raises(InfeasibleBasket, match="overlaps at most 40.00%") as caught:
        build_substitute_basket(PORTFOLIO, ["D"], None, BasketParams(max_weight=1.0, max_names=1), covariance=identity("ABCDE"))
    assert caught.value.constraint == "max-names"
