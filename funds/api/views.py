"""Thin API views: parse input, call one selector or service, serialize the answer."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.permissions import CanSeeHoldings, IsInternalStaff, IsOperations
from funds import business_calendar, selectors, services
from funds.api import serializers as s
from funds.models import NetAssetValue


class FundListApi(generics.ListAPIView):
    """Every active Fund: public terms only."""

    serializer_class = s.FundOutput

    def get_queryset(self):
        return selectors.fund_list()


class FundDetailApi(APIView):
    @extend_schema(responses=s.FundOutput)
    def get(self, request, ticker: str):
        return Response(s.FundOutput(selectors.fund_get(ticker=ticker)).data)


class FundNavListApi(generics.ListAPIView):
    """Published NAVs of a Fund (Intra-Day and End of Day), newest first."""

    serializer_class = s.NavOutput

    @extend_schema(parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no ticker
            return NetAssetValue.objects.none()
        query = s.DateRangeQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        fund = selectors.fund_get(ticker=self.kwargs["ticker"])
        return selectors.nav_list(fund=fund, **query.validated_data)


class NavExplainApi(APIView):
    """One NAV with every input it used. Reveals holdings, so only roles that may see them."""

    permission_classes = [CanSeeHoldings]

    @extend_schema(responses=s.NavExplainOutput)
    def get(self, request, ticker: str, date: str, strike: str):
        query = s.DateQuery(data={"date": date})
        query.is_valid(raise_exception=True)
        fund = selectors.fund_get(ticker=ticker)
        nav = selectors.nav_get(fund=fund, day=query.validated_data["date"], strike=strike)
        return Response(s.NavExplainOutput(nav).data)


class NavStrikeApi(APIView):
    """Strike a NAV now (Operations). A strike already made returns the existing NAV."""

    permission_classes = [IsOperations]

    @extend_schema(request=s.NavStrikeInput, responses={201: s.NavOutput, 200: s.NavOutput})
    def post(self, request, ticker: str):
        data = s.NavStrikeInput(data=request.data)
        data.is_valid(raise_exception=True)
        fund = selectors.fund_get(ticker=ticker)
        outcome = services.nav_strike(fund_id=fund.pk, day=data.validated_data["date"], strike=data.validated_data["strike"], actor=request.user)
        code = status.HTTP_201_CREATED if outcome.status == "STRUCK" else status.HTTP_200_OK
        return Response(s.NavOutput(outcome.nav).data, status=code)


class PortfolioApi(APIView):
    """The confidential portfolio forming the basis of the NAV on a date (default: today)."""

    permission_classes = [CanSeeHoldings]

    @extend_schema(parameters=[OpenApiParameter("date", str)], responses=s.PortfolioOutput)
    def get(self, request, ticker: str):
        query = s.DateQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        on = query.validated_data.get("date") or business_calendar.business_date(timezone.now())
        fund = selectors.fund_get(ticker=ticker)
        portfolio = selectors.portfolio_visible_to(user=request.user, fund=fund, on=on)
        return Response(s.PortfolioOutput(portfolio).data)


class SecurityListApi(generics.ListAPIView):
    """The security master (internal staff)."""

    permission_classes = [IsInternalStaff]
    serializer_class = s.SecurityOutput
    filterset_fields = ["asset_class", "exchange", "country", "is_active"]

    def get_queryset(self):
        return selectors.security_list()
