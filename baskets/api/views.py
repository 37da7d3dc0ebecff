"""Basket API: the day's Creation Basket, its metrics and their history, and the PCF (AP users and staff)."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.permissions import HasRole
from baskets import pcf, selectors
from baskets.api import serializers as s
from baskets.models import SubstituteBasket
from funds.selectors import fund_get

BASKET_PARAMETERS = [
    OpenApiParameter("date", OpenApiTypes.DATE, description="Trade date (default: the latest published)."),
    OpenApiParameter("version", OpenApiTypes.INT, description="A specific version (default: the current one)."),
]


class CanReadBaskets(HasRole):
    allowed_roles = selectors.BASKET_READER_ROLES


def _basket(request, ticker: str) -> SubstituteBasket:
    query = s.BasketQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    fund = fund_get(ticker=ticker)
    return selectors.basket_get(fund=fund, trade_date=query.validated_data.get("date"), version=query.validated_data.get("version"))


class BasketApi(APIView):
    """The Substitute Basket (the day's Creation Basket) per Creation Unit, with its metrics."""

    permission_classes = [CanReadBaskets]

    @extend_schema(parameters=BASKET_PARAMETERS, responses=s.BasketOutput)
    def get(self, request, ticker: str):
        basket = _basket(request, ticker)
        components = selectors.basket_components(basket=basket)
        return Response(s.BasketOutput(basket, context={"components": components}).data)


class BasketPcfApi(APIView):
    """The basket as a Portfolio Composition File (CSV modelled on NSCC's PCF)."""

    permission_classes = [CanReadBaskets]

    @extend_schema(parameters=BASKET_PARAMETERS, responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="PCF CSV")})
    def get(self, request, ticker: str):
        basket = _basket(request, ticker)
        body = pcf.pcf_csv(basket, selectors.basket_components(basket=basket), created_at=timezone.now())
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{pcf.pcf_filename(basket)}"'
        return response


class BasketMetricsHistoryApi(generics.ListAPIView):
    """Every published version's metrics, newest first (corrections included, each with its reason)."""

    permission_classes = [CanReadBaskets]
    serializer_class = s.MetricsOutput

    @extend_schema(parameters=[OpenApiParameter("start", OpenApiTypes.DATE), OpenApiParameter("end", OpenApiTypes.DATE)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SubstituteBasket.objects.none()
        query = s.DateRangeQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        fund = fund_get(ticker=self.kwargs["ticker"])
        return selectors.basket_history(fund=fund, **query.validated_data)
