"""The fof API: an Investing Fund registers (no account yet), then reads its own record."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from backoffice import roles
from fof import selectors, services
from fof.api import serializers as s


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
