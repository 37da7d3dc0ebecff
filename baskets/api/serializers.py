"""Basket API shapes. Only public fields: never holdings, the portfolio, the protected set or the engine report."""

from rest_framework import serializers

from baskets.models import BasketComponent, SubstituteBasket
from funds.api.serializers import DateRangeQuery  # noqa: F401  (shared query shape)


class ComponentOutput(serializers.ModelSerializer):
    ticker = serializers.CharField(source="security.ticker")
    cusip = serializers.CharField(source="security.cusip")
    description = serializers.CharField(source="security.description")

    class Meta:
        model = BasketComponent
        fields = ["ticker", "cusip", "description", "quantity", "price", "market_value", "weight_pct", "cash_in_lieu"]


class MetricsOutput(serializers.ModelSerializer):
    """The Substitute Basket Metrics published with the basket (percent)."""

    fund = serializers.CharField(source="fund.ticker")
    supersedes_version = serializers.IntegerField(source="supersedes.version", allow_null=True, default=None)

    class Meta:
        model = SubstituteBasket
        fields = [
            "fund", "trade_date", "version", "supersedes_version", "correction_reason", "published_at",
            "basket_overlap_pct", "basket_overlap_note", "active_share_pct", "tracking_error_pct",
            "tracking_error_observations", "tracking_error_note", "ex_ante_tracking_error_pct",
            "represented_share_pct", "correlation", "component_count",
        ]


class BasketOutput(MetricsOutput):
    """The day's Substitute Basket, which is also the Creation Basket, per Creation Unit."""

    components = serializers.SerializerMethodField()

    class Meta(MetricsOutput.Meta):
        fields = MetricsOutput.Meta.fields + [
            "nav_per_share", "creation_unit_size", "nav_per_creation_unit", "securities_value", "cash_amount",
            "shares_outstanding", "components",
        ]

    def get_components(self, basket) -> list[dict]:
        return ComponentOutput(self.context["components"], many=True).data


class BasketQuery(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="Trade date (default: the latest published).")
    version = serializers.IntegerField(required=False, min_value=1, help_text="A specific version (default: the current one).")
