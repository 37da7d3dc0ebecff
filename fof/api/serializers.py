"""Input and output serializers of the fof API: one pair per operation."""

from __future__ import annotations

from rest_framework import serializers

from fof.models import (
    InvestingFund,
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
