"""Weights to whole-share quantities per Creation Unit, against hand computations (no database)."""

from decimal import Decimal as D

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baskets.engine.quantities import QuantityInputError, weights_to_quantities

NAV = D("1000000.00")
WEIGHTS = pd.Series({"A": 0.50, "B": 0.30, "C": 0.15, "D": 0.05})
PRICES = pd.Series({"A": D("100.00"), "B": D("33.33"), "C": D("7.77"), "D": D("2500.00")})


def test_round_lots_where_the_position_is_at_least_ten_lots():
    # given: round lots of 100 for every name
    lots = pd.Series({"A": 100, "B": 100, "C": 100, "D": 100})
    # when
    basket = weights_to_quantities(WEIGHTS, NAV, PRICES, round_lots=lots)
    # then:
    # A: 500,000 / 100.00 = 5,000 shares = 50 lots exactly                          -> 5,000 ($500,000.00)
    # B: 300,000 / 33.33 = 9,000.90 -> 9,000 (residual 0.9 share = $30 < half a lot) -> 9,000 ($299,970.00)
    # C: 150,000 / 7.77 = 19,305.02 -> 19,300 (residual 5 shares = $39 < half a lot) -> 19,300 ($149,961.00)
    # D: 50,000 / 2,500 = 20 shares, less than one lot: whole shares                  -> 20 ($50,000.00)
    assert basket.quantities.to_dict() == {"A": 5000, "B": 9000, "C": 19300, "D": 20}
    # securities 500,000 + 299,970 + 149,961 + 50,000 = 999,931.00; Cash Amount = 69.00
    assert basket.securities_value == D("999931.00")
    assert basket.cash_amount == D("69.00")
    assert all(isinstance(q, int) for q in basket.quantities.tolist())


def test_whole_shares_and_the_nav_budget():
    # given: no round lots
    basket = weights_to_quantities(WEIGHTS, NAV, PRICES)
    # then: floors A 5,000 ($500,000), B 9,000 ($299,970), C 19,305 ($149,999.85), D 20 ($50,000):
    # total 999,969.85. B's residual ($30.00) is the largest and above half a share ($16.665), but
    # one more share ($33.33) would bring the total to 1,000,003.18 > NAV: not added.
    # C's residual 0.0193 share ($0.15) is below half a share. Cash Amount = 30.15
    assert basket.quantities.to_dict() == {"A": 5000, "B": 9000, "C": 19305, "D": 20}
    assert basket.cash_amount == D("30.15")


def test_greedy_rounds_up_the_name_furthest_below_target():
    # given: NAV 100,000.00; A 60% at 30.00; B 39% at 47.00; 1% cash
    weights = pd.Series({"A": 0.60, "B": 0.39})
    prices = pd.Series({"A": D("30.00"), "B": D("47.00")})
    # when
    basket = weights_to_quantities(weights, D("100000.00"), prices)
    # then: A 60,000 / 30 = 2,000 exactly; B 39,000 / 47 = 829.79 -> floor 829 ($38,963), residual $37
    # > half a share ($23.50): add one -> 830 ($39,010). Cash Amount = 100,000 - 60,000 - 39,010 = 990.00
    assert basket.quantities.to_dict() == {"A": 2000, "B": 830}
    assert basket.cash_amount == D("990.00")
    # realised weights .60 and .3901; drift = (.0001 + |.0099 - .01|) / 2 = .0001
    assert basket.weights["B"] == pytest.approx(0.3901)
    assert basket.weight_drift == pytest.approx(0.0001)
    assert basket.max_name_drift == pytest.approx(0.0001)


def test_names_below_one_share_are_dropped_into_cash():
    # given: C's target 0.000005 x 1,000,000 = $5 = 0.64 share at $7.77: floor 0, residual $5, and
    # one share ($7.77) < 2 x $5, so it rounds up to 1 share
    weights = pd.Series({"A": 0.5, "C": 0.000005, "E": 0.000001})
    prices = pd.Series({"A": D("100"), "C": D("7.77"), "E": D("50.00")})
    basket = weights_to_quantities(weights, NAV, prices)
    # E: $1 against a $50 share: 0 shares, dropped; its value stays in cash
    assert basket.quantities.to_dict() == {"A": 5000, "C": 1}
    assert basket.dropped == ("E",)
    # cash = 1,000,000 - 500,000 - 7.77 = 499,992.23
    assert basket.cash_amount == D("499992.23")


def test_cash_in_lieu_keeps_the_quantity_and_moves_the_value_to_cash():
    basket = weights_to_quantities(WEIGHTS, NAV, PRICES, round_lots=pd.Series({"A": 100, "B": 100, "C": 100, "D": 100}), cash_in_lieu=["D"])
    # D keeps 20 shares in the record, but its $50,000 is delivered as cash: 69.00 + 50,000 = 50,069.00
    assert basket.quantities["D"] == 20
    assert basket.cash_in_lieu == ("D",)
    assert basket.cash_amount == D("50069.00")
    assert basket.securities_value == D("949931.00")


def test_money_is_exact_decimal():
    # given: a price with many decimals; 1/3 weight
    basket = weights_to_quantities(pd.Series({"A": 1 / 3}), D("1000.00"), pd.Series({"A": D("3.333333")}))
    # then: 333.33 / 3.333333 = 100.0000 -> 100 shares = 333.3333 exactly; cash 666.6667 -> 666.67
    assert basket.quantities["A"] == 100
    assert basket.values["A"] == D("333.333300")
    assert basket.cash_amount == D("666.67")


@pytest.mark.parametrize(
    "weights, nav, prices, message",
    [
        (pd.Series({"A": 0.5}), D("0"), PRICES, "positive"),
        (pd.Series({"Z": 0.5}), NAV, PRICES, "no price for"),
        (pd.Series({"A": 0.5}), NAV, pd.Series({"A": D("0")}), "non-positive"),
        (pd.Series({"A": 0.7, "B": 0.7}), NAV, PRICES, "sum to at most 1"),
    ],
)
def test_bad_inputs(weights, nav, prices, message):
    with pytest.raises(QuantityInputError, match=message):
        weights_to_quantities(weights, nav, prices)


def test_bad_round_lot():
    with pytest.raises(QuantityInputError, match="round lot"):
        weights_to_quantities(pd.Series({"A": 0.5}), NAV, PRICES, round_lots=pd.Series({"A": 0}))


@st.composite
def baskets(draw):
    n = draw(st.integers(1, 12))
    raw = draw(st.lists(st.floats(0.001, 1.0), min_size=n, max_size=n))
    invested = draw(st.floats(0.5, 1.0))
    total = sum(raw)
    names = [f"S{i}" for i in range(n)]
    weights = pd.Series([r / total * invested for r in raw], index=names)
    cents = draw(st.lists(st.integers(1, 500_000), min_size=n, max_size=n))
    prices = pd.Series([D(c) / 100 for c in cents], index=names)
    lots = pd.Series(draw(st.lists(st.sampled_from([1, 10, 100]), min_size=n, max_size=n)), index=names)
    nav = D(draw(st.integers(1_000_000, 500_000_000))) / 100
    return weights, nav, prices, lots


@settings(max_examples=200, deadline=None)
@given(baskets())
def test_quantity_invariants(case):
    weights, nav, prices, lots = case
    basket = weights_to_quantities(weights, nav, prices, round_lots=lots)
    # the books balance exactly: Cash Amount = NAV - securities (to the cent), never negative
    assert basket.securities_value == sum(basket.values.tolist(), D(0))
    assert basket.cash_amount == (nav - basket.securities_value).quantize(D("0.01"), rounding="ROUND_HALF_UP")
    assert basket.cash_amount >= 0
    for name, q in basket.quantities.items():
        assert q > 0
        lot = int(lots[name])
        in_lots = float(weights[name]) * float(nav) / float(prices[name]) >= 10 * lot
        if in_lots:
            assert q % lot == 0  # round lots once the position is at least ten lots
        # each name within one lot (or one share) of its target value
        target = float(weights[name]) * float(nav)
        unit = (lot if in_lots else 1) * float(prices[name])
        assert abs(q * float(prices[name]) - target) <= unit + 1e-6


def test_small_positions_go_in_whole_shares_not_round_lots():
    # given: $15,000 of a $100 stock = 150 shares, one and a half round lots
    weights = pd.Series({"A": 0.015})
    # when
    basket = weights_to_quantities(weights, D("1000000"), pd.Series({"A": D("100")}), round_lots=pd.Series({"A": 100}))
    # then: 150 whole shares (rounding to a lot of 100 or 200 would move the weight by a third)
    assert basket.quantities["A"] == 150
    assert basket.cash_amount == D("985000.00")
    # and with min_round_lots=1 the old rule rounds to one lot
    one_lot = weights_to_quantities(weights, D("1000000"), pd.Series({"A": D("100")}), round_lots=pd.Series({"A": 100}), min_round_lots=1)
    assert one_lot.quantities["A"] in (100, 200)
