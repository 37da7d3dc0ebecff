"""Reads of the fof app."""

from __future__ import annotations

from django.db.models import QuerySet

from backoffice.exceptions import NotFound
from fof.models import InvestingFund, InvestingFundUser


def investing_fund_for_user(*, user) -> InvestingFund:
    """The one Investing Fund ``user`` acts for (404 when it acts for none)."""
    binding = (
        InvestingFundUser.objects.select_related("investing_fund").filter(user_id=getattr(user, "pk", None)).first()
    )
    if binding is None:
        raise NotFound("You do not act for an Investing Fund.")
    return binding.investing_fund


def investing_fund_list(*, status: str | None = None) -> QuerySet[InvestingFund]:
    funds = InvestingFund.objects.prefetch_related("sub_advisers")
    return funds.filter(status=status) if status else funds
