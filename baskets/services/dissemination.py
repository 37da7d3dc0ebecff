"""One channel for every piece of non-public Fund information (Regulation FD, conditions A.8-A.10).

Everything that leaves the system for APs (the Substitute Basket and its metrics, corrections, Alternate
Baskets, cash announcements) is first committed as a ``Publication``: the exact payload, its release time
and its place in a SHA-256 hash chain. Delivery (webhooks to every active AP, and the AP API) reads only
Publications, only after their release time, and never for a subset of APs: the same bytes, the same
release timestamp, for all of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

import logging

from django.db import transaction
from django.dispatch import Signal

from baskets.models import GENESIS_SHA256, Publication, PublicationChainHead, SubstituteBasket

logger = logging.getLogger(__name__)

# Sent after the transaction that committed a Publication commits, with ``publication_id`` and
# ``release_at``. The app that delivers (orders.dissemination, above baskets in the dependency order)
# listens and schedules delivery at the release time; baskets never imports it. A receiver's failure is
# logged and never undoes the commit: the every-minute beat (disseminations-due) delivers anyway.
publication_committed = Signal()


def _announce(publication_id: int, release_at: dt.datetime) -> None:
    for receiver, outcome in publication_committed.send_robust(sender=Publication, publication_id=publication_id, release_at=release_at):
        if isinstance(outcome, Exception):
            logger.error("publication %s committed; %r failed: %r (the beat delivers it)", publication_id, receiver, outcome)


def canonical_json(payload: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text; Decimals and dates as strings: the same object, the same bytes."""

    def default(value):
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        raise TypeError(f"{type(value).__name__} is not allowed in a publication payload")

    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def release_stamp(release_at: dt.datetime) -> str:
    """The release time as every AP sees it (UTC, microseconds, ISO 8601)."""
    return release_at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def chain_hash(*, previous: str, sequence: int, kind: str, fund_ticker: str, release_at: dt.datetime, payload_sha256: str) -> str:
    link = "|".join([previous, str(sequence), kind, fund_ticker, release_stamp(release_at), payload_sha256])
    return sha256_hex(link.encode("utf-8"))


def _locked_head() -> PublicationChainHead:
    head = PublicationChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        PublicationChainHead.objects.get_or_create(pk=1, defaults={"last_sequence": 0, "last_chain_sha256": GENESIS_SHA256})
        head = PublicationChainHead.objects.select_for_update().get(pk=1)
    return head


def publication_append(
    *, kind: str, fund, trade_date: dt.date, release_at: dt.datetime, payload: dict, actor, now: dt.datetime,
    substitute_basket: SubstituteBasket | None = None, alternate_basket=None, source_reference: str = "",
) -> Publication:
    """Commit one Publication at the end of the hash chain (appends are serialised on the chain head row)."""
    if release_at.tzinfo is None:
        raise ValueError("release_at must be timezone-aware")
    text = canonical_json({**payload, "kind": kind, "fund": fund.ticker, "trade_date": trade_date.isoformat(),
                           "release_at": release_stamp(release_at)})
    payload_sha256 = sha256_hex(text.encode("utf-8"))
    with transaction.atomic():
        head = _locked_head()
        sequence = head.last_sequence + 1
        chained = chain_hash(previous=head.last_chain_sha256, sequence=sequence, kind=kind, fund_ticker=fund.ticker,
                             release_at=release_at, payload_sha256=payload_sha256)
        publication = Publication(
            sequence=sequence, kind=kind, fund=fund, trade_date=trade_date, release_at=release_at, payload=text,
            payload_sha256=payload_sha256, previous_chain_sha256=head.last_chain_sha256, chain_sha256=chained,
            substitute_basket=substitute_basket, alternate_basket=alternate_basket, source_reference=source_reference,
            created_at=now, created_by=actor,
        )
        publication._history_user = actor
        publication.save()
        head.last_sequence, head.last_chain_sha256 = sequence, chained
        head.save(update_fields=["last_sequence", "last_chain_sha256"])
        transaction.on_commit(lambda: _announce(publication.pk, release_at))
    return publication


def substitute_basket_payload(basket: SubstituteBasket, components) -> dict:
    """What APs receive: the basket per Creation Unit and its metrics. Never holdings or the protected set."""
    return {
        "version": basket.version,
        "supersedes_version": basket.supersedes.version if basket.supersedes_id else None,
        "correction_reason": basket.correction_reason,
        "creation_unit_size": basket.creation_unit_size,
        "nav_per_share": str(basket.nav_per_share),
        "nav_per_creation_unit": str(basket.nav_per_creation_unit),
        "securities_value": str(basket.securities_value),
        "estimated_cash_amount": str(basket.cash_amount),
        "metrics": {
            "basket_overlap_pct": _text(basket.basket_overlap_pct),
            "active_share_pct": _text(basket.active_share_pct),
            "tracking_error_pct": _text(basket.tracking_error_pct),
            "tracking_error_observations": basket.tracking_error_observations,
            "ex_ante_tracking_error_pct": _text(basket.ex_ante_tracking_error_pct),
            "represented_share_pct": _text(basket.represented_share_pct),
            "correlation": _text(basket.correlation),
        },
        "components": [
            {"ticker": c.security.ticker, "cusip": c.security.cusip, "description": c.security.description,
             "quantity": str(c.quantity), "weight_pct": str(c.weight_pct), "cash_in_lieu": c.cash_in_lieu}
            for c in components
        ],
    }


def _text(value) -> str | None:
    return None if value is None else str(value)


def substitute_basket_publish_payload(*, basket: SubstituteBasket, actor, now: dt.datetime) -> Publication:
    """The morning basket (or its correction) goes out through the one channel, released at once."""
    components = basket.components.select_related("security").order_by("security__ticker")
    kind = Publication.Kind.BASKET_CORRECTION if basket.supersedes_id else Publication.Kind.SUBSTITUTE_BASKET
    return publication_append(
        kind=kind, fund=basket.fund, trade_date=basket.trade_date, release_at=basket.published_at,
        payload=substitute_basket_payload(basket, components), actor=actor, now=now, substitute_basket=basket,
    )
