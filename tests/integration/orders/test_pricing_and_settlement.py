"""Orders from acceptance to settlement, through the services: priced at their own strike (Rule 22c-1),
the section 22(e) deadline, the shares-outstanding ledger, the condition A.9 records and their CSV,
and the affiliation of an AP that holds the Fund's Shares (section 17(a) relief).

The trading day is built once for the module inside a transaction rolled back at the end; each
test runs in its own savepoint (pytest-django's ``db``), so the tests stay independent.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from decimal import ROUND_HALF_UP, Decimal as D

import pytest
import time_machine

from backoffice.audit import system_user
from backoffice.exceptions import InvalidInput, InvalidTransition
from baskets.models import BasketComponent
from funds import business_calendar
from funds import services as fund_services
from funds.models import AssetClass, DailyPrice, IntradaySnapshot, NetAssetValue, Security, SharesOutstandingEntry, Strike
from orders import records, services
from orders.models import CreationBasketRecord, CreationBasketRecordLine, Order, OrderEvent, RetentionError
from tests.orders_fixtures import TRADE_DATE, module_trading_day_fixtures, et

pytestmark = pytest.mark.django_db

CENT = D("0.01")
NEXT_DAY = dt.date(2021, 4, 21)
_keys = itertools.count()


_built_day, trading_day = module_trading_day_fixtures()


def place(day, *, at=None, ap="one", side="CREATE", units=2, basket_type="STANDARD", channel=None) -> Order:
    participant, user = (day.ap_one, day.user_one) if ap == "one" else (day.ap_two, day.user_two)
    request = services.OrderRequest(
        fund="BSKT", side=side, creation_units=units, basket_type=basket_type,
        settlement_channel=channel or ("NSCC" if ap == "one" else "DTC"),
    )
    placed = services.order_place(actor=user, participant=participant, request=request, idempotency_key=f"key-{next(_keys)}",
                                  received_at=at or et(TRADE_DATE, 10, 0))
    assert placed.order.status == Order.Status.ACCEPTED, placed.order.rejection_message
    return placed.order


def strike(day, which: str, on: dt.date = TRADE_DATE) -> NetAssetValue:
    now = et(on, 12, 1) if which == Strike.INTRADAY else business_calendar.session_close(on) + dt.timedelta(minutes=5)
    return fund_services.nav_strike(fund_id=day.fund.pk, day=on, strike=which, actor=system_user(), now=now).nav


def price_due(at=None):
    return services.orders_price_due(actor=system_user(), now=at or et(TRADE_DATE, 12, 2))


def reload(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


def component_securities(day) -> list[Security]:
    return [c.security for c in day.basket.components.select_related("security").order_by("security__ticker")]


def hand_priced(nav_per_share: D, units: int, per_cu_basket: D | None, *, cil=D("0"), fixed=D("250.00"), pct=D("0.0500")):
    """The order's figures by the documented rule: cents per Creation Unit, then x units."""
    nav_per_cu = (nav_per_share * 25_000).quantize(CENT, rounding=ROUND_HALF_UP)
    nav_amount = nav_per_cu * units
    if per_cu_basket is None:
        cash_leg, basket, balancing = nav_amount, D("0.00"), D("0.00")
    else:
        basket = per_cu_basket.quantize(CENT, rounding=ROUND_HALF_UP) * units
        balancing = nav_amount - basket
        cash_leg = cil * units
    variable = (cash_leg * pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return {"nav_per_creation_unit": nav_per_cu, "nav_amount": nav_amount, "basket_value": basket,
            "balancing_amount": balancing, "variable_fee": variable, "fixed_fee": fixed, "total_fees": fixed + variable}


# --- priced at their own strike -------------------------------------------------------------


def test_orders_wait_for_their_own_nav_and_are_priced_at_it(trading_day):
    # given: the End of Day NAV that the fixture struck ahead of time is removed, so neither NAV exists yet
    NetAssetValue.objects.filter(fund=trading_day.fund, date=TRADE_DATE, strike=Strike.END_OF_DAY).delete()
    intraday_order = place(trading_day, at=et(TRADE_DATE, 10, 0))
    end_of_day_order = place(trading_day, at=et(TRADE_DATE, 12, 30))
    assert (intraday_order.strike, end_of_day_order.strike) == (Strike.INTRADAY, Strike.END_OF_DAY)

    # when: the pricing run comes before any NAV
    assert price_due(et(TRADE_DATE, 11, 0)) == []
    # then: both wait
    assert {reload(o).status for o in (intraday_order, end_of_day_order)} == {Order.Status.ACCEPTED}
    assert not CreationBasketRecord.objects.exists()

    # when: the 12:00 NAV is struck and the run comes again
    intraday_nav = strike(trading_day, Strike.INTRADAY)
    (outcome,) = price_due(et(TRADE_DATE, 12, 2))
    # then: only the Intra-Day order is priced, at the Intra-Day NAV
    assert outcome.strike == Strike.INTRADAY and outcome.priced == [intraday_order.reference]
    intraday_order, end_of_day_order = reload(intraday_order), reload(end_of_day_order)
    assert intraday_order.status == Order.Status.PRICED
    assert intraday_order.nav == intraday_nav and intraday_order.nav_per_share == intraday_nav.nav_per_share
    assert end_of_day_order.status == Order.Status.ACCEPTED and end_of_day_order.nav is None

    # when: the close is struck
    end_of_day_nav = strike(trading_day, Strike.END_OF_DAY)
    assert end_of_day_nav.nav_per_share != intraday_nav.nav_per_share  # snapshot prices differ from the closes
    price_due(et(TRADE_DATE, 16, 6))
    # then: the End of Day order gets the End of Day NAV; the Intra-Day one is untouched
    end_of_day_order = reload(end_of_day_order)
    assert end_of_day_order.status == Order.Status.PRICED
    assert end_of_day_order.nav == end_of_day_nav and end_of_day_order.nav_per_share == end_of_day_nav.nav_per_share
    assert reload(intraday_order).nav == intraday_nav
    assert CreationBasketRecord.objects.count() == 2


def test_pricing_one_strike_leaves_the_other_strikes_orders(trading_day):
    intraday_order = place(trading_day, at=et(TRADE_DATE, 10, 0))
    end_of_day_order = place(trading_day, at=et(TRADE_DATE, 12, 0))
    # no Intra-Day NAV yet: pricing the Intra-Day strike says so and prices nothing
    waiting = services.orders_price(fund=trading_day.fund, trade_date=TRADE_DATE, strike=Strike.INTRADAY, actor=system_user(),
                                    now=et(TRADE_DATE, 11, 0))
    assert waiting.priced == [] and "no INTRADAY NAV" in waiting.message
    strike(trading_day, Strike.INTRADAY)
    outcome = services.orders_price(fund=trading_day.fund, trade_date=TRADE_DATE, strike=Strike.INTRADAY, actor=system_user(),
                                    now=et(TRADE_DATE, 12, 2))
    assert outcome.priced == [intraday_order.reference]
    assert reload(end_of_day_order).status == Order.Status.ACCEPTED


def test_an_in_kind_order_is_priced_by_hand_from_the_strike_prices(trading_day):
    order = place(trading_day, units=3)
    nav = strike(trading_day, Strike.INTRADAY)
    price_due()
    order = reload(order)
    snapshot = dict(IntradaySnapshot.objects.filter(date=TRADE_DATE).values_list("security_id", "price"))
    per_cu = sum(c.quantity * snapshot[c.security_id] for c in trading_day.basket.components.all())
    expected = hand_priced(nav.nav_per_share, 3, per_cu)
    for name, value in expected.items():
        assert getattr(order, name) == value, name
    assert order.variable_fee == D("0.00")  # no cash-in-lieu leg in this basket
    assert order.in_kind_value == order.basket_value and order.cash_in_lieu_amount == D("0.00")
    assert order.balancing_amount_payer == ("AP" if order.balancing_amount > 0 else "FUND")
    assert order.priced_basket == trading_day.basket
    assert order.settlement_date == NEXT_DAY
    event = OrderEvent.objects.filter(order=order, to_status="PRICED").get()
    assert event.actor == system_user() and str(nav.nav_per_share) in event.message


def test_a_cash_order_is_priced_at_nav_times_units_with_the_fee_on_the_whole_amount(trading_day):
    # given: Beta (DTC only) places an all-cash creation
    order = place(trading_day, ap="two", basket_type="CASH", units=2)
    assert order.settlement_channel == "DTC"
    nav = strike(trading_day, Strike.INTRADAY)
    # when
    price_due()
    # then: NAV x 25,000 x 2; fees = DTC 750.00 + 0.05% of the NAV amount
    order = reload(order)
    expected = hand_priced(nav.nav_per_share, 2, None, fixed=D("750.00"))
    for name, value in expected.items():
        assert getattr(order, name) == value, name
    assert order.variable_fee > 0
    assert order.balancing_amount_payer == "NONE"
    assert order.in_kind_value == order.cash_in_lieu_amount == D("0.00")
    assert order.net_cash_amount == order.nav_amount + order.total_fees and order.net_cash_payer == "AP"
    assert order.priced_basket is None and order.delivers_foreign_stock is False
    # the A.9 record: no securities, the whole NAV amount in cash
    record = order.basket_record
    assert record.basket_type == Order.BasketType.CASH and record.substitute_basket is None
    assert record.lines.count() == 0
    assert record.cash_amount == order.nav_amount
    assert record.balancing_amount == D("0.00") and record.balancing_amount_payer == "NONE"


def test_a_cash_redemption_pays_the_ap_nav_less_fees(trading_day):
    order = place(trading_day, ap="two", basket_type="CASH", side="REDEEM", units=1)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    order = reload(order)
    assert order.net_cash_payer == "FUND"
    assert order.net_cash_amount == order.nav_amount - order.total_fees
    assert order.fixed_fee == D("750.00")


# --- section 22(e): the settlement deadline ------------------------------------------------


@pytest.mark.parametrize("how", ["is_foreign", "asset_class"])
def test_a_redemption_delivering_foreign_stock_gets_fifteen_days(trading_day, how):
    # given: one component delivered in kind is a foreign security
    security = component_securities(trading_day)[0]
    if how == "is_foreign":
        security.is_foreign = True
    else:
        security.asset_class = AssetClass.FOREIGN_COMMON_STOCK
    security.save()
    order = place(trading_day, side="REDEEM")
    strike(trading_day, Strike.INTRADAY)
    # when
    price_due()
    # then: received 2021-04-20, deadline 15 calendar days later
    order = reload(order)
    assert order.delivers_foreign_stock is True
    assert order.settlement_deadline == dt.date(2021, 5, 5)
    # settling the day after the deadline is late, and the event says so
    services.order_settle(actor=system_user(), order=order, settled_on=dt.date(2021, 5, 6))
    order = reload(order)
    assert order.status == Order.Status.SETTLED and order.settled_late is True
    event = OrderEvent.objects.filter(order=order, to_status="SETTLED").get()
    assert "LATE" in event.message and "2021-05-05" in event.message
    assert event.details == {"settled_late": True}


def test_foreign_redemption_settled_on_the_deadline_is_in_time(trading_day):
    Security.objects.filter(pk=component_securities(trading_day)[0].pk).update(is_foreign=True)
    order = place(trading_day, side="REDEEM")
    strike(trading_day, Strike.INTRADAY)
    price_due()
    services.order_settle(actor=system_user(), order=reload(order), settled_on=dt.date(2021, 5, 5))
    order = reload(order)
    assert order.settled_late is False
    assert "LATE" not in OrderEvent.objects.get(order=order, to_status="SETTLED").message


def test_a_creation_or_cash_redemption_with_foreign_stock_keeps_seven_days(trading_day):
    Security.objects.filter(pk=component_securities(trading_day)[0].pk).update(is_foreign=True)
    creation = place(trading_day, side="CREATE")
    cash_redemption = place(trading_day, ap="two", side="REDEEM", basket_type="CASH")
    strike(trading_day, Strike.INTRADAY)
    price_due()
    for order in (reload(creation), reload(cash_redemption)):
        assert order.status == Order.Status.PRICED
        assert order.delivers_foreign_stock is False
        assert order.settlement_deadline == dt.date(2021, 4, 27)


def test_a_foreign_security_delivered_as_cash_in_lieu_is_not_foreign_stock_delivered(trading_day):
    # given: the only foreign security is a cash-in-lieu line
    security = component_securities(trading_day)[0]
    Security.objects.filter(pk=security.pk).update(is_foreign=True)
    BasketComponent.objects.filter(basket=trading_day.basket, security=security).update(cash_in_lieu=True)
    order = place(trading_day, side="REDEEM", units=2)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    order = reload(order)
    assert order.delivers_foreign_stock is False and order.settlement_deadline == dt.date(2021, 4, 27)
    # and the cash-in-lieu leg now carries the variable fee: 0.05% of quantity x 12:00 price x 2, to the cent
    component = BasketComponent.objects.get(basket=trading_day.basket, security=security)
    price = IntradaySnapshot.objects.get(security=security, date=TRADE_DATE).price
    cil = (component.quantity * price).quantize(CENT, rounding=ROUND_HALF_UP) * 2
    assert order.cash_in_lieu_amount == cil
    assert order.variable_fee == (cil * D("0.0005")).quantize(CENT, rounding=ROUND_HALF_UP)


def test_a_domestic_redemption_has_seven_days(trading_day):
    on_time, late = place(trading_day, side="REDEEM", units=1), place(trading_day, side="REDEEM", units=1)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    for order in (on_time, late):
        order = reload(order)
        assert order.delivers_foreign_stock is False
        assert order.settlement_deadline == dt.date(2021, 4, 27)
    services.order_settle(actor=system_user(), order=on_time, settled_on=dt.date(2021, 4, 27))
    services.order_settle(actor=system_user(), order=late, settled_on=dt.date(2021, 4, 28))
    assert reload(on_time).settled_late is False
    assert reload(late).settled_late is True
    assert "LATE" in OrderEvent.objects.get(order=late, to_status="SETTLED").message
    assert list(services.orders_overdue(today=dt.date(2021, 4, 28))) == []  # settled, so not overdue


# --- settlement and the shares outstanding ----------------------------------------------------


def _add_closes(day: dt.date, source: dt.date) -> None:
    DailyPrice.objects.bulk_create([
        DailyPrice(security_id=sid, date=day, close=close, adj_close=close, volume=1_000_000)
        for sid, close in DailyPrice.objects.filter(date=source).values_list("security_id", "close")
    ])


def test_settlement_writes_the_ledger_and_the_next_nav_counts_it(trading_day):
    # given: a creation of 2 CU (50,000 Shares) and a redemption of 1 CU (25,000 Shares), priced
    creation = place(trading_day, side="CREATE", units=2)
    redemption = place(trading_day, side="REDEEM", units=1)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    assert SharesOutstandingEntry.outstanding(trading_day.fund.pk, NEXT_DAY) == D("400000")
    ops = system_user()

    # when: both settle on T+1
    services.order_settle(actor=ops, order=creation, settled_on=NEXT_DAY)
    services.order_settle(actor=ops, order=redemption, settled_on=NEXT_DAY)

    # then: one ledger entry each, effective on the settlement day
    entries = {e.reference: e for e in SharesOutstandingEntry.objects.filter(reference__in=[creation.reference, redemption.reference])}
    assert (entries[creation.reference].kind, entries[creation.reference].change) == ("CREATION", D("50000"))
    assert (entries[redemption.reference].kind, entries[redemption.reference].change) == ("REDEMPTION", D("-25000"))
    assert {e.effective_date for e in entries.values()} == {NEXT_DAY}
    assert SharesOutstandingEntry.outstanding(trading_day.fund.pk, TRADE_DATE) == D("400000")
    assert SharesOutstandingEntry.outstanding(trading_day.fund.pk, NEXT_DAY) == D("425000")
    assert reload(creation).settled_on == NEXT_DAY and reload(creation).status == Order.Status.SETTLED

    # and the End of Day NAV struck on the settlement day divides by the new count
    _add_closes(NEXT_DAY, TRADE_DATE)  # the fixture's prices stop at the trade date
    nav = strike(trading_day, Strike.END_OF_DAY, on=NEXT_DAY)
    assert nav.shares_outstanding == D("425000")
    assert NetAssetValue.objects.get(fund=trading_day.fund, date=TRADE_DATE, strike=Strike.END_OF_DAY).shares_outstanding == D("400000")
    assert nav.nav_per_share == (nav.net_assets / D("425000")).quantize(D("0.0001"), rounding=ROUND_HALF_UP)


def test_settlement_refuses_a_non_business_day_or_a_day_before_the_trade(trading_day):
    order = place(trading_day)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    with pytest.raises(InvalidInput, match="not a business day"):
        services.order_settle(actor=system_user(), order=order, settled_on=dt.date(2021, 4, 24))
    with pytest.raises(InvalidInput, match="before the trade date"):
        services.order_settle(actor=system_user(), order=order, settled_on=dt.date(2021, 4, 19))
    assert reload(order).status == Order.Status.PRICED
    assert not SharesOutstandingEntry.objects.filter(reference=order.reference).exists()


# --- transitions out of order ---------------------------------------------------------------


def test_an_accepted_order_cannot_settle_or_fail(trading_day):
    order = place(trading_day)
    with pytest.raises(InvalidTransition) as caught:
        services.order_settle(actor=system_user(), order=order, settled_on=NEXT_DAY)
    assert caught.value.http_status == 409
    with pytest.raises(InvalidTransition):
        services.order_fail(actor=system_user(), order=order, reason="no securities delivered")
    order = reload(order)
    assert order.status == Order.Status.ACCEPTED and order.failure_reason == ""
    assert not SharesOutstandingEntry.objects.filter(reference=order.reference).exists()


def test_a_settled_order_cannot_settle_fail_price_or_cancel_again(trading_day):
    order = place(trading_day)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    services.order_settle(actor=system_user(), order=order, settled_on=NEXT_DAY)
    order = reload(order)
    with pytest.raises(InvalidTransition):
        services.order_settle(actor=system_user(), order=order, settled_on=NEXT_DAY)
    with pytest.raises(InvalidTransition):
        services.order_fail(actor=system_user(), order=order, reason="late")
    with pytest.raises(InvalidTransition, match="cannot be priced"):
        services._transition(order, "price", system_user(), et(NEXT_DAY, 17, 0), "again")
    with pytest.raises(InvalidTransition):
        services.order_cancel(actor=trading_day.user_one, order=order, now=et(TRADE_DATE, 10, 30))
    assert reload(order).status == Order.Status.SETTLED
    assert SharesOutstandingEntry.objects.filter(reference=order.reference).count() == 1
    assert list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True)) == ["RECEIVED", "ACCEPTED", "PRICED", "SETTLED"]


def test_a_priced_order_is_not_priced_twice(trading_day):
    order = place(trading_day)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    first = reload(order)
    again = services.orders_price(fund=trading_day.fund, trade_date=TRADE_DATE, strike=Strike.INTRADAY, actor=system_user(),
                                  now=et(TRADE_DATE, 13, 0))
    assert again.priced == []
    assert reload(order).priced_at == first.priced_at
    assert CreationBasketRecord.objects.filter(order=order).count() == 1


def test_a_failed_order_cannot_settle(trading_day):
    order = place(trading_day)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    services.order_fail(actor=system_user(), order=order, reason="  securities not delivered  ")
    order = reload(order)
    assert order.status == Order.Status.FAILED and order.failure_reason == "securities not delivered"
    assert "securities not delivered" in OrderEvent.objects.get(order=order, to_status="FAILED").message
    with pytest.raises(InvalidTransition):
        services.order_settle(actor=system_user(), order=order, settled_on=NEXT_DAY)
    assert not SharesOutstandingEntry.objects.filter(reference=order.reference).exists()


def test_a_priced_order_cannot_be_cancelled(trading_day):
    order = place(trading_day)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    with pytest.raises(InvalidTransition):
        services.order_cancel(actor=trading_day.user_one, order=order, now=et(TRADE_DATE, 11, 0))
    assert reload(order).status == Order.Status.PRICED


def test_only_the_placing_ap_can_cancel_even_below_the_api(trading_day):
    # The API answers 404 to another AP before the service is reached; the service refuses on its own too.
    order = place(trading_day)
    for outsider in (trading_day.user_two, system_user()):
        with pytest.raises(services.NotEntitled):
            services.order_cancel(actor=outsider, order=order, now=et(TRADE_DATE, 10, 30))
    assert reload(order).status == Order.Status.ACCEPTED
    cancelled = services.order_cancel(actor=trading_day.user_one, order=order, now=et(TRADE_DATE, 10, 30))
    assert cancelled.status == Order.Status.CANCELLED
    assert OrderEvent.objects.get(order=order, to_status="CANCELLED").actor == trading_day.user_one


# --- the condition A.9 record -----------------------------------------------------------------


def _priced_in_kind(trading_day, units=2, side="CREATE") -> Order:
    order = place(trading_day, units=units, side=side)
    strike(trading_day, Strike.INTRADAY)
    price_due()
    return reload(order)


def test_the_record_names_every_security_exchanged(trading_day):
    order = _priced_in_kind(trading_day, units=3)
    record = order.basket_record
    # the record
    assert (record.participant_name, record.dtc_participant_number) == ("Alpha Clearing LLC", "0101")
    assert (record.trade_date, record.side, record.creation_units) == (TRADE_DATE, "CREATE", 3)
    assert record.basket_type == "STANDARD" and record.is_alternate_basket is False
    assert record.substitute_basket == trading_day.basket
    assert (record.basket_value, record.balancing_amount, record.balancing_amount_payer) == (
        order.basket_value, order.balancing_amount, order.balancing_amount_payer)
    assert record.cash_amount == order.cash_in_lieu_amount == D("0.00")
    assert record.retain_until == dt.date(2026, 4, 20)
    # its lines: one per component, quantities for the whole order, strike prices, weights summing to 100
    components = {c.security_id: c for c in trading_day.basket.components.select_related("security")}
    snapshot = dict(IntradaySnapshot.objects.filter(date=TRADE_DATE).values_list("security_id", "price"))
    lines = list(record.lines.all())
    assert len(lines) == len(components)
    for line in lines:
        component = components[line.security_id]
        assert (line.ticker, line.cusip, line.description) == (
            component.security.ticker, component.security.cusip, component.security.description)
        assert line.quantity == component.quantity * 3
        assert line.price == snapshot[line.security_id]
        assert line.market_value == line.quantity * line.price
        assert line.cash_in_lieu is False
    total = sum(line.market_value for line in lines)
    assert abs(total - record.basket_value) <= D("0.005") * 3  # rounded per Creation Unit, x 3
    assert sum(line.weight_pct for line in lines) == pytest.approx(D("100"), abs=D("0.0001") * len(lines))
    biggest = max(lines, key=lambda line: line.market_value)
    assert biggest.weight_pct == (biggest.market_value * 100 / total).quantize(D("0.0001"), rounding=ROUND_HALF_UP)


def test_the_record_is_immutable(trading_day):
    record = _priced_in_kind(trading_day).basket_record
    original = record.balancing_amount
    record.balancing_amount = D("0.00")
    with pytest.raises(RetentionError):
        record.save()
    line = record.lines.first()
    line.quantity = D("1")
    with pytest.raises(RetentionError):
        line.save()
    record.refresh_from_db()
    assert record.balancing_amount == original
    assert RetentionError.http_status == 409 and RetentionError.code == "retention_period"


def test_the_record_cannot_be_deleted_within_five_years(trading_day):
    record = _priced_in_kind(trading_day).basket_record
    with time_machine.travel(dt.datetime(2026, 4, 19, 12, 0, tzinfo=dt.timezone.utc), tick=False):
        with pytest.raises(RetentionError, match="2026-04-20"):
            record.delete()
        with pytest.raises(RetentionError):
            CreationBasketRecord.objects.filter(pk=record.pk).delete()
        with pytest.raises(RetentionError):
            CreationBasketRecord.objects.all().delete()
        with pytest.raises(RetentionError):
            record.lines.first().delete()
        with pytest.raises(RetentionError):
            CreationBasketRecordLine.objects.filter(record=record).delete()
    assert CreationBasketRecord.objects.filter(pk=record.pk).exists()
    assert record.lines.count() == trading_day.basket.components.count()
    # five years after the trade date it may go
    with pytest.raises(RetentionError):
        record.check_deletable(today=dt.date(2026, 4, 19))
    record.check_deletable(today=dt.date(2026, 4, 20))


# --- the A.9 CSV --------------------------------------------------------------------------------


def _csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_records_csv_escapes_formula_text_but_keeps_negative_amounts_numeric(trading_day):
    # given: an AP name and security descriptions a spreadsheet would run as formulas
    trading_day.ap_one.legal_name = '=HYPERLINK("http://evil.example","x")'
    trading_day.ap_one.save()
    securities = component_securities(trading_day)
    for security, text in zip(securities, ["@SUM(A1:A9)", "+1 Corp", "-2 Corp"]):
        Security.objects.filter(pk=security.pk).update(description=text)
    order = place(trading_day)
    strike(trading_day, Strike.INTRADAY)
    # the basket's 12:00 prices move up 5% after the NAV is struck: basket > NAV, Balancing Amount negative
    for snapshot in IntradaySnapshot.objects.filter(date=TRADE_DATE, security__in=securities):
        snapshot.price = (snapshot.price * D("1.05")).quantize(CENT)
        snapshot.save()
    price_due()
    record = reload(order).basket_record
    assert record.balancing_amount < 0 and record.balancing_amount_payer == "FUND"

    # when
    rows = _csv_rows(records.records_csv([record]))

    # then
    assert len(rows) == len(securities)
    assert {row["authorized_participant"] for row in rows} == {"'" + '=HYPERLINK("http://evil.example","x")'}
    descriptions = {row["ticker"]: row["description"] for row in rows}
    assert descriptions[securities[0].ticker] == "'@SUM(A1:A9)"
    assert descriptions[securities[1].ticker] == "'+1 Corp"
    assert descriptions[securities[2].ticker] == "'-2 Corp"
    assert descriptions[securities[3].ticker] == f"{securities[3].ticker} Inc."  # ordinary text untouched
    for row in rows:
        assert row["balancing_amount"] == str(record.balancing_amount)  # "-1234.56": no quote, still a number
        assert row["balancing_amount"].startswith("-") and D(row["balancing_amount"]) < 0
        assert row["balancing_amount_paid_by"] == "FUND"
        assert D(row["quantity"]) > 0 and D(row["market_value"]) > 0


def test_records_csv_has_one_all_cash_row_for_a_cash_order(trading_day):
    order = place(trading_day, ap="two", basket_type="CASH")
    strike(trading_day, Strike.INTRADAY)
    price_due()
    record = reload(order).basket_record
    text = records.records_csv([record])
    assert text.splitlines()[0] == ",".join(records.COLUMNS)
    (row,) = _csv_rows(text)
    assert row["description"] == "All cash" and row["ticker"] == ""
    assert row["cash_amount"] == str(reload(order).nav_amount)
    assert row["authorized_participant"] == "Beta Securities Inc." and row["basket_type"] == "CASH"


# --- affiliation: an AP holding the Fund's Shares -------------------------------------------


def _report(trading_day, shares: str, as_of: dt.date = dt.date(2021, 4, 19)):
    return services.participant_holding_report(actor=system_user(), participant=trading_day.ap_one, fund=trading_day.fund,
                                               as_of=as_of, shares=D(shares))


@pytest.mark.parametrize(
    "shares, percent, affiliated, wording",
    [
        ("16000", "4.0000", False, None),  # 4% of 400,000
        ("20000", "5.0000", True, "holds 5% or more of"),  # exactly 5%: affiliated
        ("24000", "6.0000", True, "holds 5% or more of"),
        ("100000", "25.0000", True, "holds 5% or more of"),  # exactly 25% is not "over 25%"
        ("120000", "30.0000", True, "controls (over 25%)"),
    ],
)
def test_affiliation_follows_the_reported_holding(trading_day, shares, percent, affiliated, wording):
    # given
    holding = _report(trading_day, shares)
    assert holding.shares_outstanding == D("400000") and holding.percent_of_fund == D(percent)
    # when: an in-kind order arrives the next day
    order = place(trading_day)
    # then: still accepted, and marked
    assert order.status == Order.Status.ACCEPTED
    assert order.ap_affiliated is affiliated
    if affiliated:
        assert wording in order.affiliation_note
        assert "17(a)" in order.affiliation_note
        assert f"{percent}% of shares outstanding as of 2021-04-19" in order.affiliation_note
    else:
        assert order.affiliation_note == ""
    accepted = OrderEvent.objects.get(order=order, to_status="ACCEPTED")
    assert accepted.details["affiliated"] is affiliated
    # the other AP is not affected
    assert services.affiliation_on(participant_id=trading_day.ap_two.pk, fund=trading_day.fund, on=TRADE_DATE) == (False, "")


def test_an_affiliated_aps_in_kind_order_is_priced_like_any_other(trading_day):
    _report(trading_day, "120000")
    order = _priced_in_kind(trading_day)
    assert order.status == Order.Status.PRICED and order.ap_affiliated is True
    assert "control" in order.affiliation_note
    assert order.basket_record.lines.count() == trading_day.basket.components.count()


def test_the_latest_holding_on_or_before_the_day_counts(trading_day):
    _report(trading_day, "24000", as_of=dt.date(2021, 4, 16))  # 6%
    _report(trading_day, "16000", as_of=dt.date(2021, 4, 19))  # then down to 4%
    _report(trading_day, "200000", as_of=dt.date(2021, 4, 21))  # after the trade date: not known yet
    assert services.affiliation_on(participant_id=trading_day.ap_one.pk, fund=trading_day.fund, on=TRADE_DATE) == (False, "")
    affiliated, note = services.affiliation_on(participant_id=trading_day.ap_one.pk, fund=trading_day.fund, on=dt.date(2021, 4, 16))
    assert affiliated and "6.0000%" in note


def test_a_negative_holding_is_refused(trading_day):
    with pytest.raises(InvalidInput, match="shares"):
        _report(trading_day, "-1")


def test_a9_records_refuse_bulk_updates_too(trading_day, actor):
    from orders.models import CreationBasketRecord, CreationBasketRecordLine, RetentionError

    with pytest.raises(RetentionError):
        CreationBasketRecord.objects.all().update(balancing_amount=0)
    with pytest.raises(RetentionError):
        CreationBasketRecordLine.objects.all().update(quantity=1)


def test_a_settlement_cannot_be_confirmed_before_it_happens(trading_day):
    from backoffice.exceptions import InvalidInput as _InvalidInput

    order = place(trading_day, at=et(TRADE_DATE, 10, 0))
    strike(trading_day, Strike.INTRADAY)
    price_due(at=et(TRADE_DATE, 12, 2))
    order = reload(order)
    assert order.status == Order.Status.PRICED
    with pytest.raises(_InvalidInput) as refused:
        services.order_settle(actor=system_user(), order=order, settled_on=NEXT_DAY, now=et(TRADE_DATE, 17, 0))
    assert "settled_on" in refused.value.details and reload(order).status == Order.Status.PRICED
