"""Order API shapes. AP users see only their own AP's data; nothing here carries holdings or the protected set."""

from __future__ import annotations

import json

from rest_framework import serializers

from baskets.models import Publication
from baskets.services.dissemination import release_stamp
from funds.api.serializers import DateRangeQuery
from orders.models import (
    AuthorizedParticipant, AuthorizedParticipantAgreement, CashAnnouncement, ClearingProcess, CreationBasketRecord,
    CreationBasketRecordLine, Order, OrderEvent,
)
from orders.services import OrderRequest


class StrictPositiveIntegerField(serializers.IntegerField):
    """A JSON integer: "2", 2.0, 1.5 and true are refused rather than coerced."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)

    default_error_messages = {"invalid": "A whole number of Creation Units is required (a JSON integer, 1 or more)."}


class OrderInput(serializers.Serializer):
    fund = serializers.CharField(max_length=10, help_text="The Fund's ticker.")
    side = serializers.ChoiceField(choices=Order.Side.choices)
    creation_units = StrictPositiveIntegerField(min_value=1, max_value=100_000, help_text="Whole Creation Units, 1 or more.")
    basket_type = serializers.ChoiceField(choices=Order.BasketType.choices, default=Order.BasketType.STANDARD)
    substitute_basket_id = serializers.IntegerField(
        required=False, allow_null=True, help_text="Optional: the Creation Basket you trade on; refused unless it is today's current one."
    )
    alternate_basket_id = serializers.IntegerField(required=False, allow_null=True, help_text="Required for ALTERNATE.")
    settlement_channel = serializers.ChoiceField(choices=ClearingProcess.choices)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        ignored_times = {"received_at", "submitted_at", "timestamp", "client_time"}
        unknown = [name for name in unknown if name not in ignored_times]  # client times are ignored, by design
        if unknown:
            raise serializers.ValidationError({name: "Unknown field." for name in unknown})
        if attrs["basket_type"] == Order.BasketType.ALTERNATE and attrs.get("alternate_basket_id") is None:
            raise serializers.ValidationError({"alternate_basket_id": "Required when basket_type is ALTERNATE."})
        if attrs["basket_type"] != Order.BasketType.ALTERNATE and attrs.get("alternate_basket_id") is not None:
            raise serializers.ValidationError({"alternate_basket_id": "Only for basket_type ALTERNATE."})
        return attrs

    def to_request(self) -> OrderRequest:
        data = self.validated_data
        return OrderRequest(
            fund=data["fund"].strip().upper(), side=data["side"], creation_units=data["creation_units"], basket_type=data["basket_type"],
            settlement_channel=data["settlement_channel"], alternate_basket_id=data.get("alternate_basket_id"),
            substitute_basket_id=data.get("substitute_basket_id"),
        )


class OrderEventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username")

    class Meta:
        model = OrderEvent
        fields = ["from_status", "to_status", "at", "actor", "message"]


class OrderOutput(serializers.ModelSerializer):
    fund = serializers.CharField(source="fund.ticker")
    authorized_participant = serializers.CharField(source="participant.legal_name")
    creation_basket_id = serializers.IntegerField(source="substitute_basket_id", allow_null=True)
    priced_basket_id = serializers.IntegerField(allow_null=True)
    alternate_basket_id = serializers.IntegerField(source="alternate_basket_ref", allow_null=True)

    class Meta:
        model = Order
        fields = [
            "reference", "fund", "authorized_participant", "side", "creation_units", "shares", "basket_type", "creation_basket_id",
            "alternate_basket_id", "settlement_channel", "idempotency_key", "received_at", "trade_date", "strike", "cutoff_at",
            "status", "rejection_reason", "rejection_message", "ap_affiliated", "affiliation_note",
            "priced_at", "priced_basket_id", "nav_per_share", "nav_per_creation_unit", "nav_amount", "in_kind_value",
            "cash_in_lieu_amount", "basket_value", "balancing_amount", "balancing_amount_payer", "fixed_fee", "variable_fee",
            "total_fees", "net_cash_amount", "net_cash_payer", "settlement_date", "settlement_deadline", "delivers_foreign_stock",
            "settled_on", "settled_late", "failure_reason", "cash_reason", "cash_in_lieu_tickers",
        ]

    @property
    def _readable_fields(self):
        # Building the 40 fields costs more than rendering them, on every order placed (bench/order_load.py):
        # an OrderOutput renders with the fields of one shared instance (they keep no state per object or
        # request; their settings are read when built). Subclasses build their own, as usual.
        if type(self) is not OrderOutput:
            return super()._readable_fields
        fields = OrderOutput.__dict__.get("_shared_readable_fields")
        if fields is None:
            fields = OrderOutput._shared_readable_fields = tuple(f for f in OrderOutput().fields.values() if not f.write_only)
        return fields


class OrderDetailOutput(OrderOutput):
    events = serializers.SerializerMethodField()

    class Meta(OrderOutput.Meta):
        fields = OrderOutput.Meta.fields + ["events"]

    def get_events(self, order) -> list[dict]:
        return OrderEventOutput(self.context["events"], many=True).data


class OrderQuery(DateRangeQuery):
    fund = serializers.CharField(required=False, max_length=10)
    status = serializers.ChoiceField(required=False, choices=Order.Status.choices)
    side = serializers.ChoiceField(required=False, choices=Order.Side.choices)


class SettleInput(serializers.Serializer):
    settled_on = serializers.DateField()


class FailInput(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class RequireCashInput(serializers.Serializer):
    reason = serializers.CharField(max_length=250)


class CashDayInput(serializers.Serializer):
    trade_date = serializers.DateField()
    applies_to = serializers.ChoiceField(choices=CashAnnouncement.AppliesTo.choices)
    extent = serializers.ChoiceField(choices=CashAnnouncement.Extent.choices)
    cash_in_lieu_tickers = serializers.ListField(child=serializers.CharField(max_length=10), required=False, default=list)
    reason = serializers.CharField(max_length=300)


class CashDayOutput(serializers.ModelSerializer):
    fund = serializers.CharField(source="fund.ticker")
    publication_sequence = serializers.IntegerField(source="publication.sequence")

    class Meta:
        model = CashAnnouncement
        fields = ["fund", "trade_date", "applies_to", "extent", "cash_in_lieu_tickers", "reason", "announced_at", "publication_sequence"]


class RecordLineOutput(serializers.ModelSerializer):
    class Meta:
        model = CreationBasketRecordLine
        fields = ["ticker", "cusip", "description", "quantity", "weight_pct", "price", "market_value", "cash_in_lieu"]


class BasketRecordOutput(serializers.ModelSerializer):
    order = serializers.CharField(source="order.reference")
    fund = serializers.CharField(source="fund.ticker")
    authorized_participant = serializers.CharField(source="participant_name")
    lines = RecordLineOutput(many=True)

    class Meta:
        model = CreationBasketRecord
        fields = [
            "order", "fund", "trade_date", "side", "creation_units", "authorized_participant", "dtc_participant_number", "basket_type",
            "is_alternate_basket", "alternate_basket_compliance", "substitute_basket_id", "basket_value", "balancing_amount",
            "balancing_amount_payer", "cash_amount", "recorded_at", "retain_until", "lines",
        ]


class ParticipantOutput(serializers.ModelSerializer):
    class Meta:
        model = AuthorizedParticipant
        # The webhook secret is never returned (it is shown once, when AP Relationship issues it).
        fields = ["legal_name", "dtc_participant_number", "nscc_member", "nscc_process", "dtc_process", "status", "contact_name",
                  "contact_email", "contact_phone", "operations_email", "webhook_url"]


class AgreementOutput(serializers.ModelSerializer):
    authorized_participant = serializers.CharField(source="participant.legal_name")
    retained_until = serializers.DateField(allow_null=True)

    class Meta:
        model = AuthorizedParticipantAgreement
        fields = ["id", "authorized_participant", "version", "signed_on", "effective_from", "terminated_on", "termination_reason",
                  "document_sha256", "document_size", "uploaded_at", "retained_until"]


class RecordsQuery(DateRangeQuery):
    fund = serializers.CharField(required=False, max_length=10)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs.get("start") or not attrs.get("end"):
            raise serializers.ValidationError({"start": "start and end are both required."})
        return attrs


# --- Publications (orders.api.publications): the same for every AP -----------------------------------


class PublicationQuery(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1, default=0, help_text="Only sequences above this one.")
    kind = serializers.ChoiceField(required=False, choices=Publication.Kind.choices)
    fund = serializers.CharField(required=False, max_length=10)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


class PublicationOutput(serializers.Serializer):
    sequence = serializers.IntegerField()
    kind = serializers.CharField()
    fund = serializers.CharField(source="fund.ticker")
    trade_date = serializers.DateField()
    release_at = serializers.SerializerMethodField(help_text="The X-ETF-Release-At stamp (UTC, microseconds).")
    payload_sha256 = serializers.CharField()
    chain_sha256 = serializers.CharField()
    payload = serializers.SerializerMethodField(help_text="The payload parsed; GET /api/publications/<sequence>/ serves its exact bytes.")

    def get_release_at(self, publication) -> str:
        return release_stamp(publication.release_at)

    def get_payload(self, publication) -> dict:
        return json.loads(publication.payload)


class PublicationPageOutput(serializers.Serializer):
    results = PublicationOutput(many=True)
    next_after = serializers.IntegerField(allow_null=True, help_text="Pass as ?after= for the next page; null on the last page.")


class AcknowledgementOutput(serializers.Serializer):
    sequence = serializers.IntegerField(source="publication.sequence")
    acknowledged_at = serializers.DateTimeField()
    status = serializers.CharField()


class AlternateBasketsQuery(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="Trade date (default: today in New York).")
