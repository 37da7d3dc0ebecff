"""A small real market for basket tests: 40 stocks of the demo sample (real closes), one Fund holding 25 of them.

Trade dates: PRIOR (2021-04-19) and TRADE_DATE (2021-04-20); the End of Day NAVs of 2021-04-16 and PRIOR
are struck, so baskets can be published for both days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from backoffice import roles
from baskets.models import BasketPolicy
from baskets.services import protected_security_designate
from funds import business_calendar
from funds.models import DailyPrice, Fund, Security, Strike
from funds.services import nav_strike_batch, portfolio_book, shares_outstanding_launch
from tests.factories import FundFactory, SecurityFactory, UserFactory

PRICES_FILE = Path(settings.BASE_DIR) / "data" / "demo" / "prices.csv.gz"
TRADE_DATE = dt.date(2021, 4, 20)
PRIOR = dt.date(2021, 4, 19)
BEFORE_PRIOR = dt.date(2021, 4, 16)
PORTFOLIO_DATE = dt.date(2021, 4, 15)
N_SECURITIES = 40
N_HOLDINGS = 25


@dataclass
class Market:
    fund: Fund
    securities: dict[str, Security]
    held: list[str]
    protected: list[str]
    pm: object


def _sample(end: dt.date, sessions: int) -> pd.DataFrame:
    frame = pd.read_csv(PRICES_FILE, dtype={"ticker": str, "date": str})
    frame = frame[frame["date"] <= end.isoformat()]
    tickers = sorted(frame["ticker"].unique())[:: max(1, len(frame["ticker"].unique()) // N_SECURITIES)][:N_SECURITIES]
    days = sorted(frame["date"].unique())[-sessions:]
    return frame[frame["ticker"].isin(tickers) & frame["date"].isin(days)]


def build_market(actor, *, protected_count: int = 3, end: dt.date = TRADE_DATE, sessions: int = 300) -> Market:
    sample = _sample(end, sessions)
    securities = {t: SecurityFactory(ticker=t, description=f"{t} Inc.") for t in sorted(sample["ticker"].unique())}
    DailyPrice.objects.bulk_create(
        [
            DailyPrice(security=securities[r.ticker], date=dt.date.fromisoformat(r.date), close=D(str(r.close)),
                       adj_close=D(str(r.adj_close)), volume=int(r.volume))
            for r in sample.itertuples(index=False)
        ],
        batch_size=2000,
    )
    fund = FundFactory(ticker="BSKT", creation_unit_size=25_000, launch_date=dt.date(2021, 1, 4))
    BasketPolicy.objects.create(fund=fund, min_average_dollar_volume=D("1000000"))
    held = sorted(securities)[:N_HOLDINGS]
    closes = sample[sample["date"] == PORTFOLIO_DATE.isoformat()].set_index("ticker")["close"]
    # $10m Fund, equal-ish weights, 1% cash
    positions = [(securities[t].pk, D(int(10_000_000 * 0.99 / N_HOLDINGS * (1 + 0.02 * i) / 1.24 / float(closes[t])))) for i, t in enumerate(held)]
    portfolio_book(fund_id=fund.pk, as_of=PORTFOLIO_DATE, positions=positions, cash=D("100000.00"), actor=actor)
    shares_outstanding_launch(fund_id=fund.pk, shares=D("400000"), effective_date=dt.date(2021, 1, 4), actor=actor)
    for day in (PORTFOLIO_DATE, BEFORE_PRIOR, PRIOR, TRADE_DATE):
        after_close = business_calendar.session_close(day) + dt.timedelta(minutes=5)
        nav_strike_batch(fund_ids=[fund.pk], day=day, strike=Strike.END_OF_DAY, actor=actor, now=after_close)
    if not Group.objects.filter(name=roles.PORTFOLIO_MANAGER).exists():
        roles.sync_roles()  # a transactional test ran before and flushed the groups the data migration made
    pm = UserFactory(roles=[roles.PORTFOLIO_MANAGER])
    protected = held[:protected_count]
    for ticker in protected:
        protected_security_designate(
            fund_id=fund.pk, security_id=securities[ticker].pk, effective_from=PORTFOLIO_DATE, reason="building a position", actor=pm
        )
    return Market(fund=fund, securities=securities, held=held, protected=protected, pm=pm)


def before_open(day: dt.date) -> dt.datetime:
    return business_calendar.at_new_york(day, dt.time(8, 0))


@pytest.fixture
def market(actor):
    return build_market(actor)
