from rest_framework import serializers

from funds.models import Fund, Holding, NetAssetValue, Portfolio, Security, Strike


class FundOutput(serializers.ModelSerializer):
    trust = serializers.CharField(source="trust.name")
    adviser = serializers.CharField(source="adviser.name")
    distributor = serializers.CharField(source="distributor.name")

    class Meta:
        model = Fund
        fields = [
            "ticker", "name", "cusip", "listing_exchange", "trust", "adviser", "distributor", "creation_unit_size",
            "launch_date", "initial_price", "intraday_strike_time", "end_of_day_strike_time",
            "corrective_action_threshold_pct", "tracking_error_threshold_pct", "is_active",
        ]


class NavOutput(serializers.ModelSerializer):
    class Meta:
        model = NetAssetValue
        fields = ["date", "strike", "strike_at", "struck_at", "net_assets", "shares_outstanding", "nav_per_share"]


class NavExplainOutput(serializers.ModelSerializer):
    portfolio_as_of = serializers.DateField(source="portfolio.as_of")

    class Meta:
        model = NetAssetValue
        fields = [
            "date", "strike", "strike_at", "struck_at", "price_basis", "portfolio_as_of", "holdings_count",
            "securities_value", "cash", "liabilities", "net_assets", "shares_outstanding", "nav_per_share", "inputs",
        ]


class NavStrikeInput(serializers.Serializer):
    date = serializers.DateField()
    strike = serializers.ChoiceField(choices=Strike.choices)


class HoldingOutput(serializers.ModelSerializer):
    ticker = serializers.CharField(source="security.ticker")
    cusip = serializers.CharField(source="security.cusip")
    description = serializers.CharField(source="security.description")

    class Meta:
        model = Holding
        fields = ["ticker", "cusip", "description", "quantity"]


class PortfolioOutput(serializers.ModelSerializer):
    fund = serializers.CharField(source="fund.ticker")
    holdings = HoldingOutput(many=True)

    class Meta:
        model = Portfolio
        fields = ["fund", "as_of", "cash", "liabilities", "holdings"]


class SecurityOutput(serializers.ModelSerializer):
    class Meta:
        model = Security
        fields = [
            "ticker", "cusip", "isin", "description", "asset_class", "sector", "industry", "exchange", "country", "is_foreign",
            "round_lot", "average_daily_volume", "identifiers_synthetic", "is_active",
        ]


class DateQuery(serializers.Serializer):
    date = serializers.DateField(required=False)


class DateRangeQuery(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"start": "start must be on or before end."})
        return attrs
