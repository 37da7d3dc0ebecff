"""Writes and workflows of the baskets app. Import from here: ``from baskets.services import ...``."""

from baskets.services.protected import protected_security_designate, protected_security_end
from baskets.services.publication import (
    BasketInputError,
    BasketOutcome,
    SpreadOutcome,
    Status,
    proxy_spreads_record,
    proxy_spreads_record_due,
    substitute_basket_correct,
    substitute_baskets_publish,
    substitute_baskets_publish_due,
)

__all__ = [
    "BasketInputError",
    "BasketOutcome",
    "SpreadOutcome",
    "Status",
    "protected_security_designate",
    "protected_security_end",
    "proxy_spreads_record",
    "proxy_spreads_record_due",
    "substitute_basket_correct",
    "substitute_baskets_publish",
    "substitute_baskets_publish_due",
]
