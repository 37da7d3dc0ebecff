import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError

from funds import business_calendar
from funds.exceptions import NavStrikeRefused, NotABusinessDay, StrikeNotDue
from funds.models import NavStrikeFailure, NetAssetValue, SharesOutstandingEntry, Strike
from funds.services import nav_strike, nav_strike_batch, nav_strikes_due, portfolio_book
from tests.integration.funds.conftest import DAY, EARLY_CLOSE_DAY
from tests.factories import FundFactory

pytestmark = pytest.mark.django_db
ET = business_calendar.NEW_YORK


def et(day, hour, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ET)


def test_end_of_day_nav_matches_hand_computation(priced_fund, actor):
    # when
    outcome = nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    # then
    nav = NetAssetValue.objects.get(fund=priced_fund, date=DAY, strike=Strike.END_OF_DAY)
    assert outcome.status == "STRUCK"
    assert nav.securities_value == D("121033.33")
    assert nav.net_assets == D("129000.00")
    assert nav.nav_per_share == D("25.8000")
    assert nav.shares_outstanding == D("5000")
    assert nav.strike_at.astimezone(ET) == et(DAY, 16)
    assert nav.price_basis == NetAssetValue.PriceBasis.CLOSE
    # the inputs explain it: every holding with quantity, price and exact market value
    rows = {r[1]: r for r in nav.inputs["rows"]}
    assert rows["CCC"][2:] == ["400.0000", "101.333333", "40533.3332000000"]
    assert sum(D(r[4]) for r in nav.inputs["rows"]) == D("121033.3332")
    # audited with the actor
    assert nav.history.get().history_user == actor


def test_intraday_nav_uses_noon_snapshot_prices(priced_fund, actor):
    # 1,000 x 50 + 2,500 x 12 + 400 x 100 = 120,000; + 8,966.67 - 1,000 = 127,966.67; / 5,000 = 25.593334 -> 25.5933
    nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.INTRADAY, actor=actor)
    nav = NetAssetValue.objects.get(fund=priced_fund, date=DAY, strike=Strike.INTRADAY)
    assert nav.net_assets == D("127966.67")
    assert nav.nav_per_share == D("25.5933")
    assert nav.strike_at.astimezone(ET) == et(DAY, 12)
    assert nav.price_basis == NetAssetValue.PriceBasis.INTRADAY_SNAPSHOT


def test_striking_twice_is_a_no_op(priced_fund, actor):
    first = nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    second = nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    assert (first.status, second.status) == ("STRUCK", "ALREADY_STRUCK")
    assert NetAssetValue.objects.filter(fund=priced_fund).count() == 1
    assert NetAssetValue.history.count() == 1


def test_database_refuses_a_second_nav_for_the_same_strike(priced_fund, actor):
    nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    nav = NetAssetValue.objects.get()
    nav.pk = None
    with pytest.raises(IntegrityError):
        nav.save()


def test_missing_price_stops_the_strike_and_names_the_securities(priced_fund, actor):
    # given: BBB and CCC lost their closes
    priced_fund.securities["BBB"].daily_prices.filter(date=DAY).delete()
    priced_fund.securities["CCC"].daily_prices.filter(date=DAY).delete()
    # when
    with pytest.raises(NavStrikeRefused) as refused:
        nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    # then: no NAV, and the failure names them
    assert refused.value.details["missing_tickers"] == ["BBB", "CCC"]
    assert "BBB, CCC" in refused.value.message
    assert not NetAssetValue.objects.exists()
    failure = NavStrikeFailure.objects.get()
    assert (failure.reason, failure.missing_tickers) == (NavStrikeFailure.Reason.MISSING_PRICES, ["BBB", "CCC"])
    assert failure.attempted_by == actor


def test_no_strike_on_a_holiday(priced_fund, actor):
    with pytest.raises(NotABusinessDay):
        nav_strike(fund_id=priced_fund.pk, day=dt.date(2025, 11, 27), strike=Strike.END_OF_DAY, actor=actor)


def test_no_strike_before_its_instant(priced_fund, actor):
    with pytest.raises(StrikeNotDue, match="16:00 ET"):
        nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.END_OF_DAY, actor=actor, now=et(DAY, 15, 59))
    assert not NetAssetValue.objects.exists()


def test_fund_without_portfolio_or_shares_fails_cleanly(actor):
    fund = FundFactory()
    (outcome,) = nav_strike_batch(fund_ids=[fund.pk], day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    assert outcome.status == "FAILED"
    assert outcome.failure.reason == NavStrikeFailure.Reason.NO_PORTFOLIO
    assert not NetAssetValue.objects.exists()


def test_portfolio_carries_forward_and_ledger_counts_by_effective_date(priced_fund, actor):
    # given: 5,000 more shares created, effective on the early-close day
    SharesOutstandingEntry.objects.create(
        fund=priced_fund, effective_date=EARLY_CLOSE_DAY, kind="CREATION", change=D("5000"), created_by=actor
    )
    # when: striking the early-close day with the portfolio booked on DAY
    nav_strike(fund_id=priced_fund.pk, day=EARLY_CLOSE_DAY, strike=Strike.END_OF_DAY, actor=actor)
    nav = NetAssetValue.objects.get()
    # then: same portfolio (129,000.00), twice the shares; strike at the 13:00 early close
    assert nav.portfolio.as_of == DAY
    assert nav.shares_outstanding == D("10000")
    assert nav.nav_per_share == D("12.9000")
    assert nav.strike_at.astimezone(ET) == et(EARLY_CLOSE_DAY, 13)


def test_batch_strikes_several_funds_and_isolates_a_failure(priced_fund, actor):
    other = FundFactory(launch_date=dt.date(2025, 1, 2))
    portfolio_book(fund_id=other.pk, as_of=DAY, positions=[(priced_fund.securities["AAA"].pk, D("10"))], cash=D("0"), actor=actor)
    outcomes = nav_strike_batch(fund_ids=[priced_fund.pk, other.pk], day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    assert [o.status for o in outcomes] == ["STRUCK", "FAILED"]  # the other has no shares outstanding
    assert outcomes[1].failure.reason == NavStrikeFailure.Reason.NO_SHARES_OUTSTANDING
    assert NetAssetValue.objects.filter(fund=priced_fund).count() == 1


@pytest.mark.parametrize(
    "now, expected",
    [
        (et(DAY, 11, 55), []),
        (et(DAY, 12, 0), [Strike.INTRADAY]),
        (et(DAY, 15, 55), [Strike.INTRADAY]),
        (et(DAY, 16, 5), [Strike.INTRADAY, Strike.END_OF_DAY]),
        (et(EARLY_CLOSE_DAY, 13, 0), [Strike.INTRADAY, Strike.END_OF_DAY]),  # early close: End of Day at 13:00
        (et(dt.date(2025, 11, 27), 16, 5), []),  # Thanksgiving
    ],
)
def test_due_strikes_follow_the_calendar(priced_fund, actor, now, expected):
    outcomes = nav_strikes_due(actor=actor, now=now)
    assert [o.strike for o in outcomes] == expected
    assert all(o.status == "STRUCK" for o in outcomes)
    # and running again strikes nothing more
    assert nav_strikes_due(actor=actor, now=now) == []


def test_a_concurrent_strike_wins_and_ours_becomes_a_no_op(priced_fund, actor, monkeypatch):
    # given: a second fund, and another worker that inserts priced_fund's NAV just before our insert
    other = FundFactory(launch_date=dt.date(2025, 1, 2))
    portfolio_book(fund_id=other.pk, as_of=DAY, positions=[(priced_fund.securities["AAA"].pk, D("10"))], cash=D("0"), actor=actor)
    SharesOutstandingEntry.objects.create(fund=other, effective_date=DAY, kind="LAUNCH", change=D("1"), created_by=actor)
    from funds.services import nav as nav_service

    real_strike_prices = nav_service.strike_prices

    def prices_then_race(*, strike, day, security_ids):
        # runs after the "already struck" check and before the insert: the race window
        NetAssetValue.objects.create(
            fund=priced_fund, date=DAY, strike=Strike.END_OF_DAY, strike_at=nav_service.strike_instant(priced_fund, DAY, strike),
            struck_at=nav_service.strike_instant(priced_fund, DAY, strike), portfolio=priced_fund.portfolios.get(),
            price_basis="CLOSE", holdings_count=0, securities_value=D("1"), cash=D("0"), liabilities=D("0"),
            net_assets=D("1"), shares_outstanding=D("1"), nav_per_share=D("1"), inputs={"winner": True}, struck_by=actor,
        )
        return real_strike_prices(strike=strike, day=day, security_ids=security_ids)

    monkeypatch.setattr(nav_service, "strike_prices", prices_then_race)
    # when
    outcomes = nav_strike_batch(fund_ids=[priced_fund.pk, other.pk], day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    # then: the other worker's NAV stands, ours is a no-op, and the other fund is struck with its inputs intact
    assert [o.status for o in outcomes] == ["ALREADY_STRUCK", "STRUCK"]
    assert NetAssetValue.objects.get(fund=priced_fund).inputs == {"winner": True}
    struck = NetAssetValue.objects.get(fund=other)
    assert struck.nav_per_share == D("502.5000") and struck.inputs["rows"][0][1] == "AAA"
    assert struck.history.count() == 1
