"""Authorized Participants, their agreements, creation and redemption orders, and the
condition A.9 records of every Creation Basket exchanged.

Regulated records refuse deletion inside their retention period at the model level
(instance and queryset), so no entry point (admin, service, API, shell) can bypass it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from backoffice.exceptions import InvalidTransition  # noqa: F401
from backoffice.retention import ImmutableRecord, ImmutableRecordQuerySet, RetainedQuerySet, RetentionError  # noqa: F401
from funds.models import MONEY, QUANTITY, Strike

AGREEMENT_RETENTION_YEARS = 5  # condition A.9(a): at least five years after termination
RECORD_RETENTION_YEARS = 5  # condition A.9(c)
FEE = {"max_digits": 12, "decimal_places": 2}
PERCENT = {"max_digits": 9, "decimal_places": 4}


def years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class ClearingProcess(models.TextChoices):
    NSCC = "NSCC", "NSCC Process (Continuous Net Settlement)"
    DTC = "DTC", "DTC Process (outside the Clearing Process)"


class AuthorizedParticipant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        SUSPENDED = "SUSPENDED", "Suspended"
        TERMINATED = "TERMINATED", "Terminated"

    class FundRelationship(models.TextChoices):
        """What the AP is to the Funds' group. Anything but NONE bars it from being an AP."""

        NONE = "NONE", "Unaffiliated broker-dealer"
        DISTRIBUTOR = "DISTRIBUTOR", "The Distributor or its affiliate"
        PROMOTER = "PROMOTER", "A promoter of the Funds"
        AFFILIATED_PERSON = "AFFILIATED_PERSON", "An affiliated person of a Fund, the Adviser or the Distributor"

    legal_name = models.CharField(max_length=200, unique=True)
    dtc_participant_number = models.CharField(
        "DTC participant number", max_length=5, unique=True,
        validators=[RegexValidator(r"^\d{4}$", "A DTC participant number is four digits, e.g. 0161.")],
    )
    nscc_member = models.BooleanField("NSCC member", default=True)
    nscc_process = models.BooleanField("can use the NSCC Process", default=True)
    dtc_process = models.BooleanField("can use the DTC Process", default=True)
    fund_relationship = models.CharField(max_length=20, choices=FundRelationship.choices, default=FundRelationship.NONE)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=40, blank=True)
    operations_email = models.EmailField(blank=True, help_text="Order confirmations and settlement notices.")
    # Dissemination (orders.dissemination): every Publication is POSTed here, signed with the secret.
    # Blank URL: an API-only AP (it reads /api/publications/). Set through participant_webhook_set only.
    webhook_url = models.URLField(max_length=500, blank=True, editable=False, help_text="HTTPS endpoint receiving every Publication.")
    webhook_secret = models.CharField(max_length=64, blank=True, editable=False,
                                      help_text="HMAC-SHA256 key, generated server-side and shown once.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The secret stays out of the history table: a rotated secret must not survive in old rows.
    history = HistoricalRecords(excluded_fields=["webhook_secret"])

    class Meta:
        ordering = ["legal_name"]
        constraints = [
            # The NSCC Process is open to NSCC members only.
            models.CheckConstraint(condition=Q(nscc_process=False) | Q(nscc_member=True), name="ap_nscc_process_needs_membership"),
            models.CheckConstraint(condition=Q(nscc_process=True) | Q(dtc_process=True), name="ap_has_a_clearing_process"),
            models.CheckConstraint(condition=Q(fund_relationship="NONE"), name="ap_not_distributor_promoter_or_affiliate"),
        ]

    def __str__(self) -> str:
        return self.legal_name

    def can_clear(self, channel: str) -> bool:
        return self.nscc_process if channel == ClearingProcess.NSCC else self.dtc_process


class AuthorizedParticipantUser(models.Model):
    """Binds an API user to exactly one AP (a user can never act for two)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ap_binding")
    participant = models.ForeignKey(AuthorizedParticipant, on_delete=models.PROTECT, related_name="users")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "AP user"

    def __str__(self) -> str:
        return f"{self.user} @ {self.participant}"


def agreement_upload_path(instance: "AuthorizedParticipantAgreement", filename: str) -> str:
    return f"ap_agreements/{instance.participant_id}/v{instance.version}_{filename}"


class AuthorizedParticipantAgreement(models.Model):
    """The written Participant Agreement that lets an AP place orders (condition A.9(a))."""

    participant = models.ForeignKey(AuthorizedParticipant, on_delete=models.PROTECT, related_name="agreements")
    version = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    signed_on = models.DateField()
    effective_from = models.DateField()
    terminated_on = models.DateField(null=True, blank=True, help_text="Last day in force is the day before.")
    termination_reason = models.CharField(max_length=300, blank=True)
    document = models.FileField(upload_to=agreement_upload_path)
    document_sha256 = models.CharField("SHA-256 of the signed document", max_length=64, editable=False)
    document_size = models.PositiveIntegerField(editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()
    history = HistoricalRecords()

    objects = RetainedQuerySet.as_manager()

    class Meta:
        ordering = ["participant", "-version"]
        verbose_name = "AP agreement"
        constraints = [
            models.UniqueConstraint(fields=["participant", "version"], name="ap_agreement_one_per_version"),
            models.CheckConstraint(condition=Q(effective_from__gte=models.F("signed_on")), name="ap_agreement_effective_after_signature"),
            models.CheckConstraint(
                condition=Q(terminated_on__isnull=True) | Q(terminated_on__gte=models.F("effective_from")),
                name="ap_agreement_terminated_after_effective",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} agreement v{self.version}"

    def in_force_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.terminated_on is None or day < self.terminated_on)

    @property
    def retained_until(self) -> dt.date | None:
        """None while in force: kept indefinitely until terminated, then five years more."""
        return years_after(self.terminated_on, AGREEMENT_RETENTION_YEARS) if self.terminated_on else None

    def check_deletable(self, today: dt.date | None = None) -> None:
        today = today or dt.date.today()
        until = self.retained_until
        if until is None or today < until:
            when = f"until {until.isoformat()}" if until else "while in force and for five years after termination"
            raise RetentionError(
                f"{self} must be kept {when} (condition A.9(a)); it cannot be deleted.",
                details={"retained_until": until.isoformat() if until else None},
            )

    def delete(self, *args, **kwargs):
        self.check_deletable()
        return super().delete(*args, **kwargs)


class FundOrderTerms(models.Model):
    """A Fund's Transaction Fees and cash cut-off. Fees recoup the Fund's transfer costs (section III.B.5)."""

    fund = models.OneToOneField("funds.Fund", on_delete=models.PROTECT, related_name="order_terms")
    nscc_fixed_fee = models.DecimalField(**FEE, default=Decimal("250.00"), help_text="Per order through the NSCC Process.")
    dtc_fixed_fee = models.DecimalField(**FEE, default=Decimal("500.00"), help_text="Per order through the DTC Process (costlier).")
    variable_fee_pct = models.DecimalField(
        **PERCENT, default=Decimal("0.0200"), help_text="Percent of cash and cash-in-lieu legs (0.02 = 2 basis points)."
    )
    cash_order_cutoff = models.TimeField(
        null=True, blank=True, help_text="Earlier last cut-off for all-cash orders, America/New_York. Empty: the close."
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "Fund order terms"
        verbose_name_plural = "Fund order terms"
        constraints = [
            models.CheckConstraint(condition=Q(nscc_fixed_fee__gte=0) & Q(variable_fee_pct__gte=0) & Q(variable_fee_pct__lte=2),
                                   name="fund_order_terms_fees_in_range"),
            models.CheckConstraint(condition=Q(dtc_fixed_fee__gte=models.F("nscc_fixed_fee")), name="fund_order_terms_dtc_fee_not_below_nscc"),
        ]

    def __str__(self) -> str:
        return f"{self.fund} order terms"

    def fixed_fee(self, channel: str) -> Decimal:
        return self.dtc_fixed_fee if channel == ClearingProcess.DTC else self.nscc_fixed_fee


class AuthorizedParticipantHolding(models.Model):
    """An AP's known holding of a Fund's Shares, for its affiliation status (section III.C, 17(a) relief)."""

    participant = models.ForeignKey(AuthorizedParticipant, on_delete=models.PROTECT, related_name="holdings")
    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="ap_holdings")
    as_of = models.DateField()
    shares = models.DecimalField(**QUANTITY, validators=[MinValueValidator(Decimal(0))])
    shares_outstanding = models.DecimalField(**QUANTITY, editable=False)
    percent_of_fund = models.DecimalField(**PERCENT, editable=False)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["participant", "fund", "-as_of"]
        verbose_name = "AP holding of Fund Shares"
        constraints = [
            models.UniqueConstraint(fields=["participant", "fund", "as_of"], name="ap_holding_one_per_day"),
            models.CheckConstraint(condition=Q(shares__gte=0), name="ap_holding_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.participant} holds {self.percent_of_fund}% of {self.fund_id} on {self.as_of}"


class Order(models.Model):
    class Side(models.TextChoices):
        CREATE = "CREATE", "Creation"
        REDEEM = "REDEEM", "Redemption"

    class BasketType(models.TextChoices):
        STANDARD = "STANDARD", "The day's Creation Basket (Substitute Basket), in kind"
        CASH = "CASH", "All cash"
        ALTERNATE = "ALTERNATE", "A disseminated Alternate Basket"

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED", "Received"
        ACCEPTED = "ACCEPTED", "Accepted"
        REJECTED = "REJECTED", "Rejected"
        PRICED = "PRICED", "Priced"
        SETTLED = "SETTLED", "Settled"
        FAILED = "FAILED", "Failed to settle"
        CANCELLED = "CANCELLED", "Cancelled by the AP"

    class Payer(models.TextChoices):
        AP = "AP", "The Authorized Participant pays the Fund"
        FUND = "FUND", "The Fund pays the Authorized Participant"
        NONE = "NONE", "Nothing to pay"

    reference = models.CharField(max_length=32, unique=True)
    participant = models.ForeignKey(AuthorizedParticipant, on_delete=models.PROTECT, related_name="orders")
    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="orders")
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    agreement = models.ForeignKey(AuthorizedParticipantAgreement, on_delete=models.PROTECT, null=True, blank=True, related_name="orders")
    side = models.CharField(max_length=6, choices=Side.choices)
    creation_units = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    shares = models.DecimalField(**QUANTITY)
    basket_type = models.CharField(max_length=10, choices=BasketType.choices)
    substitute_basket = models.ForeignKey(
        "baskets.SubstituteBasket", on_delete=models.PROTECT, null=True, blank=True, related_name="orders",
        help_text="The day's basket at receipt (in-kind orders).",
    )
    alternate_basket_ref = models.PositiveBigIntegerField(null=True, blank=True, help_text="Alternate Basket id named by the AP.")
    alternate_basket = models.ForeignKey(
        "baskets.AlternateBasket", on_delete=models.PROTECT, null=True, blank=True, related_name="orders",
        help_text="The disseminated Alternate Basket the order exchanges.",
    )
    cash_reason = models.CharField(
        max_length=300, blank=True, help_text="Why cash replaces (some of) the basket: an announced cash day, or the Fund's requirement.",
    )
    cash_in_lieu_tickers = models.JSONField(default=list, blank=True, help_text="Basket securities delivered as cash (a partial cash day).")
    settlement_channel = models.CharField(max_length=4, choices=ClearingProcess.choices)
    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the canonical request payload.")

    received_at = models.DateTimeField(help_text="Stamped by the server on receipt; client times are ignored.")
    trade_date = models.DateField()
    strike = models.CharField(max_length=12, choices=Strike.choices, blank=True)
    cutoff_at = models.DateTimeField(null=True, blank=True)
    status = FSMField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    rejection_reason = models.CharField(max_length=40, blank=True)
    rejection_message = models.TextField(blank=True)

    # Affiliation at receipt (section 17(a) relief: in-kind stays allowed, and is marked).
    ap_affiliated = models.BooleanField(default=False)
    affiliation_note = models.CharField(max_length=300, blank=True)

    # Pricing (filled once, at the strike).
    nav = models.ForeignKey("funds.NetAssetValue", on_delete=models.PROTECT, null=True, blank=True, related_name="orders")
    priced_basket = models.ForeignKey("baskets.SubstituteBasket", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    nav_per_share = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    nav_per_creation_unit = models.DecimalField(**MONEY, null=True, blank=True)
    nav_amount = models.DecimalField(**MONEY, null=True, blank=True)
    in_kind_value = models.DecimalField(**MONEY, null=True, blank=True)
    cash_in_lieu_amount = models.DecimalField(**MONEY, null=True, blank=True)
    basket_value = models.DecimalField(**MONEY, null=True, blank=True)
    balancing_amount = models.DecimalField(**MONEY, null=True, blank=True, help_text="NAV - basket value, signed.")
    balancing_amount_payer = models.CharField(max_length=4, choices=Payer.choices, blank=True)
    fixed_fee = models.DecimalField(**MONEY, null=True, blank=True)
    variable_fee = models.DecimalField(**MONEY, null=True, blank=True)
    total_fees = models.DecimalField(**MONEY, null=True, blank=True)
    net_cash_amount = models.DecimalField(**MONEY, null=True, blank=True)
    net_cash_payer = models.CharField(max_length=4, choices=Payer.choices, blank=True)
    priced_at = models.DateTimeField(null=True, blank=True)

    # Settlement.
    settlement_date = models.DateField(null=True, blank=True)
    settlement_deadline = models.DateField(null=True, blank=True, help_text="Section 22(e): 7 days, 15 for foreign stock delivered in kind.")
    delivers_foreign_stock = models.BooleanField(default=False)
    settled_on = models.DateField(null=True, blank=True)
    settled_late = models.BooleanField(default=False)
    failure_reason = models.CharField(max_length=300, blank=True)

    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["participant", "-received_at"]),
            models.Index(fields=["fund", "trade_date", "strike", "status"]),
            models.Index(fields=["status", "trade_date"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["participant", "idempotency_key"], name="order_idempotency_key_unique_per_ap"),
            models.CheckConstraint(condition=Q(creation_units__gte=1), name="order_at_least_one_creation_unit"),
            models.CheckConstraint(
                condition=Q(basket_type="ALTERNATE", alternate_basket_ref__isnull=False) | ~Q(basket_type="ALTERNATE"),
                name="order_alternate_names_its_basket",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    # Transitions: django-fsm guards the graph; orders.services performs them (one place, with events).
    @transition(field=status, source=Status.RECEIVED, target=Status.ACCEPTED)
    def accept(self):
        pass

    @transition(field=status, source=Status.RECEIVED, target=Status.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=Status.ACCEPTED, target=Status.PRICED)
    def price(self):
        pass

    @transition(field=status, source=Status.ACCEPTED, target=Status.CANCELLED)
    def cancel(self):
        pass

    @transition(field=status, source=Status.PRICED, target=Status.SETTLED)
    def settle(self):
        pass

    @transition(field=status, source=Status.PRICED, target=Status.FAILED)
    def fail(self):
        pass


class OrderEvent(models.Model):
    """One row per state transition, with its actor: the order's audit trail."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    message = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order", "at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} -> {self.to_status}"


class CreationBasketRecord(ImmutableRecord):
    """Condition A.9(c): every Creation Basket exchanged with an AP. Immutable; kept five years."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="basket_record")
    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="+")
    participant = models.ForeignKey(AuthorizedParticipant, on_delete=models.PROTECT, related_name="+")
    participant_name = models.CharField(max_length=200, help_text="The AP's legal name at the time.")
    dtc_participant_number = models.CharField(max_length=5)
    trade_date = models.DateField()
    side = models.CharField(max_length=6, choices=Order.Side.choices)
    creation_units = models.PositiveIntegerField()
    basket_type = models.CharField(max_length=10, choices=Order.BasketType.choices)
    is_alternate_basket = models.BooleanField(default=False)
    alternate_basket = models.ForeignKey("baskets.AlternateBasket", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    alternate_basket_compliance = models.CharField(
        max_length=300, blank=True, help_text="A.9(c)(ii): the record that the Alternate Basket complies with the basket policy."
    )
    substitute_basket = models.ForeignKey("baskets.SubstituteBasket", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    basket_value = models.DecimalField(**MONEY)
    balancing_amount = models.DecimalField(**MONEY)
    balancing_amount_payer = models.CharField(max_length=4, choices=Order.Payer.choices)
    cash_amount = models.DecimalField(**MONEY, help_text="Cash in lieu, or the whole NAV for cash orders.")
    recorded_at = models.DateTimeField()
    retain_until = models.DateField()

    objects = ImmutableRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-trade_date", "order"]
        indexes = [models.Index(fields=["trade_date", "fund"])]

    def __str__(self) -> str:
        return f"A.9 record {self.order_id}"

    def check_deletable(self, today: dt.date | None = None) -> None:
        if (today or dt.date.today()) < self.retain_until:
            raise RetentionError(
                f"{self} must be kept until {self.retain_until.isoformat()} (condition A.9: five years).",
                details={"retained_until": self.retain_until.isoformat()},
            )


class CreationBasketRecordLine(ImmutableRecord):
    record = models.ForeignKey(CreationBasketRecord, on_delete=models.PROTECT, related_name="lines")
    security = models.ForeignKey("funds.Security", on_delete=models.PROTECT, related_name="+")
    ticker = models.CharField(max_length=10)
    cusip = models.CharField("CUSIP", max_length=9)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(**QUANTITY, help_text="For the whole order (per Creation Unit x units).")
    price = models.DecimalField(max_digits=18, decimal_places=6, help_text="Strike price.")
    market_value = models.DecimalField(max_digits=24, decimal_places=6)
    weight_pct = models.DecimalField(**PERCENT, help_text="Percentage weight in the basket exchanged.")
    cash_in_lieu = models.BooleanField(default=False)

    objects = ImmutableRecordQuerySet.as_manager()

    class Meta:
        ordering = ["record", "ticker"]
        constraints = [models.UniqueConstraint(fields=["record", "security"], name="basket_record_line_one_per_security")]

    def check_deletable(self, today: dt.date | None = None) -> None:
        self.record.check_deletable(today)


# --- Dissemination: delivery of every Publication to every active AP (orders.dissemination) ---------------


class CashAnnouncement(models.Model):
    """Before the open, a Fund announces that creations, redemptions or both are wholly or partly in cash that day."""

    class AppliesTo(models.TextChoices):
        CREATIONS = "CREATIONS", "All creations"
        REDEMPTIONS = "REDEMPTIONS", "All redemptions"
        BOTH = "BOTH", "All creations and redemptions"

    class Extent(models.TextChoices):
        WHOLLY = "WHOLLY", "Wholly in cash"
        PARTLY = "PARTLY", "Partly in cash (the named securities as cash in lieu)"

    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="cash_announcements")
    trade_date = models.DateField()
    applies_to = models.CharField(max_length=12, choices=AppliesTo.choices)
    extent = models.CharField(max_length=6, choices=Extent.choices)
    cash_in_lieu_tickers = models.JSONField(default=list, blank=True, help_text="For PARTLY: the basket securities delivered as cash.")
    reason = models.CharField(max_length=300)
    announced_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    announced_at = models.DateTimeField()
    publication = models.ForeignKey("baskets.Publication", on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-trade_date", "fund"]
        constraints = [models.UniqueConstraint(fields=["fund", "trade_date"], name="cash_announcement_one_per_fund_day")]

    def __str__(self) -> str:
        return f"{self.fund_id} {self.trade_date}: {self.get_applies_to_display().lower()} {self.get_extent_display().lower()}"

    def covers(self, side: str) -> bool:
        return self.applies_to == self.AppliesTo.BOTH or (self.applies_to == self.AppliesTo.CREATIONS) == (side == "CREATE")


class DisseminationFanOut(models.Model):
    """A released Publication was fanned out: one Dissemination row per active AP, written with this row."""

    publication = models.OneToOneField("baskets.Publication", on_delete=models.PROTECT, related_name="fan_out")
    fanned_out_at = models.DateTimeField()
    recipients = models.PositiveIntegerField(help_text="Active APs at fan-out (webhook and API-only).")

    class Meta:
        verbose_name = "dissemination fan-out"

    def __str__(self) -> str:
        return f"fan-out of publication {self.publication_id} to {self.recipients} AP(s)"


class Dissemination(models.Model):
    """One Publication for one AP: its webhook delivery state and the AP's acknowledgement."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending (webhook delivery due or being retried)"  # next_attempt_at says when
        DELIVERED = "DELIVERED", "Delivered (the AP's webhook answered 2xx)"  # never POSTed again
        GAVE_UP = "GAVE_UP", "Gave up (Operations alerted; the AP can still read it from the API)"
        API_ONLY = "API_ONLY", "API only (no webhook registered at fan-out)"  # read from /api/publications/
        CANCELLED = "CANCELLED", "Cancelled (the AP was suspended or terminated before delivery)"

    publication = models.ForeignKey("baskets.Publication", on_delete=models.PROTECT, related_name="disseminations")
    participant = models.ForeignKey(AuthorizedParticipant, on_delete=models.PROTECT, related_name="disseminations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="While an attempt is in flight: the end of its lease.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True, help_text="First acknowledgement through the AP API.")
    created_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["publication", "participant"]
        constraints = [models.UniqueConstraint(fields=["publication", "participant"], name="dissemination_one_per_publication_and_ap")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"publication {self.publication_id} to {self.participant_id}: {self.status}"


class DisseminationAttempt(models.Model):
    """The dissemination log: one row per webhook POST (and its answer)."""

    dissemination = models.ForeignKey(Dissemination, on_delete=models.PROTECT, related_name="log")
    attempt = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    url = models.URLField(max_length=500)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: no HTTP answer (timeout, refused).")
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField()
    accepted = models.BooleanField(default=False)

    class Meta:
        ordering = ["dissemination", "attempt"]
        constraints = [models.UniqueConstraint(fields=["dissemination", "attempt"], name="dissemination_attempt_numbered_once")]

    def __str__(self) -> str:
        return f"{self.dissemination_id} attempt {self.attempt}: {self.http_status or self.error[:40]}"
