import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal as D

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from backoffice import roles
from backoffice.exceptions import InvalidInput
from funds import business_calendar
from funds.identifiers import is_valid_cusip, is_valid_isin
from funds.models import (
    DailyPrice,
    Fund,
    IntradaySnapshot,
    NavStrikeFailure,
    NetAssetValue,
    Portfolio,
    PriceSource,
    Security,
    ShareQuote,
    Strike,
    Trust,
)
from funds.services.demo import TRUST_NAME, demo_load, format_logins
from tests.factories import SecurityFactory

pytestmark = pytest.mark.django_db

REPLAY_DAYS = 21  # one rebalance (every 20 business days) inside the window
LAST_DAY = dt.date(2021, 4, 21)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def recompute(nav: NetAssetValue) -> tuple[D, D, D]:
    """Net assets and NAV per share from the inputs stored on the NAV row alone."""
    rows = nav.inputs["rows"]
    for _, _, quantity, price, market_value in rows:
        assert D(quantity) * D(price) == D(market_value)
    securities_value = sum((D(r[4]) for r in rows), D(0)).quantize(D("0.01"), ROUND_HALF_UP)
    net_assets = securities_value + nav.cash - nav.liabilities
    return securities_value, net_assets, (net_assets / nav.shares_outstanding).quantize(D("0.0001"), ROUND_HALF_UP)


def test_demo_load_builds_funds_prices_navs_quotes_and_logins():
    # given
    days = business_calendar.business_days(dt.date(2021, 3, 1), LAST_DAY)[-REPLAY_DAYS:]
    out = io.StringIO()

    # when
    result = demo_load(replay_days=REPLAY_DAYS, stdout=out)

    # then: the trust and two funds launched on the first replay day
    assert result.created
    assert (result.first_day, result.last_day) == (days[0], LAST_DAY)
    assert Trust.objects.filter(name=TRUST_NAME).count() == 1
    funds = list(Fund.objects.order_by("ticker"))
    assert [f.ticker for f in funds] == ["DAGE", "DAVE"]
    assert all(f.launch_date == days[0] and is_valid_cusip(f.cusip) for f in funds)

    # securities with synthetic, valid identifiers; real prices; synthetic snapshots
    securities = Security.objects.all()
    assert securities.count() == 150
    assert all(s.identifiers_synthetic and s.cusip.startswith("9Z") and is_valid_cusip(s.cusip) and is_valid_isin(s.isin) for s in securities)
    assert not securities.filter(average_daily_volume=0).exists()
    assert DailyPrice.objects.filter(source=PriceSource.VENDOR).count() == DailyPrice.objects.count() == 150 * 580
    assert IntradaySnapshot.objects.filter(source=PriceSource.SYNTHETIC).count() == 150 * 580
    assert DailyPrice.history.filter(history_user__username="system").count() == 150 * 580

    # portfolios: 50-150 holdings, a launch and a rebalance each
    for fund in funds:
        portfolios = list(fund.portfolios.order_by("as_of"))
        assert [p.as_of for p in portfolios] == [days[0], days[20]]
        counts = [p.holdings.count() for p in portfolios]
        assert all(50 <= c <= 150 for c in counts)
        launch_ids = set(portfolios[0].holdings.values_list("security_id", flat=True))
        rebalanced_ids = set(portfolios[1].holdings.values_list("security_id", flat=True))
        assert launch_ids != rebalanced_ids
        assert portfolios[0].cash > 0 and portfolios[1].cash > 0

    # both strikes on every replay day, each explained by its inputs
    navs = NetAssetValue.objects.filter(fund__in=funds)
    assert set(navs.values_list("fund__ticker", "date", "strike")) == {
        (f.ticker, d, s) for f in funds for d in days for s in Strike.values
    }
    assert not NavStrikeFailure.objects.exists()
    for nav in navs:
        securities_value, net_assets, nav_per_share = recompute(nav)
        assert (nav.securities_value, nav.net_assets, nav.nav_per_share) == (securities_value, net_assets, nav_per_share)
    # bought at the launch close: the first End of Day NAV is the initial price
    assert set(navs.filter(date=days[0], strike=Strike.END_OF_DAY).values_list("nav_per_share", flat=True)) == {D("25.0000")}

    # synthetic quotes around each NAV; a closing price only at the End of Day
    quotes = ShareQuote.objects.filter(source=PriceSource.SYNTHETIC)
    assert quotes.count() == navs.count()
    for quote in quotes:
        nav = navs.get(fund=quote.fund, date=quote.date, strike=quote.strike)
        assert D(0) < quote.bid < quote.ask
        assert abs(quote.midpoint / nav.nav_per_share - 1) < D("0.01")
        assert (quote.closing_price is not None) == (quote.strike == Strike.END_OF_DAY)
        assert quote.closing_price is None or quote.bid <= quote.closing_price <= quote.ask

    # one login per role
    expected = {
        "pm": roles.PORTFOLIO_MANAGER, "ops": roles.OPERATIONS, "aprel": roles.AP_RELATIONSHIP,
        "compliance": roles.COMPLIANCE, "board": roles.BOARD,
        "ap": roles.AUTHORIZED_PARTICIPANT, "investing": roles.INVESTING_FUND,
    }
    for username, role in expected.items():
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert user.is_staff == (role in roles.INTERNAL_ROLES)
        assert not user.is_superuser
        assert user.check_password(f"demo-pass-{username}")
        assert Token.objects.filter(user=user).exists() == (role in roles.EXTERNAL_ROLES)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("demo-pass-admin")
    table = format_logins(result.logins)
    assert "compliance" in table and Token.objects.get(user__username="ap").key in table
    assert "NAVs struck" in out.getvalue()

    # when: loaded again
    again = demo_load(replay_days=REPLAY_DAYS)

    # then: nothing changes
    assert not again.created
    assert [login.username for login in again.logins] == [login.username for login in result.logins]
    assert Fund.objects.count() == 2
    assert NetAssetValue.objects.count() == navs.count()
    assert DailyPrice.objects.count() == 150 * 580
    assert User.objects.filter(username__in=expected).count() == len(expected)


def test_replay_days_out_of_range_writes_nothing():
    with pytest.raises(InvalidInput):
        demo_load(replay_days=0)
    assert not Trust.objects.exists()
    assert not Security.objects.exists()


def test_demo_refuses_a_security_master_holding_its_tickers():
    # given
    SecurityFactory(ticker="AAPL")
    # when
    with pytest.raises(InvalidInput) as refused:
        demo_load(replay_days=5)
    # then
    assert "AAPL" in refused.value.message
    assert not Trust.objects.exists()
    assert Security.objects.count() == 1
    assert not Portfolio.objects.exists()
