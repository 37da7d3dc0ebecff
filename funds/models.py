"""The fund core: trust and series, the security master, market data, the
confidential portfolio, the shares-outstanding ledger and struck NAVs.

Every rule that can live in the database does (unique and check constraints),
so no entry point can bypass it; services add the rules that need context.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Sum
from simple_history.models import HistoricalRecords

from funds.identifiers import is_valid_cusip, is_valid_isin

MIN_CREATION_UNIT_SIZE = 5_000
MAX_CORRECTIVE_ACTION_THRESHOLD_PCT = Decimal("2.00")
MAX_TRACKING_ERROR_THRESHOLD_PCT = Decimal("1.00")
# Rule 3a51-1 under the Exchange Act: a penny stock trades under $5. Funds may not buy them.
PENNY_STOCK_PRICE = Decimal("5.00")

# The Intra-Day strike must fall inside every session, early closes (13:00 ET) included.
EARLIEST_INTRADAY_STRIKE = dt.time(9, 31)
LATEST_INTRADAY_STRIKE = dt.time(12, 59)

PRICE = {"max_digits": 18, "decimal_places": 6}
QUANTITY = {"max_digits": 20, "decimal_places": 4}
MONEY = {"max_digits": 20, "decimal_places": 2}


def validate_cusip(value: str) -> None:
    if not is_valid_cusip(value):
        raise ValidationError(f"{value!r} is not a valid CUSIP: 9 characters with a correct check digit.")


def validate_isin(value: str) -> None:
    if not is_valid_isin(value):
        raise ValidationError(f"{value!r} is not a valid ISIN: 12 characters with a correct check digit.")


validate_ticker = RegexValidator(r"^[A-Z][A-Z0-9.\-]{0,9}$", "A ticker is 1-10 upper-case letters, digits, '.' or '-'.")


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Party(TimeStamped):
    """A named legal entity of the Fund's group, with its SEC file number."""

    name = models.CharField(max_length=200, unique=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


class Trust(Party):
    sec_file_number = models.CharField(
        max_length=20, blank=True, validators=[RegexValidator(r"^811-\d{4,5}$", "Investment company file numbers look like 811-12345.")]
    )
    state_of_organization = models.CharField(max_length=50, default="Delaware")
    history = HistoricalRecords()


class Adviser(Party):
    sec_file_number = models.CharField(
        max_length=20, blank=True, validators=[RegexValidator(r"^801-\d{4,6}$", "Adviser file numbers look like 801-12345.")]
    )
    history = HistoricalRecords()


class Distributor(Party):
    sec_file_number = models.CharField(
        max_length=20, blank=True, validators=[RegexValidator(r"^8-\d{4,6}$", "Broker-dealer file numbers look like 8-12345.")]
    )
    history = HistoricalRecords()


class ListingExchange(models.TextChoices):
    NYSE_ARCA = "ARCX", "NYSE Arca"
    NASDAQ = "XNAS", "Nasdaq Stock Market"
    CBOE_BZX = "BATS", "Cboe BZX Exchange"


class Strike(models.TextChoices):
    INTRADAY = "INTRADAY", "Intra-Day NAV (12:00 ET by default)"
    END_OF_DAY = "END_OF_DAY", "End of Day NAV (market close)"


class FundQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class Fund(TimeStamped):
    """A series of the Trust: an actively managed, semi-transparent ETF."""

    trust = models.ForeignKey(Trust, on_delete=models.PROTECT, related_name="funds")
    adviser = models.ForeignKey(Adviser, on_delete=models.PROTECT, related_name="funds")
    distributor = models.ForeignKey(Distributor, on_delete=models.PROTECT, related_name="funds")
    name = models.CharField(max_length=200, unique=True)
    ticker = models.CharField(max_length=10, unique=True, validators=[validate_ticker])
    cusip = models.CharField("CUSIP", max_length=9, unique=True, validators=[validate_cusip])
    listing_exchange = models.CharField(max_length=4, choices=ListingExchange.choices, default=ListingExchange.NYSE_ARCA)
    creation_unit_size = models.PositiveIntegerField(
        default=MIN_CREATION_UNIT_SIZE,
        validators=[MinValueValidator(MIN_CREATION_UNIT_SIZE, f"A Creation Unit is at least {MIN_CREATION_UNIT_SIZE:,} Shares.")],
        help_text="Shares per Creation Unit (at least 5,000).",
    )
    launch_date = models.DateField()
    initial_price = models.DecimalField(max_digits=12, decimal_places=4, validators=[MinValueValidator(Decimal("0.0001"))])
    intraday_strike_time = models.TimeField(
        default=dt.time(12, 0),
        validators=[
            MinValueValidator(EARLIEST_INTRADAY_STRIKE, "The Intra-Day strike must be after the 09:30 ET open."),
            MaxValueValidator(LATEST_INTRADAY_STRIKE, "The Intra-Day strike must be before 13:00 ET, the NYSE early close."),
        ],
        help_text="Intra-Day NAV strike, America/New_York, inside every session (09:31-12:59).",
    )
    end_of_day_strike_time = models.TimeField(
        null=True, blank=True, help_text="End of Day NAV strike, America/New_York. Empty: the NYSE close (early closes included)."
    )
    corrective_action_threshold_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=MAX_CORRECTIVE_ACTION_THRESHOLD_PCT,
        validators=[
            MinValueValidator(Decimal("0.01")),
            MaxValueValidator(MAX_CORRECTIVE_ACTION_THRESHOLD_PCT, "The Corrective Action Threshold may not exceed 2.00%%."),
        ],
        help_text="Percent; at most 2.00.",
    )
    tracking_error_threshold_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=MAX_TRACKING_ERROR_THRESHOLD_PCT,
        validators=[
            MinValueValidator(Decimal("0.01")),
            MaxValueValidator(MAX_TRACKING_ERROR_THRESHOLD_PCT, "The Tracking Error threshold may not exceed 1.00%%."),
        ],
        help_text="Percent; at most 1.00.",
    )
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    objects = FundQuerySet.as_manager()

    class Meta:
        ordering = ["ticker"]
        constraints = [
            models.CheckConstraint(
                condition=Q(creation_unit_size__gte=MIN_CREATION_UNIT_SIZE), name="fund_creation_unit_at_least_5000"
            ),
            models.CheckConstraint(
                condition=Q(corrective_action_threshold_pct__gt=0)
                & Q(corrective_action_threshold_pct__lte=MAX_CORRECTIVE_ACTION_THRESHOLD_PCT),
                name="fund_corrective_action_threshold_at_most_2pct",
            ),
            models.CheckConstraint(
                condition=Q(tracking_error_threshold_pct__gt=0)
                & Q(tracking_error_threshold_pct__lte=MAX_TRACKING_ERROR_THRESHOLD_PCT),
                name="fund_tracking_error_threshold_at_most_1pct",
            ),
            models.CheckConstraint(condition=Q(initial_price__gt=0), name="fund_initial_price_positive"),
            models.CheckConstraint(
                condition=Q(intraday_strike_time__gte=EARLIEST_INTRADAY_STRIKE) & Q(intraday_strike_time__lte=LATEST_INTRADAY_STRIKE),
                name="fund_intraday_strike_inside_every_session",
            ),
            models.CheckConstraint(
                condition=Q(end_of_day_strike_time__isnull=True) | Q(end_of_day_strike_time__gt=models.F("intraday_strike_time")),
                name="fund_end_of_day_strike_after_intraday",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticker} ({self.name})"

    def clean(self) -> None:
        if self.end_of_day_strike_time and self.intraday_strike_time and self.end_of_day_strike_time <= self.intraday_strike_time:
            raise ValidationError({"end_of_day_strike_time": "The End of Day strike must come after the Intra-Day strike."})


class AssetClass(models.TextChoices):
    """The application's Permissible Investments, and nothing else."""

    ETF = "ETF", "Exchange-traded fund"
    ETN = "ETN", "Exchange-traded note"
    COMMON_STOCK = "COMMON_STOCK", "Exchange-traded common stock"
    FOREIGN_COMMON_STOCK = "FOREIGN_COMMON_STOCK", "Foreign common stock, traded contemporaneously"
    PREFERRED_STOCK = "PREFERRED_STOCK", "Exchange-traded preferred stock"
    ADR = "ADR", "American Depositary Receipt"
    REIT = "REIT", "Exchange-traded real estate investment trust"
    COMMODITY_POOL = "COMMODITY_POOL", "Exchange-traded commodity pool"
    METALS_TRUST = "METALS_TRUST", "Exchange-traded metals trust"
    CURRENCY_TRUST = "CURRENCY_TRUST", "Exchange-traded currency trust"
    FUTURE = "FUTURE", "US-listed exchange-traded future"
    CASH_EQUIVALENT = "CASH_EQUIVALENT", "Cash and cash equivalents"


class Security(TimeStamped):
    ticker = models.CharField(max_length=10, unique=True, validators=[validate_ticker])
    cusip = models.CharField("CUSIP", max_length=9, unique=True, validators=[validate_cusip])
    isin = models.CharField("ISIN", max_length=12, unique=True, null=True, blank=True, validators=[validate_isin])
    description = models.CharField(max_length=200)
    asset_class = models.CharField(max_length=24, choices=AssetClass.choices, default=AssetClass.COMMON_STOCK)
    sector = models.CharField(max_length=60, blank=True, help_text="GICS sector.")
    industry = models.CharField(max_length=100, blank=True, help_text="GICS sub-industry (the basket engine's industry risk factors).")
    exchange = models.CharField(max_length=4, help_text="ISO 10383 MIC of the primary listing, e.g. XNYS.")
    country = models.CharField(max_length=2, default="US", validators=[RegexValidator(r"^[A-Z]{2}$", "ISO 3166 alpha-2 code.")])
    is_foreign = models.BooleanField(default=False)
    round_lot = models.PositiveIntegerField(default=100, validators=[MinValueValidator(1)])
    average_daily_volume = models.BigIntegerField(default=0, validators=[MinValueValidator(0)], help_text="Shares per day.")
    identifiers_synthetic = models.BooleanField(
        default=False, help_text="CUSIP/ISIN/exchange were generated for demo data and are not real identifiers."
    )
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["ticker"]
        verbose_name_plural = "securities"
        constraints = [models.CheckConstraint(condition=Q(average_daily_volume__gte=0), name="security_adv_non_negative")]

    def __str__(self) -> str:
        return self.ticker

    @staticmethod
    def is_penny_stock_price(price: Decimal) -> bool:
        return price < PENNY_STOCK_PRICE


class PriceSource(models.TextChoices):
    VENDOR = "VENDOR", "Market data vendor"
    SYNTHETIC = "SYNTHETIC", "Synthetic (demo data, derived from real closes)"


class DailyPrice(models.Model):
    """Official close and volume of a security on a trading day."""

    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="daily_prices")
    date = models.DateField()
    close = models.DecimalField(**PRICE)
    adj_close = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True, help_text="Split/dividend adjusted, for returns.")
    volume = models.BigIntegerField(default=0)
    source = models.CharField(max_length=10, choices=PriceSource.choices, default=PriceSource.VENDOR)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["security", "date"]
        indexes = [models.Index(fields=["date", "security"])]
        constraints = [
            models.UniqueConstraint(fields=["security", "date"], name="daily_price_one_per_security_day"),
            models.CheckConstraint(condition=Q(close__gt=0), name="daily_price_close_positive"),
            models.CheckConstraint(condition=Q(adj_close__isnull=True) | Q(adj_close__gt=0), name="daily_price_adj_close_positive"),
            models.CheckConstraint(condition=Q(volume__gte=0), name="daily_price_volume_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.security_id} {self.date} {self.close}"


class IntradaySnapshot(models.Model):
    """A security's price at the Intra-Day strike (12:00 ET)."""

    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="intraday_snapshots")
    date = models.DateField()
    price = models.DecimalField(**PRICE)
    taken_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=PriceSource.choices, default=PriceSource.VENDOR)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["security", "date"]
        indexes = [models.Index(fields=["date", "security"])]
        constraints = [
            models.UniqueConstraint(fields=["security", "date"], name="intraday_snapshot_one_per_security_day"),
            models.CheckConstraint(condition=Q(price__gt=0), name="intraday_snapshot_price_positive"),
        ]


class ShareQuote(models.Model):
    """NBBO for a Fund's own Shares at a NAV strike, plus the official Closing Price at the End of Day strike."""

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="share_quotes")
    date = models.DateField()
    strike = models.CharField(max_length=12, choices=Strike.choices)
    bid = models.DecimalField(**PRICE)
    ask = models.DecimalField(**PRICE)
    closing_price = models.DecimalField(**PRICE, null=True, blank=True)
    quoted_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=PriceSource.choices, default=PriceSource.VENDOR)
    history = HistoricalRecords()

    class Meta:
        ordering = ["fund", "date", "strike"]
        constraints = [
            models.UniqueConstraint(fields=["fund", "date", "strike"], name="share_quote_one_per_fund_day_strike"),
            models.CheckConstraint(condition=Q(bid__gt=0) & Q(ask__gte=models.F("bid")), name="share_quote_bid_positive_ask_not_below_bid"),
            models.CheckConstraint(condition=Q(closing_price__isnull=True) | Q(closing_price__gt=0), name="share_quote_closing_price_positive"),
        ]

    @property
    def midpoint(self) -> Decimal:
        """The Bid/Ask Price of the application: the NBBO midpoint at the NAV strike."""
        return (self.bid + self.ask) / 2


class Portfolio(models.Model):
    """The Fund's confidential portfolio as booked for a business day.

    It forms the basis of every NAV struck on that day and carries forward to
    later days until a newer portfolio is booked. Never served to AP,
    Investing Fund or public users.
    """

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="portfolios")
    as_of = models.DateField(help_text="First business day this portfolio is the basis of the NAV.")
    cash = models.DecimalField(**MONEY, default=Decimal("0.00"))
    liabilities = models.DecimalField(**MONEY, default=Decimal("0.00"))
    notes = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["fund", "-as_of"]
        constraints = [
            models.UniqueConstraint(fields=["fund", "as_of"], name="portfolio_one_per_fund_day"),
            models.CheckConstraint(condition=Q(liabilities__gte=0), name="portfolio_liabilities_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.fund_id} portfolio as of {self.as_of}"


class Holding(models.Model):
    portfolio = models.ForeignKey(Portfolio, on_delete=models.PROTECT, related_name="holdings")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="holdings")
    quantity = models.DecimalField(**QUANTITY)
    history = HistoricalRecords()

    class Meta:
        ordering = ["portfolio", "security__ticker"]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "security"], name="holding_one_per_portfolio_security"),
            # The Funds hold no short positions (application, section II).
            models.CheckConstraint(condition=Q(quantity__gt=0), name="holding_quantity_positive"),
        ]


class SharesOutstandingEntry(models.Model):
    """Append-only ledger: shares outstanding change only at launch and through creations and redemptions."""

    class Kind(models.TextChoices):
        LAUNCH = "LAUNCH", "Seed shares at launch"
        CREATION = "CREATION", "Creation Units issued"
        REDEMPTION = "REDEMPTION", "Creation Units redeemed"

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="shares_outstanding_entries")
    effective_date = models.DateField(help_text="First business day whose NAVs count this change.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    change = models.DecimalField(**QUANTITY)
    reference = models.CharField(max_length=100, blank=True, help_text="Order reference for creations and redemptions.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["fund", "effective_date", "id"]
        verbose_name_plural = "shares outstanding entries"
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="LAUNCH") & Q(change__gt=0)) | (Q(kind="CREATION") & Q(change__gt=0)) | (Q(kind="REDEMPTION") & Q(change__lt=0)),
                name="shares_outstanding_sign_matches_kind",
            ),
            models.UniqueConstraint(fields=["fund"], condition=Q(kind="LAUNCH"), name="shares_outstanding_one_launch_per_fund"),
        ]

    @classmethod
    def outstanding(cls, fund_id: int, on: dt.date) -> Decimal:
        total = cls.objects.filter(fund_id=fund_id, effective_date__lte=on).aggregate(total=Sum("change"))["total"]
        return total or Decimal("0")


class NetAssetValue(models.Model):
    """A struck NAV with every input it used, so it can be recomputed and explained later."""

    class PriceBasis(models.TextChoices):
        INTRADAY_SNAPSHOT = "INTRADAY_SNAPSHOT", "12:00 ET snapshot prices"
        CLOSE = "CLOSE", "Official closing prices"

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="navs")
    date = models.DateField()
    strike = models.CharField(max_length=12, choices=Strike.choices)
    strike_at = models.DateTimeField(help_text="The scheduled strike instant (stored in UTC).")
    struck_at = models.DateTimeField(help_text="When the system computed it.")
    portfolio = models.ForeignKey(Portfolio, on_delete=models.PROTECT, related_name="navs")
    price_basis = models.CharField(max_length=20, choices=PriceBasis.choices)
    holdings_count = models.PositiveIntegerField()
    securities_value = models.DecimalField(max_digits=24, decimal_places=2)
    cash = models.DecimalField(**MONEY)
    liabilities = models.DecimalField(**MONEY)
    net_assets = models.DecimalField(max_digits=24, decimal_places=2)
    shares_outstanding = models.DecimalField(**QUANTITY)
    nav_per_share = models.DecimalField(max_digits=18, decimal_places=4)
    # [[security_id, ticker, quantity, price, market value], ...] as strings: exact Decimals.
    inputs = models.JSONField()
    struck_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # NAV rows are immutable; the inputs are kept once, on the row, not copied into history.
    history = HistoricalRecords(excluded_fields=["inputs"])

    class Meta:
        ordering = ["fund", "-date", "-strike_at"]
        verbose_name = "NAV"
        verbose_name_plural = "NAVs"
        indexes = [models.Index(fields=["date", "strike"])]
        constraints = [
            models.UniqueConstraint(fields=["fund", "date", "strike"], name="nav_one_per_fund_day_strike"),
            models.CheckConstraint(condition=Q(shares_outstanding__gt=0), name="nav_shares_outstanding_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.fund_id} {self.date} {self.strike} {self.nav_per_share}"


class NavStrikeFailure(models.Model):
    """A strike that was refused, with the reason: never a wrong NAV."""

    class Reason(models.TextChoices):
        MISSING_PRICES = "MISSING_PRICES", "Prices missing for held securities"
        NO_PORTFOLIO = "NO_PORTFOLIO", "No portfolio booked on or before the date"
        NO_SHARES_OUTSTANDING = "NO_SHARES_OUTSTANDING", "No shares outstanding"

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="nav_failures")
    date = models.DateField()
    strike = models.CharField(max_length=12, choices=Strike.choices)
    reason = models.CharField(max_length=24, choices=Reason.choices)
    missing_tickers = models.JSONField(default=list, blank=True)
    message = models.TextField()
    attempted_at = models.DateTimeField()
    attempted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-attempted_at"]
        indexes = [models.Index(fields=["fund", "date", "strike"])]

    def __str__(self) -> str:
        return f"{self.fund_id} {self.date} {self.strike}: {self.reason}"
