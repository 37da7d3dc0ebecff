"""Writes and workflows of the fof app: an Investing Fund registers, staff approve or reject it.

Every write validates first and then writes in one transaction, with history rows and an
``InvestingFundEvent`` naming the actor.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status as http
from rest_framework.authtoken.models import Token

from backoffice import roles
from backoffice.audit import system_user
from backoffice.exceptions import DomainError, InvalidInput, InvalidTransition, NotFound
from fof.models import InvestingFund, InvestingFundEvent, InvestingFundSubAdviser, InvestingFundUser

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


def _funds_group_name(name: str) -> str | None:
    """What of the Funds' group ``name`` is (the Trust, the Adviser, the Distributor), or None.

    Investing Funds are not part of the Funds' group of investment companies, and an Investing Fund
    Adviser or Sponsor does not control, is not controlled by and is not under common control with the
    Adviser (section V.B.1 of the application)."""
    from funds.models import Adviser, Distributor, Trust

    name = name.strip()
    for model, what in ((Trust, "the Trust"), (Adviser, "the Adviser"), (Distributor, "the Distributor")):
        if model.objects.filter(name__iexact=name).exists():
            return what
    return None


def _check_outside_funds_group(*, legal_name: str, adviser_name: str) -> None:
    barred = _funds_group_name(legal_name)
    if barred:
        raise _field_error("legal_name", f"{legal_name} is the name of {barred} of the Funds; an Investing Fund is outside the Funds' group.")
    barred = _funds_group_name(adviser_name)
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
