import datetime as dt
from decimal import Decimal as D

import pytest

from funds.services import portfolio_book, shares_outstanding_launch
from tests.factories import FundFactory, SecurityFactory
from tests.integration.funds.conftest import add_prices


@pytest.fixture
def priced_fund_on(actor):
    """Factory: a Fund with one priced holding on the given day."""

    def make(day: dt.date):
        fund = FundFactory(launch_date=dt.date(2025, 1, 2))
        security = SecurityFactory()
        add_prices(security, day, "20.00", "19.50")
        portfolio_book(fund_id=fund.pk, as_of=day, positions=[(security.pk, D("100"))], cash=D("0"), actor=actor)
        shares_outstanding_launch(fund_id=fund.pk, shares=D("100"), effective_date=dt.date(2025, 1, 2), actor=actor)
        return fund

    return make
