"""Importing market data from CSV: daily closes and 12:00 ET intraday snapshots.

Every row is checked before anything is written, with pandas over whole
columns rather than row by row, and every problem is reported with its file
line (the header is line 1, the first data row line 2). One bad row among a
million good ones and nothing is written: ``PriceImportError`` carries the
list of ``{"line": n, "error": "..."}``. A clean file is written in one
transaction, with a history row per price attributed to the actor.

A file that is not well-formed CSV (a row with more fields than the header)
stops at the first such row: its line is reported, and nothing is written.
Numbers are plain decimals (no exponents, no "NaN"), with no more decimal
places than the column stores, so nothing is silently rounded.

Formats (extra columns are ignored; ``.csv.gz`` is read as gzip):

* daily prices: ``date,ticker,close,adj_close,volume`` (``adj_close`` optional);
* intraday snapshots: ``date,ticker,price``, taken at 12:00 America/New_York.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Union

import pandas as pd
from django.db import IntegrityError, transaction
from simple_history.utils import bulk_create_with_history
from tqdm import tqdm

from backoffice.exceptions import InvalidInput
from funds import business_calendar
from funds.exceptions import PriceImportError
from funds.models import PRICE, DailyPrice, IntradaySnapshot, PriceSource, Security

SNAPSHOT_TIME = dt.time(12, 0)
WRITE_CHUNK = 5_000  # rows per bulk write (and per progress-bar step)
BATCH_SIZE = 500  # rows per INSERT statement; Django lowers it where the database needs
ID_CHUNK = 500  # security ids per "already stored?" query
PROGRESS_MIN_ROWS = 20_000  # smaller imports finish before a progress bar would help

# (decimal places, max digits) of the stored columns, so a value the database would round is refused.
ADJ_CLOSE = {"max_digits": 20, "decimal_places": 8}

# Plain decimal notation only: no exponents, "NaN" or "inf", so what is stored is what the file says.
PLAIN_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"

FileLike = Union[str, os.PathLike, IO, pd.DataFrame]


@dataclass(frozen=True)
class _Format:
    what: str  # "daily prices", for messages
    model: type
    required: tuple[str, ...]
    optional: tuple[str, ...]
    prices: dict[str, dict]  # price column -> its DecimalField size


DAILY = _Format(
    "daily prices", DailyPrice, ("date", "ticker", "close", "volume"), ("adj_close",),
    {"close": PRICE, "adj_close": ADJ_CLOSE},
)
SNAPSHOTS = _Format("intraday snapshots", IntradaySnapshot, ("date", "ticker", "price"), (), {"price": PRICE})


@dataclass(frozen=True)
class PriceImportResult:
    what: str
    rows: int
    tickers: int
    first_date: dt.date | None
    last_date: dt.date | None
    source: str

    def summary(self) -> str:
        if not self.rows:
            return f"No {self.what} in the file: nothing imported."
        return (
            f"Imported {self.rows:,} {self.what} for {self.tickers:,} ticker(s), "
            f"{self.first_date.isoformat()} to {self.last_date.isoformat()} (source {self.source})."
        )


def daily_prices_import(
    *, file: FileLike, actor, source: str = PriceSource.VENDOR, progress: bool = False
) -> PriceImportResult:
    """Import official closes. ``file``: a path, an open file, or a DataFrame with the CSV's columns."""
    frame, errors = _checked(file, DAILY)
    with_adj = "adj_close" in frame.columns

    def build(rows: pd.DataFrame) -> list[DailyPrice]:
        adj = rows["adj_close"] if with_adj else [None] * len(rows)
        return [
            DailyPrice(
                security_id=sid, date=day, close=Decimal(close), adj_close=Decimal(adj_close) if adj_close else None,
                volume=volume, source=source,
            )
            for sid, day, close, adj_close, volume in zip(
                rows["security_id"].tolist(), rows["ts"].dt.date, rows["close"], adj, rows["volume_int"].tolist()
            )
        ]

    return _write(frame, errors, DAILY, build, actor=actor, source=source, progress=progress)


def intraday_snapshots_import(
    *, file: FileLike, actor, source: str = PriceSource.VENDOR, progress: bool = False
) -> PriceImportResult:
    """Import 12:00 ET snapshot prices (the Intra-Day NAV's basis); ``taken_at`` is 12:00 New York time."""
    frame, errors = _checked(file, SNAPSHOTS)

    def build(rows: pd.DataFrame) -> list[IntradaySnapshot]:
        return [
            IntradaySnapshot(
                security_id=sid, date=day, price=Decimal(price), source=source,
                taken_at=business_calendar.at_new_york(day, SNAPSHOT_TIME),
            )
            for sid, day, price in zip(rows["security_id"].tolist(), rows["ts"].dt.date, rows["price"])
        ]

    return _write(frame, errors, SNAPSHOTS, build, actor=actor, source=source, progress=progress)


# --- reading ---------------------------------------------------------------------------------


def _read(file: FileLike, columns: tuple[str, ...]) -> pd.DataFrame:
    """The wanted columns as stripped text ("" when empty), each row with its file line; blank lines dropped."""
    if isinstance(file, pd.DataFrame):
        frame = file.copy()
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].dt.strftime("%Y-%m-%d")
        frame = frame.astype(object).where(frame.notna(), "").astype(str)
    else:
        try:
            frame = pd.read_csv(
                file, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig",
                compression="infer",
            )
        except pd.errors.EmptyDataError:
            raise PriceImportError("The file is empty.", details=[{"line": 1, "error": "the file is empty"}]) from None
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            found = re.search(r"line (\d+)", str(error))
            message = re.sub(r"^Error tokenizing data\. C error: ", "", str(error)).strip()
            raise PriceImportError(
                f"The file cannot be read as CSV: {message}", details=[{"line": int(found.group(1)) if found else 1, "error": message}]
            ) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    # Without skip_blank_lines every physical line is a row, so the position gives the line.
    lines = pd.RangeIndex(2, len(frame) + 2)
    frame = frame[[c for c in columns if c in frame.columns]].fillna("")
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    frame.insert(0, "line", lines)
    blank = (frame.drop(columns="line") == "").all(axis=1)
    return frame.loc[~blank].reset_index(drop=True)


# --- checking --------------------------------------------------------------------------------


class _Errors:
    """Errors gathered column by column; ``rank`` keeps a row's errors in column order.

    A message is a string, or a function of the offending rows only, so building
    messages costs nothing for the (many) good rows.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, message, rank: int) -> None:
        if not mask.any():
            return
        rows = self.frame.loc[mask]
        text = message(rows) if callable(message) else message
        self.parts.append(pd.DataFrame({"line": rows["line"], "rank": rank, "error": text}))

    def __bool__(self) -> bool:
        return bool(self.parts)

    def as_details(self) -> list[dict]:
        table = pd.concat(self.parts).sort_values(["line", "rank"], kind="stable")
        return [{"line": line, "error": error} for line, error in zip(table["line"].tolist(), table["error"].tolist())]


def _number(text: pd.Series, errors: _Errors, column: str, rank: int) -> tuple[pd.Series, pd.Series]:
    """The column as floats (NaN where missing or not a plain number) and the mask of usable values."""
    empty = text == ""
    not_number = ~empty & ~text.str.fullmatch(PLAIN_NUMBER)
    errors.add(empty, f"{column} is missing", rank)
    errors.add(not_number, lambda rows: f"{column} is not a number: '" + rows[column] + "'", rank)
    usable = ~empty & ~not_number
    return pd.to_numeric(text.where(usable), errors="coerce"), usable


def _check_price(frame: pd.DataFrame, column: str, size: dict, errors: _Errors, rank: int) -> None:
    text = frame[column]
    value, number = _number(text, errors, column, rank)
    errors.add(number & (value <= 0), lambda rows: f"{column} must be positive, got " + rows[column], rank)
    places = size["decimal_places"]
    # Digits after the point, then (only for the few long ones) without trailing zeros.
    point = text.str.find(".")
    long = number & (point >= 0) & (text.str.len() - point - 1 > places)
    if long.any():
        fraction = text[long].str.split(".", n=1).str[1].str.rstrip("0")
        long.loc[long] = fraction.str.len() > places
    errors.add(long, lambda rows: f"{column} has more than {places} decimal places: " + rows[column], rank)
    limit = 10.0 ** (size["max_digits"] - places)
    errors.add(number & (value.abs() >= limit), lambda rows: f"{column} is too large: " + rows[column], rank)


def _check_volume(frame: pd.DataFrame, errors: _Errors, rank: int) -> None:
    value, number = _number(frame["volume"], errors, "volume", rank)
    errors.add(number & (value < 0), lambda rows: "volume must not be negative, got " + rows["volume"], rank)
    errors.add(
        number & (value >= 0) & (value != value.round()),
        lambda rows: "volume must be a whole number of shares, got " + rows["volume"], rank,
    )
    errors.add(number & (value >= 2**63), lambda rows: "volume is too large: " + rows["volume"], rank)
    frame["volume_int"] = value.where(number & (value >= 0) & (value < 2**63), 0).round().astype("int64")


def _sessions_between(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """NYSE sessions in [first, last], clipped to the calendar's range (dates outside it are not sessions)."""
    calendar = business_calendar.nyse()
    first, last = max(first, calendar.first_session), min(last, calendar.last_session)
    if first > last:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(business_calendar.business_days(first.date(), last.date()))


def _iso(rows: pd.DataFrame) -> pd.Series:
    return rows["ts"].dt.strftime("%Y-%m-%d")


def _checked(file: FileLike, fmt: _Format) -> tuple[pd.DataFrame, _Errors]:
    """Parse and check everything that needs no database; the rest is checked inside the write's transaction."""
    frame = _read(file, fmt.required + fmt.optional)
    missing = [c for c in fmt.required if c not in frame.columns]
    if missing:
        raise PriceImportError(
            f"The file lacks required column(s): {', '.join(missing)}.",
            details=[{"line": 1, "error": f"missing required column(s): {', '.join(missing)} "
                      f"(expected {','.join(fmt.required + fmt.optional)})"}],
        )
    errors = _Errors(frame)

    # date
    frame["ts"] = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    dated = frame["ts"].notna()
    no_date = frame["date"] == ""
    errors.add(no_date, "date is missing", 10)
    errors.add(~no_date & ~dated, lambda rows: "bad date '" + rows["date"] + "' (expected YYYY-MM-DD)", 10)
    if dated.any():
        sessions = _sessions_between(frame.loc[dated, "ts"].min(), frame.loc[dated, "ts"].max())
        errors.add(dated & ~frame["ts"].isin(sessions), lambda rows: _iso(rows) + " is not an NYSE business day", 11)

    # ticker (unknown tickers are checked against the database later)
    named = frame["ticker"] != ""
    errors.add(~named, "ticker is missing", 20)

    # values
    for rank, (column, size) in enumerate(fmt.prices.items(), start=30):
        if column in frame.columns:
            _check_price(frame, column, size, errors, rank)
    if "volume" in fmt.required:
        _check_volume(frame, errors, 40)

    # the same (ticker, date) twice in the file: the later line is the error
    keyed = dated & named
    frame["first_line"] = frame.loc[keyed].groupby(["ticker", "ts"])["line"].transform("first")
    errors.add(
        keyed & frame["line"].ne(frame["first_line"]),
        lambda rows: "duplicate of line " + rows["first_line"].astype("int64").astype(str)
        + " (" + rows["ticker"] + " " + _iso(rows) + ")",
        50,
    )
    return frame, errors


def _check_against_database(frame: pd.DataFrame, fmt: _Format, errors: _Errors) -> None:
    """Unknown tickers, and prices already stored for a (security, date) of the file."""
    master = dict(Security.objects.values_list("ticker", "id"))
    frame["security_id"] = frame["ticker"].map(master).astype("Int64")
    errors.add((frame["ticker"] != "") & frame["security_id"].isna(), lambda rows: "unknown ticker '" + rows["ticker"] + "'", 21)

    known = frame["security_id"].notna() & frame["ts"].notna()
    if not known.any():
        return
    rows = frame.loc[known]
    ids = sorted(int(s) for s in rows["security_id"].unique())
    first, last = rows["ts"].min().date(), rows["ts"].max().date()
    found = []
    for start in range(0, len(ids), ID_CHUNK):  # keeps each query under SQLite's variable limit
        found += fmt.model.objects.filter(
            security_id__in=ids[start:start + ID_CHUNK], date__gte=first, date__lte=last
        ).values_list("security_id", "date")
    if not found:
        return
    stored = pd.MultiIndex.from_arrays(
        [pd.array([s for s, _ in found], dtype="Int64"), pd.to_datetime([d for _, d in found]).as_unit(frame["ts"].dt.unit)]
    )
    exists = pd.Series(False, index=frame.index)
    exists.loc[known] = pd.MultiIndex.from_frame(rows[["security_id", "ts"]]).isin(stored)
    noun = "a close" if fmt.model is DailyPrice else "a 12:00 snapshot"
    errors.add(exists, lambda bad: noun + " for " + bad["ticker"] + " on " + _iso(bad) + " is already stored", 60)


# --- writing ---------------------------------------------------------------------------------


def _raise(errors: _Errors, fmt: _Format) -> None:
    details = errors.as_details()
    lines = len({d["line"] for d in details})
    raise PriceImportError(
        f"{len(details):,} error(s) on {lines:,} line(s); no {fmt.what} were imported.", details=details
    )


def _write(frame, errors: _Errors, fmt: _Format, build, *, actor, source: str, progress: bool) -> PriceImportResult:
    if source not in PriceSource.values:
        raise InvalidInput(f"unknown price source {source!r}; expected one of {', '.join(PriceSource.values)}")
    try:
        with transaction.atomic():
            _check_against_database(frame, fmt, errors)
            if errors:
                _raise(errors, fmt)
            frame = frame.astype({"security_id": "int64"})
            with tqdm(
                total=len(frame), unit="row", desc=f"Writing {fmt.what}", file=sys.stderr,
                disable=not progress or len(frame) < PROGRESS_MIN_ROWS,
            ) as bar:
                for start in range(0, len(frame), WRITE_CHUNK):
                    chunk = build(frame.iloc[start:start + WRITE_CHUNK])
                    bulk_create_with_history(chunk, fmt.model, default_user=actor, batch_size=BATCH_SIZE)
                    bar.update(len(chunk))
    except IntegrityError as error:
        # Another import stored some of these rows after our check: ours rolled back whole.
        raise PriceImportError(
            f"Some {fmt.what} were stored by someone else during the import; nothing was imported. Run it again "
            f"to see which. ({error})",
            details=[],
        ) from None
    return PriceImportResult(
        what=fmt.what,
        rows=len(frame),
        tickers=frame["ticker"].nunique(),
        first_date=frame["ts"].min().date() if len(frame) else None,
        last_date=frame["ts"].max().date() if len(frame) else None,
        source=source,
    )
