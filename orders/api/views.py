"""Order API: thin views over orders.services and orders.selectors."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice import roles
from backoffice.exceptions import NotFound
from backoffice.permissions import HasRole
from funds.models import Fund
from orders import records, selectors, services
from orders.api import serializers as s
from orders.models import AuthorizedParticipantAgreement, Order

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="Unique per order (e.g. a UUID). Retrying with the same key and payload returns the same order; "
    "the same key with another payload is refused (422).",
)


class IsAuthorizedParticipant(HasRole):
    allowed_roles = (roles.AUTHORIZED_PARTICIPANT,)


class CanReadOrders(HasRole):
    allowed_roles = (roles.AUTHORIZED_PARTICIPANT, *selectors.ORDER_STAFF_ROLES)


class IsOperations(HasRole):
    allowed_roles = (roles.OPERATIONS,)


class IsApRelationship(HasRole):
    allowed_roles = (roles.AP_RELATIONSHIP,)


class CanReadAgreements(HasRole):
    allowed_roles = (roles.AUTHORIZED_PARTICIPANT, roles.AP_RELATIONSHIP, roles.COMPLIANCE, roles.OPERATIONS)


class CanExportRecords(HasRole):
    allowed_roles = (roles.COMPLIANCE, roles.OPERATIONS, roles.AP_RELATIONSHIP, roles.BOARD)


class OrderListCreateApi(APIView):
    """AP users place orders and list their own; internal staff list every AP's orders."""

    def get_permissions(self):
        return [IsAuthorizedParticipant()] if self.request.method == "POST" else [CanReadOrders()]

    def dispatch(self, request, *args, **kwargs):
        # Receipt is stamped before anything else runs; a client-supplied time is never read.
        request.received_at = timezone.now()
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(parameters=[OpenApiParameter("fund", str), OpenApiParameter("status", str), OpenApiParameter("side", str),
                               OpenApiParameter("start", OpenApiTypes.DATE), OpenApiParameter("end", OpenApiTypes.DATE),
                               OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
                   responses=s.OrderOutput(many=True))
    def get(self, request):
        query = s.OrderQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        orders = selectors.order_list(user=request.user, **query.validated_data)
        paginator = generics.GenericAPIView.pagination_class()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(s.OrderOutput(page, many=True).data)

    @extend_schema(parameters=[IDEMPOTENCY_HEADER], request=s.OrderInput,
                   responses={201: s.OrderOutput, 200: OpenApiResponse(s.OrderOutput, description="Idempotent replay"),
                              422: OpenApiResponse(description="Rejected (after the cut-off) or key reused")})
    def post(self, request):
        participant = services.participant_for_user(request.user)
        key = services.validate_idempotency_key(request.headers.get("Idempotency-Key"))
        payload = s.OrderInput(data=request.data)
        payload.is_valid(raise_exception=True)
        placed = services.order_place(
            actor=request.user, participant=participant, request=payload.to_request(), idempotency_key=key,
            received_at=request.received_at,
        )
        order = placed.order
        body = s.OrderOutput(order).data
        headers = {"Location": f"/api/orders/{order.reference}/"}
        if placed.replayed:
            headers["Idempotent-Replayed"] = "true"
        if order.status == Order.Status.REJECTED:
            error = {"code": "order_rejected", "message": order.rejection_message, "details": {"order": body}}
            return Response({"error": error}, status=status.HTTP_422_UNPROCESSABLE_ENTITY, headers=headers)
        return Response(body, status=status.HTTP_200_OK if placed.replayed else status.HTTP_201_CREATED, headers=headers)


class OrderDetailApi(APIView):
    permission_classes = [CanReadOrders]

    @extend_schema(responses=s.OrderDetailOutput)
    def get(self, request, reference: str):
        order = selectors.order_get(user=request.user, reference=reference)
        return Response(s.OrderDetailOutput(order, context={"events": selectors.order_events(order=order)}).data)


class OrderCancelApi(APIView):
    """The AP cancels its own accepted order before the cut-off."""

    permission_classes = [IsAuthorizedParticipant]

    @extend_schema(request=None, responses=s.OrderOutput)
    def post(self, request, reference: str):
        order = selectors.order_get(user=request.user, reference=reference)
        return Response(s.OrderOutput(services.order_cancel(actor=request.user, order=order)).data)


class OrderSettleApi(APIView):
    """Operations confirm settlement (the Shares are issued or cancelled)."""

    permission_classes = [IsOperations]

    @extend_schema(request=s.SettleInput, responses=s.OrderOutput)
    def post(self, request, reference: str):
        payload = s.SettleInput(data=request.data)
        payload.is_valid(raise_exception=True)
        order = selectors.order_get(user=request.user, reference=reference)
        order = services.order_settle(actor=request.user, order=order, **payload.validated_data)
        return Response(s.OrderOutput(order).data)


class OrderFailApi(APIView):
    permission_classes = [IsOperations]

    @extend_schema(request=s.FailInput, responses=s.OrderOutput)
    def post(self, request, reference: str):
        payload = s.FailInput(data=request.data)
        payload.is_valid(raise_exception=True)
        order = selectors.order_get(user=request.user, reference=reference)
        return Response(s.OrderOutput(services.order_fail(actor=request.user, order=order, **payload.validated_data)).data)


class CsvQueryFormatNegotiation(DefaultContentNegotiation):
    """``?format=csv`` asks the view for its CSV body. DRF reads ``format`` as a renderer override and,
    having no "csv" renderer, would answer 404; here it negotiates as if absent (errors still answer JSON)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if request.query_params.get(self.settings.URL_FORMAT_OVERRIDE) == "csv":
            renderer = next((r for r in renderers if r.format == "json"), renderers[0])
            return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)


class OrderBasketRecordApi(APIView):
    """Condition A.9(c): the Creation Basket exchanged for this order (JSON, or CSV with ?format=csv)."""

    permission_classes = [CanReadOrders]
    content_negotiation_class = CsvQueryFormatNegotiation

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["json", "csv"])], responses=s.BasketRecordOutput)
    def get(self, request, reference: str):
        order = selectors.order_get(user=request.user, reference=reference)
        record = selectors.basket_record_for(order=order)
        if request.query_params.get("format") == "csv":
            return _csv(records.records_csv([record]), f"{order.reference}_creation_basket.csv")
        return Response(s.BasketRecordOutput(record).data)


class BasketRecordsExportApi(APIView):
    """Every Creation Basket exchanged in a date range, as CSV (staff)."""

    permission_classes = [CanExportRecords]

    @extend_schema(parameters=[OpenApiParameter("start", OpenApiTypes.DATE, required=True),
                               OpenApiParameter("end", OpenApiTypes.DATE, required=True), OpenApiParameter("fund", str)],
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)})
    def get(self, request):
        query = s.RecordsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        fund_ids = list(Fund.objects.filter(ticker=data["fund"].upper()).values_list("pk", flat=True)) if data.get("fund") else None
        rows = selectors.basket_records(start=data["start"], end=data["end"], fund_ids=fund_ids)
        return _csv(records.records_csv(rows), f"creation_baskets_{data['start']}_{data['end']}.csv")


def _csv(body: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ParticipantMeApi(APIView):
    """The AP the calling user acts for."""

    permission_classes = [IsAuthorizedParticipant]

    @extend_schema(responses=s.ParticipantOutput)
    def get(self, request):
        return Response(s.ParticipantOutput(services.participant_for_user(request.user)).data)


class AgreementListApi(generics.ListAPIView):
    """AP users: their own AP's agreements. AP Relationship, Operations and Compliance: every AP's."""

    serializer_class = s.AgreementOutput
    permission_classes = [CanReadAgreements]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuthorizedParticipantAgreement.objects.none()
        return selectors.agreements_visible_to(user=self.request.user)


class AgreementDetailApi(APIView):
    """Read one agreement; AP Relationship staff may delete one only after its retention period."""

    def get_permissions(self):
        return [IsApRelationship()] if self.request.method == "DELETE" else [CanReadAgreements()]

    def _get(self, request, pk: int) -> AuthorizedParticipantAgreement:
        agreement = selectors.agreements_visible_to(user=request.user).filter(pk=pk).first()
        if agreement is None:
            raise NotFound(f"No agreement {pk}.")
        return agreement

    @extend_schema(responses=s.AgreementOutput)
    def get(self, request, pk: int):
        return Response(s.AgreementOutput(self._get(request, pk)).data)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="Inside the retention period")})
    def delete(self, request, pk: int):
        services.agreement_delete(actor=request.user, agreement=self._get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrderRequireCashApi(APIView):
    """Operations: the Fund requires this accepted in-kind order to be made in cash (reason recorded)."""

    permission_classes = [IsOperations]

    @extend_schema(request=s.RequireCashInput, responses=s.OrderOutput)
    def post(self, request, reference: str):
        payload = s.RequireCashInput(data=request.data)
        payload.is_valid(raise_exception=True)
        order = selectors.order_get(user=request.user, reference=reference)
        return Response(s.OrderOutput(services.order_require_cash(actor=request.user, order=order, **payload.validated_data)).data)


class CashDayApi(APIView):
    """Operations announce, before the open, that a day's creations and/or redemptions are wholly or partly in cash."""

    permission_classes = [IsOperations]

    @extend_schema(request=s.CashDayInput, responses={201: s.CashDayOutput})
    def post(self, request, ticker: str):
        from funds.selectors import fund_get

        payload = s.CashDayInput(data=request.data)
        payload.is_valid(raise_exception=True)
        announcement = services.cash_day_announce(actor=request.user, fund=fund_get(ticker=ticker), **payload.validated_data)
        return Response(s.CashDayOutput(announcement).data, status=status.HTTP_201_CREATED)
