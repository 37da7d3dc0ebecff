"""Reads of Protected Securities. The set is confidential: only PMs and Compliance may see it."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from backoffice import roles
from backoffice.exceptions import NotFound
from baskets.models import ProtectedSecurity

PROTECTED_SET_ROLES = (roles.PORTFOLIO_MANAGER, roles.COMPLIANCE)


def protected_security_ids(*, fund_id: int, on: dt.date) -> set[int]:
    """The Fund's protected set on a date: for the engine, never for a response."""
    return set(ProtectedSecurity.objects.in_force(on).filter(fund_id=fund_id).values_list("security_id", flat=True))


def protected_securities_visible_to(*, user, fund_id: int) -> QuerySet[ProtectedSecurity]:
    if not roles.user_has_role(user, *PROTECTED_SET_ROLES):
        raise NotFound("No protected securities found.")
    return ProtectedSecurity.objects.filter(fund_id=fund_id).select_related("security", "designated_by", "ended_by")
