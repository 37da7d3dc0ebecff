"""Creating and changing Funds and securities: validate fully, then write once, with the actor recorded."""

from __future__ import annotations

from django.db import transaction

from funds.models import Fund, Security

FUND_EDITABLE = {
    "trust", "adviser", "distributor", "name", "ticker", "cusip", "listing_exchange", "creation_unit_size",
    "launch_date", "initial_price", "intraday_strike_time", "end_of_day_strike_time",
    "corrective_action_threshold_pct", "tracking_error_threshold_pct", "is_active",
}
SECURITY_EDITABLE = {
    "ticker", "cusip", "isin", "description", "asset_class", "sector", "industry", "exchange", "country", "is_foreign",
    "round_lot", "average_daily_volume", "identifiers_synthetic", "is_active",
}


def _check_fields(fields: dict, allowed: set[str], what: str) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise TypeError(f"{what}: unknown field(s) {', '.join(unknown)}")


def _save_validated(instance, actor):
    # full_clean runs the field validators (Creation Unit >= 5,000, threshold caps,
    # CUSIP check digit) for every entry point, not only admin forms.
    instance.full_clean()
    instance._history_user = actor
    instance.save()
    return instance


@transaction.atomic
def fund_create(*, actor, **fields) -> Fund:
    _check_fields(fields, FUND_EDITABLE, "fund_create")
    return _save_validated(Fund(**fields), actor)


@transaction.atomic
def fund_update(*, fund_id: int, actor, **fields) -> Fund:
    _check_fields(fields, FUND_EDITABLE, "fund_update")
    fund = Fund.objects.select_for_update().get(pk=fund_id)
    for name, value in fields.items():
        setattr(fund, name, value)
    return _save_validated(fund, actor)


@transaction.atomic
def security_create(*, actor, **fields) -> Security:
    _check_fields(fields, SECURITY_EDITABLE, "security_create")
    return _save_validated(Security(**fields), actor)


@transaction.atomic
def security_update(*, security_id: int, actor, **fields) -> Security:
    _check_fields(fields, SECURITY_EDITABLE, "security_update")
    security = Security.objects.select_for_update().get(pk=security_id)
    for name, value in fields.items():
        setattr(security, name, value)
    return _save_validated(security, actor)
