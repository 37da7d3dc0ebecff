"""Substitute Basket weights -> whole-share quantities per Creation Unit and the estimated Cash Amount.

For each basket security i with weight w_i, price p_i and NAV per Creation Unit N:

1. ideal shares x_i = w_i * N / p_i;
2. the lot: the security's round lot L_i when x_i >= ``min_round_lots`` x L_i (and a round lot is
   known), else 1 share. Round lots only where a lot is a small step of the position (by default at
   most a tenth of it): with Creation Units of a few hundred thousand dollars, rounding a 150-share
   position to 100 or 200 shares would move its weight by a third, so smaller positions go in whole
   shares, which is the least drift;
3. floor: q_i = floor(x_i / lot) * lot;
4. greedy add, largest dollar residual first: one more lot is added to a name when that brings its
   value closer to its target (lot * p_i < 2 * residual_i) and the securities still fit within the
   NAV per Creation Unit (so the Cash Amount is never negative).

Each name ends within one lot of its target, the rounding chosen per name to the nearer lot where the
budget allows, which minimises the weight drift sum_i |q_i p_i / N - w_i| name by name. The estimated
Cash Amount is N - sum_i q_i p_i, computed exactly in Decimal and rounded half-up to the cent: it
carries the basket's cash weight plus the rounding residue. Securities delivered as cash in lieu
(no readily available quotation, footnote 55 of the application) keep their computed quantity for
the record, but their value is added to the Cash Amount.

Floats are used for the rounding search; the output edge is exact: quantities are ints, money is
Decimal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

import numpy as np
import pandas as pd

from baskets.engine.errors import BasketEngineError

CENT = Decimal("0.01")
_EXACT = Context(prec=60)


class QuantityInputError(BasketEngineError):
    """Quantities cannot be computed: a missing or non-positive price, a bad NAV or lot size."""

    constraint = "quantities"


@dataclass(frozen=True)
class CreationUnitBasket:
    quantities: pd.Series  # int shares per Creation Unit, by security, largest value first
    values: pd.Series  # Decimal market value per security (quantity x price, exact)
    securities_value: Decimal  # sum of values of securities delivered in kind
    cash_amount: Decimal  # estimated Cash Amount per Creation Unit, to the cent
    nav_per_creation_unit: Decimal
    weights: pd.Series  # realised weights q p / N (float), cash in lieu included
    target_weights: pd.Series
    weight_drift: float  # 0.5 * sum |realised - target| over securities and cash
    max_name_drift: float  # max_i |realised_i - target_i|
    dropped: tuple  # basket names whose target is below one share (their value stays in cash)
    cash_in_lieu: tuple  # names delivered as cash


def _decimal(value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, np.integer)):
        return Decimal(int(value))
    return Decimal(str(float(value)))


def weights_to_quantities(
    weights: pd.Series,
    nav_per_creation_unit,
    prices: pd.Series,
    *,
    round_lots: pd.Series | None = None,
    cash_in_lieu=(),
    min_round_lots: int = 10,
) -> CreationUnitBasket:
    """Whole-share quantities per Creation Unit for ``weights`` (fractions of NAV, cash excluded).

    ``prices``: per-share prices (Decimal or float) covering every weighted name;
    ``round_lots``: optional round-lot sizes by name (missing or <= 1: whole shares);
    ``cash_in_lieu``: names whose value is delivered as cash (their quantity is still reported);
    ``min_round_lots``: round lots apply from this many lots of position upwards (1: whenever one lot fits).
    """
    w = pd.Series(weights, dtype=float)
    w = w[w > 0]
    if not w.index.is_unique:
        raise QuantityInputError("a security appears twice in the weights")
    if not np.all(np.isfinite(w.to_numpy())) or w.sum() > 1 + 1e-9:
        raise QuantityInputError(f"weights must be finite and sum to at most 1, got {w.sum():.6f}")
    if min_round_lots < 1:
        raise QuantityInputError("min_round_lots must be at least 1")
    nav = _decimal(nav_per_creation_unit)
    if not nav.is_finite() or nav <= 0:
        raise QuantityInputError(f"NAV per Creation Unit must be positive, got {nav}")
    missing = w.index.difference(pd.Index(prices.index))
    if len(missing):
        raise QuantityInputError(f"no price for: {sorted(map(str, missing))[:10]}")
    price_dec = {name: _decimal(prices[name]) for name in w.index}
    bad = [name for name, p in price_dec.items() if not p.is_finite() or p <= 0]
    if bad:
        raise QuantityInputError(f"non-positive or missing price for: {sorted(map(str, bad))[:10]}")
    cil = set(cash_in_lieu)

    nav_f = float(nav)
    p = np.array([float(price_dec[name]) for name in w.index])
    target_value = w.to_numpy() * nav_f
    ideal = target_value / p
    lots = np.ones(len(w), dtype=np.int64)
    if round_lots is not None:
        given = pd.Series(round_lots).reindex(w.index)
        for i, lot in enumerate(given.to_numpy()):
            if lot is not None and not (isinstance(lot, float) and math.isnan(lot)):
                lot = int(lot)
                if lot < 1:
                    raise QuantityInputError(f"round lot of {w.index[i]} must be a positive integer")
                if ideal[i] >= lot * min_round_lots:
                    lots[i] = lot
    quantity = (np.floor(ideal / lots + 1e-9) * lots).astype(np.int64)

    # greedy: the name furthest below its target first, one lot each, within the NAV
    spent = float(np.sum(quantity * p))
    residual = target_value - quantity * p
    for i in np.argsort(-residual, kind="stable"):
        step = lots[i] * p[i]
        if residual[i] <= 0 or step >= 2 * residual[i]:
            continue
        if spent + step > nav_f - 1e-6:  # keep clear of float error: the Cash Amount stays >= 0
            continue
        quantity[i] += lots[i]
        spent += step

    with localcontext(_EXACT):
        values = {name: price_dec[name] * int(q) for name, q in zip(w.index, quantity)}
        in_kind = sum((v for name, v in values.items() if name not in cil), Decimal(0))
        cash_exact = nav - in_kind
    if cash_exact < 0:  # a guard: the floor alone exceeds the NAV only with weights summing above 1
        raise QuantityInputError("the securities are worth more than the NAV per Creation Unit")
    cash_amount = cash_exact.quantize(CENT, rounding=ROUND_HALF_UP)

    quantities = pd.Series(quantity, index=w.index, dtype="int64")
    realised = pd.Series(quantity * p / nav_f, index=w.index)
    target_cash = 1.0 - float(w.sum())
    # drift counts cash-in-lieu names as held: they are part of the basket's composition
    realised_cash = 1.0 - float(realised.sum())
    drift = 0.5 * (float(np.abs(realised - w).sum()) + abs(realised_cash - target_cash))
    kept = quantities[quantities > 0]
    order = sorted(kept.index, key=lambda name: (-values[name], str(name)))
    return CreationUnitBasket(
        quantities=kept.loc[order],
        values=pd.Series({name: values[name] for name in order}, dtype=object),
        securities_value=in_kind,
        cash_amount=cash_amount,
        nav_per_creation_unit=nav,
        weights=realised.loc[order],
        target_weights=w,
        weight_drift=drift,
        max_name_drift=float(np.abs(realised - w).max()) if len(w) else 0.0,
        dropped=tuple(sorted(map(str, quantities.index[quantities == 0]))),
        cash_in_lieu=tuple(sorted(map(str, cil & set(kept.index)))),
    )
