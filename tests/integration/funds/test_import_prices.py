import datetime as dt
import gzip
import io
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from funds import business_calendar
from funds.exceptions import PriceImportError
from funds.models import DailyPrice, IntradaySnapshot, PriceSource
from funds.services.prices import daily_prices_import, intraday_snapshots_import
from tests.factories import SecurityFactory

pytestmark = pytest.mark.django_db

HEADER = "date,ticker,close,adj_close,volume"
GOOD = [  # lines 2-5
    "2021-01-04,AAA,50.25,49.1234567,1000",
    "2021-01-04,BBB,12.10,12.10,2500",
    "2021-01-05,AAA,51.00,49.8567,1200",
    "2021-01-05,BBB,12.3456,12.3456,0",
]


@pytest.fixture
def securities(db):
    return {t: SecurityFactory(ticker=t) for t in ("AAA", "BBB")}


def write(tmp_path, lines, name="prices.csv", header=HEADER):
    path = tmp_path / name
    text = "\n".join([header, *lines]) + "\n"
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def assert_nothing_written():
    assert DailyPrice.objects.count() == 0
    assert DailyPrice.history.count() == 0
    assert IntradaySnapshot.objects.count() == 0
    assert IntradaySnapshot.history.count() == 0


def test_good_file_writes_every_row_with_history_by_the_actor(tmp_path, securities, actor):
    # given
    path = write(tmp_path, GOOD)
    # when
    result = daily_prices_import(file=path, actor=actor)
    # then
    assert (result.rows, result.tickers) == (4, 2)
    assert (result.first_date, result.last_date) == (dt.date(2021, 1, 4), dt.date(2021, 1, 5))
    price = DailyPrice.objects.get(security=securities["BBB"], date=dt.date(2021, 1, 5))
    assert (price.close, price.adj_close, price.volume, price.source) == (D("12.3456"), D("12.3456"), 0, PriceSource.VENDOR)
    assert DailyPrice.objects.get(security=securities["AAA"], date=dt.date(2021, 1, 4)).adj_close == D("49.1234567")
    assert DailyPrice.objects.count() == 4
    history = DailyPrice.history.all()
    assert history.count() == 4
    assert {(h.history_type, h.history_user) for h in history} == {("+", actor)}


def test_gzip_file_without_adj_close_column(tmp_path, securities, actor):
    # given: adj_close is optional
    path = write(tmp_path, ["2021-01-04,AAA,50.25,1000", "2021-01-04,BBB,12.10,2500"], "p.csv.gz", "date,ticker,close,volume")
    # when
    daily_prices_import(file=path, actor=actor, source=PriceSource.SYNTHETIC)
    # then
    rows = DailyPrice.objects.order_by("security__ticker")
    assert [(p.close, p.adj_close, p.source) for p in rows] == [(D("50.25"), None, "SYNTHETIC"), (D("12.10"), None, "SYNTHETIC")]


@pytest.mark.parametrize(
    "bad_row, error",
    [
        ("2021-13-01,AAA,50,50,1", "bad date '2021-13-01' (expected YYYY-MM-DD)"),
        ("04/01/2021,AAA,50,50,1", "bad date '04/01/2021' (expected YYYY-MM-DD)"),
        (",AAA,50,50,1", "date is missing"),
        ("2021-01-01,AAA,50,50,1", "2021-01-01 is not an NYSE business day"),  # New Year's Day
        ("2021-01-09,AAA,50,50,1", "2021-01-09 is not an NYSE business day"),  # a Saturday
        ("2021-01-06,XYZ,50,50,1", "unknown ticker 'XYZ'"),
        ("2021-01-06,,50,50,1", "ticker is missing"),
        ("2021-01-06,AAA,0,50,1", "close must be positive, got 0"),
        ("2021-01-06,AAA,-3.5,50,1", "close must be positive, got -3.5"),
        ("2021-01-06,AAA,,50,1", "close is missing"),
        ("2021-01-06,AAA,abc,50,1", "close is not a number: 'abc'"),
        ("2021-01-06,AAA,NaN,50,1", "close is not a number: 'NaN'"),
        ("2021-01-06,AAA,inf,50,1", "close is not a number: 'inf'"),
        ("2021-01-06,AAA,1e3,50,1", "close is not a number: '1e3'"),
        ("2021-01-06,AAA,1.1234567,50,1", "close has more than 6 decimal places: 1.1234567"),
        ("2021-01-06,AAA,50,0,1", "adj_close must be positive, got 0"),
        ("2021-01-06,AAA,50,,1", "adj_close is missing"),
        ("2021-01-06,AAA,50,50,-5", "volume must not be negative, got -5"),
        ("2021-01-06,AAA,50,50,1.5", "volume must be a whole number of shares, got 1.5"),
        ("2021-01-06,AAA,50,50,", "volume is missing"),
        ("2021-01-06,AAA,50,50,lots", "volume is not a number: 'lots'"),
        ("2021-01-05,AAA,51.00,49.8567,1200", "duplicate of line 4 (AAA 2021-01-05)"),
    ],
)
def test_one_bad_row_among_good_rows_is_reported_by_line_and_nothing_is_written(tmp_path, securities, actor, bad_row, error):
    # given: the bad row is line 6, after four good rows
    path = write(tmp_path, [*GOOD, bad_row, "2021-01-06,BBB,12.5,12.5,100"])
    # when
    with pytest.raises(PriceImportError) as refused:
        daily_prices_import(file=path, actor=actor)
    # then
    assert refused.value.details == [{"line": 6, "error": error}]
    assert_nothing_written()


def test_rows_already_stored_are_refused(tmp_path, securities, actor):
    # given: AAA's close of 2021-01-05 is already in the database
    DailyPrice.objects.create(security=securities["AAA"], date=dt.date(2021, 1, 5), close=D("51"), volume=1)
    path = write(tmp_path, GOOD)
    # when
    with pytest.raises(PriceImportError) as refused:
        daily_prices_import(file=path, actor=actor)
    # then
    assert refused.value.details == [{"line": 4, "error": "a close for AAA on 2021-01-05 is already stored"}]
    assert DailyPrice.objects.count() == 1


def test_every_error_is_collected_in_line_order(tmp_path, securities, actor):
    # given
    lines = [
        "2021-01-04,AAA,50,50,1",
        "2021-01-09,XYZ,-1,50,1",  # line 3: three errors
        "2021-01-04,AAA,50,50,1",  # line 4: duplicate of line 2
        "2021-01-05,BBB,12,12,x",  # line 5
    ]
    path = write(tmp_path, lines)
    # when
    with pytest.raises(PriceImportError) as refused:
        daily_prices_import(file=path, actor=actor)
    # then
    assert refused.value.details == [
        {"line": 3, "error": "2021-01-09 is not an NYSE business day"},
        {"line": 3, "error": "unknown ticker 'XYZ'"},
        {"line": 3, "error": "close must be positive, got -1"},
        {"line": 4, "error": "duplicate of line 2 (AAA 2021-01-04)"},
        {"line": 5, "error": "volume is not a number: 'x'"},
    ]
    assert "5 error(s) on 3 line(s)" in refused.value.message
    assert_nothing_written()


def test_missing_required_columns_are_one_error(tmp_path, securities, actor):
    # given
    path = write(tmp_path, ["2021-01-04,AAA,50"], header="date,ticker,price")
    # when
    with pytest.raises(PriceImportError) as refused:
        daily_prices_import(file=path, actor=actor)
    # then
    (error,) = refused.value.details
    assert error["line"] == 1
    assert error["error"].startswith("missing required column(s): close, volume")
    assert_nothing_written()


def test_blank_lines_keep_the_line_numbers_true(tmp_path, securities, actor):
    # given: a blank line 3, so the bad row is line 5
    path = write(tmp_path, [GOOD[0], "", GOOD[1], "2021-01-05,XYZ,1,1,1"])
    # when
    with pytest.raises(PriceImportError) as refused:
        daily_prices_import(file=path, actor=actor)
    # then
    assert refused.value.details == [{"line": 5, "error": "unknown ticker 'XYZ'"}]


def test_a_row_with_too_many_fields_is_reported_with_its_line(tmp_path, securities, actor):
    path = write(tmp_path, [GOOD[0], "2021-01-04,BBB,12.10,12.10,2500,extra"])
    with pytest.raises(PriceImportError) as refused:
        daily_prices_import(file=path, actor=actor)
    assert refused.value.details[0]["line"] == 3
    assert_nothing_written()


def test_snapshots_are_taken_at_noon_new_york(tmp_path, securities, actor):
    # given
    path = write(tmp_path, ["2021-01-04,AAA,50.10", "2020-11-27,BBB,12.00"], header="date,ticker,price")
    # when
    result = intraday_snapshots_import(file=path, actor=actor, source=PriceSource.SYNTHETIC)
    # then: 12:00 ET also on the early-close Friday after Thanksgiving
    assert result.rows == 2
    snapshot = IntradaySnapshot.objects.get(security=securities["AAA"])
    assert (snapshot.date, snapshot.price, snapshot.source) == (dt.date(2021, 1, 4), D("50.10"), "SYNTHETIC")
    assert snapshot.taken_at == business_calendar.at_new_york(dt.date(2021, 1, 4), dt.time(12))
    assert snapshot.taken_at.astimezone(business_calendar.NEW_YORK).time() == dt.time(12)
    assert IntradaySnapshot.history.filter(history_user=actor).count() == 2
    assert DailyPrice.objects.count() == 0


def test_snapshot_errors_use_the_same_rules(tmp_path, securities, actor):
    # given
    IntradaySnapshot.objects.create(
        security=securities["BBB"], date=dt.date(2021, 1, 4), price=D("12"), taken_at=business_calendar.at_new_york(dt.date(2021, 1, 4), dt.time(12))
    )
    lines = ["2021-01-04,AAA,50.10", "2021-01-04,BBB,12.00", "2021-01-05,AAA,0", "2021-01-04,AAA,50.2"]
    path = write(tmp_path, lines, header="date,ticker,price")
    # when
    with pytest.raises(PriceImportError) as refused:
        intraday_snapshots_import(file=path, actor=actor)
    # then
    assert refused.value.details == [
        {"line": 3, "error": "a 12:00 snapshot for BBB on 2021-01-04 is already stored"},
        {"line": 4, "error": "price must be positive, got 0"},
        {"line": 5, "error": "duplicate of line 2 (AAA 2021-01-04)"},
    ]
    assert IntradaySnapshot.objects.count() == 1


# --- the command -------------------------------------------------------------------------------


def run(*args):
    """Run the command; returns (exit code, stdout, stderr).

    ``manage.py`` exits with ``CommandError.returncode``. (``execute_from_command_line``
    would also close the database connections, which ends the test's transaction on PostgreSQL.)
    """
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_prices", *map(str, args), stdout=out, stderr=err)
    except CommandError as error:
        err.write(f"CommandError: {error}\n")
        return error.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_command_imports_and_prints_a_summary(tmp_path, securities, actor):
    # given
    path = write(tmp_path, GOOD, "prices.csv.gz")
    # when
    code, out, _ = run(path)
    # then
    assert code == 0
    assert "Imported 4 daily prices for 2 ticker(s), 2021-01-04 to 2021-01-05 (source VENDOR)." in out
    assert DailyPrice.objects.count() == 4
    assert set(DailyPrice.history.values_list("history_user__username", flat=True)) == {"system"}


def test_command_imports_snapshots(tmp_path, securities):
    path = write(tmp_path, ["2021-01-04,AAA,50.10"], header="date,ticker,price")
    code, out, _ = run(path, "--snapshots", "--source", "SYNTHETIC")
    assert code == 0
    assert "Imported 1 intraday snapshots" in out
    assert IntradaySnapshot.objects.get().source == PriceSource.SYNTHETIC


def test_command_prints_each_error_by_line_and_fails(tmp_path, securities):
    # given
    path = write(tmp_path, [*GOOD, "2021-01-06,XYZ,50,50,1"])
    # when
    code, _, err = run(path)
    # then
    assert code == 1
    assert "line 6: unknown ticker 'XYZ'" in err
    assert "1 error(s) on 1 line(s); no daily prices were imported." in err
    assert_nothing_written()


def test_command_caps_the_printed_errors(tmp_path, securities):
    # given: 60 unknown tickers on lines 2-61
    path = write(tmp_path, [f"2021-01-04,X{n},50,50,1" for n in range(60)])
    # when
    code, _, err = run(path)
    # then
    err = err.splitlines()
    assert code == 1
    assert err[0] == "line 2: unknown ticker 'X0'"
    assert err[49] == "line 51: unknown ticker 'X49'"
    assert err[50] == "... and 10 more"


def test_command_refuses_a_missing_file(tmp_path, db):
    code, _, err = run(tmp_path / "nope.csv")
    assert code == 1
    assert "no such file" in err
