import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from backoffice.exceptions import InvalidInput
from funds.exceptions import NotABusinessDay, PennyStockPurchase
from funds.models import DailyPrice, Fund, Holding, Portfolio
from funds.services import fund_create, fund_update, portfolio_book, security_create
from tests.factories import AdviserFactory, DistributorFactory, FundFactory, SecurityFactory, TrustFactory, make_cusip

pytestmark = pytest.mark.django_db


def fund_fields(**overrides):
    fields = dict(
        trust=TrustFactory(), adviser=AdviserFactory(), distributor=DistributorFactory(), name="New Active ETF",
        ticker="NEWA", cusip=make_cusip(99, "N"), launch_date=dt.date(2026, 1, 2), initial_price=D("25"),
    )
    fields.update(overrides)
    return fields


def test_fund_create_with_defaults_and_history(actor):
    fund = fund_create(actor=actor, **fund_fields())
    assert fund.creation_unit_size == 5000
    assert fund.intraday_strike_time == dt.time(12, 0)
    assert fund.end_of_day_strike_time is None  # the NYSE close
    assert fund.corrective_action_threshold_pct == D("2.00")
    assert fund.tracking_error_threshold_pct == D("1.00")
    assert fund.history.get().history_user == actor


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("creation_unit_size", 4999, "at least 5,000"),
        ("corrective_action_threshold_pct", D("2.01"), "2.00%"),
        ("tracking_error_threshold_pct", D("1.01"), "1.00%"),
        ("cusip", "037833101", "check digit"),
    ],
)
def test_fund_create_refuses_values_beyond_the_application(actor, field, value, message):
    with pytest.raises(ValidationError) as error:
        fund_create(actor=actor, **fund_fields(**{field: value}))
    assert message in str(error.value.message_dict[field])
    assert not Fund.objects.filter(ticker="NEWA").exists()


def test_fund_update_refuses_and_keeps_the_old_value(actor):
    fund = FundFactory()
    with pytest.raises(ValidationError):
        fund_update(fund_id=fund.pk, actor=actor, creation_unit_size=1000)
    fund.refresh_from_db()
    assert fund.creation_unit_size == 5000


def test_database_constraints_back_the_validators():
    fund = FundFactory()
    for field, value in [("creation_unit_size", 100), ("corrective_action_threshold_pct", D("3")), ("tracking_error_threshold_pct", D("1.5"))]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Fund.objects.filter(pk=fund.pk).update(**{field: value})


def test_security_create_validates_cusip(actor):
    with pytest.raises(ValidationError) as error:
        security_create(actor=actor, ticker="BAD", cusip="123456789", description="x", exchange="XNYS")
    assert "cusip" in error.value.message_dict


def test_penny_stock_purchase_is_refused_and_nothing_is_written(actor):
    fund = FundFactory()
    cheap, fine = SecurityFactory(ticker="CHEAP"), SecurityFactory(ticker="FINE")
    day = dt.date(2025, 11, 26)
    DailyPrice.objects.create(security=cheap, date=day, close=D("4.99"), volume=1)
    DailyPrice.objects.create(security=fine, date=day, close=D("5.00"), volume=1)
    with pytest.raises(PennyStockPurchase, match="CHEAP"):
        portfolio_book(fund_id=fund.pk, as_of=day, positions=[(fine.pk, D("10")), (cheap.pk, D("10"))], cash=D("0"), actor=actor)
    assert not Portfolio.objects.exists() and not Holding.objects.exists()
    # $5.00 exactly is not a penny stock
    portfolio_book(fund_id=fund.pk, as_of=day, positions=[(fine.pk, D("10"))], cash=D("0"), actor=actor)


def test_holding_a_stock_that_fell_below_five_dollars_is_allowed_but_adding_is_not(actor):
    fund = FundFactory()
    stock = SecurityFactory(ticker="FALLEN")
    d1, d2, d3 = dt.date(2025, 11, 24), dt.date(2025, 11, 25), dt.date(2025, 11, 26)
    DailyPrice.objects.create(security=stock, date=d1, close=D("6"), volume=1)
    DailyPrice.objects.create(security=stock, date=d2, close=D("4"), volume=1)
    portfolio_book(fund_id=fund.pk, as_of=d1, positions=[(stock.pk, D("100"))], cash=D("0"), actor=actor)
    portfolio_book(fund_id=fund.pk, as_of=d2, positions=[(stock.pk, D("100"))], cash=D("0"), actor=actor)  # unchanged
    with pytest.raises(PennyStockPurchase):
        portfolio_book(fund_id=fund.pk, as_of=d3, positions=[(stock.pk, D("150"))], cash=D("0"), actor=actor)


@pytest.mark.parametrize(
    "positions, error, match",
    [
        ([("A", "-5")], InvalidInput, "must be positive"),
        ([("A", "5"), ("A", "6")], InvalidInput, "appears twice"),
        ([("A", "abc")], InvalidInput, "must be a number"),
        ([(999999, "5")], InvalidInput, "unknown security"),
    ],
)
def test_bad_portfolio_input_is_named(actor, positions, error, match):
    fund = FundFactory()
    security = SecurityFactory()
    DailyPrice.objects.create(security=security, date=dt.date(2025, 11, 26), close=D("10"), volume=1)
    resolved = [(security.pk if sid == "A" else sid, qty) for sid, qty in positions]
    with pytest.raises(error, match=match):
        portfolio_book(fund_id=fund.pk, as_of=dt.date(2025, 11, 26), positions=resolved, cash=D("0"), actor=actor)
    assert not Portfolio.objects.exists()


def test_portfolio_on_a_holiday_is_refused(actor):
    with pytest.raises(NotABusinessDay):
        portfolio_book(fund_id=FundFactory().pk, as_of=dt.date(2025, 12, 25), positions=[], cash=D("0"), actor=actor)


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"intraday_strike_time": dt.time(13, 30)}, "intraday_strike_time", "before 13:00 ET"),
        ({"intraday_strike_time": dt.time(9, 0)}, "intraday_strike_time", "after the 09:30 ET open"),
        ({"intraday_strike_time": dt.time(12, 0), "end_of_day_strike_time": dt.time(11, 0)}, "end_of_day_strike_time", "after the Intra-Day"),
    ],
)
def test_strike_times_must_fit_every_session(actor, fields, field, message):
    # an Intra-Day time after a 13:00 early close would leave that day without a valid strike
    with pytest.raises(ValidationError) as error:
        fund_create(actor=actor, **fund_fields(**fields))
    assert message in str(error.value.message_dict[field])


def test_database_refuses_an_intraday_strike_after_the_early_close():
    fund = FundFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Fund.objects.filter(pk=fund.pk).update(intraday_strike_time=dt.time(13, 30))
