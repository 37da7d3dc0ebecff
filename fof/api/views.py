"""The fof API: an Investing Fund registers (no account yet), then reads its own record."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from backoffice import roles
from backoffice.exceptions import NotFound
from fof import selectors, services
from fof.api import serializers as s
from fof.models import HoldingsReport, ParticipationAgreement


class RegistrationThrottle(AnonRateThrottle):
    """Per client address; the rate is REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["fof_registration"]."""

    scope = "fof_registration"


class IsInvestingFund(BasePermission):
    message = "Only an Investing Fund's API user may do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and roles.INVESTING_FUND in roles.user_roles(user))


class RegistrationApi(APIView):
    """An Investing Fund applies to invest in the Funds; staff review it before it gets an API token."""

    # Open to anyone (the registrant has no account yet); no session, so no CSRF; throttled per address.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RegistrationThrottle]
    # JSON only: the adviser, contact and sub-advisers are nested objects, which form encodings cannot carry.
    parser_classes = [JSONParser]

    @extend_schema(
        request=s.RegistrationInput,
        responses={
            201: s.RegistrationOutput,
            400: OpenApiResponse(description="A field is missing or malformed, or the SEC file number is already registered."),
            429: OpenApiResponse(description="Too many registrations from this address; retry after Retry-After seconds."),
        },
        auth=[],
    )
    def post(self, request):
        data = s.RegistrationInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        fund = services.investing_fund_register(registration=services.RegistrationInput(
            legal_name=v["legal_name"], kind=v["kind"], sec_file_number=v["sec_file_number"],
            adviser_name=v["adviser"]["name"], adviser_sec_file_number=v["adviser"]["sec_file_number"],
            contact_name=v["contact"]["name"], contact_email=v["contact"]["email"], contact_phone=v["contact"]["phone"],
            sub_advisers=[services.SubAdviserInput(name=x["name"], sec_file_number=x["sec_file_number"]) for x in v["sub_advisers"]],
        ))
        return Response(s.RegistrationOutput(fund).data, status=status.HTTP_201_CREATED)


class InvestingFundMeApi(APIView):
    """The Investing Fund the calling user acts for (never another one)."""

    permission_classes = [IsInvestingFund]

    @extend_schema(responses=s.InvestingFundOutput)
    def get(self, request):
        fund = selectors.investing_fund_for_user(user=request.user)
        return Response(s.InvestingFundOutput(fund).data)


def _own_investing_fund(request):
    return selectors.investing_fund_for_user(user=request.user)


def _query_param(request, name: str, *, allowed: list[str] | None = None) -> str | None:
    """One query parameter, given once, from ``allowed`` when given; else 400 naming it."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError({name: ["Give it once."]})
    if allowed is not None and values[0] not in allowed:
        raise ValidationError({name: [f"One of {', '.join(allowed)}."]})
    return values[0]


class AgreementListCreateApi(generics.ListAPIView):
    """The calling Investing Fund's FOF Participation Agreements (never another's); POST asks for a new one (DRAFT)."""

    permission_classes = [IsInvestingFund]
    parser_classes = [JSONParser]  # the API takes JSON bodies only (and documents only that)
    serializer_class = s.FofAgreementOutput
    pagination_class = None  # at most one open agreement per Fund, plus closed ones: a short list

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ParticipationAgreement.objects.none()
        status_filter = _query_param(self.request, "status", allowed=ParticipationAgreement.Status.values)
        fund = _query_param(self.request, "fund")
        return selectors.agreements_for_investing_fund(
            investing_fund=_own_investing_fund(self.request), status=status_filter, fund=fund,
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=ParticipationAgreement.Status.values, required=False),
            OpenApiParameter("fund", str, required=False, description="A Fund's ticker."),
        ],
        responses={200: s.FofAgreementOutput(many=True), 400: OpenApiResponse(description="An unknown status (names `status`).")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.FofAgreementCreateInput,
        responses={
            201: s.FofAgreementOutput,
            400: OpenApiResponse(description="No Fund with that ticker (names `fund`)."),
            403: OpenApiResponse(description="The Investing Fund is not active."),
            409: OpenApiResponse(description="An agreement with this Fund is already open."),
        },
    )
    def post(self, request):
        data = s.FofAgreementCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        agreement = services.agreement_create(
            investing_fund=_own_investing_fund(request), fund_ticker=data.validated_data["fund"], actor=request.user,
        )
        return Response(s.FofAgreementOutput(agreement).data, status=status.HTTP_201_CREATED)


class AgreementDetailApi(APIView):
    permission_classes = [IsInvestingFund]

    @extend_schema(responses={200: s.FofAgreementOutput, 404: OpenApiResponse(description="Missing, or not this Investing Fund's.")})
    def get(self, request, agreement_id: int):
        agreement = selectors.agreement_get(investing_fund=_own_investing_fund(request), agreement_id=agreement_id)
        return Response(s.FofAgreementOutput(agreement).data)


class AgreementSignApi(APIView):
    """The Investing Fund signs: it accepts every required acknowledgment at its current text version."""

    permission_classes = [IsInvestingFund]
    parser_classes = [JSONParser]

    @extend_schema(
        request=s.FofAgreementSignInput,
        responses={
            200: s.FofAgreementOutput,
            400: OpenApiResponse(description="An acknowledgment is missing, unknown or at an old version (named in details.acknowledgments)."),
            404: OpenApiResponse(description="Missing, or not this Investing Fund's."),
            409: OpenApiResponse(description="Already signed (or no longer a draft)."),
        },
    )
    def post(self, request, agreement_id: int):
        data = s.FofAgreementSignInput(data=request.data)
        data.is_valid(raise_exception=True)
        agreement = services.agreement_sign(
            agreement_id=agreement_id, investing_fund=_own_investing_fund(request), actor=request.user,
            accepted=[services.AcceptedAcknowledgment(code=a["code"], text_version=a["text_version"])
                      for a in data.validated_data["acknowledgments"]],
        )
        agreement = selectors.agreement_get(investing_fund=agreement.investing_fund, agreement_id=agreement.pk)
        return Response(s.FofAgreementOutput(agreement).data)


class AffiliateListApi(APIView):
    """The Investing Fund's Investing Fund Affiliates and Underwriting Affiliates (condition B.9)."""

    permission_classes = [IsInvestingFund]
    parser_classes = [JSONParser]

    @extend_schema(
        parameters=[OpenApiParameter("history", bool, required=False, description="1: every version, newest first.")],
        responses={
            200: s.AffiliateListOutput(many=True),
            400: OpenApiResponse(description="history is not true, false, 1 or 0 (names `history`)."),
            404: OpenApiResponse(description="No list transmitted yet."),
        },
        description="The current version as a one-element list, or every version with ?history=1.",
    )
    def get(self, request):
        fund = _own_investing_fund(request)
        if _query_param(request, "history", allowed=["true", "false", "1", "0"]) in ("true", "1"):
            return Response(s.AffiliateListOutput(selectors.affiliate_list_versions(investing_fund=fund), many=True).data)
        current = selectors.affiliate_list_current(investing_fund=fund)
        if current is None:
            raise NotFound("No affiliate list has been transmitted yet.")
        return Response(s.AffiliateListOutput([current], many=True).data)

    @extend_schema(
        request=s.AffiliateListInput,
        responses={
            201: s.AffiliateListOutput, 200: OpenApiResponse(s.AffiliateListOutput, description="Unchanged: no new version."),
            400: OpenApiResponse(description="A name is missing or listed twice (the field is named)."),
            403: OpenApiResponse(description="The Investing Fund is not active."),
        },
    )
    def put(self, request):
        data = s.AffiliateListInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data

        def affiliates(rows):
            return [services.AffiliateInput(name=r["name"], sec_number=r["sec_number"], crd_number=r["crd_number"]) for r in rows]

        submission = services.affiliate_list_submit(
            investing_fund=_own_investing_fund(request), actor=request.user,
            investing_fund_affiliates=affiliates(v["investing_fund_affiliates"]),
            underwriting_affiliates=affiliates(v["underwriting_affiliates"]),
        )
        return Response(s.AffiliateListOutput(submission.version).data,
                        status=status.HTTP_201_CREATED if submission.created else status.HTTP_200_OK)


class HoldingsReportListCreateApi(generics.ListAPIView):
    """The calling Investing Fund's holdings reports with their limit results (never another's); POST sends one."""

    permission_classes = [IsInvestingFund]
    serializer_class = s.HoldingsReportOutput
    parser_classes = [JSONParser]  # nested holdings
    pagination_class = None  # the whole list, newest first (limit/offset would accept malformed values silently)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return HoldingsReport.objects.none()
        return selectors.holdings_reports_for_investing_fund(investing_fund=_own_investing_fund(self.request))

    @extend_schema(responses={200: s.HoldingsReportOutput(many=True)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.HoldingsReportInput,
        responses={
            201: s.HoldingsReportOutput,
            400: OpenApiResponse(description="A figure is negative or malformed, as_of is in the future, a ticker is unknown "
                                             "or listed twice (the field is named); nothing is written."),
            403: OpenApiResponse(description="The Investing Fund is not active."),
        },
    )
    def post(self, request):
        data = s.HoldingsReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        report = services.holdings_report_submit(
            investing_fund=_own_investing_fund(request), actor=request.user, as_of=v["as_of"],
            total_assets=v["total_assets"], investment_company_assets=v["investment_company_assets"],
            holdings=[services.HoldingInput(fund=h["fund"], shares=h["shares"], value=h["value"]) for h in v["holdings"]],
        )
        report = selectors.holdings_reports_for_investing_fund(investing_fund=report.investing_fund).get(pk=report.pk)
        return Response(s.HoldingsReportOutput(report).data, status=status.HTTP_201_CREATED)
