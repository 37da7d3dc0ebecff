"""Designating and ending Protected Securities (Portfolio Managers)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q

from backoffice.exceptions import InvalidInput, InvalidTransition
from baskets.models import ProtectedSecurity
from funds.models import Fund, Security


@transaction.atomic
def protected_security_designate(
    *, fund_id: int, security_id: int, effective_from: dt.date, reason: str, actor, effective_to: dt.date | None = None
) -> ProtectedSecurity:
    """Protect a security for a Fund over a date range; overlapping designations are refused."""
    fund = Fund.objects.select_for_update().get(pk=fund_id)  # serialises designations per Fund
    security = Security.objects.filter(pk=security_id).first()
    if security is None:
        raise InvalidInput(f"unknown security id {security_id}.")
    if not (reason or "").strip():
        raise InvalidInput("a reason is required to protect a security.")
    if effective_to is not None and effective_to < effective_from:
        raise InvalidInput(f"effective_to {effective_to.isoformat()} is before effective_from {effective_from.isoformat()}.")
    overlapping = ProtectedSecurity.objects.filter(fund=fund, security=security).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gte=effective_from)
    )
    if effective_to is not None:
        overlapping = overlapping.filter(effective_from__lte=effective_to)
    clash = overlapping.first()
    if clash is not None:
        raise InvalidInput(f"{security.ticker} is already protected in {fund.ticker} over that period ({clash}).")
    designation = ProtectedSecurity(
        fund=fund, security=security, effective_from=effective_from, effective_to=effective_to,
        reason=reason.strip(), designated_by=actor,
    )
    designation.full_clean()
    designation._history_user = actor
    designation.save()
    return designation


@transaction.atomic
def protected_security_end(*, designation_id: int, last_day: dt.date, reason: str, actor) -> ProtectedSecurity:
    """End a designation: the security is protected through ``last_day`` and no longer after it."""
    designation = ProtectedSecurity.objects.select_for_update().get(pk=designation_id)
    if designation.effective_to is not None and designation.effective_to <= last_day:
        raise InvalidTransition(f"this designation already ends on {designation.effective_to.isoformat()}.")
    if last_day < designation.effective_from:
        raise InvalidInput(f"last_day {last_day.isoformat()} is before the designation starts ({designation.effective_from.isoformat()}).")
    if not (reason or "").strip():
        raise InvalidInput("a reason is required to end a protection.")
    designation.effective_to = last_day
    designation.ended_by = actor
    designation.end_reason = reason.strip()
    designation._history_user = actor
    designation.save(update_fields=["effective_to", "ended_by", "end_reason"])
    return designation
