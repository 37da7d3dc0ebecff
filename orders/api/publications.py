"""AP API of the one dissemination channel: released Publications, byte for byte, the same for every AP.

Nothing here depends on which AP asks: the selectors take no user, and before its release time a
Publication answers the same 404 as a sequence that does not exist. AP users of an active AP read
and acknowledge; internal staff may read too. Webhook deliveries are in ``orders.dissemination``.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice import roles
from backoffice.permissions import HasRole
from baskets import selectors as basket_selectors
from baskets.models import Publication
from funds import business_calendar
from funds.selectors import fund_get
from orders import dissemination, services
from orders.api import serializers as s
from orders.models import AuthorizedParticipant


class IsAuthorizedParticipant(HasRole):
    allowed_roles = (roles.AUTHORIZED_PARTICIPANT,)


class CanReadPublications(HasRole):
    allowed_roles = (roles.AUTHORIZED_PARTICIPANT, *roles.INTERNAL_ROLES)


def _active_participant(user) -> AuthorizedParticipant:
    participant = services.participant_for_user(user)
    if participant.status != AuthorizedParticipant.Status.ACTIVE:
        raise services.NotEntitled(f"{participant.legal_name} is {participant.get_status_display().lower()}: it receives no Publications.")
    return participant


def _check_reader(user) -> None:
    """AP users read only while their AP is active; internal staff always."""
    if not roles.user_has_role(user, *roles.INTERNAL_ROLES):
        _active_participant(user)


class PublicationListApi(APIView):
    """Released Publications in sequence order (a feed: pass the last sequence you hold as ?after=)."""

    permission_classes = [CanReadPublications]

    @extend_schema(operation_id="publications_list", parameters=[s.PublicationQuery], responses=s.PublicationPageOutput)
    def get(self, request):
        _check_reader(request.user)
        query = s.PublicationQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        publications = list(basket_selectors.publications_released(
            at=timezone.now(), after=data["after"], kind=data.get("kind"), fund_ticker=data.get("fund"),
        )[: data["limit"]])
        next_after = publications[-1].sequence if len(publications) == data["limit"] else None
        return Response({"results": s.PublicationOutput(publications, many=True).data, "next_after": next_after})


class PublicationDetailApi(APIView):
    """The exact payload bytes the webhooks carry, with the same headers (no signature: the API is authenticated)."""

    permission_classes = [CanReadPublications]

    @extend_schema(operation_id="publications_retrieve", responses={(200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The canonical payload"),
                              404: OpenApiResponse(description="Not released yet, or no such sequence (the same answer)")})
    def get(self, request, sequence: int):
        _check_reader(request.user)
        publication = basket_selectors.publication_released_get(sequence=sequence, at=timezone.now())
        headers = dissemination.publication_headers(publication)
        response = HttpResponse(publication.payload_bytes, content_type=headers.pop("Content-Type"))
        for name, value in headers.items():
            response[name] = value
        return response


class PublicationAckApi(APIView):
    """The AP acknowledges it holds a Publication (recorded in the dissemination log)."""

    permission_classes = [IsAuthorizedParticipant]

    @extend_schema(request=None, responses={200: s.AcknowledgementOutput, 404: OpenApiResponse(description="Not released, or no such sequence")})
    def post(self, request, sequence: int):
        participant = _active_participant(request.user)
        row = dissemination.dissemination_acknowledge(participant=participant, sequence=sequence, now=timezone.now())
        return Response(s.AcknowledgementOutput(row).data)


class AlternateBasketListApi(APIView):
    """The Fund's released Alternate Baskets for a day, read from their Publications (what every AP received)."""

    permission_classes = [CanReadPublications]

    @extend_schema(operation_id="funds_alternate_baskets_list", parameters=[OpenApiParameter("date", OpenApiTypes.DATE)],
                   responses=s.PublicationOutput(many=True))
    def get(self, request, ticker: str):
        _check_reader(request.user)
        query = s.AlternateBasketsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        now = timezone.now()
        fund = fund_get(ticker=ticker)
        day = query.validated_data.get("date") or business_calendar.business_date(now)
        publications = basket_selectors.publications_released(
            at=now, kind=Publication.Kind.ALTERNATE_BASKET, fund_ticker=fund.ticker, trade_date=day,
        )
        return Response(s.PublicationOutput(publications, many=True).data)
