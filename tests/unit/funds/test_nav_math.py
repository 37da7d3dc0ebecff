"""NAV arithmetic against hand computations (no database)."""

from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funds.nav_math import NavInputError, compute_nav, round_money, round_nav_per_share


def test_nav_matches_hand_computation():
    # given: 100 @ 10.125 = 1,012.50 and 37.5 @ 3.333333 = 124.9999875 (exact)
    quantities = [D("100"), D("37.5")]
    prices = [D("10.125"), D("3.333333")]
    # when
    nav = compute_nav(quantities, prices, cash=D("1000.00"), liabilities=D("250.10"), shares_outstanding=D("200"))
    # then: securities 1,137.4999875 -> 1,137.50; net 1,137.50 + 1,000.00 - 250.10 = 1,887.40; / 200 = 9.437
    assert list(nav.market_values) == [D("1012.500"), D("124.9999875")]
    assert nav.securities_value == D("1137.50")
    assert nav.net_assets == D("1887.40")
    assert nav.nav_per_share == D("9.4370")


def test_nav_per_share_rounds_half_up_to_four_decimals():
    # given: net assets 100.01 over 8 shares = 12.50125 exactly (a tie at the 4th decimal)
    nav = compute_nav([D("1")], [D("100.01")], cash=D("0"), liabilities=D("0"), shares_outstanding=D("8"))
    # then: half-up gives 12.5013 (half-even would give 12.5012)
    assert nav.nav_per_share == D("12.5013")


def test_large_positions_are_exact():
    # given: 10,000,000,000.0001 shares at 9,999.999999
    nav = compute_nav([D("10000000000.0001")], [D("9999.999999")], cash=D("0.01"), liabilities=D("0"), shares_outstanding=D("1"))
    # then: (1e10 + 1e-4)(1e4 - 1e-6) = 1e14 - 1e4 + 1 - 1e-10 = 99,999,999,990,000.9999999999 exactly
    assert nav.market_values[0] == D("99999999990000.9999999999")
    assert nav.securities_value == D("99999999990001.00")
    assert nav.net_assets == D("99999999990001.01")


def test_empty_portfolio_is_cash_less_liabilities():
    nav = compute_nav([], [], cash=D("5000.00"), liabilities=D("1000.00"), shares_outstanding=D("400"))
    assert nav.securities_value == D("0.00")
    assert nav.nav_per_share == D("10.0000")


def test_missing_price_is_refused():
    with pytest.raises(NavInputError, match="no price"):
        compute_nav([D("1"), D("2")], [D("1"), None], cash=D("0"), liabilities=D("0"), shares_outstanding=D("1"))


def test_zero_shares_outstanding_is_refused():
    with pytest.raises(NavInputError, match="shares outstanding"):
        compute_nav([D("1")], [D("1")], cash=D("0"), liabilities=D("0"), shares_outstanding=D("0"))


def test_float_inputs_are_refused():
    with pytest.raises(NavInputError, match="Decimals"):
        compute_nav([1.0], [D("1")], cash=D("0"), liabilities=D("0"), shares_outstanding=D("1"))


def test_rounding_helpers():
    assert round_money(D("0.005")) == D("0.01")
    assert round_money(D("-0.005")) == D("-0.01")
    assert round_nav_per_share(D("1.00005")) == D("1.0001")


cents = st.decimals(min_value=D("0"), max_value=D("1000000"), places=2)
quantities = st.decimals(min_value=D("0.0001"), max_value=D("10000000"), places=4)
prices = st.decimals(min_value=D("0.000001"), max_value=D("100000"), places=6)


@given(st.lists(st.tuples(quantities, prices), max_size=40), cents, cents, st.integers(min_value=1, max_value=10**9))
def test_nav_equals_exact_sum_rounded_once(positions, cash, liabilities, shares):
    # property: the vectorised result equals a plain exact-Decimal sum, rounded once
    qty = [q for q, _ in positions]
    px = [p for _, p in positions]
    nav = compute_nav(np.array(qty, dtype=object), np.array(px, dtype=object), cash=cash, liabilities=liabilities,
                      shares_outstanding=D(shares))
    from decimal import Context, localcontext

    with localcontext(Context(prec=60)):
        exact = sum((q * p for q, p in positions), D(0))
        expected_net = round_money(exact) + cash - liabilities
        assert nav.net_assets == expected_net
        assert nav.nav_per_share == round_nav_per_share(expected_net / D(shares))
