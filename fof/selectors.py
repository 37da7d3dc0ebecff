"""Reads of the fof app."""

from __future__ import annotations

from django.db.models import QuerySet

from backoffice.exceptions import NotFound
from fof.models import AffiliateListVersion, HoldingsReport, InvestingFund, InvestingFundUser, ParticipationAgreement


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


def agreements_for_investing_fund(*, investing_fund: InvestingFund, status: str | None = None, fund: str | None = None) -> QuerySet[ParticipationAgreement]:
    """The Investing Fund's own FOF Participation Agreements (never another's), optionally filtered."""
    agreements = (ParticipationAgreement.objects.filter(investing_fund=investing_fund)
                  .select_related("fund", "investing_fund").prefetch_related("acknowledgments").order_by("-created_at", "-pk"))
    if status:
        agreements = agreements.filter(status=status)
    if fund is not None:
        agreements = agreements.filter(fund__ticker__iexact=fund)
    return agreements


def agreement_get(*, investing_fund: InvestingFund, agreement_id: int) -> ParticipationAgreement:
    """One of the Investing Fund's agreements; 404 alike for missing and not its own."""
    agreement = agreements_for_investing_fund(investing_fund=investing_fund).filter(pk=agreement_id).first()
    if agreement is None:
        raise NotFound(f"No FOF Participation Agreement {agreement_id}.")
    return agreement


def affiliate_list_versions(*, investing_fund: InvestingFund) -> QuerySet[AffiliateListVersion]:
    """Every version of the Investing Fund's affiliate lists, newest first."""
    return AffiliateListVersion.objects.filter(investing_fund=investing_fund).order_by("-version")


def affiliate_list_current(*, investing_fund: InvestingFund) -> AffiliateListVersion | None:
    return affiliate_list_versions(investing_fund=investing_fund).first()


def holdings_reports_for_investing_fund(*, investing_fund: InvestingFund) -> QuerySet[HoldingsReport]:
    """The Investing Fund's own holdings reports (never another's), newest first, with lines."""
    return (HoldingsReport.objects.filter(investing_fund=investing_fund)
            .prefetch_related("lines__fund").order_by("-as_of", "-pk"))
