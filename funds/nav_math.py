"""NAV arithmetic: a pure, vectorised module (numpy only, never Django).

Rounding rule, applied once and only here:
- each holding's market value = quantity x price, exact (no rounding);
- securities value = the exact sum, rounded half-up to the cent;
- net assets = securities value + cash - liabilities (cents, exact);
- NAV per share = net assets / shares outstanding, rounded half-up to 4 decimals.

Decimal arithmetic runs in numpy object arrays under a 60-digit context, so a
product of a 20-digit quantity and an 18-digit price is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Sequence

import numpy as np

CENT = Decimal("0.01")
NAV_QUANTUM = Decimal("0.0001")
_EXACT = Context(prec=60)


class NavInputError(ValueError):
    """The inputs cannot give a correct NAV (e.g. a missing price, no shares outstanding)."""


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def round_nav_per_share(amount: Decimal) -> Decimal:
    return amount.quantize(NAV_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class NavComputation:
    market_values: np.ndarray  # object array of exact Decimals, aligned with the inputs
    securities_value: Decimal
    cash: Decimal
    liabilities: Decimal
    net_assets: Decimal
    shares_outstanding: Decimal
    nav_per_share: Decimal


def _as_decimal_array(values: Sequence[Decimal] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise NavInputError(f"{name} must be one-dimensional")
    if array.size and not all(isinstance(v, Decimal) for v in array):  # type check only, not arithmetic
        raise NavInputError(f"{name} must be Decimals")
    return array


def compute_nav(
    quantities: Sequence[Decimal] | np.ndarray,
    prices: Sequence[Decimal | None] | np.ndarray,
    *,
    cash: Decimal,
    liabilities: Decimal,
    shares_outstanding: Decimal,
) -> NavComputation:
    """Net assets and NAV per share of one Fund at one strike."""
    quantity_array = _as_decimal_array(quantities, "quantities")
    price_array = np.asarray(prices, dtype=object)
    if price_array.shape != quantity_array.shape:
        raise NavInputError("quantities and prices must have the same length")
    missing = np.flatnonzero(np.equal(price_array, None))
    if missing.size:
        raise NavInputError(f"{missing.size} holding(s) have no price: positions {missing.tolist()}")
    _as_decimal_array(price_array, "prices")
    if shares_outstanding <= 0:
        raise NavInputError("shares outstanding must be positive")
    with localcontext(_EXACT):
        market_values = quantity_array * price_array
        exact_total = market_values.sum() if market_values.size else Decimal(0)
        securities_value = round_money(Decimal(exact_total))
        net_assets = securities_value + cash - liabilities
        nav_per_share = round_nav_per_share(net_assets / shares_outstanding)
    return NavComputation(
        market_values=market_values,
        securities_value=securities_value,
        cash=cash,
        liabilities=liabilities,
        net_assets=net_assets,
        shares_outstanding=shares_outstanding,
        nav_per_share=nav_per_share,
    )
