"""Input and output serializers of the fof API: one pair per operation."""

from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fof.acknowledgments import ACKNOWLEDGMENTS
from fof.models import (
    AffiliateListVersion,
    HoldingsReport,
    AgreementAcknowledgment,
    InvestingFund,
    ParticipationAgreement,
    validate_adviser_file_number,
    validate_adviser_or_broker_dealer_file_number,
    validate_investment_company_file_number,
)


class StrictCharField(serializers.CharField):
    """A CharField that refuses a number or a boolean instead of turning it into text (the schema says string)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AdviserInput(serializers.Serializer):
    name = StrictCharField(max_length=200, help_text="The Investing Fund Adviser, or the Sponsor of an Investing Trust.")
    sec_file_number = StrictCharField(
        max_length=12, required=False, allow_blank=True, default="",
        validators=[validate_adviser_or_broker_dealer_file_number],
        help_text="801-12345 for an Investing Fund Adviser (required); a Sponsor may give 801-…, 8-… or nothing.",
    )


class SubAdviserInput(serializers.Serializer):
    name = StrictCharField(max_length=200)
    sec_file_number = StrictCharField(max_length=12, validators=[validate_adviser_file_number], help_text="801-12345")


class ContactInput(serializers.Serializer):
    name = StrictCharField(max_length=200)
    email = serializers.EmailField()
    phone = StrictCharField(max_length=40, required=False, allow_blank=True, default="")


class RegistrationInput(serializers.Serializer):
    legal_name = StrictCharField(max_length=200)
    kind = serializers.ChoiceField(choices=InvestingFund.Kind.choices)
    sec_file_number = StrictCharField(
        max_length=12, validators=[validate_investment_company_file_number],
        help_text="The Investing Fund's investment company file number, e.g. 811-12345.",
    )
    adviser = AdviserInput()
    sub_advisers = SubAdviserInput(many=True, required=False, default=list)
    contact = ContactInput()


class RegistrationOutput(serializers.ModelSerializer):
    class Meta:
        model = InvestingFund
        fields = ["registration_reference", "legal_name", "status"]


class SubAdviserOutput(serializers.Serializer):
    name = serializers.CharField()
    sec_file_number = serializers.CharField()


class InvestingFundOutput(serializers.ModelSerializer):
    sub_advisers = SubAdviserOutput(many=True, read_only=True)

    class Meta:
        model = InvestingFund
        fields = [
            "registration_reference", "legal_name", "kind", "sec_file_number", "status",
            "adviser_name", "adviser_sec_file_number", "sub_advisers", "contact_name", "contact_email",
            "contact_phone", "reviewed_at", "created_at",
        ]


# --- FOF Participation Agreements ------------------------------------------------------------------


class StrictPositiveIntegerField(serializers.IntegerField):
    """An IntegerField that refuses "1" or 1.0 (the schema says integer)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class FofAgreementCreateInput(serializers.Serializer):
    fund = StrictCharField(max_length=10, help_text="The Fund's ticker.")


class AcknowledgmentInput(serializers.Serializer):
    code = StrictCharField(max_length=40)
    text_version = StrictPositiveIntegerField(min_value=1)


class FofAgreementSignInput(serializers.Serializer):
    acknowledgments = AcknowledgmentInput(many=True, help_text="Every required acknowledgment, at its current text version.")


class AcknowledgmentOutput(serializers.ModelSerializer):
    class Meta:
        model = AgreementAcknowledgment
        fields = ["code", "text_version", "text", "accepted_at"]


class RequiredAcknowledgmentOutput(serializers.Serializer):
    code = serializers.CharField()
    text_version = serializers.IntegerField()
    text = serializers.CharField()


class FofAgreementOutput(serializers.ModelSerializer):
    fund = serializers.CharField(source="fund.ticker")
    acknowledgments = AcknowledgmentOutput(many=True, read_only=True)
    required_acknowledgments = serializers.SerializerMethodField()

    class Meta:
        model = ParticipationAgreement
        fields = [
            "id", "fund", "status", "created_at", "signed_at", "countersigned_at", "closed_at", "closing_reason",
            "acknowledgments", "required_acknowledgments",
        ]

    @extend_schema_field(RequiredAcknowledgmentOutput(many=True))
    def get_required_acknowledgments(self, obj) -> list[dict]:
        return [{"code": code, "text_version": version, "text": body} for code, (version, body) in ACKNOWLEDGMENTS.items()]


# --- Affiliate lists -------------------------------------------------------------------------------


class AffiliateInput(serializers.Serializer):
    name = StrictCharField(max_length=200)
    sec_number = StrictCharField(max_length=20, required=False, allow_blank=True, default="", help_text="SEC file number, if any.")
    crd_number = StrictCharField(
        max_length=10, required=False, allow_blank=True, default="", help_text="FINRA CRD number, if any (digits).",
        validators=[RegexValidator(r"^\d{1,10}$", "A CRD number is digits only.")],
    )


class AffiliateListInput(serializers.Serializer):
    investing_fund_affiliates = AffiliateInput(many=True, allow_empty=True)
    underwriting_affiliates = AffiliateInput(many=True, allow_empty=True)


class AffiliateOutput(serializers.Serializer):
    name = serializers.CharField()
    sec_number = serializers.CharField()
    crd_number = serializers.CharField()


class AffiliateListOutput(serializers.ModelSerializer):
    investing_fund_affiliates = AffiliateOutput(many=True)
    underwriting_affiliates = AffiliateOutput(many=True)
    submitted_by = serializers.CharField(source="submitted_by.username")

    class Meta:
        model = AffiliateListVersion
        fields = ["version", "investing_fund_affiliates", "underwriting_affiliates", "submitted_by", "submitted_at"]


# --- Holdings reports ------------------------------------------------------------------------------


class StrictDecimalField(serializers.DecimalField):
    """A DecimalField that takes the decimal as a string only (the schema says string), e.g. "1250000.00"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDateField(serializers.DateField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(data)


class HoldingInput(serializers.Serializer):
    fund = StrictCharField(max_length=10, help_text="The Fund's ticker.")
    shares = StrictDecimalField(max_digits=24, decimal_places=6, help_text="Shares of the Fund held on as_of.")
    value = StrictDecimalField(max_digits=24, decimal_places=2, help_text="Their value on as_of.")


class HoldingsReportInput(serializers.Serializer):
    as_of = StrictDateField(help_text="The date of the figures (not in the future).")
    total_assets = StrictDecimalField(max_digits=24, decimal_places=2, help_text="The Investing Fund's total assets on as_of.")
    investment_company_assets = StrictDecimalField(
        max_digits=24, decimal_places=2, required=False, allow_null=True, default=None,
        help_text="All investment-company securities it holds (for 12(d)(1)(A)(iii)); defaults to its holdings of the Funds.",
    )
    holdings = HoldingInput(many=True, allow_empty=False)


class HoldingLineOutput(serializers.Serializer):
    fund = serializers.CharField(source="fund.ticker")
    shares = serializers.DecimalField(max_digits=24, decimal_places=6)
    value = serializers.DecimalField(max_digits=24, decimal_places=2)
    shares_outstanding = serializers.DecimalField(max_digits=24, decimal_places=6)


class HoldingsReportOutput(serializers.ModelSerializer):
    holdings = HoldingLineOutput(source="lines", many=True, read_only=True)
    results = serializers.JSONField(
        read_only=True,
        help_text="holdings: (A)(i)-(iii) per Fund; aggregates: 12(d)(1)(B) per Fund; groups: condition B.1 per Fund. "
                  "Each figure with percent, limit, over_limit, breached and message.",
    )

    class Meta:
        model = HoldingsReport
        fields = ["id", "as_of", "total_assets", "investment_company_assets", "holdings", "results", "submitted_at"]
