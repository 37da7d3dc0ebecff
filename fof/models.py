"""Investing Funds (application 812-15070, sections I.B and V): registered management companies and unit
investment trusts outside the Funds' group of investment companies that may buy Shares beyond the
section 12(d)(1)(A) limits once they hold an FOF Participation Agreement (condition B.9).

An Investing Fund registers itself through the API (PENDING); AP Relationship or Compliance staff approve
(ACTIVE, an API user is bound to it) or reject it. Status changes only in ``fof.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

# SEC file numbers: 811- registered investment companies, 801- investment advisers, 8- broker-dealers.
validate_investment_company_file_number = RegexValidator(
    r"^811-\d{4,5}$", "An investment company file number looks like 811-12345.",
)
validate_adviser_file_number = RegexValidator(r"^801-\d{4,6}$", "An investment adviser file number looks like 801-12345.")
validate_adviser_or_broker_dealer_file_number = RegexValidator(
    r"^(801|8)-\d{4,6}$", "A Sponsor's file number looks like 801-12345 (adviser) or 8-12345 (broker-dealer).",
)


class InvestingFund(models.Model):
    class Kind(models.TextChoices):
        # An "Investing Management Company": has an Investing Fund Adviser (section 2(a)(20)(A)) and maybe sub-advisers.
        MANAGEMENT_COMPANY = "MANAGEMENT_COMPANY", "Investing Management Company"
        # An "Investing Trust": a registered unit investment trust with a Sponsor (and a Trustee).
        UNIT_INVESTMENT_TRUST = "UNIT_INVESTMENT_TRUST", "Investing Trust (unit investment trust)"

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending review"  # registered through the API, not yet reviewed by staff
        ACTIVE = "ACTIVE", "Active"  # approved: its API user may act for it
        REJECTED = "REJECTED", "Rejected"  # refused by staff, with a note; final
        SUSPENDED = "SUSPENDED", "Suspended"  # approved earlier, then stopped by staff

    # The allowed transitions, as data (fof.services checks them).
    TRANSITIONS = {
        Status.PENDING: {Status.ACTIVE, Status.REJECTED},
        Status.ACTIVE: {Status.SUSPENDED},
        Status.SUSPENDED: {Status.ACTIVE},
        Status.REJECTED: set(),
    }

    registration_reference = models.CharField(max_length=24, unique=True, editable=False,
                                              help_text="Returned to the registrant when it registered.")
    legal_name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    sec_file_number = models.CharField("SEC file number", max_length=12, unique=True,
                                       validators=[validate_investment_company_file_number])
    adviser_name = models.CharField("Investing Fund Adviser or Sponsor", max_length=200)
    adviser_sec_file_number = models.CharField(
        "Adviser's or Sponsor's SEC file number", max_length=12, blank=True,
        validators=[validate_adviser_or_broker_dealer_file_number],
        help_text="801-… for an Investing Fund Adviser (required); 801-…, 8-… or blank for a Sponsor.",
    )
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["legal_name"]
        permissions = [("approve_investingfund", "Can approve or reject an Investing Fund's registration")]
        constraints = [
            # An Investing Fund Adviser is a registered investment adviser (section V.B.1 of the application).
            models.CheckConstraint(
                condition=~models.Q(kind="MANAGEMENT_COMPANY") | models.Q(adviser_sec_file_number__startswith="801-"),
                name="fof_management_company_adviser_is_801",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["PENDING"]) | models.Q(reviewed_at__isnull=False),
                name="fof_reviewed_when_decided",
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]


class InvestingFundSubAdviser(models.Model):
    """An Investing Fund Sub-adviser (section 2(a)(20)(B)), registered under the Advisers Act."""

    investing_fund = models.ForeignKey(InvestingFund, on_delete=models.PROTECT, related_name="sub_advisers")
    name = models.CharField(max_length=200)
    sec_file_number = models.CharField("SEC file number", max_length=12, validators=[validate_adviser_file_number])
    history = HistoricalRecords()

    class Meta:
        ordering = ["investing_fund", "name"]
        verbose_name = "Investing Fund sub-adviser"
        constraints = [
            models.UniqueConstraint(fields=["investing_fund", "sec_file_number"], name="fof_sub_adviser_once_per_fund"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sec_file_number})"


class InvestingFundUser(models.Model):
    """Binds an API user to exactly one Investing Fund (a user can never act for two)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="fof_binding")
    investing_fund = models.ForeignKey(InvestingFund, on_delete=models.PROTECT, related_name="users")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "Investing Fund user"

    def __str__(self) -> str:
        return f"{self.user} @ {self.investing_fund}"


class InvestingFundEvent(models.Model):
    """One row per workflow step (registered, approved, rejected), naming who did it."""

    class Kind(models.TextChoices):
        REGISTERED = "REGISTERED", "Registered"
        APPROVED = "APPROVED", "Approved"
        REJECTED = "REJECTED", "Rejected"

    investing_fund = models.ForeignKey(InvestingFund, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["investing_fund", "at", "pk"]
        verbose_name = "Investing Fund event"

    def __str__(self) -> str:
        return f"{self.investing_fund}: {self.kind}"
