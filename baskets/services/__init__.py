"""Writes and workflows of the baskets app. Import from here: ``from baskets.services import ...``."""

from baskets.services.alternate import (
    DraftLine,
    FourEyesViolation,
    alternate_basket_approve,
    alternate_basket_checks,
    alternate_basket_draft,
    alternate_basket_reject,
    alternate_basket_revise,
    alternate_basket_submit,
    alternate_basket_usable,
    alternate_baskets_release_due,
)
from baskets.services.dissemination import canonical_json, publication_append, release_stamp
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
    "DraftLine",
    "FourEyesViolation",
    "alternate_basket_approve",
    "alternate_basket_checks",
    "alternate_basket_draft",
    "alternate_basket_reject",
    "alternate_basket_revise",
    "alternate_basket_submit",
    "alternate_basket_usable",
    "alternate_baskets_release_due",
    "canonical_json",
    "publication_append",
    "release_stamp",
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
