"""The demo data set: a Trust with two Funds replaying real prices, and one login per role.

``demo_load`` builds everything through the same services production uses
(security and fund creation, the price import, portfolio booking, the
shares-outstanding ledger, the NAV strike), inside one transaction: it either
loads completely or leaves nothing behind. Running it again is a no-op.

What is real and what is not (see data/demo/README.md): closes, adjusted
closes and volumes are real (vendor) figures for ~150 S&P 500 stocks. CUSIPs,
ISINs, the exchange, round lots, the 12:00 snapshots, the Funds, their
portfolios and the Fund share quotes are SYNTHETIC, made deterministically
(seeded) so every load gives the same numbers.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token
from simple_history.utils import bulk_create_with_history

from backoffice import roles
from backoffice.audit import system_user
from backoffice.exceptions import InvalidInput
from funds import business_calendar
from funds.identifiers import synthetic_cusip, synthetic_isin
from funds.models import (
    Adviser,
    AssetClass,
    Distributor,
    Fund,
    NetAssetValue,
    Portfolio,
    PriceSource,
    Security,
    ShareQuote,
    Strike,
    Trust,
)
from funds.services.fund_setup import fund_create, security_create
from funds.services.nav import Status, nav_strike_batch, strike_instant
from funds.services.portfolio import portfolio_book, shares_outstanding_launch
from funds.services.prices import daily_prices_import, intraday_snapshots_import

DEMO_DIR = Path(settings.BASE_DIR) / "data" / "demo"
TRUST_NAME = "Demo Semi-Transparent ETF Trust"
ADVISER_NAME = "Demo Active Advisers LLC"
DISTRIBUTOR_NAME = "Demo ETF Distributors LLC"

DEFAULT_REPLAY_DAYS = 80
ADV_SESSIONS = 63  # average daily volume: the last ~3 months of the sample
REBALANCE_EVERY = 20  # business days between portfolio changes
SEED = 20210421
INITIAL_PRICE = Decimal("25.0000")
CASH_TARGET = 0.01  # of net assets, left uninvested at launch
CENT = Decimal("0.01")
# Synthetic identifiers: CUSIP issuer numbers starting "9Z" are not assigned to real issuers here.
SECURITY_CUSIP_PREFIX = "9Z"
FUND_CUSIP_PREFIX = "9ZF"
ADMIN_URL = "http://127.0.0.1:8000/admin/"
API_URL = "http://127.0.0.1:8000/api/funds/"

GROWTH = "Information Technology", "Communication Services", "Consumer Discretionary", "Health Care"
VALUE = "Financials", "Energy", "Utilities", "Industrials", "Consumer Staples", "Materials", "Real Estate"


@dataclass(frozen=True)
class DemoFund:
    name: str
    ticker: str
    serial: int  # of its synthetic CUSIP
    creation_unit_size: int
    seed_shares: int
    holdings: int
    favoured: tuple[str, ...]  # sectors drawn four times as often as the others


DEMO_FUNDS = (
    DemoFund("Demo Active Growth ETF", "DAGE", 1, 25_000, 2_000_000, 90, GROWTH),
    DemoFund("Demo Active Value ETF", "DAVE", 2, 50_000, 1_500_000, 60, VALUE),
)

# username, role group (None: superuser), staff
DEMO_USERS = (
    ("admin", None, True),
    ("pm", roles.PORTFOLIO_MANAGER, True),
    ("pm2", roles.PORTFOLIO_MANAGER, True),  # the second pair of eyes for Alternate Baskets
    ("ops", roles.OPERATIONS, True),
    ("aprel", roles.AP_RELATIONSHIP, True),
    ("compliance", roles.COMPLIANCE, True),
    ("board", roles.BOARD, True),
    ("ap", roles.AUTHORIZED_PARTICIPANT, False),
    ("investing", roles.INVESTING_FUND, False),
)


def demo_password(username: str) -> str:
    return f"demo-pass-{username}"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    how: str


@dataclass
class DemoLoadResult:
    created: bool
    logins: list[DemoLogin]
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# --- entry point -----------------------------------------------------------------------------


def demo_load(*, replay_days: int = DEFAULT_REPLAY_DAYS, stdout: TextIO | None = None) -> DemoLoadResult:
    """Load the demo unless its Trust exists. ``stdout`` receives progress lines (and a tqdm bar goes to stderr)."""
    started = time.monotonic()

    def say(message: str) -> None:
        if stdout is not None:
            stdout.write(f"[{time.monotonic() - started:5.1f}s] {message}\n")

    if Trust.objects.filter(name=TRUST_NAME).exists():
        say(f"The demo is already loaded ({TRUST_NAME!r} exists): nothing to do.")
        return DemoLoadResult(created=False, logins=demo_logins())

    prices, master = _read_sample()
    sessions = sorted(prices["date"].unique())
    if not 1 <= replay_days <= len(sessions) - ADV_SESSIONS:
        raise InvalidInput(f"replay_days must be between 1 and {len(sessions) - ADV_SESSIONS}, got {replay_days}.")
    window = [dt.date.fromisoformat(d) for d in sessions[-replay_days:]]
    clashing = sorted(Security.objects.filter(ticker__in=master["ticker"]).values_list("ticker", flat=True))
    if clashing:
        shown = ", ".join(clashing[:10]) + (f" and {len(clashing) - 10} more" if len(clashing) > 10 else "")
        raise InvalidInput(f"the security master already holds demo tickers ({shown}): load the demo into an empty database.")

    actor = system_user()
    progress = stdout is not None
    with transaction.atomic():
        trust = Trust(name=TRUST_NAME)
        adviser = Adviser(name=ADVISER_NAME)
        distributor = Distributor(name=DISTRIBUTOR_NAME)
        for party in (trust, adviser, distributor):
            party._history_user = actor
            party.full_clean()
            party.save()

        securities = _create_securities(master, prices, actor)
        say(f"{len(securities)} securities (synthetic CUSIP/ISIN)")

        result = daily_prices_import(file=prices, source=PriceSource.VENDOR, actor=actor, progress=progress)
        say(result.summary())
        result = intraday_snapshots_import(file=_snapshots(prices), source=PriceSource.SYNTHETIC, actor=actor, progress=progress)
        say(result.summary())

        closes = prices.pivot(index="date", columns="ticker", values="close").astype(float)
        closes.index = [dt.date.fromisoformat(d) for d in closes.index]
        funds = []
        for number, spec in enumerate(DEMO_FUNDS):
            fund = _launch(spec, trust, adviser, distributor, window[0], securities, master, closes, actor, seed=SEED + number)
            funds.append(fund)
            say(f"{fund.ticker} launched {window[0]}: {spec.seed_shares:,} shares at ${INITIAL_PRICE}, "
                f"{fund.portfolios.get().holdings.count()} holdings")

        fund_ids = [f.pk for f in funds]
        for index, day in enumerate(window):
            if index and index % REBALANCE_EVERY == 0:
                for number, fund in enumerate(funds):
                    _rebalance(fund, day, securities, master, closes, actor, seed=SEED + 100 * index + number)
            for strike in (Strike.INTRADAY, Strike.END_OF_DAY):
                _strike(fund_ids, day, strike, funds, actor)
            if (index + 1) % 20 == 0 or index + 1 == len(window):
                say(f"NAVs struck for {index + 1}/{len(window)} business days (through {day})")

        quotes = _share_quotes(funds, actor)
        say(f"{quotes} synthetic share quotes")
        logins = _create_users(actor)
        say(f"{len(logins)} demo users")

    counts = {
        "securities": len(securities),
        "daily_prices": len(prices),
        "navs": NetAssetValue.objects.filter(fund__in=funds).count(),
        "portfolios": Portfolio.objects.filter(fund__in=funds).count(),
        "share_quotes": quotes,
    }
    elapsed = time.monotonic() - started
    say(f"Demo loaded in {elapsed:.1f}s")
    return DemoLoadResult(created=True, logins=logins, first_day=window[0], last_day=window[-1], counts=counts, seconds=elapsed)


# --- logins ----------------------------------------------------------------------------------


def _how(username: str, staff: bool) -> str:
    if staff:
        return f"admin: {ADMIN_URL}"
    token = Token.objects.filter(user__username=username).values_list("key", flat=True).first()
    return f'API: curl -H "Authorization: Token {token}" {API_URL}'


def demo_logins() -> list[DemoLogin]:
    """The demo accounts present in the database, with their demo passwords and how to log in."""
    present = set(get_user_model().objects.filter(username__in=[u for u, _, _ in DEMO_USERS]).values_list("username", flat=True))
    return [
        DemoLogin(username, demo_password(username), role or "superuser", _how(username, staff))
        for username, role, staff in DEMO_USERS
        if username in present
    ]


def format_logins(logins: list[DemoLogin]) -> str:
    header = DemoLogin("username", "password", "role", "how to log in")
    rows = [header, *logins]
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("username", "password", "role")]
    lines = []
    for row in rows:
        cells = (row.username.ljust(widths[0]), row.password.ljust(widths[1]), row.role.ljust(widths[2]), row.how)
        lines.append("  ".join(cells))
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 13)
    return "\n".join(lines)


def _create_users(actor) -> list[DemoLogin]:
    user_model = get_user_model()
    groups = {g.name: g for g in Group.objects.filter(name__in=roles.ALL_ROLES)}
    for username, role, staff in DEMO_USERS:
        if user_model.objects.filter(username=username).exists():
            continue  # an account made by hand keeps its password and roles
        user = user_model(
            username=username, is_staff=staff, is_superuser=role is None,
            first_name="Demo", last_name=role or "Administrator",
        )
        user.set_password(demo_password(username))
        user._history_user = actor
        user.save()
        if role is not None:
            user.groups.add(groups[role])
        if not staff:
            Token.objects.create(user=user)
    return demo_logins()


# --- securities and prices -------------------------------------------------------------------


def _read_sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    prices = pd.read_csv(DEMO_DIR / "prices.csv.gz", dtype=str)
    master = pd.read_csv(DEMO_DIR / "securities.csv", dtype=str).sort_values("ticker", kind="stable").reset_index(drop=True)
    return prices, master


def _create_securities(master: pd.DataFrame, prices: pd.DataFrame, actor) -> dict[str, Security]:
    last = sorted(prices["date"].unique())[-ADV_SESSIONS:]
    recent = prices[prices["date"].isin(last)]
    adv = recent["volume"].astype("int64").groupby(recent["ticker"]).mean().round().astype("int64")
    securities = {}
    for serial, row in enumerate(master.itertuples(index=False), start=1):
        cusip = synthetic_cusip(SECURITY_CUSIP_PREFIX, serial)
        securities[row.ticker] = security_create(
            actor=actor, ticker=row.ticker, cusip=cusip, isin=synthetic_isin(cusip), description=row.name,
            asset_class=AssetClass.COMMON_STOCK, sector=row.gics_sector, industry=row.gics_sub_industry if isinstance(row.gics_sub_industry, str) else "",
            exchange="XNYS", round_lot=100,
            average_daily_volume=int(adv[row.ticker]), identifiers_synthetic=True,
        )
    return securities


def _snapshots(prices: pd.DataFrame) -> pd.DataFrame:
    """12:00 ET prices: the geometric midpoint of the previous and the day's close, in cents (first day: the close)."""
    frame = prices[["date", "ticker", "close"]].sort_values(["ticker", "date"], kind="stable")
    close = frame["close"].astype(float)
    previous = close.groupby(frame["ticker"]).shift()
    midpoint = np.sqrt(previous * close).round(2)
    text = midpoint.map(lambda x: f"{x:.2f}", na_action="ignore")
    return pd.DataFrame({"date": frame["date"], "ticker": frame["ticker"], "price": text.fillna(frame["close"])})


# --- funds and portfolios --------------------------------------------------------------------


def _sector_draw(rng: np.random.Generator, candidates: list[str], master: pd.DataFrame, favoured, size: int) -> list[str]:
    sectors = master.set_index("ticker")["gics_sector"]
    weight = np.array([4.0 if sectors[t] in favoured else 1.0 for t in candidates])
    picked = rng.choice(len(candidates), size=size, replace=False, p=weight / weight.sum())
    return sorted(candidates[i] for i in picked)


def _launch(spec: DemoFund, trust, adviser, distributor, launch: dt.date, securities, master, closes, actor, *, seed: int) -> Fund:
    fund = fund_create(
        actor=actor, trust=trust, adviser=adviser, distributor=distributor, name=spec.name, ticker=spec.ticker,
        cusip=synthetic_cusip(FUND_CUSIP_PREFIX, spec.serial), creation_unit_size=spec.creation_unit_size,
        launch_date=launch, initial_price=INITIAL_PRICE,
    )
    shares_outstanding_launch(fund_id=fund.pk, shares=Decimal(spec.seed_shares), effective_date=launch, actor=actor)

    rng = np.random.default_rng(seed)
    tickers = _sector_draw(rng, sorted(securities), master, spec.favoured, spec.holdings)
    weights = rng.lognormal(mean=0.0, sigma=0.5, size=len(tickers))
    weights = weights / weights.sum() * (1 - CASH_TARGET)
    net_assets = Decimal(spec.seed_shares) * INITIAL_PRICE
    # Bought at the launch day's close: the first End of Day NAV is the initial price.
    positions, invested = [], Decimal(0)
    for ticker, weight in zip(tickers, weights):
        close = Decimal(str(closes.at[launch, ticker]))
        quantity = int(float(net_assets) * weight / float(close))
        positions.append((securities[ticker].pk, Decimal(quantity)))
        invested += quantity * close
    portfolio_book(
        fund_id=fund.pk, as_of=launch, positions=positions, cash=(net_assets - invested).quantize(CENT, ROUND_DOWN),
        notes="Demo launch portfolio (synthetic).", actor=actor,
    )
    return fund


def _rebalance(fund: Fund, day: dt.date, securities, master, closes, actor, *, seed: int) -> Portfolio:
    """Sell three names and trim two; buy three new names and add to two, at the previous close, cash-funded."""
    current = Portfolio.objects.filter(fund=fund, as_of__lt=day).order_by("-as_of").first()
    held = {h.security.ticker: h.quantity for h in current.holdings.select_related("security")}
    trade_day = business_calendar.previous_business_day(day)
    price = {t: Decimal(str(closes.at[trade_day, t])) for t in securities}
    rng = np.random.default_rng(seed)
    names = sorted(held)
    chosen = rng.choice(len(names), size=7, replace=False)
    sold, trimmed, added = [names[i] for i in chosen[:3]], [names[i] for i in chosen[3:5]], [names[i] for i in chosen[5:]]
    favoured = next(spec.favoured for spec in DEMO_FUNDS if spec.ticker == fund.ticker)
    bought = _sector_draw(rng, sorted(set(securities) - set(held)), master, favoured, 3)

    quantities = dict(held)
    proceeds = Decimal(0)
    for ticker in sold:
        proceeds += quantities.pop(ticker) * price[ticker]
    for ticker in trimmed:
        cut = (quantities[ticker] / 3).to_integral_value(ROUND_DOWN)
        quantities[ticker] -= cut
        proceeds += cut * price[ticker]
    budget = proceeds / (len(bought) + len(added))
    spent = Decimal(0)
    for ticker in [*bought, *added]:
        quantity = (budget / price[ticker]).to_integral_value(ROUND_DOWN)
        if quantity > 0:
            quantities[ticker] = quantities.get(ticker, Decimal(0)) + quantity
            spent += quantity * price[ticker]
    return portfolio_book(
        fund_id=fund.pk, as_of=day, positions=[(securities[t].pk, q) for t, q in sorted(quantities.items())],
        cash=(current.cash + proceeds - spent).quantize(CENT, ROUND_DOWN), liabilities=current.liabilities,
        notes=f"Demo rebalance (synthetic): sold {', '.join(sold)}; bought {', '.join(bought)}; "
              f"trimmed {', '.join(trimmed)}; added to {', '.join(added)}.",
        actor=actor,
    )


def _strike(fund_ids: list[int], day: dt.date, strike: str, funds: list[Fund], actor) -> None:
    # Replayed as if struck a minute after the scheduled instant.
    now = max(strike_instant(f, day, strike) for f in funds) + dt.timedelta(minutes=1)
    outcomes = nav_strike_batch(fund_ids=fund_ids, day=day, strike=strike, actor=actor, now=now)
    refused = [o.failure.message for o in outcomes if o.status == Status.FAILED]
    if refused:
        # The demo data are inconsistent: stop, and roll the whole load back.
        raise RuntimeError("demo NAV strike refused: " + " ".join(refused))


# --- share quotes ----------------------------------------------------------------------------


def _share_quotes(funds: list[Fund], actor) -> int:
    """NBBO around each NAV (midpoint NAV x (1 + N(0, 0.15%)), spread 2-8 bp) and a closing price at the End of Day."""
    rng = np.random.default_rng(SEED + 7)
    navs = list(NetAssetValue.objects.filter(fund__in=funds).order_by("fund_id", "date", "strike"))
    noise = rng.normal(0.0, 0.0015, size=len(navs))
    spread_bp = rng.uniform(2.0, 8.0, size=len(navs))
    close_at = rng.uniform(-1.0, 1.0, size=len(navs))
    quotes = []
    for nav, move, spread, where in zip(navs, noise, spread_bp, close_at):
        mid = float(nav.nav_per_share) * (1 + move)
        half = mid * spread / 2 / 10_000
        # Quotes are in whole cents (Reg NMS Rule 612), so at $25 the narrowest spread is one cent (4 bp).
        bid = Decimal(f"{mid - half:.2f}")
        ask = max(Decimal(f"{mid + half:.2f}"), bid + CENT)
        closing = None
        if nav.strike == Strike.END_OF_DAY:
            closing = min(max(Decimal(f"{mid + where * half:.2f}"), bid), ask)
        quotes.append(ShareQuote(
            fund_id=nav.fund_id, date=nav.date, strike=nav.strike, bid=bid, ask=ask, closing_price=closing,
            quoted_at=nav.strike_at, source=PriceSource.SYNTHETIC,
        ))
    bulk_create_with_history(quotes, ShareQuote, default_user=actor, batch_size=500)
    return len(quotes)


__all__ = ["DEFAULT_REPLAY_DAYS", "DemoLoadResult", "DemoLogin", "demo_load", "demo_logins", "format_logins"]
