import datetime as dt
from decimal import Decimal as D

import pytest

from funds import business_calendar
from funds.models import DailyPrice, IntradaySnapshot
from funds.services import portfolio_book, shares_outstanding_launch
from tests.factories import FundFactory, SecurityFactory

# Wednesday before Thanksgiving 2025 (a full session) and the early-close Friday after it.
DAY = dt.date(2025, 11, 26)
EARLY_CLOSE_DAY = dt.date(2025, 11, 28)


def add_prices(security, day, close, snapshot=None):
    DailyPrice.objects.create(security=security, date=day, close=D(close), volume=1000)
    IntradaySnapshot.objects.create(
        security=security, date=day, price=D(snapshot or close), taken_at=business_calendar.at_new_york(day, dt.time(12))
    )


@pytest.fixture
def priced_fund(actor):
    """A Fund holding three securities with prices on DAY and EARLY_CLOSE_DAY.

    Hand computation for DAY, End of Day: 1,000 x 50.25 + 2,500 x 12.10 + 400 x 101.333333
    = 50,250 + 30,250 + 40,533.3332 = 121,033.3332 -> 121,033.33; + cash 8,966.67 - liabilities 1,000.00
    = 129,000.00 net assets; / 5,000 shares = 25.8000.
    """
    fund = FundFactory(ticker="ACTV", launch_date=dt.date(2025, 1, 2))
    a, b, c = SecurityFactory(ticker="AAA"), SecurityFactory(ticker="BBB"), SecurityFactory(ticker="CCC")
    for day in (DAY, EARLY_CLOSE_DAY):
        add_prices(a, day, "50.25", "50.00")
        add_prices(b, day, "12.10", "12.00")
        add_prices(c, day, "101.333333", "100.00")
    portfolio_book(
        fund_id=fund.pk, as_of=DAY, positions=[(a.pk, D("1000")), (b.pk, D("2500")), (c.pk, D("400"))],
        cash=D("8966.67"), liabilities=D("1000.00"), actor=actor,
    )
    shares_outstanding_launch(fund_id=fund.pk, shares=D("5000"), effective_date=dt.date(2025, 1, 2), actor=actor)
    fund.securities = {"AAA": a, "BBB": b, "CCC": c}
    return fund
