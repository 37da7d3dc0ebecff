"""Benchmark: strike 1,000 NAVs (500 Funds x 300 holdings, Intra-Day and End of Day) through the real service.

Run from the repository root:

    .venv/bin/python bench/nav_strikes.py                          # DATABASE_URL if set, else SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/nav_strikes.py
    .venv/bin/python bench/nav_strikes.py --database postgres      # postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/nav_strikes.py --database sqlite        # SQLite even if DATABASE_URL is set

It never touches the developer's database: on PostgreSQL it creates ``bench_nav_<pid>`` on the same
server (the URL only says which server and role to use), on SQLite a file in a temporary directory,
runs the migrations there, and drops it at the end, on failure too.

Prices are real: the official closes and volumes of one trading day from
``../shared/data/sp500_daily_2013_2021.csv.gz`` (fallback ``data/demo/prices.csv.gz``). Portfolios,
identifiers and the 12:00 snapshot prices are synthetic and seeded, so every run builds the same data.

Only ``nav_strike_batch`` is timed. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import os
import pstats
import resource
import shutil
import signal
import sys
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_PRICES = REPO_ROOT.parent / "shared" / "data" / "sp500_daily_2013_2021.csv.gz"
SHARED_SECTORS = REPO_ROOT.parent / "shared" / "data" / "sp500_sectors.csv"
DEMO_PRICES = REPO_ROOT / "data" / "demo" / "prices.csv.gz"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
TARGET_SECONDS = 10.0
FUND_SIZE = Decimal("100000000")  # $100M of securities per Fund
SEED_SHARES = Decimal("4000000")  # shares outstanding per Fund: a NAV near $25

sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", choices=["auto", "postgres", "sqlite"], default="auto",
        help="auto: DATABASE_URL if set, else SQLite. postgres: DATABASE_URL, else " + DEFAULT_POSTGRES_URL,
    )
    parser.add_argument("--day", default="2021-04-20", help="trading day whose prices are used (default 2021-04-20)")
    parser.add_argument("--funds", type=int, default=500)
    parser.add_argument("--holdings", type=int, default=300, help="holdings per Fund")
    parser.add_argument("--seed", type=int, default=20210420)
    parser.add_argument("--profile", metavar="PATH", help="cProfile the timed strikes; write pstats to PATH, top functions to stderr")
    return parser.parse_args()


# --------------------------------------------------------------------------- throwaway database


class ThrowawayDatabase:
    """Creates the benchmark's own database before Django connects, and drops it afterwards."""

    def __init__(self, mode: str, prefix: str = "bench_nav"):
        self.prefix = prefix  # the database (PostgreSQL) or temporary directory (SQLite) is <prefix>_<pid>
        url = os.environ.get("DATABASE_URL", "")
        if mode == "postgres" and not url:
            url = DEFAULT_POSTGRES_URL
        if mode == "sqlite":
            url = ""
        self.url = url
        self.name: str | None = None
        self.tmpdir: str | None = None
        self.admin_params: dict | None = None

    def create(self) -> dict:
        """Return the Django DATABASES['default'] entry for the throwaway database."""
        # Settings read DATABASE_URL when they are first imported: set it (or clear it) first.
        if self.url:
            os.environ["DATABASE_URL"] = self.url
        else:
            os.environ.pop("DATABASE_URL", None)
        from django.conf import settings

        config = dict(settings.DATABASES["default"])
        config["CONN_MAX_AGE"] = 0
        if config["ENGINE"] == "django.db.backends.sqlite3":
            self.tmpdir = tempfile.mkdtemp(prefix=f"{self.prefix}_")
            self.name = os.path.join(self.tmpdir, "bench.sqlite3")
            config["NAME"] = self.name  # same OPTIONS as the development default (WAL, IMMEDIATE)
        elif config["ENGINE"] == "django.db.backends.postgresql":
            self.admin_params = {
                "host": config.get("HOST") or None, "port": config.get("PORT") or None,
                "user": config.get("USER") or None, "password": config.get("PASSWORD") or None,
            }
            if (config.get("OPTIONS") or {}).get("sslmode"):
                self.admin_params["sslmode"] = config["OPTIONS"]["sslmode"]
            self.name = f"{self.prefix}_{os.getpid()}"
            self._admin(f'CREATE DATABASE "{self.name}"', maintenance_db=config.get("NAME") or "postgres")
            config["NAME"] = self.name
        else:
            raise SystemExit(f"unsupported database engine {config['ENGINE']}")
        settings.DATABASES["default"] = config
        return config

    def _admin(self, sql: str, maintenance_db: str = "postgres") -> None:
        import psycopg

        # Connects to a maintenance database only to create or drop ours; it reads and writes nothing there.
        last_error = None
        for dbname in dict.fromkeys(["postgres", maintenance_db, "template1"]):
            try:
                with psycopg.connect(dbname=dbname, autocommit=True, connect_timeout=5, **{k: v for k, v in self.admin_params.items() if v}) as conn:
                    conn.execute(sql)
                    return
            except psycopg.OperationalError as error:  # that maintenance database is not reachable: try the next
                last_error = error
        raise last_error

    def drop(self) -> None:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - dropping must go on
            pass
        if self.admin_params and self.name:
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            except Exception:  # noqa: BLE001 - PostgreSQL < 13 has no FORCE
                self._admin(f'DROP DATABASE IF EXISTS "{self.name}"')
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


# --------------------------------------------------------------------------- prices


def load_prices(day: dt.date, previous_day: dt.date):
    """Close and volume of every ticker on ``day``, plus the previous close (for the 12:00 snapshot)."""
    import pandas as pd

    path = SHARED_PRICES if SHARED_PRICES.exists() else DEMO_PRICES if DEMO_PRICES.exists() else None
    if path is None:
        raise SystemExit(f"no price file: neither {SHARED_PRICES} nor {DEMO_PRICES} exists")
    wanted = {day.isoformat(), previous_day.isoformat()}
    frames = []
    # Read in chunks and keep two days only, so the 1M-row file does not inflate peak memory.
    for chunk in pd.read_csv(path, dtype={"date": str, "ticker": str}, chunksize=250_000):
        frames.append(chunk[chunk["date"].isin(wanted)])
    rows = pd.concat(frames)
    today = rows[rows["date"] == day.isoformat()].set_index("ticker")
    if today.empty:
        raise SystemExit(f"{path} has no prices for {day.isoformat()}; pass --day with a trading day it covers")
    previous = rows[rows["date"] == previous_day.isoformat()].set_index("ticker")["close"]
    today = today[today["close"] > 0].sort_index()
    today["previous_close"] = previous.reindex(today.index).fillna(today["close"])
    if "volume" not in today:
        today["volume"] = 0
    return path, today


def load_sectors() -> dict[str, tuple[str, str]]:
    if not SHARED_SECTORS.exists():
        return {}
    import pandas as pd

    frame = pd.read_csv(SHARED_SECTORS, dtype=str).fillna("")
    return {r.ticker: (r.name, r.gics_sector) for r in frame.itertuples()}


def money(value: float, places: int = 6) -> Decimal:
    return Decimal(str(round(float(value), places)))


# --------------------------------------------------------------------------- setup (not timed)


def build_fixture(args, day: dt.date, prices, actor) -> tuple[list[int], dict[str, int]]:
    """Securities, prices, Funds, portfolios and seed shares.

    Setup is not timed and uses plain ``bulk_create``: it skips django-simple-history, which is fine
    for throwaway fixture rows. The timed strikes go through the real service and its
    history-writing path.
    """
    import numpy as np
    from django.db import transaction

    from funds import business_calendar
    from funds.identifiers import synthetic_cusip
    from funds.models import (
        Adviser, DailyPrice, Distributor, Fund, Holding, IntradaySnapshot, Portfolio, PriceSource, Security,
        SharesOutstandingEntry, Trust,
    )

    tickers = prices.index.tolist()
    if args.holdings > len(tickers):
        raise SystemExit(f"--holdings {args.holdings} exceeds the {len(tickers)} tickers priced on {day}")
    sectors = load_sectors()
    rng = np.random.default_rng(args.seed)
    snapshot_at = business_calendar.intraday_strike_at(day)
    counts: dict[str, int] = {}
    with transaction.atomic():
        trust = Trust.objects.create(name="Bench Trust", sec_file_number="811-99999")
        adviser = Adviser.objects.create(name="Bench Adviser", sec_file_number="801-99999")
        distributor = Distributor.objects.create(name="Bench Distributor", sec_file_number="8-99999")

        securities = Security.objects.bulk_create([
            Security(
                ticker=ticker, cusip=synthetic_cusip("999", i), description=sectors.get(ticker, (ticker, ""))[0] or ticker,
                sector=sectors.get(ticker, ("", ""))[1], exchange="XNYS", average_daily_volume=int(row.volume),
                identifiers_synthetic=True,
            )
            for i, (ticker, row) in enumerate(prices.iterrows())
        ], batch_size=1000)
        security_ids = {s.ticker: s.pk for s in securities}
        DailyPrice.objects.bulk_create([
            DailyPrice(security_id=security_ids[t], date=day, close=money(row.close), volume=int(row.volume),
                       adj_close=money(row.adj_close, 8) if "adj_close" in prices and row.adj_close > 0 else None)
            for t, row in prices.iterrows()
        ], batch_size=1000)
        # The files hold closes only: the 12:00 snapshot is the midpoint of the previous and the day's
        # close, to the cent, marked synthetic.
        IntradaySnapshot.objects.bulk_create([
            IntradaySnapshot(security_id=security_ids[t], date=day, taken_at=snapshot_at, source=PriceSource.SYNTHETIC,
                             price=money((row.previous_close + row.close) / 2, 2))
            for t, row in prices.iterrows()
        ], batch_size=1000)

        funds = Fund.objects.bulk_create([
            Fund(trust=trust, adviser=adviser, distributor=distributor, name=f"Bench Active ETF {i:03d}",
                 ticker=f"BNV{i:03d}", cusip=synthetic_cusip("998", i), launch_date=dt.date(2020, 1, 2),
                 initial_price=Decimal("25.0000"))
            for i in range(args.funds)
        ], batch_size=1000)
        portfolios = Portfolio.objects.bulk_create([
            Portfolio(fund=f, as_of=day, created_by=actor,
                      cash=money(rng.uniform(100_000, 2_000_000), 2), liabilities=money(rng.uniform(0, 50_000), 2))
            for f in funds
        ], batch_size=1000)
        close = prices["close"].to_numpy()
        holdings = []
        for portfolio in portfolios:
            picks = rng.choice(len(tickers), size=args.holdings, replace=False)
            weights = rng.lognormal(0.0, 0.75, size=args.holdings)
            weights /= weights.sum()
            shares = np.maximum(np.floor(weights * float(FUND_SIZE) / close[picks]), 1)  # whole shares, at least one
            holdings += [
                Holding(portfolio=portfolio, security_id=security_ids[tickers[k]], quantity=Decimal(int(q)))
                for k, q in zip(picks, shares)
            ]
        Holding.objects.bulk_create(holdings, batch_size=5000)
        SharesOutstandingEntry.objects.bulk_create([
            SharesOutstandingEntry(fund=f, effective_date=f.launch_date, kind=SharesOutstandingEntry.Kind.LAUNCH,
                                   change=SEED_SHARES, reference="launch", created_by=actor)
            for f in funds
        ], batch_size=1000)
    counts.update(securities=len(securities), holdings=len(holdings), portfolios=len(portfolios))
    return [f.pk for f in funds], counts


# --------------------------------------------------------------------------- checks


def recompute(fund_id: int, day: dt.date, strike: str) -> dict[str, Decimal]:
    """The NAV straight from the stored rows with plain Decimals: no pandas, no funds.nav_math."""
    from funds.models import DailyPrice, Holding, IntradaySnapshot, Portfolio, SharesOutstandingEntry

    portfolio = Portfolio.objects.filter(fund_id=fund_id, as_of__lte=day).order_by("-as_of").first()
    model, column = (IntradaySnapshot, "price") if strike == "INTRADAY" else (DailyPrice, "close")
    price = dict(model.objects.filter(date=day).values_list("security_id", column))
    shares = sum(SharesOutstandingEntry.objects.filter(fund_id=fund_id, effective_date__lte=day).values_list("change", flat=True))
    with localcontext() as ctx:
        ctx.prec = 80
        exact = sum(q * price[s] for s, q in Holding.objects.filter(portfolio=portfolio).values_list("security_id", "quantity"))
        securities_value = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        net_assets = securities_value + portfolio.cash - portfolio.liabilities
        nav = (net_assets / shares).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return {"securities_value": securities_value, "net_assets": net_assets, "nav_per_share": nav}


class QueryCounter:
    """Counts queries and the time spent in them (client-side parameter binding included)."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)  # bytes on macOS, KiB on Linux


# --------------------------------------------------------------------------- main


def run(args, database: ThrowawayDatabase) -> dict:
    started = time.perf_counter()
    config = database.create()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from backoffice.audit import system_user
    from funds import business_calendar
    from funds.models import NetAssetValue, Strike
    from funds.services import nav_strike_batch
    from funds.services.nav import Status

    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()

    day = dt.date.fromisoformat(args.day)
    # Also builds the NYSE calendar once (cached per process), as a long-lived worker would have it.
    if not business_calendar.is_business_day(day):
        raise SystemExit(f"{day} is not an NYSE business day")
    price_file, prices = load_prices(day, business_calendar.previous_business_day(day))
    actor = system_user()
    fund_ids, counts = build_fixture(args, day, prices, actor)
    setup_done = time.perf_counter()

    after_close = business_calendar.session_close(day) + dt.timedelta(minutes=5)  # both strikes are due
    strikes = [Strike.INTRADAY, Strike.END_OF_DAY]

    def both_batches(counter: QueryCounter) -> tuple[dict, dict]:
        results, seconds = {}, {}
        with connection.execute_wrapper(counter):
            for strike in strikes:
                t0 = time.perf_counter()
                results[strike] = nav_strike_batch(fund_ids=fund_ids, day=day, strike=strike, actor=actor, now=after_close)
                seconds[strike] = time.perf_counter() - t0
        return results, seconds

    # ---- timed: 1,000 strikes through the service, with their NAV and history rows
    gc.collect()
    profiler = cProfile.Profile() if args.profile else None
    first_queries = QueryCounter()
    if profiler:
        profiler.enable()
    t0 = time.perf_counter()
    first, first_seconds = both_batches(first_queries)
    strike_seconds = time.perf_counter() - t0
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile, stream=sys.stderr).sort_stats("cumulative").print_stats(30)

    # ---- timed: the same again, which must be a no-op
    rerun_queries = QueryCounter()
    t0 = time.perf_counter()
    rerun, rerun_batch_seconds = both_batches(rerun_queries)
    rerun_seconds = time.perf_counter() - t0

    # ---- checks (not timed)
    struck = sum(o.status == Status.STRUCK for s in strikes for o in first[s])
    expected = len(fund_ids) * len(strikes)
    bad = [(o.ticker, o.strike, o.status) for s in strikes for o in first[s] if o.status != Status.STRUCK]
    assert not bad, f"{len(bad)} strikes not STRUCK, e.g. {bad[:5]}"
    nav_rows = NetAssetValue.objects.filter(date=day).count()
    history_rows = NetAssetValue.history.filter(date=day).count()
    assert nav_rows == expected, f"{nav_rows} NAV rows, expected {expected}"
    assert history_rows == expected, f"{history_rows} NAV history rows, expected {expected}"
    not_noop = [(o.ticker, o.strike, o.status) for s in strikes for o in rerun[s] if o.status != Status.ALREADY_STRUCK]
    assert not not_noop, f"re-run struck again: {not_noop[:5]}"
    assert NetAssetValue.objects.filter(date=day).count() == expected, "re-run changed the NAV rows"

    spot_fund = fund_ids[len(fund_ids) // 2]
    spot = []
    for strike in strikes:
        stored = NetAssetValue.objects.get(fund_id=spot_fund, date=day, strike=strike)
        direct = recompute(spot_fund, day, strike)
        for key, value in direct.items():
            assert getattr(stored, key) == value, f"{strike} {key}: stored {getattr(stored, key)} != recomputed {value}"
        assert stored.holdings_count == args.holdings == len(stored.inputs["rows"])
        spot.append((stored.fund.ticker, strike, stored.nav_per_share, stored.net_assets))

    vendor = connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version" if vendor == "postgresql" else "SELECT sqlite_version()")
        version = cursor.fetchone()[0].split(" ")[0]

    return {
        "strikes": struck,
        "seconds": round(strike_seconds, 3),
        "strikes_per_s": round(struck / strike_seconds, 1),
        "ms_per_strike": round(strike_seconds * 1000 / struck, 3),
        "intraday_seconds": round(first_seconds[Strike.INTRADAY], 3),
        "end_of_day_seconds": round(first_seconds[Strike.END_OF_DAY], 3),
        "queries": first_queries.count,
        "query_seconds": round(first_queries.seconds, 3),
        "rerun_seconds": round(rerun_seconds, 3),
        "rerun_queries": rerun_queries.count,
        "rerun_statuses": "ALREADY_STRUCK",
        "database": vendor,
        "database_version": version,
        "database_name": os.path.basename(str(config["NAME"])),
        "funds": len(fund_ids),
        "holdings_per_fund": args.holdings,
        "holdings_total": counts["holdings"],
        "securities": counts["securities"],
        "price_day": day.isoformat(),
        "price_file": str(price_file),
        "nav_rows": nav_rows,
        "nav_history_rows": history_rows,
        "spot_check": {f"{t} {s}": str(n) for t, s, n, _ in spot},
        "migrate_seconds": round(migrated - started, 3),
        "setup_seconds": round(setup_done - migrated, 3),
        "target_seconds": TARGET_SECONDS,
        "target_met": strike_seconds < TARGET_SECONDS,
        "peak_rss_mb": peak_rss_mb(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def print_table(r: dict) -> None:
    rows = [
        ("database", f"{r['database']} {r['database_version']} (throwaway: {r['database_name']}, dropped)"),
        ("prices", f"{r['price_day']} closes, {r['securities']} securities ({Path(r['price_file']).name})"),
        ("funds", f"{r['funds']:,}"),
        ("holdings per fund", f"{r['holdings_per_fund']:,} ({r['holdings_total']:,} in all)"),
        ("migrate (not timed)", f"{r['migrate_seconds']:.2f} s"),
        ("setup (not timed)", f"{r['setup_seconds']:.2f} s"),
        ("strikes", f"{r['strikes']:,} (all STRUCK; {r['nav_rows']:,} NAV rows, {r['nav_history_rows']:,} history rows)"),
        ("  Intra-Day batch", f"{r['intraday_seconds']:.3f} s"),
        ("  End of Day batch", f"{r['end_of_day_seconds']:.3f} s"),
        ("seconds", f"{r['seconds']:.3f} s ({r['queries']} queries taking {r['query_seconds']:.3f} s, binding included)"),
        ("strikes/s", f"{r['strikes_per_s']:,.1f}"),
        ("ms per strike", f"{r['ms_per_strike']:.3f}"),
        ("target", f"< {r['target_seconds']:.0f} s: {'met' if r['target_met'] else 'MISSED'}"),
        ("no-op re-run (2 batches)", f"{r['rerun_seconds']:.3f} s ({r['rerun_queries']} queries, all ALREADY_STRUCK)"),
        ("spot check (Decimal recompute)", "; ".join(f"{k} = {v}" for k, v in r["spot_check"].items()) + " (match)"),
        ("peak RSS", f"{r['peak_rss_mb']:,.1f} MB"),
        ("machine", f"Python {r['python']}, {r['cpus']} CPUs"),
    ]
    width = max(len(k) for k, _ in rows)
    print("NAV strike benchmark: nav_strike_batch, Intra-Day + End of Day")
    print("-" * (width + 50))
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("-" * (width + 50))


def main() -> int:
    args = parse_args()
    # Production workers run with DEBUG off; with it on Django keeps every SQL string in memory.
    os.environ["DEBUG"] = "0"
    # A SIGTERM runs the finally block too, so the throwaway database is dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = ThrowawayDatabase(args.database)
    try:
        result = run(args, database)
    finally:
        database.drop()
    print_table(result)
    print(json.dumps(result, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
