"""Protected Securities: what a Fund keeps out of its Substitute Basket.

The application (section I) defines them as securities the portfolio managers
are actively looking to buy or sell, or whose disclosure could invite
front-running or free-riding. Visible only to Portfolio Managers and Compliance.
"""

from __future__ import annotations

import datetime as dt

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords


class ProtectedSecurityQuerySet(models.QuerySet):
    def in_force(self, on: dt.date):
        """Designations effective on ``on``: from effective_from through effective_to, both included."""
        return self.filter(effective_from__lte=on).filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on))


class ProtectedSecurity(models.Model):
    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="protected_securities")
    security = models.ForeignKey("funds.Security", on_delete=models.PROTECT, related_name="protected_designations")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Last day protected, included. Empty: until ended.")
    reason = models.TextField(help_text="Why disclosure would harm the Fund (e.g. position being built or sold).")
    designated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    designated_at = models.DateTimeField(auto_now_add=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    end_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    objects = ProtectedSecurityQuerySet.as_manager()

    class Meta:
        ordering = ["fund", "security__ticker", "-effective_from"]
        verbose_name_plural = "protected securities"
        indexes = [models.Index(fields=["fund", "effective_from"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
                name="protected_security_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        until = self.effective_to.isoformat() if self.effective_to else "open"
        return f"{self.security} protected in {self.fund} {self.effective_from.isoformat()}..{until}"


# --- the Substitute Basket ---------------------------------------------------------------------

PERCENT = {"max_digits": 9, "decimal_places": 4}
GENESIS_SHA256 = "0" * 64  # the previous hash of the first Publication
APPLICATION_MIN_ACTIVE_SHARE_PCT = Decimal("5.00")
APPLICATION_MAX_ACTIVE_SHARE_PCT = Decimal("30.00")


class RiskModel(models.TextChoices):
    HYBRID = "hybrid", "Fast + slow statistical factors, GICS industry blocks, specific risk (default)"
    PCA = "pca", "Statistical factors (PCA) + specific risk"
    LEDOIT_WOLF_CC = "lw_cc", "Ledoit-Wolf, constant-correlation target"
    LEDOIT_WOLF_IDENTITY = "lw_identity", "Ledoit-Wolf, identity target"
    SAMPLE = "sample", "Sample covariance (benchmark only: overfits)"


class BasketPolicy(models.Model):
    """A Fund's Substitute Basket parameters, inside the application's bounds (footnote 29: 5%-30%)."""

    fund = models.OneToOneField("funds.Fund", on_delete=models.PROTECT, related_name="basket_policy")
    min_active_share_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=APPLICATION_MIN_ACTIVE_SHARE_PCT,
        validators=[MinValueValidator(APPLICATION_MIN_ACTIVE_SHARE_PCT), MaxValueValidator(APPLICATION_MAX_ACTIVE_SHARE_PCT)],
        help_text="Lowest Active Share Differential, percent (at least 5.00).",
    )
    max_active_share_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=APPLICATION_MAX_ACTIVE_SHARE_PCT,
        validators=[MinValueValidator(APPLICATION_MIN_ACTIVE_SHARE_PCT), MaxValueValidator(APPLICATION_MAX_ACTIVE_SHARE_PCT)],
        help_text="Highest Active Share Differential, percent (at most 30.00).",
    )
    max_weight_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("10.00"),
        validators=[MinValueValidator(Decimal("0.50")), MaxValueValidator(Decimal("100.00"))],
        help_text="Cap on any one name's basket weight, percent.",
    )
    max_names = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: no limit.")
    adv_fraction_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("5.00"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100.00"))],
        help_text="Quantity per Creation Unit at most this share of the name's average daily volume, percent.",
    )
    min_average_dollar_volume = models.DecimalField(
        max_digits=20, decimal_places=2, default=Decimal("10000000.00"), validators=[MinValueValidator(Decimal("0"))],
        help_text="Liquidity floor: average daily dollar volume (63 sessions) a basket name needs.",
    )
    history_days = models.PositiveIntegerField(
        default=756, validators=[MinValueValidator(130), MaxValueValidator(1260)],
        help_text="Sessions of returns behind the risk model (the hybrid model's slow factors use three years; names need 126).",
    )
    risk_model = models.CharField(max_length=16, choices=RiskModel.choices, default=RiskModel.HYBRID)
    # The written policy for Alternate Baskets (condition A.10, footnote 41), checked before submission.
    alternate_max_active_share_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("30.00"),
        validators=[MinValueValidator(Decimal("0.00")), MaxValueValidator(Decimal("100.00"))],
        help_text="Alternate Baskets: highest active share against the day's Substitute Basket, percent.",
    )
    alternate_min_names = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)], help_text="Alternate Baskets: fewest securities.")
    alternate_max_names = models.PositiveIntegerField(null=True, blank=True, help_text="Alternate Baskets: most securities. Empty: no limit.")
    alternate_value_tolerance_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("5.00"),
        validators=[MinValueValidator(Decimal("0.00")), MaxValueValidator(Decimal("50.00"))],
        help_text="Alternate Baskets: securities worth between (100 - this)% and 100% of NAV per Creation Unit; cash makes up the rest.",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "basket policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_active_share_pct__gte=APPLICATION_MIN_ACTIVE_SHARE_PCT)
                & Q(max_active_share_pct__lte=APPLICATION_MAX_ACTIVE_SHARE_PCT)
                & Q(min_active_share_pct__lte=models.F("max_active_share_pct")),
                name="basket_policy_active_share_band_inside_5_30",
            ),
        ]

    def __str__(self) -> str:
        return f"basket policy of {self.fund}"

    def clean(self) -> None:
        if self.min_active_share_pct is not None and self.max_active_share_pct is not None:
            if self.min_active_share_pct > self.max_active_share_pct:
                raise ValidationError({"min_active_share_pct": "The lower bound must not exceed the upper bound."})


class SubstituteBasketQuerySet(models.QuerySet):
    def current(self):
        """The version in force: not superseded by a correction."""
        return self.filter(superseded_by__isnull=True)


class SubstituteBasket(models.Model):
    """A published Substitute Basket: the day's Creation Basket and its Substitute Basket Metrics.

    Immutable once written. An intra-day correction (only to correct an error) is a new version
    that supersedes this one, with the reason; readers always get the current version.
    Percent fields are in percent (12.5 = 12.5%).
    """

    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="substitute_baskets")
    trade_date = models.DateField(help_text="The business day the basket is published for (before the open).")
    version = models.PositiveSmallIntegerField(default=1)
    supersedes = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by")
    correction_reason = models.TextField(blank=True)
    # Confidential basis: which portfolio and NAV the basket was built from. Never served to APs.
    portfolio = models.ForeignKey("funds.Portfolio", on_delete=models.PROTECT, related_name="+")
    basis_nav = models.ForeignKey("funds.NetAssetValue", on_delete=models.PROTECT, related_name="+", help_text="Prior End of Day NAV.")
    nav_per_share = models.DecimalField(max_digits=18, decimal_places=4, help_text="Prior End of Day NAV per Share.")
    creation_unit_size = models.PositiveIntegerField()
    nav_per_creation_unit = models.DecimalField(max_digits=24, decimal_places=4)
    securities_value = models.DecimalField(max_digits=24, decimal_places=6, help_text="In-kind securities per Creation Unit at prior closes.")
    cash_amount = models.DecimalField(max_digits=20, decimal_places=2, help_text="Estimated Cash Amount per Creation Unit.")
    shares_outstanding = models.DecimalField(max_digits=20, decimal_places=4)
    component_count = models.PositiveIntegerField()
    # Substitute Basket Metrics (published)
    basket_overlap_pct = models.DecimalField(**PERCENT, null=True, blank=True, help_text="Prior day's basket vs prior day's NAV holdings (footnote 7).")
    basket_overlap_note = models.CharField(max_length=200, blank=True)
    active_share_pct = models.DecimalField(**PERCENT, help_text="Active Share Differential vs the portfolio behind the next NAV.")
    tracking_error_pct = models.DecimalField(**PERCENT, null=True, blank=True)
    tracking_error_observations = models.PositiveIntegerField(default=0)
    tracking_error_note = models.CharField(max_length=200, blank=True)
    ex_ante_tracking_error_pct = models.DecimalField(**PERCENT, help_text="Daily, percent: sqrt(a'Sa) x 100.")
    represented_share_pct = models.DecimalField(**PERCENT, help_text="Share of Fund assets in securities that are in the basket.")
    correlation = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True, help_text="Daily basket vs Fund returns, Tracking Error window.")
    # Internal: the engine's diagnostics, protected names removed. Portfolio Managers and Compliance only.
    engine_report = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords(excluded_fields=["engine_report"])

    objects = SubstituteBasketQuerySet.as_manager()

    class Meta:
        ordering = ["fund", "-trade_date", "-version"]
        permissions = [("correct_substitutebasket", "Can publish a correction of a Substitute Basket")]
        indexes = [models.Index(fields=["trade_date", "fund"])]
        constraints = [
            models.UniqueConstraint(fields=["fund", "trade_date", "version"], name="substitute_basket_one_per_fund_day_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="substitute_basket_version_positive"),
            models.CheckConstraint(
                condition=(Q(version=1) & Q(supersedes__isnull=True)) | (Q(version__gt=1) & Q(supersedes__isnull=False)),
                name="substitute_basket_corrections_supersede",
            ),
            models.CheckConstraint(
                condition=Q(active_share_pct__gte=APPLICATION_MIN_ACTIVE_SHARE_PCT - Decimal("0.0001"))
                & Q(active_share_pct__lte=APPLICATION_MAX_ACTIVE_SHARE_PCT + Decimal("0.0001")),
                name="substitute_basket_active_share_inside_5_30",
            ),
        ]

    def __str__(self) -> str:
        suffix = f" v{self.version}" if self.version > 1 else ""
        return f"{self.fund_id and self.fund.ticker} basket {self.trade_date.isoformat()}{suffix}"

    def save(self, *args, **kwargs):
        # Published baskets are immutable (a correction is a new version): refuse any update.
        if not self._state.adding:
            raise ValidationError("A published Substitute Basket cannot be changed; publish a correction instead.")
        super().save(*args, **kwargs)


class BasketComponent(models.Model):
    """One security of a published basket, per Creation Unit. Immutable with its basket (no history needed)."""

    basket = models.ForeignKey(SubstituteBasket, on_delete=models.PROTECT, related_name="components")
    security = models.ForeignKey("funds.Security", on_delete=models.PROTECT, related_name="+")
    quantity = models.BigIntegerField(help_text="Shares per Creation Unit.")
    price = models.DecimalField(max_digits=18, decimal_places=6, help_text="Valuation price: the prior close.")
    market_value = models.DecimalField(max_digits=24, decimal_places=6)
    weight_pct = models.DecimalField(**PERCENT, help_text="Realised weight: quantity x price / NAV per Creation Unit.")
    target_weight_pct = models.DecimalField(**PERCENT, help_text="The optimiser's weight before rounding to shares.")
    cash_in_lieu = models.BooleanField(default=False, help_text="No readily available quotation: delivered as cash (footnote 55).")

    class Meta:
        ordering = ["basket", "-market_value"]
        constraints = [
            models.UniqueConstraint(fields=["basket", "security"], name="basket_component_one_per_security"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="basket_component_quantity_positive"),
        ]


class ProxySpread(models.Model):
    """The day's proxy spread: basket per-share NAV at the close (valued from the prior End of Day NAV)
    minus the Fund's End of Day NAV, in percent of the Fund's NAV."""

    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="proxy_spreads")
    date = models.DateField()
    basket = models.ForeignKey(SubstituteBasket, on_delete=models.PROTECT, related_name="+")
    prior_nav_per_share = models.DecimalField(max_digits=18, decimal_places=4)
    basket_nav_per_share = models.DecimalField(max_digits=18, decimal_places=6)
    fund_nav_per_share = models.DecimalField(max_digits=18, decimal_places=4)
    basket_return_pct = models.DecimalField(max_digits=12, decimal_places=6)
    fund_return_pct = models.DecimalField(max_digits=12, decimal_places=6)
    spread_pct = models.DecimalField(max_digits=12, decimal_places=6)
    computed_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["fund", "-date"]
        constraints = [models.UniqueConstraint(fields=["fund", "date"], name="proxy_spread_one_per_fund_day")]

    def __str__(self) -> str:
        return f"{self.fund_id} {self.date} {self.spread_pct}%"


class BasketEvent(models.Model):
    """Workflow audit: every publication, correction and refused build, who and when, with details."""

    class Kind(models.TextChoices):
        PUBLISHED = "PUBLISHED", "Published before the open"
        CORRECTED = "CORRECTED", "Correction published (new version)"
        FAILED = "FAILED", "Build refused: nothing published, Operations alerted"

    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="basket_events")
    trade_date = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    basket = models.ForeignKey(SubstituteBasket, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    constraint = models.CharField(max_length=60, blank=True, help_text="For failures: the constraint or input that failed.")
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["fund", "trade_date", "kind"])]

    def __str__(self) -> str:
        return f"{self.fund_id} {self.trade_date} {self.kind}"


# --- Dissemination: one channel for every piece of non-public Fund information (Regulation FD) -----------


class PublicationChainHead(models.Model):
    """The single row that serialises appends to the Publication hash chain."""

    last_sequence = models.PositiveBigIntegerField(default=0)
    last_chain_sha256 = models.CharField(max_length=64, default=GENESIS_SHA256)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="publication_chain_head_singleton")]


class Publication(models.Model):
    """A committed piece of Fund information with its release time and exact payload, delivered to every AP.

    Immutable. ``payload`` holds the canonical JSON text; the bytes sent are its UTF-8 encoding.
    ``chain_sha256`` = SHA-256 of (previous row's chain hash | sequence | kind | release time | payload hash).
    """

    class Kind(models.TextChoices):
        SUBSTITUTE_BASKET = "SUBSTITUTE_BASKET", "Substitute Basket and its metrics"
        BASKET_CORRECTION = "BASKET_CORRECTION", "Substitute Basket correction"
        ALTERNATE_BASKET = "ALTERNATE_BASKET", "Alternate Basket"
        CASH_ANNOUNCEMENT = "CASH_ANNOUNCEMENT", "Cash announcement"

    sequence = models.PositiveBigIntegerField(unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="publications")
    trade_date = models.DateField()
    release_at = models.DateTimeField(help_text="Nothing of it is served or sent to any AP before this instant.")
    payload = models.TextField(help_text="Canonical JSON (sorted keys, no spaces); sent as its UTF-8 bytes.")
    payload_sha256 = models.CharField(max_length=64)
    previous_chain_sha256 = models.CharField(max_length=64)
    chain_sha256 = models.CharField(max_length=64, unique=True)
    substitute_basket = models.ForeignKey(SubstituteBasket, on_delete=models.PROTECT, null=True, blank=True, related_name="publications")
    alternate_basket = models.ForeignKey("AlternateBasket", on_delete=models.PROTECT, null=True, blank=True, related_name="publications")
    source_reference = models.CharField(max_length=60, blank=True, help_text="Other sources (e.g. a cash announcement id).")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["release_at"]), models.Index(fields=["fund", "trade_date", "kind"])]

    def __str__(self) -> str:
        return f"publication #{self.sequence} {self.kind} {self.fund_id} {self.trade_date}"

    @property
    def payload_bytes(self) -> bytes:
        return self.payload.encode("utf-8")

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError("A Publication is immutable once committed.")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Publications are kept: they are the record of what every AP received.")


# --- Alternate Baskets (section III.B.5.c, footnotes 40-41, conditions A.9-A.10) ----------------------------


class AlternateBasket(models.Model):
    """A customised basket a Fund will accept or deliver besides the Creation Basket, never negotiated with APs."""

    class Purpose(models.TextChoices):
        BRING_IN = "BRING_IN", "Bring a new security in kind (creations more likely)"
        DELIVER_OUT = "DELIVER_OUT", "Deliver out a position being reduced (redemptions more likely)"

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        SUBMITTED = "SUBMITTED", "Submitted for approval"
        APPROVED = "APPROVED", "Approved (released at its release time)"
        REJECTED = "REJECTED", "Rejected"
        DISSEMINATED = "DISSEMINATED", "Disseminated to every AP"
        EXPIRED = "EXPIRED", "Expired (after its business day)"

    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="alternate_baskets")
    trade_date = models.DateField(help_text="The business day it may be used.")
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    rationale = models.TextField(help_text="Why it is in the Fund's best interest, and why its benefits outweigh making the trades known.")
    status = FSMField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    drafted_at = models.DateTimeField()
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    release_at = models.DateTimeField(null=True, blank=True, help_text="When every AP receives it (set on approval).")
    check_report = models.JSONField(default=dict, blank=True, help_text="The automatic policy checks at submission (the A.9(c)(ii) record).")
    check_report_sha256 = models.CharField(max_length=64, blank=True)
    value_per_creation_unit = models.DecimalField(max_digits=24, decimal_places=2, null=True, blank=True)
    cash_per_creation_unit = models.DecimalField(max_digits=24, decimal_places=2, null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-trade_date", "fund", "-id"]
        permissions = [("approve_alternatebasket", "Can approve or reject an Alternate Basket (not one's own)")]
        indexes = [models.Index(fields=["fund", "trade_date", "status"])]

    def __str__(self) -> str:
        return f"Alternate Basket {self.pk} of {self.fund_id} for {self.trade_date}"

    @transition(field=status, source=Status.DRAFT, target=Status.SUBMITTED)
    def submit(self):
        pass

    @transition(field=status, source=Status.SUBMITTED, target=Status.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=Status.SUBMITTED, target=Status.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=Status.APPROVED, target=Status.DISSEMINATED)
    def disseminate(self):
        pass

    @transition(field=status, source=[Status.APPROVED, Status.DISSEMINATED], target=Status.EXPIRED)
    def expire(self):
        pass


class AlternateBasketComponent(models.Model):
    basket = models.ForeignKey(AlternateBasket, on_delete=models.PROTECT, related_name="components")
    security = models.ForeignKey("funds.Security", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=20, decimal_places=4, help_text="Per Creation Unit.")
    no_front_running_risk = models.BooleanField(
        default=False, help_text="Attestation: the risk of front-running and free-riding is not present for this security (footnote 40).",
    )
    attestation_note = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["basket", "security__ticker"]
        constraints = [
            models.UniqueConstraint(fields=["basket", "security"], name="alternate_component_one_per_security"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="alternate_component_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.security} x {self.quantity} per Creation Unit"


class AlternateBasketEvent(models.Model):
    """One row per workflow step, with its actor."""

    basket = models.ForeignKey(AlternateBasket, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["basket", "at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status}"
