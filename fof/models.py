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
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from backoffice.retention import RetainedQuerySet, RetentionError

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
        AFFILIATES_CHANGED = "AFFILIATES_CHANGED", "Affiliate lists changed"

    investing_fund = models.ForeignKey(InvestingFund, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["investing_fund", "at", "pk"]
        verbose_name = "Investing Fund event"

    def __str__(self) -> str:
        return f"{self.investing_fund}: {self.kind}"


class RetainedForever(RetainedQuerySet):
    """FOF records (condition B.9): kept for the investment and six years after; nothing here deletes them."""


def _refuse_delete(record) -> None:
    raise RetentionError(
        f"{record._meta.verbose_name.capitalize()} records are kept (condition B.9: the investment and six years after); "
        "they are never deleted."
    )


class ParticipationAgreement(models.Model):
    """The FOF Participation Agreement between an Investing Fund and one Fund (condition B.9, section V).

    The status moves only through ``fof.services.agreement_*`` (django-fsm guards the graph)."""

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"  # asked for by the Investing Fund through the API, not yet signed
        SIGNED_BY_INVESTING_FUND = "SIGNED_BY_INVESTING_FUND", "Signed by the Investing Fund"  # every acknowledgment accepted
        EXECUTED = "EXECUTED", "Executed"  # countersigned for the Fund by authorised staff: in force
        TERMINATED = "TERMINATED", "Terminated"  # ended by staff, with a reason; final
        DECLINED = "DECLINED", "Declined"  # the Fund declined to enter it, with a reason; final

    CLOSED = (Status.TERMINATED, Status.DECLINED)

    investing_fund = models.ForeignKey(InvestingFund, on_delete=models.PROTECT, related_name="agreements")
    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="fof_agreements")
    status = FSMField(max_length=24, choices=Status.choices, default=Status.DRAFT, protected=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)
    countersigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    countersigned_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_reason = models.TextField(blank=True, help_text="Why it was terminated or declined.")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    objects = RetainedForever.as_manager()

    class Meta:
        ordering = ["investing_fund", "fund", "-created_at"]
        verbose_name = "FOF Participation Agreement"
        permissions = [("countersign_participationagreement", "Can countersign, terminate or decline an FOF Participation Agreement")]
        constraints = [
            # One live agreement per pair; terminated and declined ones stay on record beside a new one.
            models.UniqueConstraint(
                fields=["investing_fund", "fund"], condition=~models.Q(status__in=["TERMINATED", "DECLINED"]),
                name="fof_one_open_agreement_per_pair",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["TERMINATED", "DECLINED"]) | ~models.Q(closing_reason=""),
                name="fof_agreement_closed_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.investing_fund} / {self.fund.ticker} ({self.get_status_display()})"

    def check_deletable(self) -> None:
        _refuse_delete(self)

    def delete(self, *args, **kwargs):
        self.check_deletable()

    @transition(field=status, source=Status.DRAFT, target=Status.SIGNED_BY_INVESTING_FUND)
    def sign(self):
        pass

    @transition(field=status, source=Status.SIGNED_BY_INVESTING_FUND, target=Status.EXECUTED)
    def countersign(self):
        pass

    @transition(field=status, source=Status.EXECUTED, target=Status.TERMINATED)
    def terminate(self):
        pass

    @transition(field=status, source=[Status.DRAFT, Status.SIGNED_BY_INVESTING_FUND], target=Status.DECLINED)
    def decline(self):
        pass


class AgreementAcknowledgment(models.Model):
    """One acknowledgment accepted by the Investing Fund, with the exact text and version it accepted."""

    agreement = models.ForeignKey(ParticipationAgreement, on_delete=models.PROTECT, related_name="acknowledgments")
    code = models.CharField(max_length=40)
    text_version = models.PositiveIntegerField()
    text = models.TextField()
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField()
    history = HistoricalRecords()

    objects = RetainedForever.as_manager()

    class Meta:
        ordering = ["agreement", "code"]
        constraints = [models.UniqueConstraint(fields=["agreement", "code"], name="fof_acknowledgment_once_per_agreement")]

    def __str__(self) -> str:
        return f"{self.code} v{self.text_version}"

    def check_deletable(self) -> None:
        _refuse_delete(self)

    def delete(self, *args, **kwargs):
        self.check_deletable()


class ParticipationAgreementEvent(models.Model):
    """One row per agreement step (created, signed, executed, terminated, declined), naming who did it."""

    agreement = models.ForeignKey(ParticipationAgreement, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField(default=dict, blank=True)

    objects = RetainedForever.as_manager()

    class Meta:
        ordering = ["agreement", "at", "pk"]
        verbose_name = "FOF Participation Agreement event"

    def __str__(self) -> str:
        return f"{self.agreement_id}: {self.from_status or '-'} -> {self.to_status}"

    def check_deletable(self) -> None:
        _refuse_delete(self)

    def delete(self, *args, **kwargs):
        self.check_deletable()


class AffiliateListVersion(models.Model):
    """One version of the lists an Investing Fund transmits (condition B.9): its Investing Fund Affiliates
    and Underwriting Affiliates. Each change is a new row; a row is never updated or deleted."""

    investing_fund = models.ForeignKey(InvestingFund, on_delete=models.PROTECT, related_name="affiliate_lists")
    version = models.PositiveIntegerField()
    # [{"name": ..., "sec_number": ..., "crd_number": ...}], as submitted (names trimmed).
    investing_fund_affiliates = models.JSONField(default=list)
    underwriting_affiliates = models.JSONField(default=list)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    history = HistoricalRecords()

    objects = RetainedForever.as_manager()

    class Meta:
        ordering = ["investing_fund", "-version"]
        constraints = [models.UniqueConstraint(fields=["investing_fund", "version"], name="fof_affiliate_list_version_unique")]

    def __str__(self) -> str:
        return f"{self.investing_fund} affiliates v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise RetentionError("An affiliate list version is immutable once written; submit a new version.")
        return super().save(*args, **kwargs)

    def check_deletable(self) -> None:
        _refuse_delete(self)

    def delete(self, *args, **kwargs):
        self.check_deletable()


class HoldingsReport(models.Model):
    """An Investing Fund's report of its holdings of the Funds and its own total assets on ``as_of``
    (section III.E, conditions B.1 and B.9), with the limit figures computed when it arrived (``results``).
    Immutable once written; never deleted."""

    investing_fund = models.ForeignKey(InvestingFund, on_delete=models.PROTECT, related_name="holdings_reports")
    as_of = models.DateField()
    total_assets = models.DecimalField(max_digits=24, decimal_places=2)
    investment_company_assets = models.DecimalField(max_digits=24, decimal_places=2, null=True, blank=True,
                                                    help_text="All investment-company securities held, for 12(d)(1)(A)(iii).")
    # {"holdings": [{fund, a_i, a_ii, a_iii, ...}], "aggregates": [...], "groups": [...]}: each figure with its limit.
    results = models.JSONField(default=dict)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)

    objects = RetainedForever.as_manager()

    class Meta:
        ordering = ["investing_fund", "-as_of", "-pk"]
        verbose_name = "holdings report"

    def __str__(self) -> str:
        return f"{self.investing_fund} holdings as of {self.as_of}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise RetentionError("A holdings report is immutable once written; send a new report.")
        return super().save(*args, **kwargs)

    def check_deletable(self) -> None:
        _refuse_delete(self)

    def delete(self, *args, **kwargs):
        self.check_deletable()


class HoldingsReportLine(models.Model):
    report = models.ForeignKey(HoldingsReport, on_delete=models.PROTECT, related_name="lines")
    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="+")
    shares = models.DecimalField(max_digits=24, decimal_places=6)
    value = models.DecimalField(max_digits=24, decimal_places=2)
    shares_outstanding = models.DecimalField(max_digits=24, decimal_places=6, help_text="The Fund's shares outstanding on as_of.")

    objects = RetainedForever.as_manager()

    class Meta:
        ordering = ["report", "fund"]
        constraints = [models.UniqueConstraint(fields=["report", "fund"], name="fof_holdings_line_once_per_fund")]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.fund_id} {self.shares}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise RetentionError("A holdings report line is immutable once written.")
        return super().save(*args, **kwargs)

    def check_deletable(self) -> None:
        _refuse_delete(self)

    def delete(self, *args, **kwargs):
        self.check_deletable()


class LimitAlert(models.Model):
    """A compliance alert raised by a holdings report. NOTIFICATION_DUE is not a breach: the Investing Fund
    crossed 3% of a Fund with an executed agreement, so condition B.9's notification to the Fund is due."""

    class Kind(models.TextChoices):
        A_I = "A_I", "Section 12(d)(1)(A)(i) without an executed agreement"
        A_II = "A_II", "Section 12(d)(1)(A)(ii) without an executed agreement"
        A_III = "A_III", "Section 12(d)(1)(A)(iii) without an executed agreement"
        B = "B", "Section 12(d)(1)(B) aggregate without agreements"
        CONTROL = "CONTROL", "Condition B.1: Advisory Group control"
        MIRROR_VOTING = "MIRROR_VOTING", "Condition B.1: mirror voting required"
        NOTIFICATION_DUE = "NOTIFICATION_DUE", "Condition B.9: notification to the Fund due"

    report = models.ForeignKey(HoldingsReport, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    investing_fund = models.ForeignKey(InvestingFund, on_delete=models.PROTECT, related_name="limit_alerts")
    fund = models.ForeignKey("funds.Fund", on_delete=models.PROTECT, related_name="+")
    figure = models.DecimalField(max_digits=12, decimal_places=4, help_text="Percent, rounded to 4 decimals.")
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    objects = RetainedForever.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "limit alert"
        permissions = [("acknowledge_limitalert", "Can acknowledge a limit alert")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.investing_fund} / {self.fund_id}"

    def check_deletable(self) -> None:
        _refuse_delete(self)

    def delete(self, *args, **kwargs):
        self.check_deletable()
