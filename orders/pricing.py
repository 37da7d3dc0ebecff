"""Pricing a creation or redemption order at its NAV: pure Decimal arithmetic (no Django).

Who pays whom (application, section III.B.5): if the NAV of a Creation Unit and
the market value of the Creation Basket differ, "the party conveying instruments
with the lower value will also pay to the other" the difference, the Balancing
Amount. On a creation the AP conveys the basket and the Fund the Shares; on a
redemption the other way round. Transaction Fees are always paid by the AP.

The one rounding rule (half-up to the cent, applied per Creation Unit):
- NAV per Creation Unit = NAV per Share x Creation Unit size, rounded to the cent;
- in-kind value and cash-in-lieu value per Creation Unit = exact sums of quantity x
  strike price, each rounded to the cent;
- Balancing Amount per Creation Unit = NAV per Creation Unit - (in-kind + cash-in-lieu), in cents;
- order amounts = per-Creation-Unit cents x number of Creation Units (exact);
- variable fee = the Fund's percentage of the order's cash legs, rounded to the cent.
So NAV = basket value + Balancing Amount holds to the cent for every order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Iterable

CENT = Decimal("0.01")
_EXACT = Context(prec=60)

CREATE = "CREATE"
REDEEM = "REDEEM"
AP = "AP"
FUND = "FUND"
NOBODY = "NONE"


class PricingInputError(ValueError):
    """The inputs cannot give a correct price (e.g. a basket line without a price)."""


def to_cent(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class BasketLine:
    quantity_per_unit: Decimal
    price: Decimal | None
    cash_in_lieu: bool = False
    label: str = ""


@dataclass(frozen=True)
class OrderPrice:
    nav_per_share: Decimal
    nav_per_creation_unit: Decimal
    in_kind_value_per_unit: Decimal
    cash_in_lieu_per_unit: Decimal
    basket_value_per_unit: Decimal
    balancing_amount_per_unit: Decimal
    nav_amount: Decimal  # NAV x units
    in_kind_value: Decimal
    cash_in_lieu_amount: Decimal
    basket_value: Decimal
    balancing_amount: Decimal  # signed: NAV - basket value
    balancing_amount_payer: str  # AP, FUND or NONE
    cash_leg: Decimal  # the cash the variable fee applies to
    fixed_fee: Decimal
    variable_fee: Decimal
    total_fees: Decimal
    net_cash_from_ap: Decimal  # signed: > 0 the AP pays the Fund, < 0 the Fund pays the AP
    net_cash_payer: str

    @property
    def net_cash_amount(self) -> Decimal:
        return abs(self.net_cash_from_ap)


def _payer(amount_owed_by_ap: Decimal) -> str:
    if amount_owed_by_ap > 0:
        return AP
    if amount_owed_by_ap < 0:
        return FUND
    return NOBODY


def price_order(
    *,
    side: str,
    creation_units: int,
    creation_unit_size: int,
    nav_per_share: Decimal,
    basket: Iterable[BasketLine] | None,
    fixed_fee: Decimal,
    variable_fee_pct: Decimal,
) -> OrderPrice:
    """Price one order. ``basket=None`` means an all-cash order."""
    if side not in (CREATE, REDEEM):
        raise PricingInputError(f"side must be {CREATE} or {REDEEM}, not {side!r}")
    if isinstance(creation_units, bool) or not isinstance(creation_units, int) or creation_units < 1:
        raise PricingInputError("creation_units must be a positive whole number")
    if creation_unit_size < 1:
        raise PricingInputError("creation_unit_size must be positive")
    if nav_per_share <= 0:
        raise PricingInputError("nav_per_share must be positive")
    if fixed_fee < 0 or variable_fee_pct < 0:
        raise PricingInputError("fees cannot be negative")

    units = Decimal(creation_units)
    with localcontext(_EXACT):
        nav_per_unit = to_cent(nav_per_share * creation_unit_size)
        in_kind_exact = Decimal(0)
        cash_in_lieu_exact = Decimal(0)
        if basket is not None:
            for line in basket:
                if line.price is None:
                    raise PricingInputError(f"no strike price for basket line {line.label or '?'}")
                if line.quantity_per_unit <= 0 or line.price <= 0:
                    raise PricingInputError(f"basket line {line.label or '?'} needs a positive quantity and price")
                value = line.quantity_per_unit * line.price
                if line.cash_in_lieu:
                    cash_in_lieu_exact += value
                else:
                    in_kind_exact += value
        in_kind_per_unit = to_cent(in_kind_exact)
        cash_in_lieu_per_unit = to_cent(cash_in_lieu_exact)
        basket_per_unit = in_kind_per_unit + cash_in_lieu_per_unit
        balancing_per_unit = nav_per_unit - basket_per_unit if basket is not None else Decimal("0.00")

        nav_amount = nav_per_unit * units
        in_kind_value = in_kind_per_unit * units
        cash_in_lieu_amount = cash_in_lieu_per_unit * units
        basket_value = basket_per_unit * units
        balancing_amount = balancing_per_unit * units

        # Positive: the AP owes the Fund. A creation's AP conveys the basket (it owes any shortfall
        # below NAV, and the cash in lieu of securities it does not deliver); a redemption's AP
        # conveys Shares, so the signs flip.
        direction = Decimal(1) if side == CREATE else Decimal(-1)
        if basket is None:
            cash_leg = nav_amount
            principal_from_ap = direction * nav_amount
        else:
            cash_leg = cash_in_lieu_amount
            principal_from_ap = direction * (balancing_amount + cash_in_lieu_amount)
        variable_fee = to_cent(cash_leg * variable_fee_pct / 100)
        fixed = to_cent(fixed_fee)
        total_fees = fixed + variable_fee
        net_from_ap = principal_from_ap + total_fees

    return OrderPrice(
        nav_per_share=nav_per_share,
        nav_per_creation_unit=nav_per_unit,
        in_kind_value_per_unit=in_kind_per_unit,
        cash_in_lieu_per_unit=cash_in_lieu_per_unit,
        basket_value_per_unit=basket_per_unit,
        balancing_amount_per_unit=balancing_per_unit,
        nav_amount=nav_amount,
        in_kind_value=in_kind_value,
        cash_in_lieu_amount=cash_in_lieu_amount,
        basket_value=basket_value,
        balancing_amount=balancing_amount,
        balancing_amount_payer=_payer(direction * balancing_amount),
        cash_leg=cash_leg,
        fixed_fee=fixed,
        variable_fee=variable_fee,
        total_fees=total_fees,
        net_cash_from_ap=net_from_ap,
        net_cash_payer=_payer(net_from_ap),
    )


def percentage_weights(values: list[Decimal]) -> list[Decimal]:
    """Each value's share of the total, in percent to 4 decimals (half-up); zeros if the total is zero."""
    total = sum(values, Decimal(0))
    if total == 0:
        return [Decimal("0.0000") for _ in values]
    with localcontext(_EXACT):
        return [(v * 100 / total).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) for v in values]
