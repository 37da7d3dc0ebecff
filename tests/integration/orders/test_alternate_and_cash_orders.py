"""Orders with a disseminated Alternate Basket, announced cash days, and cash required for one order (issue 5)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest

from backoffice import roles
from backoffice.exceptions import InvalidInput, InvalidTransition
from baskets.models import Publication
from baskets.services import DraftLine, alternate_basket_approve, alternate_basket_draft, alternate_basket_submit, alternate_baskets_release_due
from funds import services as fund_services
from funds.models import IntradaySnapshot, SharesOutstandingEntry, Strike
from orders import services
from orders.models import CashAnnouncement, CreationBasketRecord, Order
from tests.factories import FundFactory, UserFactory
from tests.orders_fixtures import TRADE_DATE, et, module_trading_day_fixtures

pytestmark = pytest.mark.django_db
_built_day, trading_day = module_trading_day_fixtures()
CENT = D("0.01")


def alternate(day, *, release_at=None):
    """Every in-kind component of the day's Substitute Basket at 99%: inside the Fund's basket policy."""
    pm_two = UserFactory(roles=[roles.PORTFOLIO_MANAGER])
    lines = [DraftLine(c.security.ticker, (c.quantity * D("0.99")).quantize(D(1), rounding=ROUND_HALF_UP), True)
             for c in day.basket.components.select_related("security").filter(cash_in_lieu=False)]
    basket = alternate_basket_draft(actor=day.market.pm, fund=day.fund, trade_date=TRADE_DATE, purpose="BRING_IN",
                                    rationale="bring in a new position without trading it", lines=lines, now=et(TRADE_DATE, 8, 30))
    basket = alternate_basket_submit(actor=day.market.pm, basket=basket, now=et(TRADE_DATE, 8, 31))
    return alternate_basket_approve(actor=pm_two, basket=basket, release_at=release_at, now=et(TRADE_DATE, 8, 40))


def place(day, at, key, **fields):
    request = services.OrderRequest(**{"fund": "BSKT", "side": "CREATE", "creation_units": 2, "basket_type": "STANDARD",
                                       "settlement_channel": "NSCC", **fields})
    return services.order_place(actor=day.user_one, participant=day.ap_one, request=request, idempotency_key=key, received_at=at).order


def price_intraday(day):
    fund_services.nav_strike(fund_id=day.fund.pk, day=TRADE_DATE, strike=Strike.INTRADAY, actor=day.market.pm, now=et(TRADE_DATE, 12, 1))
    return services.orders_price_due(actor=day.market.pm, now=et(TRADE_DATE, 12, 2))


def test_an_order_with_a_disseminated_alternate_basket_is_priced_recorded_as_such_and_settles(trading_day):
    basket = alternate(trading_day)
    order = place(trading_day, et(TRADE_DATE, 10, 0), "alt-1", basket_type="ALTERNATE", alternate_basket_id=basket.pk)
    assert order.status == Order.Status.ACCEPTED and order.alternate_basket_id == basket.pk

    price_intraday(trading_day)
    order.refresh_from_db()
    assert order.status == Order.Status.PRICED and order.priced_basket_id is None
    # by hand: the Alternate Basket's quantities at the 12:00 prices, per Creation Unit, to the cent
    prices = dict(IntradaySnapshot.objects.filter(date=TRADE_DATE).values_list("security_id", "price"))
    per_unit = sum(c.quantity * prices[c.security_id] for c in basket.components.all()).quantize(CENT, rounding=ROUND_HALF_UP)
    assert order.basket_value == per_unit * 2
    assert order.balancing_amount == order.nav_amount - order.basket_value

    record = CreationBasketRecord.objects.get(order=order)
    assert record.is_alternate_basket and record.alternate_basket_id == basket.pk
    assert basket.check_report_sha256 in record.alternate_basket_compliance
    assert sorted(record.lines.values_list("ticker", flat=True)) == sorted(basket.components.values_list("security__ticker", flat=True))

    services.order_settle(actor=trading_day.market.pm, order=order, settled_on=dt.date(2021, 4, 21))
    order.refresh_from_db()
    assert order.status == Order.Status.SETTLED
    assert SharesOutstandingEntry.objects.filter(reference=order.reference).get().change == 50_000


def test_only_a_released_alternate_basket_of_this_fund_and_day_can_be_named(trading_day):
    later = alternate(trading_day, release_at=et(TRADE_DATE, 11, 0))
    with pytest.raises(InvalidInput) as unreleased:
        place(trading_day, et(TRADE_DATE, 10, 0), "alt-2", basket_type="ALTERNATE", alternate_basket_id=later.pk)
    assert "alternate_basket_id" in unreleased.value.details
    alternate_baskets_release_due(actor=trading_day.market.pm, now=et(TRADE_DATE, 11, 0))
    assert place(trading_day, et(TRADE_DATE, 11, 1), "alt-3", basket_type="ALTERNATE", alternate_basket_id=later.pk).status == "ACCEPTED"

    other_fund = FundFactory()
    with pytest.raises(InvalidInput):
        services.order_place(
            actor=trading_day.user_one, participant=trading_day.ap_one,
            request=services.OrderRequest(fund=other_fund.ticker, side="CREATE", creation_units=1, basket_type="ALTERNATE",
                                          settlement_channel="NSCC", alternate_basket_id=later.pk),
            idempotency_key="alt-4", received_at=et(TRADE_DATE, 11, 2),
        )
    before = Order.objects.count()
    with pytest.raises(InvalidInput) as expired:
        place(trading_day, et(dt.date(2021, 4, 21), 10, 0), "alt-5", basket_type="ALTERNATE", alternate_basket_id=later.pk)
    assert "expired" in expired.value.message and Order.objects.count() == before


def test_a_wholly_cash_day_turns_in_kind_creations_into_cash_orders_and_is_published(trading_day):
    ops = UserFactory(roles=[roles.OPERATIONS])
    announcement = services.cash_day_announce(actor=ops, fund=trading_day.fund, trade_date=TRADE_DATE, applies_to="CREATIONS",
                                              extent="WHOLLY", reason="custodian cannot receive in kind", now=et(TRADE_DATE, 8, 45))
    assert announcement.publication.kind == Publication.Kind.CASH_ANNOUNCEMENT
    creation = place(trading_day, et(TRADE_DATE, 10, 0), "cash-1")
    redemption = place(trading_day, et(TRADE_DATE, 10, 1), "cash-2", side="REDEEM", creation_units=1)
    assert creation.basket_type == "CASH" and "Cash day" in creation.cash_reason and creation.substitute_basket_id is None
    assert redemption.basket_type == "STANDARD" and redemption.cash_reason == ""

    price_intraday(trading_day)
    creation.refresh_from_db()
    assert creation.basket_value == D("0.00") and creation.variable_fee == (creation.nav_amount * D("0.0005")).quantize(CENT, rounding=ROUND_HALF_UP)


def test_a_partly_cash_day_delivers_the_named_securities_as_cash_in_lieu(trading_day):
    ops = UserFactory(roles=[roles.OPERATIONS])
    named = trading_day.basket.components.select_related("security").order_by("security__ticker").first().security.ticker
    services.cash_day_announce(actor=ops, fund=trading_day.fund, trade_date=TRADE_DATE, applies_to="BOTH", extent="PARTLY",
                               cash_in_lieu_tickers=[named.lower()], reason="corporate action pending", now=et(TRADE_DATE, 8, 45))
    order = place(trading_day, et(TRADE_DATE, 10, 0), "partly-1")
    assert order.basket_type == "STANDARD" and order.cash_in_lieu_tickers == [named]
    price_intraday(trading_day)
    order.refresh_from_db()
    line = CreationBasketRecord.objects.get(order=order).lines.get(ticker=named)
    assert line.cash_in_lieu and order.cash_in_lieu_amount == (line.market_value).quantize(CENT, rounding=ROUND_HALF_UP)
    assert order.variable_fee > 0


def test_cash_days_are_announced_before_the_open_only_and_once(trading_day):
    ops = UserFactory(roles=[roles.OPERATIONS])
    with pytest.raises(InvalidInput):
        services.cash_day_announce(actor=ops, fund=trading_day.fund, trade_date=TRADE_DATE, applies_to="BOTH", extent="WHOLLY",
                                   reason="late", now=et(TRADE_DATE, 9, 30))
    with pytest.raises(InvalidInput):
        services.cash_day_announce(actor=ops, fund=trading_day.fund, trade_date=TRADE_DATE, applies_to="BOTH", extent="PARTLY",
                                   cash_in_lieu_tickers=["NOPE"], reason="x", now=et(TRADE_DATE, 8, 0))
    assert not CashAnnouncement.objects.exists() and not Publication.objects.filter(kind="CASH_ANNOUNCEMENT").exists()
    services.cash_day_announce(actor=ops, fund=trading_day.fund, trade_date=TRADE_DATE, applies_to="BOTH", extent="WHOLLY",
                               reason="x", now=et(TRADE_DATE, 8, 0))
    with pytest.raises(InvalidTransition):
        services.cash_day_announce(actor=ops, fund=trading_day.fund, trade_date=TRADE_DATE, applies_to="BOTH", extent="WHOLLY",
                                   reason="again", now=et(TRADE_DATE, 8, 1))


def test_the_fund_may_require_cash_for_one_order_with_the_reason_recorded(trading_day):
    ops = UserFactory(roles=[roles.OPERATIONS])
    order = place(trading_day, et(TRADE_DATE, 10, 0), "req-1")
    order = services.order_require_cash(actor=ops, order=order, reason="AP cannot deliver two names today", now=et(TRADE_DATE, 10, 5))
    assert order.basket_type == "CASH" and order.cash_reason.startswith("Required by the Fund")
    assert order.events.last().actor == ops and "AP cannot deliver" in order.events.last().message
    price_intraday(trading_day)
    order.refresh_from_db()
    assert order.status == "PRICED" and order.basket_value == D("0.00")
    with pytest.raises(InvalidTransition):
        services.order_require_cash(actor=ops, order=order, reason="again")
