"""Writes and workflows of the fof app: an Investing Fund registers, staff approve or reject it.

Every write validates first and then writes in one transaction, with history rows and an
``InvestingFundEvent`` naming the actor.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django_fsm import can_proceed
from django.utils import timezone
from rest_framework import status as http
from rest_framework.authtoken.models import Token

from backoffice import roles
from backoffice.audit import system_user
from backoffice.exceptions import DomainError, InvalidInput, InvalidTransition, NotFound
from fof import acknowledgments, limits
from fof.models import (
    AffiliateListVersion,
    AgreementAcknowledgment,
    HoldingsReport,
    HoldingsReportLine,
    InvestingFund,
    InvestingFundEvent,
    InvestingFundSubAdviser,
    InvestingFundUser,
    LimitAlert,
    ParticipationAgreement,
    ParticipationAgreementEvent,
)
from funds.selectors import funds_group_role

APPROVE_PERMISSION = "fof.approve_investingfund"


class NotEntitled(DomainError):
    code = "not_entitled"
    http_status = http.HTTP_403_FORBIDDEN


@dataclass(frozen=True)
class SubAdviserInput:
    name: str
    sec_file_number: str


@dataclass(frozen=True)
class RegistrationInput:
    legal_name: str
    kind: str
    sec_file_number: str
    adviser_name: str
    adviser_sec_file_number: str
    contact_name: str
    contact_email: str
    contact_phone: str = ""
    sub_advisers: list[SubAdviserInput] = field(default_factory=list)


@dataclass(frozen=True)
class Approval:
    investing_fund: InvestingFund
    user: object
    token_key: str  # shown once to the approving staff user, never stored elsewhere in clear


# Model fields as the registration API names them (error details use the API's nested shape).
_API_FIELDS = {
    "adviser_name": ("adviser", "name"), "adviser_sec_file_number": ("adviser", "sec_file_number"),
    "contact_name": ("contact", "name"), "contact_email": ("contact", "email"), "contact_phone": ("contact", "phone"),
}


def _nest(flat: dict[str, list[str]], *, sub_adviser_index: int | None = None) -> dict:
    """``{"adviser_name": [...]}`` -> ``{"adviser": {"name": [...]}}``, as DRF's nested serializers answer."""
    if sub_adviser_index is not None:
        return {"sub_advisers": {sub_adviser_index: flat}}  # keyed by position, as DRF's ListSerializer answers
    nested: dict = {}
    for name, messages in flat.items():
        if name in _API_FIELDS:
            outer, inner = _API_FIELDS[name]
            nested.setdefault(outer, {})[inner] = messages
        else:
            nested[name] = messages
    return nested


def _invalid(flat: dict[str, list[str]], *, sub_adviser_index: int | None = None) -> InvalidInput:
    where = "" if sub_adviser_index is None else f"sub_advisers[{sub_adviser_index}]."
    message = "; ".join(f"{where}{'.'.join(_API_FIELDS.get(k, (k,)))}: {' '.join(map(str, v))}" for k, v in flat.items())
    return InvalidInput(message, details=_nest(flat, sub_adviser_index=sub_adviser_index))


def _field_error(field_name: str, message: str, *, sub_adviser_index: int | None = None) -> InvalidInput:
    return _invalid({field_name: [message]}, sub_adviser_index=sub_adviser_index)


def _check_outside_funds_group(*, legal_name: str, adviser_name: str) -> None:
    """Investing Funds are outside the Funds' group; their Adviser or Sponsor is unaffiliated with the Adviser (V.B.1)."""
    barred = funds_group_role(legal_name)
    if barred:
        raise _field_error("legal_name", f"{legal_name} is the name of {barred} of the Funds; an Investing Fund is outside the Funds' group.")
    barred = funds_group_role(adviser_name)
    if barred:
        # A Fund's Adviser may sub-advise an Investing Fund (section V.B.2), so only the Adviser/Sponsor is checked.
        raise _field_error("adviser_name", f"{adviser_name} is the name of {barred} of the Funds; the Investing Fund Adviser or Sponsor must be unaffiliated.")


def _new_reference() -> str:
    return f"IFR-{secrets.token_hex(6).upper()}"


@transaction.atomic
def investing_fund_register(*, registration: RegistrationInput, actor=None) -> InvestingFund:
    """Record a PENDING Investing Fund with its sub-advisers. Refuses anything invalid, writing nothing."""
    actor = actor or system_user()
    fund = InvestingFund(
        registration_reference=_new_reference(),
        legal_name=registration.legal_name.strip(),
        kind=registration.kind,
        sec_file_number=registration.sec_file_number.strip(),
        adviser_name=registration.adviser_name.strip(),
        adviser_sec_file_number=registration.adviser_sec_file_number.strip(),
        contact_name=registration.contact_name.strip(),
        contact_email=registration.contact_email.strip(),
        contact_phone=registration.contact_phone.strip(),
        status=InvestingFund.Status.PENDING,
    )
    # Validate everything first (the kind rule before full_clean, whose constraint check would not name the field).
    if fund.kind == InvestingFund.Kind.MANAGEMENT_COMPANY and not fund.adviser_sec_file_number.startswith("801-"):
        raise _field_error("adviser_sec_file_number", "An Investing Fund Adviser is a registered investment adviser: 801-12345.")
    if InvestingFund.objects.filter(legal_name__iexact=fund.legal_name).exists():
        raise _field_error("legal_name", f"{fund.legal_name} is already registered.")
    try:
        fund.full_clean(exclude=["registration_reference"])
    except ValidationError as error:
        raise _invalid(error.message_dict)
    if fund.kind == InvestingFund.Kind.UNIT_INVESTMENT_TRUST and registration.sub_advisers:
        raise _field_error("sub_advisers", "An Investing Trust (unit investment trust) has a Sponsor, not sub-advisers.")
    _check_outside_funds_group(legal_name=fund.legal_name, adviser_name=fund.adviser_name)
    subs = []
    seen = set()
    for index, sub in enumerate(registration.sub_advisers):
        row = InvestingFundSubAdviser(name=sub.name.strip(), sec_file_number=sub.sec_file_number.strip())
        try:
            row.full_clean(exclude=["investing_fund"])
        except ValidationError as error:
            raise _invalid(error.message_dict, sub_adviser_index=index)
        if row.sec_file_number in seen:
            raise _field_error("sec_file_number", f"{row.sec_file_number} is listed twice.", sub_adviser_index=index)
        seen.add(row.sec_file_number)
        subs.append(row)

    # Then write.
    fund._history_user = actor
    try:
        with transaction.atomic():
            fund.save()
    except IntegrityError:  # a concurrent registration with the same file number or name won the race
        raise _field_error("sec_file_number", "An Investing Fund with this SEC file number or legal name is already registered.")
    for row in subs:
        row.investing_fund = fund
        row._history_user = actor
        row.save()
    InvestingFundEvent.objects.create(
        investing_fund=fund, kind=InvestingFundEvent.Kind.REGISTERED, actor=actor,
        payload={"registration_reference": fund.registration_reference, "sub_advisers": [s.sec_file_number for s in subs]},
    )
    return fund


def _check_reviewer(actor) -> None:
    if not (actor and actor.is_authenticated and actor.has_perm(APPROVE_PERMISSION)):
        raise NotEntitled("Only AP Relationship or Compliance staff approve or reject an Investing Fund.")


def _locked(investing_fund_id: int) -> InvestingFund:
    fund = InvestingFund.objects.select_for_update().filter(pk=investing_fund_id).first()
    if fund is None:
        raise NotFound(f"No Investing Fund {investing_fund_id}.")
    return fund


def _decide(fund: InvestingFund, *, status: str, actor, note: str) -> None:
    if not fund.can_become(status):
        raise InvalidTransition(f"{fund} is {fund.get_status_display().lower()}; it cannot become {status.lower()}.",
                                details={"status": [fund.status]})
    fund.status = status
    fund.reviewed_by = actor
    fund.reviewed_at = timezone.now()
    fund.review_note = note
    fund._history_user = actor
    fund.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note", "updated_at"])


def _api_username(fund: InvestingFund) -> str:
    base = f"if-{fund.pk}"
    user_model = get_user_model()
    username, n = base, 1
    while user_model.objects.filter(username=username).exists():
        n += 1
        username = f"{base}-{n}"
    return username


@transaction.atomic
def investing_fund_approve(*, investing_fund_id: int, actor, note: str = "") -> Approval:
    """PENDING -> ACTIVE: create an API user bound to the Investing Fund, with the Investing Fund role
    and a DRF token. The token's key is returned once, for the staff user to send to the Investing Fund."""
    _check_reviewer(actor)
    fund = _locked(investing_fund_id)
    if fund.status == InvestingFund.Status.PENDING:
        # The Funds' group may have changed since the registration.
        _check_outside_funds_group(legal_name=fund.legal_name, adviser_name=fund.adviser_name)
    _decide(fund, status=InvestingFund.Status.ACTIVE, actor=actor, note=note.strip())
    user = get_user_model().objects.create(
        username=_api_username(fund), email=fund.contact_email, is_staff=False, is_active=True,
        first_name=fund.contact_name[:150],
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    binding = InvestingFundUser(user=user, investing_fund=fund)
    binding._history_user = actor
    binding.save()
    user.groups.add(Group.objects.get(name=roles.INVESTING_FUND))
    token = Token.objects.create(user=user)
    InvestingFundEvent.objects.create(
        investing_fund=fund, kind=InvestingFundEvent.Kind.APPROVED, actor=actor,
        payload={"api_user": user.username, "note": fund.review_note},
    )
    return Approval(investing_fund=fund, user=user, token_key=token.key)


@transaction.atomic
def investing_fund_reject(*, investing_fund_id: int, actor, note: str) -> InvestingFund:
    """PENDING -> REJECTED, with a note saying why (required)."""
    _check_reviewer(actor)
    if not (note or "").strip():
        raise _field_error("review_note", "Say why the registration is rejected.")
    fund = _locked(investing_fund_id)
    _decide(fund, status=InvestingFund.Status.REJECTED, actor=actor, note=note.strip())
    InvestingFundEvent.objects.create(
        investing_fund=fund, kind=InvestingFundEvent.Kind.REJECTED, actor=actor, payload={"note": fund.review_note},
    )
    return fund


# --- FOF Participation Agreements (condition B.9, footnote 71, section V.B) ------------------------

COUNTERSIGN_PERMISSION = "fof.countersign_participationagreement"


@dataclass(frozen=True)
class AcceptedAcknowledgment:
    code: str
    text_version: int


def _agreement_event(agreement: ParticipationAgreement, *, from_status: str, actor, **payload) -> None:
    ParticipationAgreementEvent.objects.create(
        agreement=agreement, from_status=from_status, to_status=agreement.status, actor=actor, payload=payload,
    )


def _locked_agreement(agreement_id: int, *, investing_fund: InvestingFund | None = None) -> ParticipationAgreement:
    agreements = ParticipationAgreement.objects.select_for_update()
    if investing_fund is not None:  # an Investing Fund reaches only its own agreements (404 alike)
        agreements = agreements.filter(investing_fund=investing_fund)
    agreement = agreements.filter(pk=agreement_id).first()
    if agreement is None:
        raise NotFound(f"No FOF Participation Agreement {agreement_id}.")
    return agreement


def _not_in(agreement: ParticipationAgreement, doing: str) -> InvalidTransition:
    return InvalidTransition(
        f"Agreement {agreement.pk} is {agreement.get_status_display().lower()}; it cannot be {doing}.",
        details={"status": [agreement.status]},
    )


def _check_active(investing_fund: InvestingFund) -> None:
    if investing_fund.status != InvestingFund.Status.ACTIVE:
        raise NotEntitled(f"{investing_fund} is {investing_fund.get_status_display().lower()}; only an active Investing Fund may do this.")


@transaction.atomic
def agreement_create(*, investing_fund: InvestingFund, fund_ticker: str, actor) -> ParticipationAgreement:
    """A DRAFT agreement between ``investing_fund`` (ACTIVE only) and the Fund with ``fund_ticker``."""
    from funds.models import Fund

    investing_fund = InvestingFund.objects.select_for_update().get(pk=investing_fund.pk)
    _check_active(investing_fund)
    fund = Fund.objects.filter(ticker__iexact=(fund_ticker or "").strip()).first()
    if fund is None:
        raise _field_error("fund", f"No Fund with the ticker {fund_ticker}.")
    open_one = (ParticipationAgreement.objects.filter(investing_fund=investing_fund, fund=fund)
                .exclude(status__in=ParticipationAgreement.CLOSED).first())
    if open_one is not None:
        raise InvalidTransition(f"{investing_fund} already has agreement {open_one.pk} with {fund.ticker} ({open_one.get_status_display().lower()}).",
                                details={"fund": [fund.ticker], "agreement": open_one.pk})
    agreement = ParticipationAgreement(investing_fund=investing_fund, fund=fund, created_by=actor)
    agreement._history_user = actor
    try:
        with transaction.atomic():
            agreement.save()
    except IntegrityError:  # a concurrent request for the same pair won the race (the partial unique constraint)
        raise InvalidTransition(f"{investing_fund} already has an agreement with {fund.ticker}.", details={"fund": [fund.ticker]})
    _agreement_event(agreement, from_status="", actor=actor, fund=fund.ticker)
    return agreement


def _check_acknowledgments(accepted: list[AcceptedAcknowledgment]) -> dict[str, AcceptedAcknowledgment]:
    problems: dict[str, list[str]] = {}
    by_code: dict[str, AcceptedAcknowledgment] = {}
    for item in accepted:
        if item.code not in acknowledgments.ACKNOWLEDGMENTS:
            problems[item.code] = ["Unknown acknowledgment."]
        elif item.code in by_code:
            problems[item.code] = ["Listed twice."]
        else:
            by_code[item.code] = item
    for code in acknowledgments.REQUIRED:
        version = acknowledgments.current_version(code)
        if code not in by_code:
            problems[code] = [f"Missing: accept version {version} of this acknowledgment."]
        elif by_code[code].text_version != version:
            problems[code] = [f"Version {by_code[code].text_version} is not the current text; accept version {version}."]
    if problems:
        message = "acknowledgments: " + "; ".join(f"{code}: {' '.join(m)}" for code, m in sorted(problems.items()))
        raise InvalidInput(message, details={"acknowledgments": problems})
    return by_code


@transaction.atomic
def agreement_sign(*, agreement_id: int, investing_fund: InvestingFund, accepted: list[AcceptedAcknowledgment], actor) -> ParticipationAgreement:
    """DRAFT -> SIGNED_BY_INVESTING_FUND: every required acknowledgment accepted at its current version,
    each recorded with the exact text accepted."""
    agreement = _locked_agreement(agreement_id, investing_fund=investing_fund)
    _check_active(agreement.investing_fund)
    if agreement.status != ParticipationAgreement.Status.DRAFT:
        raise _not_in(agreement, "signed")
    by_code = _check_acknowledgments(accepted)

    now = timezone.now()
    for code in acknowledgments.REQUIRED:
        row = AgreementAcknowledgment(
            agreement=agreement, code=code, text_version=by_code[code].text_version, text=acknowledgments.text(code),
            accepted_by=actor, accepted_at=now,
        )
        row._history_user = actor
        row.save()
    before = agreement.status
    agreement.sign()
    agreement.signed_by, agreement.signed_at = actor, now
    agreement._history_user = actor
    agreement.save(update_fields=["status", "signed_by", "signed_at", "updated_at"])
    _agreement_event(agreement, from_status=before, actor=actor,
                     acknowledgments={code: by_code[code].text_version for code in acknowledgments.REQUIRED})
    return agreement


def _check_countersigner(actor) -> None:
    if not (actor and actor.is_authenticated and actor.has_perm(COUNTERSIGN_PERMISSION)):
        raise NotEntitled("Only Compliance or AP Relationship staff act for the Fund on an FOF Participation Agreement.")


@transaction.atomic
def agreement_countersign(*, agreement_id: int, actor) -> ParticipationAgreement:
    """SIGNED_BY_INVESTING_FUND -> EXECUTED: countersigned for the Fund by authorised staff (not the signer)."""
    _check_countersigner(actor)
    agreement = _locked_agreement(agreement_id)
    if agreement.status != ParticipationAgreement.Status.SIGNED_BY_INVESTING_FUND:
        raise _not_in(agreement, "countersigned")
    if agreement.signed_by_id == actor.pk:
        raise NotEntitled("The person who signed for the Investing Fund cannot countersign for the Fund.")
    before = agreement.status
    agreement.countersign()
    agreement.countersigned_by, agreement.countersigned_at = actor, timezone.now()
    agreement._history_user = actor
    agreement.save(update_fields=["status", "countersigned_by", "countersigned_at", "updated_at"])
    _agreement_event(agreement, from_status=before, actor=actor)
    return agreement


def _close(agreement_id: int, *, actor, reason: str, verb: str, doing: str) -> ParticipationAgreement:
    _check_countersigner(actor)
    reason = (reason or "").strip()
    if not reason:
        raise _field_error("reason", f"Say why the agreement is {doing}.")
    agreement = _locked_agreement(agreement_id)
    move = getattr(agreement, verb)
    if not can_proceed(move):
        raise _not_in(agreement, doing)
    before = agreement.status
    move()
    agreement.closed_by, agreement.closed_at, agreement.closing_reason = actor, timezone.now(), reason
    agreement._history_user = actor
    agreement.save(update_fields=["status", "closed_by", "closed_at", "closing_reason", "updated_at"])
    _agreement_event(agreement, from_status=before, actor=actor, reason=reason)
    return agreement


@transaction.atomic
def agreement_terminate(*, agreement_id: int, actor, reason: str) -> ParticipationAgreement:
    """EXECUTED -> TERMINATED, with the reason."""
    return _close(agreement_id, actor=actor, reason=reason, verb="terminate", doing="terminated")


@transaction.atomic
def agreement_decline(*, agreement_id: int, actor, reason: str) -> ParticipationAgreement:
    """DRAFT or SIGNED_BY_INVESTING_FUND -> DECLINED: the Fund declines to enter the agreement, with the reason."""
    return _close(agreement_id, actor=actor, reason=reason, verb="decline", doing="declined")


# --- Affiliate lists (condition B.9) ------------------------------------------------------------

@dataclass(frozen=True)
class AffiliateInput:
    name: str
    sec_number: str = ""
    crd_number: str = ""


@dataclass(frozen=True)
class AffiliateListSubmission:
    version: AffiliateListVersion
    created: bool  # False when the lists were unchanged (no new version, no notice)


def _affiliate_rows(items: list[AffiliateInput], *, list_name: str) -> list[dict]:
    rows, seen = [], set()
    for index, item in enumerate(items):
        name = (item.name or "").strip()
        if not name:
            raise InvalidInput(f"{list_name}[{index}].name: a name is required.", details={list_name: {index: {"name": ["A name is required."]}}})
        if name.casefold() in seen:
            raise InvalidInput(f"{list_name}[{index}].name: {name} is listed twice.", details={list_name: {index: {"name": [f"{name} is listed twice."]}}})
        seen.add(name.casefold())
        rows.append({"name": name, "sec_number": (item.sec_number or "").strip(), "crd_number": (item.crd_number or "").strip()})
    return rows


def _compliance_emails() -> list[str]:
    users = get_user_model().objects.filter(groups__name=roles.COMPLIANCE, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def _notify_compliance_of_affiliates(version_id: int) -> None:
    from django.core.mail import send_mail

    version = AffiliateListVersion.objects.select_related("investing_fund", "submitted_by").get(pk=version_id)
    recipients = _compliance_emails()
    if not recipients:
        return

    def names(rows):
        return "\n".join(f"  - {r['name']}" + (f" (SEC {r['sec_number']})" if r["sec_number"] else "")
                         + (f" (CRD {r['crd_number']})" if r["crd_number"] else "") for r in rows) or "  (none)"

    send_mail(
        subject=f"[FOF] {version.investing_fund}: affiliate list version {version.version}",
        message=(
            f"{version.investing_fund} transmitted version {version.version} of its affiliate lists (condition B.9) "
            f"at {version.submitted_at:%Y-%m-%d %H:%M:%S %Z} (submitted by {version.submitted_by}).\n\n"
            f"Investing Fund Affiliates:\n{names(version.investing_fund_affiliates)}\n\n"
            f"Underwriting Affiliates:\n{names(version.underwriting_affiliates)}\n"
        ),
        from_email=None, recipient_list=recipients,
    )


@transaction.atomic
def affiliate_list_submit(
    *, investing_fund: InvestingFund, investing_fund_affiliates: list[AffiliateInput],
    underwriting_affiliates: list[AffiliateInput], actor,
) -> AffiliateListSubmission:
    """Record a new version of the Investing Fund's affiliate lists and notify Compliance after commit.
    Unchanged lists write nothing."""
    investing_fund = InvestingFund.objects.select_for_update().get(pk=investing_fund.pk)
    _check_active(investing_fund)
    fund_affiliates = _affiliate_rows(investing_fund_affiliates, list_name="investing_fund_affiliates")
    underwriting = _affiliate_rows(underwriting_affiliates, list_name="underwriting_affiliates")
    current = AffiliateListVersion.objects.filter(investing_fund=investing_fund).order_by("-version").first()
    if current is not None and current.investing_fund_affiliates == fund_affiliates and current.underwriting_affiliates == underwriting:
        return AffiliateListSubmission(version=current, created=False)
    version = AffiliateListVersion(
        investing_fund=investing_fund, version=(current.version + 1) if current else 1,
        investing_fund_affiliates=fund_affiliates, underwriting_affiliates=underwriting,
        submitted_by=actor, submitted_at=timezone.now(),
    )
    version._history_user = actor
    version.save()
    InvestingFundEvent.objects.create(
        investing_fund=investing_fund, kind=InvestingFundEvent.Kind.AFFILIATES_CHANGED, actor=actor,
        payload={"version": version.version},
    )
    transaction.on_commit(lambda: _notify_compliance_of_affiliates(version.pk))
    return AffiliateListSubmission(version=version, created=True)


# --- holdings reports and limit alerts (section III.E, conditions B.1 and B.9) -------------------

ACKNOWLEDGE_ALERT_PERMISSION = "fof.acknowledge_limitalert"


@dataclass(frozen=True)
class HoldingInput:
    fund: str  # ticker
    shares: Decimal
    value: Decimal


def _holding_error(index: int, field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f"holdings[{index}].{field_name}: {message}", details={"holdings": {index: {field_name: [message]}}})


def advisory_group_key(investing_fund: InvestingFund) -> str:
    """Condition B.1: Investing Funds sharing an adviser (or sponsor) form one Advisory Group, keyed by the
    adviser's SEC file number when stored, else by its name (case and spacing ignored)."""
    if investing_fund.adviser_sec_file_number:
        return f"Advisory Group {investing_fund.adviser_sec_file_number}"
    return f"Advisory Group {' '.join(investing_fund.adviser_name.split()).lower()}"


def _pct(figure: limits.LimitFigure) -> dict:
    return {"rule": figure.rule, "percent": str(figure.percent), "limit": str(figure.limit),
            "over_limit": figure.over_limit, "breached": figure.breached, "message": figure.message}


def _latest_lines(fund_id: int, *, exclude_investing_fund_id: int, before_report_id: int | None = None) -> dict[int, Decimal]:
    """investing_fund_id -> shares in the Fund from each other Investing Fund's latest report of it."""
    lines = (HoldingsReportLine.objects.filter(fund_id=fund_id).exclude(report__investing_fund_id=exclude_investing_fund_id)
             .order_by("report__investing_fund_id", "-report__as_of", "-report_id").values_list("report__investing_fund_id", "shares", "report_id"))
    latest: dict[int, Decimal] = {}
    for investing_fund_id, shares, report_id in lines:
        if before_report_id is not None and report_id >= before_report_id:
            continue
        latest.setdefault(investing_fund_id, shares)
    return latest


@transaction.atomic
def holdings_report_submit(
    *, investing_fund: InvestingFund, as_of, total_assets: Decimal, investment_company_assets: Decimal | None,
    holdings: list[HoldingInput], actor,
) -> HoldingsReport:
    """Record the Investing Fund's report (ACTIVE only), compute every limit with ``fof.limits`` against each
    Fund's shares outstanding on ``as_of``, store the figures on the report, raise a ``LimitAlert`` per breach
    (and NOTIFICATION_DUE when it crossed 3% with an executed agreement), and e-mail Compliance on commit."""
    from funds.models import Fund, SharesOutstandingEntry

    investing_fund = InvestingFund.objects.select_for_update().get(pk=investing_fund.pk)
    _check_active(investing_fund)
    if as_of > timezone.localdate():
        raise _field_error("as_of", "A report cannot be dated in the future.")
    if total_assets <= 0:
        raise _field_error("total_assets", "Total assets must be greater than zero.")
    if investment_company_assets is not None and investment_company_assets < 0:
        raise _field_error("investment_company_assets", "Must not be negative.")
    if investment_company_assets is not None and investment_company_assets > total_assets:
        raise _field_error("investment_company_assets", "Cannot exceed total assets.")
    if not holdings:
        raise InvalidInput("holdings: report at least one holding.", details={"holdings": ["Report at least one holding."]})
    seen: set[int] = set()
    resolved = []
    for index, holding in enumerate(holdings):
        fund = Fund.objects.filter(ticker__iexact=(holding.fund or "").strip()).first()
        if fund is None:
            raise _holding_error(index, "fund", f"No Fund with the ticker {holding.fund}.")
        if fund.pk in seen:
            raise _holding_error(index, "fund", f"{fund.ticker} is listed twice.")
        seen.add(fund.pk)
        if holding.shares < 0:
            raise _holding_error(index, "shares", "Must not be negative.")
        if holding.value < 0:
            raise _holding_error(index, "value", "Must not be negative.")
        if holding.value > total_assets:
            raise _holding_error(index, "value", "Exceeds the reported total assets.")
        outstanding = SharesOutstandingEntry.outstanding(fund.pk, as_of)
        if outstanding <= 0:
            raise _holding_error(index, "fund", f"{fund.ticker} had no shares outstanding on {as_of}.")
        if holding.shares > outstanding:
            raise _holding_error(index, "shares", f"More than {fund.ticker}'s {outstanding} shares outstanding on {as_of}.")
        resolved.append((fund, holding, outstanding))
    held_value = sum((h.value for _, h, _ in resolved), Decimal(0))
    if investment_company_assets is not None and investment_company_assets < held_value:
        raise _field_error("investment_company_assets", "Cannot be less than the reported holdings of the Funds.")

    me = str(investing_fund)
    executed = set(ParticipationAgreement.objects.filter(investing_fund__isnull=False, status=ParticipationAgreement.Status.EXECUTED)
                   .values_list("investing_fund_id", "fund_id"))
    states = {str(f.pk): limits.FundState(fund_id=str(f.pk), shares_outstanding=o, name=f.ticker) for f, _, o in resolved}
    try:
        holding_limits = limits.evaluate_reports(
            [limits.HoldingReport(investing_fund_id=me, fund_id=str(f.pk), shares=h.shares, acquirer_total_assets=total_assets,
                                  value=h.value, acquirer_investment_company_assets=investment_company_assets)
             for f, h, _ in resolved],
            states, executed_agreements={(me, str(fund_id)) for (if_id, fund_id) in executed if if_id == investing_fund.pk},
        )
    except limits.LimitInputError as exc:
        raise InvalidInput(f"holdings: {exc}", details={"holdings": [str(exc)]})

    report = HoldingsReport.objects.create(
        investing_fund=investing_fund, as_of=as_of, total_assets=total_assets,
        investment_company_assets=investment_company_assets, submitted_by=actor,
    )
    for fund, holding, outstanding in resolved:
        HoldingsReportLine.objects.create(report=report, fund=fund, shares=holding.shares, value=holding.value, shares_outstanding=outstanding)

    previous = (HoldingsReport.objects.filter(investing_fund=investing_fund).exclude(pk=report.pk)
                .order_by("-as_of", "-pk").first())
    names = dict(InvestingFund.objects.values_list("pk", "legal_name"))
    my_group = advisory_group_key(investing_fund)
    group_members = {f.pk for f in InvestingFund.objects.all() if advisory_group_key(f) == my_group}
    alerts: list[LimitAlert] = []
    results: dict = {"holdings": [], "aggregates": [], "groups": []}

    def alert(kind, fund, percent, message):
        alerts.append(LimitAlert(report=report, kind=kind, investing_fund=investing_fund, fund=fund, figure=percent, message=message))

    kinds = {limits.RULE_A_I: LimitAlert.Kind.A_I, limits.RULE_A_II: LimitAlert.Kind.A_II, limits.RULE_A_III: LimitAlert.Kind.A_III}
    for (fund, holding, outstanding), result in zip(resolved, holding_limits):
        notification_due = result.notification_required and result.agreement_executed
        results["holdings"].append({
            "fund": fund.ticker, "shares_outstanding": str(outstanding),
            "a_i": _pct(result.a_i), "a_ii": _pct(result.a_ii), "a_iii": _pct(result.a_iii),
            "agreement_executed": result.agreement_executed, "notification_due": notification_due,
        })
        for figure in result.figures:
            if figure.breached:
                alert(kinds[figure.rule], fund, figure.percent, figure.message)
        if notification_due:
            alert(LimitAlert.Kind.NOTIFICATION_DUE, fund, result.a_i.percent,
                  f"Condition B.9: {me} holds {result.a_i.percent}% of {fund.ticker}'s outstanding voting stock (over 3%) "
                  "under an executed FOF Participation Agreement: it must notify the Fund.")

        # 12(d)(1)(B): every Investing Fund's latest report of this Fund.
        others = _latest_lines(fund.pk, exclude_investing_fund_id=investing_fund.pk)
        holdings_by_holder = {names[k]: v for k, v in others.items()}
        holdings_by_holder[me] = holding.shares
        with_agreement = {names[if_id] for (if_id, fund_id) in executed if fund_id == fund.pk}
        state = states[str(fund.pk)]
        try:
            aggregate = limits.evaluate_fund_aggregate(state, holdings_by_holder, holders_with_agreement=with_agreement)
            results["aggregates"].append({"fund": fund.ticker, "shares_held": str(aggregate.shares_held), **_pct(aggregate.figure),
                                          "holders_without_agreement": list(aggregate.holders_without_agreement)})
            if aggregate.figure.breached:
                alert(LimitAlert.Kind.B, fund, aggregate.figure.percent, aggregate.figure.message)
        except limits.LimitInputError as exc:  # other Investing Funds' older reports no longer fit this date's shares outstanding
            results["aggregates"].append({"fund": fund.ticker, "error": str(exc)})

        # Condition B.1: the caller's Advisory Group.
        group_now = holding.shares + sum((v for k, v in others.items() if k in group_members), Decimal(0))
        previous_shares = previous_outstanding = None
        if previous is not None:
            previous_line = previous.lines.filter(fund=fund).first()
            earlier = _latest_lines(fund.pk, exclude_investing_fund_id=investing_fund.pk, before_report_id=report.pk)
            previous_shares = (previous_line.shares if previous_line else Decimal(0)) + sum(
                (v for k, v in earlier.items() if k in group_members), Decimal(0))
            previous_outstanding = SharesOutstandingEntry.outstanding(fund.pk, previous.as_of) or None
        try:
            control = limits.evaluate_control(
                my_group, limits.FundState(fund_id=str(fund.pk), shares_outstanding=outstanding, name=fund.ticker,
                                           previous_shares_outstanding=previous_outstanding),
                current_shares=group_now, previous_shares=previous_shares,
            )
        except limits.LimitInputError as exc:
            results["groups"].append({"group": my_group, "fund": fund.ticker, "error": str(exc)})
            continue
        results["groups"].append({
            "group": my_group, "fund": fund.ticker, "rule": limits.RULE_B1, "percent": str(control.percent),
            "limit": str(limits.LIMIT_CONTROL), "over_limit": control.over_limit, "control_alert": control.control_alert,
            "mirror_voting_required": control.mirror_voting_required, "message": control.message,
        })
        if control.control_alert:
            alert(LimitAlert.Kind.CONTROL, fund, control.percent, control.message)
        elif control.mirror_voting_required:
            alert(LimitAlert.Kind.MIRROR_VOTING, fund, control.percent, control.message)

    HoldingsReport.objects.filter(pk=report.pk).update(results=results)
    report.results = results
    for a in alerts:
        a._history_user = actor
        a.save()
    if alerts:
        ids = [a.pk for a in alerts]
        transaction.on_commit(lambda: _notify_compliance_of_alerts(ids))
    return report


def _notify_compliance_of_alerts(alert_ids: list[int]) -> None:
    from django.core.mail import send_mail

    alerts = list(LimitAlert.objects.filter(pk__in=alert_ids).select_related("investing_fund", "fund", "report").order_by("pk"))
    recipients = _compliance_emails()
    if not alerts or not recipients:
        return
    first = alerts[0]
    send_mail(
        subject=f"[FOF] {first.investing_fund}: {len(alerts)} limit alert(s) on its holdings as of {first.report.as_of}",
        message="\n\n".join(f"{a.get_kind_display()} ({a.fund.ticker}, {a.figure}%):\n{a.message}" for a in alerts),
        from_email=None, recipient_list=recipients,
    )


@transaction.atomic
def limit_alert_acknowledge(*, alert_id: int, actor) -> LimitAlert:
    """Compliance acknowledges an open alert (once)."""
    if not (actor and actor.has_perm(ACKNOWLEDGE_ALERT_PERMISSION)):
        raise NotEntitled("Only Compliance may acknowledge a limit alert.")
    alert = LimitAlert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(f"No limit alert {alert_id}.")
    if alert.acknowledged_at is not None:
        raise InvalidTransition(f"Limit alert {alert_id} was already acknowledged.", details={"acknowledged_by": [str(alert.acknowledged_by)]})
    alert.acknowledged_by = actor
    alert.acknowledged_at = timezone.now()
    alert._history_user = actor
    alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
    return alert
