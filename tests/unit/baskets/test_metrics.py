"""Substitute Basket Metrics against hand computations and properties (no database)."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from baskets.engine.errors import MetricInputError
from baskets.engine.metrics import (
    active_share,
    basket_nav_per_share,
    basket_overlap,
    basket_return,
    ex_ante_tracking_error,
    names_count,
    proxy_spread,
    proxy_spreads_from_returns,
    represented_share,
    return_correlation,
    rolling_tracking_error,
    tracking_error,
)

PORTFOLIO = pd.Series({"AAA": 0.40, "BBB": 0.30, "CCC": 0.20, "DDD": 0.10})
BASKET = pd.Series({"AAA": 0.35, "BBB": 0.35, "CCC": 0.20, "EEE": 0.10})


# --- Basket Overlap and Active Share Differential -------------------------------------------


def test_overlap_matches_hand_computation():
    # given: common names AAA, BBB, CCC; DDD only in the portfolio, EEE only in the basket
    # when
    overlap = basket_overlap(PORTFOLIO, BASKET)
    # then: min(.40,.35) + min(.30,.35) + min(.20,.20) = .35 + .30 + .20 = .85
    assert overlap == pytest.approx(0.85)


def test_active_share_matches_hand_computation():
    # when
    share = active_share(PORTFOLIO, BASKET)
    # then: |.40-.35| + |.30-.35| + |.20-.20| + |.10-0| + |0-.10| = .05 + .05 + 0 + .10 + .10 = .30; / 2 = .15
    assert share == pytest.approx(0.15)


def test_no_overlap():
    # given: disjoint holdings
    p = pd.Series({"AAA": 0.6, "BBB": 0.4})
    b = pd.Series({"CCC": 0.5, "DDD": 0.5})
    # then: nothing in common, everything differs
    assert basket_overlap(p, b) == 0.0
    assert active_share(p, b) == pytest.approx(1.0)
    assert represented_share(p, b) == 0.0


def test_identical_portfolios():
    assert basket_overlap(PORTFOLIO, PORTFOLIO) == pytest.approx(1.0)
    assert active_share(PORTFOLIO, PORTFOLIO) == 0.0
    assert represented_share(PORTFOLIO, PORTFOLIO) == pytest.approx(1.0)


def test_cash_legs_count_as_a_common_asset():
    # given: Fund 97% AAA + 3% cash; basket 95% AAA + 5% cash
    p = pd.Series({"AAA": 0.97})
    b = pd.Series({"AAA": 0.95})
    # when / then: overlap = min(.97,.95) + min(.03,.05) = .95 + .03 = .98
    assert basket_overlap(p, b, portfolio_cash=0.03, basket_cash=0.05) == pytest.approx(0.98)
    # active share = (|.97-.95| + |.03-.05|) / 2 = (.02 + .02) / 2 = .02
    assert active_share(p, b, portfolio_cash=0.03, basket_cash=0.05) == pytest.approx(0.02)
    # securities only (cash left out): overlap .95, active share .02 / 2 = .01
    assert basket_overlap(p, b) == pytest.approx(0.95)
    assert active_share(p, b) == pytest.approx(0.01)


def test_cash_only_on_one_side():
    # given: Fund 90% AAA + 10% cash; basket fully invested in AAA
    p, b = pd.Series({"AAA": 0.90}), pd.Series({"AAA": 1.00})
    # then: overlap = min(.9, 1) + min(.1, 0) = .9; active share = (.1 + .1) / 2 = .1
    assert basket_overlap(p, b, portfolio_cash=0.10) == pytest.approx(0.90)
    assert active_share(p, b, portfolio_cash=0.10) == pytest.approx(0.10)


def test_zero_weight_entries_are_not_holdings():
    p = pd.Series({"AAA": 0.5, "BBB": 0.5})
    b = pd.Series({"AAA": 1.0, "BBB": 0.0})
    # overlap = min(.5,1) + min(.5,0) = .5; represented = .5 (BBB weighs 0 in the basket); 1 name
    assert basket_overlap(p, b) == pytest.approx(0.5)
    assert represented_share(p, b) == pytest.approx(0.5)
    assert names_count(b) == 1


def test_represented_share_matches_hand_computation():
    # Fund weight of the names also in the basket: AAA .40 + BBB .30 + CCC .20 = .90 (DDD .10 missing)
    assert represented_share(PORTFOLIO, BASKET) == pytest.approx(0.90)


def test_names_count_ignores_cash_and_tiny_weights():
    b = pd.Series({"AAA": 0.5, "BBB": 0.4999, "CCC": 0.0001})
    assert names_count(b) == 3
    assert names_count(b, tolerance=0.001) == 2


def test_dict_inputs_are_accepted():
    assert basket_overlap({"A": 0.5, "B": 0.5}, {"A": 1.0}) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "weights, message",
    [
        (pd.Series({"AAA": -0.1, "BBB": 1.1}), "negative"),
        (pd.Series({"AAA": float("nan")}), "non-finite"),
        (pd.Series([0.5, 0.5], index=["AAA", "AAA"]), "more than once"),
        (pd.Series({"CASH": 1.0}), "reserved"),
    ],
)
def test_bad_weights_are_rejected(weights, message):
    with pytest.raises(MetricInputError, match=message):
        basket_overlap(weights, BASKET)


def test_negative_cash_is_rejected():
    with pytest.raises(MetricInputError, match="cash"):
        active_share(PORTFOLIO, BASKET, basket_cash=-0.01)


# --- properties --------------------------------------------------------------------------------

TICKERS = [f"T{i:02d}" for i in range(12)]


@st.composite
def fully_invested(draw, with_cash=False):
    """A weight vector over a random subset of TICKERS, plus optional cash, summing to one."""
    names = draw(st.lists(st.sampled_from(TICKERS), min_size=1, max_size=len(TICKERS), unique=True))
    raw = draw(st.lists(st.floats(0.001, 1.0), min_size=len(names), max_size=len(names)))
    cash_raw = draw(st.floats(0.0, 0.3)) if with_cash else 0.0
    total = sum(raw) + cash_raw
    return pd.Series(np.array(raw) / total, index=names), cash_raw / total


@given(fully_invested(with_cash=True), fully_invested(with_cash=True))
def test_overlap_plus_active_share_is_one_when_both_fully_invested(p_and_cash, b_and_cash):
    (p, p_cash), (b, b_cash) = p_and_cash, b_and_cash
    overlap = basket_overlap(p, b, portfolio_cash=p_cash, basket_cash=b_cash)
    share = active_share(p, b, portfolio_cash=p_cash, basket_cash=b_cash)
    assert overlap + share == pytest.approx(1.0, abs=1e-9)


@given(fully_invested(with_cash=True), fully_invested(with_cash=True))
def test_metrics_are_symmetric_and_bounded(p_and_cash, b_and_cash):
    (p, p_cash), (b, b_cash) = p_and_cash, b_and_cash
    forward = (basket_overlap(p, b, portfolio_cash=p_cash, basket_cash=b_cash), active_share(p, b, portfolio_cash=p_cash, basket_cash=b_cash))
    backward = (basket_overlap(b, p, portfolio_cash=b_cash, basket_cash=p_cash), active_share(b, p, portfolio_cash=b_cash, basket_cash=p_cash))
    assert forward == pytest.approx(backward, abs=1e-12)
    for value in forward:
        assert -1e-12 <= value <= 1 + 1e-12
    assert 0.0 <= represented_share(p, b) <= 1 + 1e-12


@given(fully_invested(with_cash=True))
def test_a_portfolio_against_itself(p_and_cash):
    p, cash = p_and_cash
    assert basket_overlap(p, p, portfolio_cash=cash, basket_cash=cash) == pytest.approx(1.0)
    assert active_share(p, p, portfolio_cash=cash, basket_cash=cash) == 0.0


@given(fully_invested(), fully_invested())
def test_active_share_is_the_total_underweight(p_and_cash, b_and_cash):
    # with both summing to one, 0.5 * sum|p-b| equals sum of positive parts max(p-b, 0)
    p, _ = p_and_cash
    b, _ = b_and_cash
    union = p.index.union(b.index)
    under = (p.reindex(union, fill_value=0) - b.reindex(union, fill_value=0)).clip(lower=0).sum()
    assert active_share(p, b) == pytest.approx(under, abs=1e-12)


# --- proxy spread and Tracking Error -------------------------------------------------------------


def test_proxy_spread_matches_hand_computation():
    # given: prior End of Day NAV 50.00; basket up 1.0% over the day -> basket NAV 50.50; Fund NAV 50.40
    basket_nav = basket_nav_per_share(50.00, 0.01)
    # then: 50 * 1.01 = 50.50; spread = (50.50 - 50.40) / 50.40 * 100 = 0.10 / 50.40 * 100 = 0.198412...%
    assert basket_nav == pytest.approx(50.50)
    assert proxy_spread(basket_nav, 50.40) == pytest.approx(0.1984126984, rel=1e-9)


def test_proxy_spreads_vectorised_over_days():
    # given: Fund NAV 100 -> 101 -> 99.99; basket returns +0.5% on day 2, -1.2% on day 3
    days = pd.bdate_range("2024-01-02", periods=3)
    nav = pd.Series([100.0, 101.0, 99.99], index=days)
    returns = pd.Series([np.nan, 0.005, -0.012], index=days)
    # when
    spreads = proxy_spreads_from_returns(nav, returns)
    # then: day 2: basket 100 * 1.005 = 100.5 vs 101 -> (100.5 - 101) / 101 * 100 = -0.4950495%
    #       day 3: basket 101 * 0.988 = 99.788 vs 99.99 -> (99.788 - 99.99) / 99.99 * 100 = -0.2020202%
    assert list(spreads.index) == list(days[1:])
    assert spreads.iloc[0] == pytest.approx(-0.4950495050, rel=1e-9)
    assert spreads.iloc[1] == pytest.approx(-0.2020202020, rel=1e-9)


def test_basket_return_from_prior_close_weights():
    # given: 60% AAA (+2%), 35% BBB (-1%), 5% cash (0%)
    w = pd.Series({"AAA": 0.60, "BBB": 0.35})
    r = pd.Series({"AAA": 0.02, "BBB": -0.01, "ZZZ": 0.50})
    # then: .60 * .02 + .35 * (-.01) = .012 - .0035 = .0085
    assert basket_return(w, r) == pytest.approx(0.0085)
    frame = pd.DataFrame([r, r * 2])
    assert basket_return(w, frame).tolist() == pytest.approx([0.0085, 0.017])


def test_basket_return_refuses_a_missing_price():
    with pytest.raises(MetricInputError, match="no return"):
        basket_return(pd.Series({"AAA": 1.0}), pd.Series({"BBB": 0.01}))


def test_proxy_spread_rejects_non_positive_nav():
    with pytest.raises(MetricInputError):
        proxy_spread(1.0, 0.0)


def test_tracking_error_is_the_sample_standard_deviation():
    # given: spreads 0.1, -0.1, 0.3, -0.3 (%) with min 2 observations
    spreads = pd.Series([0.1, -0.1, 0.3, -0.3], index=pd.bdate_range("2024-01-02", periods=4))
    # when
    result = tracking_error(spreads, min_observations=2)
    # then: mean 0; squares .01 + .01 + .09 + .09 = .20; / (4 - 1) = .0666...; sqrt = .2581989
    assert result.value == pytest.approx(math.sqrt(0.2 / 3))
    assert result.n_observations == 4
    assert result.reason is None
    assert result.start == spreads.index[0] and result.end == spreads.index[-1]


def test_tracking_error_uses_only_the_last_63_business_days():
    # given: 100 days, the first 37 wildly off, the last 63 alternating +-0.2
    values = [50.0] * 37 + [0.2 if i % 2 else -0.2 for i in range(63)]
    spreads = pd.Series(values, index=pd.bdate_range("2024-01-02", periods=100))
    # when
    result = tracking_error(spreads)
    # then: 63 values, 31 at +.2 and 32 at -.2: mean = -.2/63; var = (63*.04 - 63*mean^2) / 62
    mean = (31 * 0.2 - 32 * 0.2) / 63
    expected = math.sqrt((63 * 0.04 - 63 * mean**2) / 62)
    assert result.n_observations == 63
    assert result.value == pytest.approx(expected)
    assert result.start == spreads.index[37]


def test_tracking_error_needs_enough_observations():
    spreads = pd.Series([0.1] * 19, index=pd.bdate_range("2024-01-02", periods=19))
    result = tracking_error(spreads)
    assert result.value is None
    assert "only 19" in result.reason and "at least 20" in result.reason


def test_tracking_error_skips_missing_days_in_the_count():
    spreads = pd.Series([0.1, np.nan, -0.1], index=pd.bdate_range("2024-01-02", periods=3))
    result = tracking_error(spreads, min_observations=2)
    # std of (0.1, -0.1) with ddof=1 = sqrt(.02 / 1) = .1414...
    assert result.n_observations == 2
    assert result.value == pytest.approx(math.sqrt(0.02))


def test_tracking_error_of_an_empty_series():
    result = tracking_error(pd.Series([], dtype=float))
    assert result.value is None and result.n_observations == 0


def test_rolling_tracking_error_agrees_with_the_point_value():
    rng = np.random.default_rng(1)
    spreads = pd.Series(rng.normal(0, 0.1, 120), index=pd.bdate_range("2024-01-02", periods=120))
    rolling = rolling_tracking_error(spreads)
    assert rolling.iloc[-1] == pytest.approx(tracking_error(spreads).value)
    assert rolling.iloc[:19].isna().all() and not math.isnan(rolling.iloc[19])


@given(st.lists(st.floats(-5, 5), min_size=20, max_size=80), st.floats(-3, 3))
def test_tracking_error_ignores_a_constant_shift(values, shift):
    spreads = pd.Series(values)
    base = tracking_error(spreads).value
    shifted = tracking_error(spreads + shift).value
    assert base >= 0
    assert shifted == pytest.approx(base, abs=1e-9)


# --- ex-ante tracking error and correlation -------------------------------------------------------


def test_ex_ante_tracking_error_matches_hand_computation():
    # given: daily variances .0004 (2% vol) and .0001 (1% vol), covariance .0001; active +.1 / -.1
    cov = pd.DataFrame([[0.0004, 0.0001], [0.0001, 0.0001]], index=["A", "B"], columns=["A", "B"])
    active = pd.Series({"A": 0.1, "B": -0.1, "CASH": 0.0})
    # then: a'Sa = .01*.0004 + .01*.0001 - 2*.01*.0001 = .000004 + .000001 - .000002 = .000003
    daily = math.sqrt(0.000003) * 100  # 0.1732% per day
    assert ex_ante_tracking_error(active, cov) == pytest.approx(daily)
    assert ex_ante_tracking_error(active, cov, annualise=True) == pytest.approx(daily * math.sqrt(252))


def test_ex_ante_tracking_error_needs_a_covariance_for_every_active_name():
    cov = pd.DataFrame([[0.0004]], index=["A"], columns=["A"])
    with pytest.raises(MetricInputError, match="no covariance"):
        ex_ante_tracking_error(pd.Series({"A": 0.1, "B": -0.1}), cov)


def test_return_correlation():
    x = pd.Series([0.01, -0.02, 0.03, 0.00])
    assert return_correlation(x, 2 * x + 0.001) == pytest.approx(1.0)
    assert return_correlation(x, -x) == pytest.approx(-1.0)
    assert math.isnan(return_correlation(x.iloc[:2], x.iloc[:2]))
    assert math.isnan(return_correlation(x, pd.Series([0.01] * 4)))


@settings(max_examples=50)
@given(st.lists(st.floats(-0.05, 0.05), min_size=5, max_size=30), st.floats(0.1, 3))
def test_correlation_is_bounded_and_scale_free(values, scale):
    x = pd.Series(values)
    y = pd.Series(values[::-1])
    assume(x.std() > 1e-6 and y.std() > 1e-6)
    rho = return_correlation(x, y)
    assert -1 - 1e-9 <= rho <= 1 + 1e-9
    assert return_correlation(x * scale, y) == pytest.approx(rho, abs=1e-9)
