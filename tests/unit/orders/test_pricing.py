"""Pricing an order at its NAV (section III.B.5): hand-computed examples and property tests.

Pure module, no database. Every expected figure below is worked out by hand in the comments,
with the module's one rounding rule: half-up to the cent, per Creation Unit, then x units.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.pricing import (
    AP,
    CREATE,
    FUND,
    NOBODY,
    REDEEM,
    BasketLine,
    PricingInputError,
    percentage_weights,
    price_order,
)

CENT = D("0.01")


def test_the_module_is_pure():
    code = "import sys, orders.pricing; sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": "."})
    assert result.returncode == 0, result.stderr


# --- the worked example: two lines, one of them cash in lieu ---------------------------------

TWO_LINES = [
    BasketLine(D("100"), D("10.005"), cash_in_lieu=False, label="AAA"),  # delivered in kind
    BasketLine(D("50"), D("20.00"), cash_in_lieu=True, label="BBB"),  # cash in lieu of 50 BBB
]


def _two_line_order(side: str):
    return price_order(
        side=side, creation_units=3, creation_unit_size=5_000, nav_per_share=D("25.1234"), basket=TWO_LINES,
        fixed_fee=D("250.00"), variable_fee_pct=D("0.05"),
    )


def test_in_kind_creation_worked_example():
    # when
    price = _two_line_order(CREATE)

    # then, per Creation Unit:
    #   NAV per CU        = 25.1234 x 5,000          = 125,617.00
    #   in kind per CU    = 100 x 10.005             =   1,000.50
    #   cash in lieu / CU = 50 x 20.00               =   1,000.00
    #   basket per CU     = 1,000.50 + 1,000.00      =   2,000.50
    #   balancing per CU  = 125,617.00 - 2,000.50    = 123,616.50
    assert price.nav_per_share == D("25.1234")
    assert price.nav_per_creation_unit == D("125617.00")
    assert price.in_kind_value_per_unit == D("1000.50")
    assert price.cash_in_lieu_per_unit == D("1000.00")
    assert price.basket_value_per_unit == D("2000.50")
    assert price.balancing_amount_per_unit == D("123616.50")
    # for the order (x 3):
    #   NAV amount   = 376,851.00 ; in kind 3,001.50 ; cash in lieu 3,000.00
    #   basket value = 6,001.50   ; Balancing Amount = 370,849.50
    assert price.nav_amount == D("376851.00")
    assert price.in_kind_value == D("3001.50")
    assert price.cash_in_lieu_amount == D("3000.00")
    assert price.basket_value == D("6001.50")
    assert price.balancing_amount == D("370849.50")
    # The AP conveys the basket (worth less than NAV): it pays the Balancing Amount.
    assert price.balancing_amount_payer == AP
    # Fees: fixed 250.00; variable 0.05% of the cash-in-lieu leg only = 3,000.00 x 0.0005 = 1.50.
    assert price.cash_leg == D("3000.00")
    assert price.fixed_fee == D("250.00")
    assert price.variable_fee == D("1.50")
    assert price.total_fees == D("251.50")
    # Net cash from the AP = Balancing 370,849.50 + cash in lieu 3,000.00 + fees 251.50 = 374,101.00.
    assert price.net_cash_from_ap == D("374101.00")
    assert price.net_cash_payer == AP
    assert price.net_cash_amount == D("374101.00")
    # What the AP gives (securities 3,001.50 + cash 374,101.00) = NAV 376,851.00 + fees 251.50.
    assert price.in_kind_value + price.net_cash_from_ap == price.nav_amount + price.total_fees


def test_in_kind_redemption_worked_example_flips_who_pays():
    price = _two_line_order(REDEEM)
    # The same valuation figures...
    assert price.nav_amount == D("376851.00")
    assert price.basket_value == D("6001.50")
    assert price.balancing_amount == D("370849.50")  # signed NAV - basket, the same on both sides
    # ...but the Fund conveys the (cheaper) basket now: the Fund pays the Balancing Amount.
    assert price.balancing_amount_payer == FUND
    # Fees are the AP's on both sides: 250.00 + 1.50.
    assert price.total_fees == D("251.50")
    # Net cash from the AP = -(370,849.50 + 3,000.00) + 251.50 = -373,598.00: the Fund pays 373,598.00.
    assert price.net_cash_from_ap == D("-373598.00")
    assert price.net_cash_payer == FUND
    assert price.net_cash_amount == D("373598.00")
    # What the AP receives (securities 3,001.50 + cash 373,598.00) = NAV 376,851.00 - fees 251.50.
    assert price.in_kind_value + price.net_cash_amount == price.nav_amount - price.total_fees


def test_a_basket_worth_more_than_nav_makes_the_fund_pay_on_a_creation():
    # given: NAV per CU = 10.00 x 100 = 1,000.00; basket = 60 x 10.00 + 41 x 10.00 = 1,010.00, all in kind
    lines = [BasketLine(D("60"), D("10.00")), BasketLine(D("41"), D("10.00"))]
    common = dict(creation_units=2, creation_unit_size=100, nav_per_share=D("10.00"), basket=lines,
                  fixed_fee=D("5.00"), variable_fee_pct=D("1"))
    # when
    create = price_order(side=CREATE, **common)
    redeem = price_order(side=REDEEM, **common)
    # then: Balancing = (1,000.00 - 1,010.00) x 2 = -20.00
    assert create.balancing_amount == redeem.balancing_amount == D("-20.00")
    # creation: the AP conveys the more valuable basket, so the Fund pays it 20.00
    assert create.balancing_amount_payer == FUND
    # no cash-in-lieu leg: variable fee 0; net = -20.00 + 5.00 = -15.00, the Fund pays 15.00
    assert create.variable_fee == D("0.00")
    assert (create.net_cash_from_ap, create.net_cash_payer, create.net_cash_amount) == (D("-15.00"), FUND, D("15.00"))
    # redemption: the AP receives the more valuable basket and pays 20.00; net = 20.00 + 5.00
    assert redeem.balancing_amount_payer == AP
    assert (redeem.net_cash_from_ap, redeem.net_cash_payer) == (D("25.00"), AP)


def test_nothing_to_pay_when_basket_equals_nav_and_no_fees():
    # NAV per CU 10.00 x 100 = 1,000.00 = 100 x 10.00
    price = price_order(
        side=CREATE, creation_units=1, creation_unit_size=100, nav_per_share=D("10.00"),
        basket=[BasketLine(D("100"), D("10.00"))], fixed_fee=D("0"), variable_fee_pct=D("0"),
    )
    assert price.balancing_amount == D("0.00")
    assert price.balancing_amount_payer == NOBODY
    assert price.net_cash_from_ap == D("0.00")
    assert price.net_cash_payer == NOBODY


# --- all-cash orders ---------------------------------------------------------------------------


def _cash_order(side: str):
    return price_order(
        side=side, creation_units=3, creation_unit_size=5_000, nav_per_share=D("25.1234"), basket=None,
        fixed_fee=D("750.00"), variable_fee_pct=D("0.05"),
    )


def test_cash_creation_worked_example():
    price = _cash_order(CREATE)
    # NAV amount = 125,617.00 x 3 = 376,851.00; no basket, no Balancing Amount
    assert price.nav_amount == D("376851.00")
    assert price.basket_value == price.in_kind_value == price.cash_in_lieu_amount == D("0.00")
    assert price.balancing_amount == D("0.00")
    assert price.balancing_amount_payer == NOBODY
    # variable fee on the whole NAV amount: 376,851.00 x 0.0005 = 188.4255 -> 188.43 (half-up)
    assert price.cash_leg == D("376851.00")
    assert price.variable_fee == D("188.43")
    assert price.fixed_fee == D("750.00")
    assert price.total_fees == D("938.43")
    # the AP pays NAV + fees = 376,851.00 + 938.43
    assert (price.net_cash_from_ap, price.net_cash_payer) == (D("377789.43"), AP)


def test_cash_redemption_worked_example():
    price = _cash_order(REDEEM)
    assert price.total_fees == D("938.43")
    # the Fund pays NAV - fees = 376,851.00 - 938.43 = 375,912.57
    assert price.net_cash_from_ap == D("-375912.57")
    assert (price.net_cash_payer, price.net_cash_amount) == (FUND, D("375912.57"))
    assert price.balancing_amount_payer == NOBODY


def test_the_variable_fee_applies_to_cash_in_lieu_only_in_kind_and_to_everything_in_cash():
    common = dict(side=CREATE, creation_units=1, creation_unit_size=100, nav_per_share=D("10.00"),
                  fixed_fee=D("0"), variable_fee_pct=D("1"))
    all_in_kind = price_order(basket=[BasketLine(D("100"), D("10.00"))], **common)
    half_in_lieu = price_order(basket=[BasketLine(D("50"), D("10.00")), BasketLine(D("50"), D("10.00"), cash_in_lieu=True)], **common)
    cash = price_order(basket=None, **common)
    assert all_in_kind.variable_fee == D("0.00")  # 1% of 0.00
    assert half_in_lieu.variable_fee == D("5.00")  # 1% of 500.00
    assert cash.variable_fee == D("10.00")  # 1% of 1,000.00


# --- rounding: half-up to the cent, per Creation Unit ------------------------------------------


def test_in_kind_value_rounds_half_up_per_creation_unit_then_multiplies():
    # 1 x 10.005 = 10.005 per CU -> 10.01 (half-even would give 10.00); x 3 = 30.03 (not 30.015 -> 30.02)
    price = price_order(
        side=CREATE, creation_units=3, creation_unit_size=1, nav_per_share=D("10.00"),
        basket=[BasketLine(D("1"), D("10.005"))], fixed_fee=D("0"), variable_fee_pct=D("0"),
    )
    assert price.in_kind_value_per_unit == D("10.01")
    assert price.in_kind_value == D("30.03")
    # balancing per CU = 10.00 - 10.01 = -0.01; x 3 = -0.03
    assert price.balancing_amount == D("-0.03")


def test_nav_per_creation_unit_rounds_half_up():
    # 10.0001 x 50 = 500.005 -> 500.01
    price = price_order(side=CREATE, creation_units=2, creation_unit_size=50, nav_per_share=D("10.0001"),
                        basket=None, fixed_fee=D("0"), variable_fee_pct=D("0"))
    assert price.nav_per_creation_unit == D("500.01")
    assert price.nav_amount == D("1000.02")


@pytest.mark.parametrize(
    "cash_in_lieu_value, pct, expected",
    [
        ("10.00", "0.05", "0.01"),  # 0.005 -> 0.01
        ("50.00", "0.05", "0.03"),  # 0.025 -> 0.03 (half-even would give 0.02)
        ("10.00", "0.0249", "0.00"),  # 0.00249 -> 0.00
        ("30.00", "0.05", "0.02"),  # 0.015 -> 0.02
    ],
)
def test_the_variable_fee_rounds_half_up(cash_in_lieu_value, pct, expected):
    price = price_order(
        side=CREATE, creation_units=1, creation_unit_size=1, nav_per_share=D(cash_in_lieu_value),
        basket=[BasketLine(D("1"), D(cash_in_lieu_value), cash_in_lieu=True)], fixed_fee=D("0"), variable_fee_pct=D(pct),
    )
    assert price.variable_fee == D(expected)


def test_the_cash_in_lieu_sum_is_rounded_once_not_per_line():
    # 0.005 + 0.005 = 0.01 exactly; rounding each line first would give 0.01 + 0.01 = 0.02
    price = price_order(
        side=CREATE, creation_units=1, creation_unit_size=1, nav_per_share=D("1.00"),
        basket=[BasketLine(D("1"), D("0.005"), cash_in_lieu=True), BasketLine(D("1"), D("0.005"), cash_in_lieu=True)],
        fixed_fee=D("0"), variable_fee_pct=D("0"),
    )
    assert price.cash_in_lieu_per_unit == D("0.01")


# --- property: NAV = basket value + Balancing Amount, to the cent ---------------------------

prices = st.decimals(min_value=D("0.0001"), max_value=D("5000"), places=4)
lines = st.lists(
    st.builds(BasketLine, st.integers(1, 200_000).map(D), prices, st.booleans()), min_size=1, max_size=12
)
money_fields = ["nav_per_creation_unit", "in_kind_value_per_unit", "cash_in_lieu_per_unit", "basket_value_per_unit",
                "balancing_amount_per_unit", "nav_amount", "in_kind_value", "cash_in_lieu_amount", "basket_value",
                "balancing_amount", "cash_leg", "fixed_fee", "variable_fee", "total_fees", "net_cash_from_ap"]


@settings(max_examples=300, deadline=None)
@given(
    basket=st.one_of(st.none(), lines),
    nav_per_share=st.decimals(min_value=D("0.0001"), max_value=D("2000"), places=4),
    creation_unit_size=st.integers(1, 200_000),
    creation_units=st.integers(1, 5_000),
    fixed_fee=st.decimals(min_value=D("0"), max_value=D("10000"), places=2),
    variable_fee_pct=st.decimals(min_value=D("0"), max_value=D("2"), places=4),
)
def test_nav_equals_basket_plus_balancing_and_both_sides_mirror(basket, nav_per_share, creation_unit_size, creation_units,
                                                                 fixed_fee, variable_fee_pct):
    args = dict(creation_units=creation_units, creation_unit_size=creation_unit_size, nav_per_share=nav_per_share,
                basket=basket, fixed_fee=fixed_fee, variable_fee_pct=variable_fee_pct)
    create = price_order(side=CREATE, **args)
    redeem = price_order(side=REDEEM, **args)

    for price in (create, redeem):
        # every amount is in whole cents
        for name in money_fields:
            assert getattr(price, name) == getattr(price, name).quantize(CENT), name
        # the identity, per CU and for the order
        if basket is not None:
            assert price.nav_per_creation_unit == price.basket_value_per_unit + price.balancing_amount_per_unit
            assert price.nav_amount == price.basket_value + price.balancing_amount
        else:
            assert price.balancing_amount == price.basket_value == D("0")
        assert price.basket_value == price.in_kind_value + price.cash_in_lieu_amount
        assert price.nav_amount == price.nav_per_creation_unit * creation_units
        # NAV per CU is the exact product, half-up to the cent
        assert price.nav_per_creation_unit == (nav_per_share * creation_unit_size).quantize(CENT, rounding=ROUND_HALF_UP)
        assert price.total_fees == price.fixed_fee + price.variable_fee
        expected_fee = (price.cash_leg * variable_fee_pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        assert price.variable_fee == expected_fee
        assert price.cash_leg == (price.nav_amount if basket is None else price.cash_in_lieu_amount)
        assert price.net_cash_amount == abs(price.net_cash_from_ap)

    # the two sides are mirror images apart from the fees, which the AP always pays
    assert create.balancing_amount == redeem.balancing_amount
    assert create.net_cash_from_ap + redeem.net_cash_from_ap == 2 * create.total_fees
    if create.balancing_amount != 0:
        assert {create.balancing_amount_payer, redeem.balancing_amount_payer} == {AP, FUND}
        assert create.balancing_amount_payer == (AP if create.balancing_amount > 0 else FUND)
    # value conveyed: a creation's AP hands over securities + net cash worth NAV + fees
    assert create.in_kind_value + create.net_cash_from_ap == create.nav_amount + create.total_fees
    assert redeem.in_kind_value - redeem.net_cash_from_ap == redeem.nav_amount - redeem.total_fees


# --- bad inputs -------------------------------------------------------------------------------

GOOD = dict(side=CREATE, creation_units=1, creation_unit_size=100, nav_per_share=D("10.00"),
            basket=[BasketLine(D("100"), D("10.00"), label="AAA")], fixed_fee=D("1.00"), variable_fee_pct=D("0.05"))


@pytest.mark.parametrize(
    "override, message",
    [
        ({"creation_units": 0}, "creation_units"),
        ({"creation_units": -1}, "creation_units"),
        ({"creation_units": 1.5}, "creation_units"),
        ({"creation_units": D("2")}, "creation_units"),
        ({"creation_unit_size": 0}, "creation_unit_size"),
        ({"nav_per_share": D("0")}, "nav_per_share"),
        ({"nav_per_share": D("-1")}, "nav_per_share"),
        ({"fixed_fee": D("-0.01")}, "fees cannot be negative"),
        ({"variable_fee_pct": D("-0.0001")}, "fees cannot be negative"),
        ({"side": "BUY"}, "side"),
        ({"basket": [BasketLine(D("100"), None, label="ZZZ")]}, "no strike price for basket line ZZZ"),
        ({"basket": [BasketLine(D("100"), D("0"), label="ZZZ")]}, "ZZZ needs a positive quantity and price"),
        ({"basket": [BasketLine(D("-5"), D("10"), label="ZZZ")]}, "ZZZ needs a positive quantity and price"),
    ],
)
def test_bad_inputs_raise_pricing_input_error(override, message):
    with pytest.raises(PricingInputError, match=message):
        price_order(**{**GOOD, **override})


def test_a_missing_price_on_any_line_refuses_the_whole_order():
    basket = [BasketLine(D("100"), D("10.00"), label="AAA"), BasketLine(D("5"), None, cash_in_lieu=True, label="BBB")]
    with pytest.raises(PricingInputError, match="BBB"):
        price_order(**{**GOOD, "basket": basket})


def test_the_good_inputs_do_price():
    assert price_order(**GOOD).nav_amount == D("1000.00")


# --- percentage weights ---------------------------------------------------------------------


def test_percentage_weights_hand_examples():
    assert percentage_weights([D("1"), D("1"), D("1")]) == [D("33.3333")] * 3
    assert percentage_weights([D("1"), D("2")]) == [D("33.3333"), D("66.6667")]
    assert percentage_weights([D("1"), D("7")]) == [D("12.5000"), D("87.5000")]
    # half-up at the fourth decimal: 1 / 2,000,000 = 0.00005% -> 0.0001
    assert percentage_weights([D("1"), D("1999999")]) == [D("0.0001"), D("100.0000")]
    assert percentage_weights([D("0"), D("0")]) == [D("0.0000"), D("0.0000")]
    assert percentage_weights([]) == []


@given(st.lists(st.decimals(min_value=D("0.01"), max_value=D("1e9"), places=2), min_size=1, max_size=60))
def test_percentage_weights_sum_to_one_hundred(values):
    weights = percentage_weights(values)
    assert len(weights) == len(values)
    assert all(w >= 0 for w in weights)
    # each weight is off by at most half a unit of the fourth decimal
    assert abs(sum(weights) - D("100")) <= D("0.00005") * len(values)
