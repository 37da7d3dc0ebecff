"""Writes and workflows of the orders app: Authorized Participants, their agreements,
and creation/redemption orders from receipt to settlement.

Every order transition happens in ``_transition`` (django-fsm guards the graph),
inside one transaction, with a history row and an ``OrderEvent`` naming the actor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery, Sum
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from rest_framework import status as http

from backoffice.exceptions import DomainError, InvalidInput, InvalidTransition
from backoffice.precompiled import PrecompiledQuery, insert_rows
from baskets.models import SubstituteBasket
from baskets.services.alternate import alternate_basket_usable
from funds import business_calendar
from funds.selectors import funds_group_role, strike_prices
from funds.models import (
    AssetClass,
    Fund,
    NetAssetValue,
    SharesOutstandingEntry,
    Strike,
)
from orders import cutoffs, pricing
from orders.models import (
    RECORD_RETENTION_YEARS,
    AuthorizedParticipant,
    AuthorizedParticipantAgreement,
    AuthorizedParticipantHolding,
    AuthorizedParticipantUser,
    CashAnnouncement,
    ClearingProcess,
    CreationBasketRecord,
    CreationBasketRecordLine,
    FundOrderTerms,
    Order,
    OrderEvent,
    years_after,
)

logger = logging.getLogger(__name__)

AFFILIATE_THRESHOLD_PCT = Decimal("5")  # section 2(a)(3)(A)/(B): 5% or more makes an affiliated person
CONTROL_THRESHOLD_PCT = Decimal("25")  # section 2(a)(9): over 25% is presumed control
REDEMPTION_DEADLINE_DAYS = 7  # section 22(e)
FOREIGN_REDEMPTION_DEADLINE_DAYS = 15  # the order's section 22(e) relief for foreign stock delivered in kind
OPEN_STATUSES = (Order.Status.ACCEPTED, Order.Status.PRICED)


class NotEntitled(DomainError):
    code = "not_entitled"
    http_status = http.HTTP_403_FORBIDDEN


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    http_status = http.HTTP_422_UNPROCESSABLE_ENTITY


class BasketUnavailable(DomainError):
    code = "basket_unavailable"
    http_status = http.HTTP_409_CONFLICT


def _field_error(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field_name}: {message}", details={field_name: [message]})


# --- Authorized Participants and their agreements -------------------------------------------


def _full_clean_and_save(instance, actor, **save_kwargs) -> None:
    try:
        instance.full_clean()
    except ValidationError as error:
        raise InvalidInput("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()), details=error.message_dict)
    instance._history_user = actor
    instance.save(**save_kwargs)


def _barred_relationship(participant: AuthorizedParticipant) -> str | None:
    """The Distributor, promoters and affiliated persons of the Funds may not be APs."""
    if participant.fund_relationship != AuthorizedParticipant.FundRelationship.NONE:
        return f"it is declared as {AuthorizedParticipant.FundRelationship(participant.fund_relationship).label}"
    what = funds_group_role(participant.legal_name)
    return f"its legal name is that of {what} of the Funds" if what else None


@transaction.atomic
def participant_save(*, actor, participant: AuthorizedParticipant) -> AuthorizedParticipant:
    """Create or update an AP. The Funds' Distributor, promoters and affiliated persons are refused."""
    barred = _barred_relationship(participant)
    if barred:
        raise InvalidInput(
            f"{participant.legal_name} cannot be an Authorized Participant: {barred}.",
            details={"fund_relationship": [f"The Distributor, promoters and affiliated persons of a Fund may not be APs ({barred})."]},
        )
    _full_clean_and_save(participant, actor)
    return participant


@transaction.atomic
def participant_user_bind(*, actor, user, participant: AuthorizedParticipant) -> AuthorizedParticipantUser:
    """Bind an API user to one AP and give it the Authorized Participant role."""
    from django.contrib.auth.models import Group

    from backoffice import roles

    existing = AuthorizedParticipantUser.objects.filter(user=user).select_related("participant").first()
    if existing and existing.participant_id != participant.pk:
        raise InvalidInput(f"{user} already acts for {existing.participant}; a user is bound to exactly one AP.",
                           details={"user": ["already bound to another Authorized Participant"]})
    if roles.user_has_role(user, *roles.INTERNAL_ROLES) and not user.is_superuser:
        raise InvalidInput(f"{user} holds an internal role and cannot act for an AP.", details={"user": ["internal staff"]})
    binding = existing or AuthorizedParticipantUser(user=user, participant=participant)
    if not existing:
        _full_clean_and_save(binding, actor)
    user.groups.add(Group.objects.get(name=roles.AUTHORIZED_PARTICIPANT))
    return binding


def _sha256_of(document) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    document.seek(0)
    for chunk in iter(lambda: document.read(1 << 16), b""):
        digest.update(chunk)
        size += len(chunk)
    document.seek(0)
    return digest.hexdigest(), size


@transaction.atomic
def agreement_add(
    *, actor, participant: AuthorizedParticipant, version: int, signed_on: dt.date, effective_from: dt.date, document,
    now: dt.datetime | None = None,
) -> AuthorizedParticipantAgreement:
    """Record a signed Participant Agreement with its document and the document's SHA-256."""
    if document is None:
        raise _field_error("document", "the signed agreement must be uploaded.")
    sha256, size = _sha256_of(document)
    if size == 0:
        raise _field_error("document", "the uploaded file is empty.")
    agreement = AuthorizedParticipantAgreement(
        participant=participant, version=version, signed_on=signed_on, effective_from=effective_from,
        document_sha256=sha256, document_size=size, uploaded_by=actor, uploaded_at=now or timezone.now(),
    )
    try:
        agreement.full_clean(exclude=["document"])  # refuse bad input before anything is stored
    except ValidationError as error:
        raise InvalidInput("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()), details=error.message_dict)
    agreement.document.save(getattr(document, "name", "agreement.pdf").rsplit("/", 1)[-1], document, save=False)
    try:
        _full_clean_and_save(agreement, actor)
    except Exception:
        agreement.document.delete(save=False)  # no stored file without its row
        raise
    return agreement


@transaction.atomic
def agreement_terminate(*, actor, agreement: AuthorizedParticipantAgreement, terminated_on: dt.date, reason: str) -> AuthorizedParticipantAgreement:
    agreement = AuthorizedParticipantAgreement.objects.select_for_update().get(pk=agreement.pk)
    if agreement.terminated_on:
        raise InvalidTransition(f"{agreement} was already terminated on {agreement.terminated_on.isoformat()}.")
    if not reason.strip():
        raise _field_error("termination_reason", "say why the agreement ends.")
    agreement.terminated_on, agreement.termination_reason = terminated_on, reason.strip()
    _full_clean_and_save(agreement, actor)
    return agreement


@transaction.atomic
def agreement_delete(*, actor, agreement: AuthorizedParticipantAgreement, today: dt.date | None = None) -> None:
    """Refused while in force and for five years after termination (condition A.9(a)), and while orders refer to it."""
    agreement.check_deletable(today)
    placed_under = list(agreement.orders.order_by("received_at").values_list("reference", flat=True)[:5])
    if placed_under:
        raise InvalidTransition(
            f"{agreement} cannot be deleted: orders were placed under it ({', '.join(placed_under)}"
            f"{', ...' if len(placed_under) == 5 else ''}) and are kept with it.",
            details={"orders": placed_under},
        )
    agreement._history_user = actor
    agreement.delete()


def _agreements_in_force(participant_id: int, on: dt.date):
    """The AP's agreements in force on a day, the latest version first."""
    return (
        AuthorizedParticipantAgreement.objects.filter(participant_id=participant_id, effective_from__lte=on)
        .exclude(terminated_on__lte=on)
        .order_by("-version")
    )


def agreement_in_force(*, participant_id: int, on: dt.date) -> AuthorizedParticipantAgreement | None:
    return _agreements_in_force(participant_id, on).first()


@transaction.atomic
def participant_holding_report(
    *, actor, participant: AuthorizedParticipant, fund: Fund, as_of: dt.date, shares: Decimal, now: dt.datetime | None = None
) -> AuthorizedParticipantHolding:
    """Record an AP's known holding of a Fund's Shares and its percentage of shares outstanding."""
    if shares < 0:
        raise _field_error("shares", "cannot be negative.")
    outstanding = SharesOutstandingEntry.outstanding(fund.pk, as_of)
    if outstanding <= 0:
        raise _field_error("as_of", f"{fund.ticker} had no shares outstanding on {as_of.isoformat()}.")
    holding = AuthorizedParticipantHolding(
        participant=participant, fund=fund, as_of=as_of, shares=shares, shares_outstanding=outstanding,
        percent_of_fund=(shares * 100 / outstanding).quantize(Decimal("0.0001")), reported_by=actor, reported_at=now or timezone.now(),
    )
    _full_clean_and_save(holding, actor)
    return holding


def _latest_holdings(participant_id: int, fund, on: dt.date):
    """The AP's known holdings of the Fund (a Fund or an ``OuterRef``) as of a day, the latest first."""
    return AuthorizedParticipantHolding.objects.filter(participant_id=participant_id, fund=fund, as_of__lte=on).order_by("-as_of")


_HOLDING_PERCENT_QUANTUM = Decimal(1).scaleb(-AuthorizedParticipantHolding._meta.get_field("percent_of_fund").decimal_places)


def _affiliation(fund: Fund, as_of: dt.date | None, percent_of_fund: Decimal | None) -> tuple[bool, str]:
    if as_of is None or percent_of_fund < AFFILIATE_THRESHOLD_PCT:
        return False, ""
    kind = "controls (over 25%)" if percent_of_fund > CONTROL_THRESHOLD_PCT else "holds 5% or more of"
    return True, (
        f"The AP {kind} {fund.ticker}: {percent_of_fund}% of shares outstanding as of {as_of.isoformat()}. "
        "An affiliated person of the Fund; its in-kind transactions rely on the order's section 17(a) relief."
    )


def affiliation_on(*, participant_id: int, fund: Fund, on: dt.date) -> tuple[bool, str]:
    """Whether the AP's latest known holding makes it an affiliated person of the Fund (5%+, or control over 25%)."""
    holding = _latest_holdings(participant_id, fund, on).only("as_of", "percent_of_fund").first()
    if holding is None:
        return False, ""
    return _affiliation(fund, holding.as_of, holding.percent_of_fund)


def order_terms_for(fund: Fund) -> FundOrderTerms:
    """The Fund's fees and cash cut-off; the model's defaults until Operations sets them."""
    try:
        return fund.order_terms
    except FundOrderTerms.DoesNotExist:
        return FundOrderTerms(fund=fund)


# --- Orders: intake ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRequest:
    """A validated order request. Client-supplied times are not part of it: the server stamps receipt."""

    fund: str
    side: str
    creation_units: int
    basket_type: str
    settlement_channel: str
    alternate_basket_id: int | None = None
    substitute_basket_id: int | None = None

    def fingerprint(self) -> str:
        canonical = json.dumps(
            {
                "fund": self.fund.upper(), "side": self.side, "creation_units": self.creation_units, "basket_type": self.basket_type,
                "settlement_channel": self.settlement_channel, "alternate_basket_id": self.alternate_basket_id,
                "substitute_basket_id": self.substitute_basket_id,
            },
            sort_keys=True, separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class PlacedOrder:
    order: Order
    replayed: bool = False


def validate_idempotency_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise InvalidInput(
            "Idempotency-Key: the header is required; send a unique key (e.g. a UUID) per order, and the same key when retrying.",
            details={"Idempotency-Key": ["This header is required."]},
        )
    key = key.strip()
    if len(key) > 255 or not key.isprintable():
        raise InvalidInput("Idempotency-Key: at most 255 printable characters.", details={"Idempotency-Key": ["invalid"]})
    return key


_REPLAY_PROBE = PrecompiledQuery(
    Order,
    lambda participant_id, key: Order.objects.filter(participant_id=participant_id, idempotency_key=key)
    .values_list("pk", "reference", "request_fingerprint"),
    participant_id=-918_273_645, key="\x00placeholder idempotency key",
)


def _replay(participant_id: int, key: str, fingerprint: str) -> Order | None:
    # Almost every key is new: probe three columns, and load the whole order only to replay it (a cheaper
    # query on the hot path of order intake; bench/order_load.py).
    found = _REPLAY_PROBE.first(participant_id=participant_id, key=key)
    if found is None:
        return None
    pk, reference, stored_fingerprint = found
    if stored_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was already used for order {reference} with a different request; "
            "use a new key for a new order.",
            details={"Idempotency-Key": ["already used with another payload"], "order": reference},
        )
    return Order.objects.get(pk=pk)


def _new_reference(trade_date: dt.date) -> str:
    return f"O{trade_date:%Y%m%d}-{secrets.token_hex(5).upper()}"


def _event(order: Order, from_status: str, to_status: str, actor, at: dt.datetime, message: str = "", **details) -> OrderEvent:
    return OrderEvent(order=order, from_status=from_status, to_status=to_status, actor=actor, at=at, message=message[:500], details=details)


def order_place(*, actor, participant: AuthorizedParticipant, request: OrderRequest, idempotency_key: str | None,
                received_at: dt.datetime) -> PlacedOrder:
    """Receive an order: validate it, then accept it or record its rejection, in one transaction.

    Bad input raises (4xx, nothing written). A late order is recorded as REJECTED with its reason.
    The same key and payload give back the same order (``replayed``); the same key with another
    payload is refused; concurrent duplicates resolve to one order through the unique constraint.
    """
    key = validate_idempotency_key(idempotency_key)
    fingerprint = request.fingerprint()
    existing = _replay(participant.pk, key, fingerprint)
    if existing:
        return PlacedOrder(existing, replayed=True)
    try:
        with transaction.atomic():
            return PlacedOrder(_order_create(actor, participant, request, key, fingerprint, received_at))
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as a replay of it.
        existing = _replay(participant.pk, key, fingerprint)
        if existing is None:
            raise
        return PlacedOrder(existing, replayed=True)


def _order_create(actor, participant, request: OrderRequest, key: str, fingerprint: str, received_at: dt.datetime) -> Order:
    if participant.status != AuthorizedParticipant.Status.ACTIVE:
        raise NotEntitled(f"{participant} is {participant.get_status_display().lower()}: it cannot place orders.")
    trade_day = business_calendar.business_date(received_at)
    fund = _INTAKE_FUND.first(ticker=request.fund.upper(), participant_id=participant.pk, trade_day=trade_day)
    if fund is None or not fund.is_active:
        raise _field_error("fund", f"no active Fund with ticker {request.fund!r}.")
    if not participant.can_clear(request.settlement_channel):
        raise _field_error("settlement_channel", f"{participant} is not set up for the {ClearingProcess(request.settlement_channel).label}.")
    terms = order_terms_for(fund)
    announcement = None
    if fund.intake_cash_announcement_id and request.basket_type == Order.BasketType.STANDARD:
        announcement = CashAnnouncement.objects.get(pk=fund.intake_cash_announcement_id)
        if not announcement.covers(request.side):
            announcement = None
    is_cash = request.basket_type == Order.BasketType.CASH or (
        announcement is not None and announcement.extent == CashAnnouncement.Extent.WHOLLY
    )
    # Entitlement before the cut-off: an AP without an agreement in force is refused (403) at any hour,
    # never recorded as a late order.
    agreement_id = fund.intake_agreement_id  # agreement_in_force's
    if agreement_id is None:
        raise NotEntitled(
            f"{participant} has no Participant Agreement in force on {trade_day.isoformat()}: it cannot place orders.",
            details={"agreement": ["none in force"]},
        )
    order = Order(
        reference=_new_reference(trade_day), participant=participant, fund=fund, placed_by=actor, side=request.side,
        creation_units=request.creation_units, shares=Decimal(request.creation_units * fund.creation_unit_size),
        basket_type=request.basket_type, alternate_basket_ref=request.alternate_basket_id,
        settlement_channel=request.settlement_channel, idempotency_key=key, request_fingerprint=fingerprint,
        received_at=received_at, trade_date=trade_day,
    )
    try:
        window = cutoffs.pricing_window(
            received_at, intraday_strike_time=fund.intraday_strike_time, end_of_day_strike_time=fund.end_of_day_strike_time,
            cash_cutoff_time=terms.cash_order_cutoff, is_cash=is_cash,
        )
    except cutoffs.OrderTooLate as late:
        order.reject()
        order.rejection_reason, order.rejection_message = late.reason, str(late)
        _save_new(order, actor, [
            _event(order, "", Order.Status.RECEIVED, actor, received_at, "Received."),
            _event(order, Order.Status.RECEIVED, Order.Status.REJECTED, actor, received_at, str(late), reason=late.reason),
        ])
        return order

    # window.trade_date is trade_day: the Fund's query read the day's basket and the AP's holding as of it.
    if request.basket_type == Order.BasketType.STANDARD:
        order.substitute_basket_id = _todays_basket_id(
            fund, window.trade_date, request.substitute_basket_id, fund.intake_basket_id, fund.intake_basket_version,
        )
    elif request.substitute_basket_id is not None:
        raise _field_error("substitute_basket_id", "only for in-kind orders with the day's Creation Basket (basket_type STANDARD).")
    if request.basket_type == Order.BasketType.ALTERNATE:
        # Only a disseminated, unexpired Alternate Basket of this Fund and day (baskets.services.alternate).
        order.alternate_basket = alternate_basket_usable(
            basket_id=request.alternate_basket_id, fund=fund, on=window.trade_date, at=received_at,
        )
    if announcement is not None:
        _apply_cash_day(order, announcement)
    if request.side == Order.Side.REDEEM:
        _check_redeemable(fund, window.trade_date, order.shares)

    order.agreement_id = agreement_id
    order.strike, order.cutoff_at = window.strike, window.cutoff_at
    percent = fund.intake_holding_percent
    if percent is not None:  # at the column's scale, as a loaded holding (SQLite does not quantize a subquery's decimal)
        percent = percent.quantize(_HOLDING_PERCENT_QUANTUM)
    order.ap_affiliated, order.affiliation_note = _affiliation(fund, fund.intake_holding_as_of, percent)  # affiliation_on's
    order.accept()
    nav_label = Strike(window.strike).label.split(" (")[0]
    _save_new(order, actor, [
        _event(order, "", Order.Status.RECEIVED, actor, received_at, "Received."),
        _event(order, Order.Status.RECEIVED, Order.Status.ACCEPTED, actor, received_at,
               f"Accepted: priced at the {nav_label} of {window.trade_date.isoformat()} (cut-off "
               f"{window.cutoff_at.astimezone(business_calendar.NEW_YORK):%H:%M} ET).",
               strike=window.strike, affiliated=order.ap_affiliated),
    ])
    return order


def _apply_cash_day(order: Order, announcement: CashAnnouncement) -> None:
    """Orders of an announced cash day follow it: wholly in cash, or with the named securities as cash in lieu."""
    when = f"announced {announcement.announced_at.astimezone(business_calendar.NEW_YORK):%Y-%m-%d %H:%M} ET"
    if announcement.extent == CashAnnouncement.Extent.WHOLLY:
        order.basket_type = Order.BasketType.CASH
        order.substitute_basket_id = None
        order.cash_reason = f"Cash day: {announcement.get_applies_to_display().lower()} wholly in cash ({when}): {announcement.reason}"
    else:
        order.cash_in_lieu_tickers = list(announcement.cash_in_lieu_tickers)
        order.cash_reason = (f"Cash day: {', '.join(announcement.cash_in_lieu_tickers)} delivered as cash in lieu ({when}): "
                             f"{announcement.reason}")


def _save_new(order: Order, actor, events: list[OrderEvent]) -> None:
    order._history_user = actor
    order.save(force_insert=True)
    insert_rows(OrderEvent, events)  # OrderEvent.objects.bulk_create(events), its SQL built once


def _todays_baskets(fund, trade_date: dt.date):
    """The Fund's (a Fund or an ``OuterRef``) Creation Baskets of the day, the current version first."""
    return SubstituteBasket.objects.filter(fund=fund, trade_date=trade_date).order_by("-version")


def _intake_lookups(participant_id: int, trade_day: dt.date) -> dict[str, Subquery]:
    """What order intake reads besides the Fund, as columns of the Fund's query: one query instead of four
    on every order (bench/order_load.py). Same rules as agreement_in_force, _todays_baskets and
    affiliation_on; (fund, trade_date, version) and (participant, fund, as_of) are unique, so the two
    columns read from each come from one row."""
    fund = OuterRef("pk")
    baskets = _todays_baskets(fund, trade_day)
    holdings = _latest_holdings(participant_id, fund, trade_day)
    return {
        "intake_agreement_id": Subquery(_agreements_in_force(participant_id, trade_day).values("pk")[:1]),
        "intake_basket_id": Subquery(baskets.values("pk")[:1]),
        "intake_basket_version": Subquery(baskets.values("version")[:1]),
        "intake_holding_as_of": Subquery(holdings.values("as_of")[:1]),
        "intake_holding_percent": Subquery(holdings.values("percent_of_fund")[:1]),
        "intake_cash_announcement_id": Subquery(
            CashAnnouncement.objects.filter(fund=fund, trade_date=trade_day).values("pk")[:1]
        ),
    }


# The Fund with its order terms and _intake_lookups (SQL compiled once: backoffice.precompiled).
_INTAKE_FUND = PrecompiledQuery(
    Fund,
    lambda ticker, participant_id, trade_day: Fund.objects.filter(ticker=ticker).select_related("order_terms")
    .annotate(**_intake_lookups(participant_id, trade_day)),
    ticker="\x00placeholder ticker", participant_id=-918_273_645, trade_day=dt.date(1111, 1, 11),
)


def _todays_basket_id(fund: Fund, trade_date: dt.date, named_id: int | None, current_id: int | None,
                      current_version: int | None) -> int:
    """The day's current Creation Basket (``current_id``, ``current_version``: the first of _todays_baskets), checking
    the one the AP named, if any."""
    if named_id is not None:
        named = SubstituteBasket.objects.filter(pk=named_id, fund=fund).only("pk", "trade_date", "version").first()
        if named is None:
            raise _field_error("substitute_basket_id", f"basket {named_id} is not a {fund.ticker} Creation Basket.")
        if named.trade_date != trade_date:
            raise _field_error(
                "substitute_basket_id",
                f"basket {named_id} is the Creation Basket of {named.trade_date.isoformat()}, not today's ({trade_date.isoformat()}).",
            )
        if current_id is not None and named.pk != current_id:
            raise _field_error(
                "substitute_basket_id",
                f"basket {named_id} (version {named.version}) was corrected; today's Creation Basket is {current_id} (version {current_version}).",
            )
    if current_id is None:
        raise BasketUnavailable(
            f"No Creation Basket has been published for {fund.ticker} on {trade_date.isoformat()}: in-kind orders cannot be "
            "accepted until it is; an all-cash order can.",
            details={"basket_type": ["no Creation Basket published for the trade date"]},
        )
    return current_id


def _check_redeemable(fund: Fund, trade_date: dt.date, shares: Decimal) -> None:
    # Lock the Fund row so concurrent redemptions are checked one after the other.
    Fund.objects.select_for_update().filter(pk=fund.pk).values_list("pk", flat=True).first()
    outstanding = SharesOutstandingEntry.outstanding(fund.pk, trade_date)
    pending = (
        Order.objects.filter(fund=fund, side=Order.Side.REDEEM, status__in=OPEN_STATUSES).aggregate(total=Sum("shares"))["total"]
        or Decimal(0)
    )
    available = outstanding - pending
    if shares > available:
        raise _field_error(
            "creation_units",
            f"a redemption of {shares:,.0f} Shares exceeds the {available:,.0f} {fund.ticker} Shares outstanding "
            f"and not already tendered ({outstanding:,.0f} outstanding, {pending:,.0f} in pending redemptions).",
        )


# --- Orders: transitions ------------------------------------------------------------------


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().select_related("fund", "participant").get(pk=order.pk)


def _transition(order: Order, method: str, actor, at: dt.datetime, message: str, **details) -> Order:
    before = order.status
    try:
        getattr(order, method)()
    except TransitionNotAllowed:
        raise InvalidTransition(
            f"Order {order.reference} is {order.get_status_display().lower()}: it cannot be {method.rstrip('e')}ed now.",
            details={"status": order.status},
        )
    order._history_user = actor
    order.save()
    OrderEvent.objects.create(order=order, from_status=before, to_status=order.status, actor=actor, at=at, message=message[:500], details=details)
    return order


@transaction.atomic
def order_cancel(*, actor, order: Order, now: dt.datetime | None = None) -> Order:
    """Only the AP, only an accepted order, only before its cut-off."""
    now = now or timezone.now()
    order = _locked(order)
    binding = AuthorizedParticipantUser.objects.filter(user=actor).values_list("participant_id", flat=True).first()
    if binding != order.participant_id:
        raise NotEntitled("Only the Authorized Participant that placed an order can cancel it.")
    if order.status == Order.Status.ACCEPTED and order.cutoff_at and now >= order.cutoff_at:
        raise InvalidTransition(
            f"Order {order.reference} can no longer be cancelled: its cut-off was "
            f"{order.cutoff_at.astimezone(business_calendar.NEW_YORK):%Y-%m-%d %H:%M:%S} ET.",
            details={"cutoff_at": order.cutoff_at.isoformat()},
        )
    return _transition(order, "cancel", actor, now, "Cancelled by the AP before the cut-off.")


# --- Orders: pricing at the strike ----------------------------------------------------------


@dataclass
class PricingOutcome:
    fund: str
    trade_date: dt.date
    strike: str
    priced: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    message: str = ""


def orders_price(*, fund: Fund, trade_date: dt.date, strike: str, actor, now: dt.datetime | None = None) -> PricingOutcome:
    """Price every accepted order of a Fund for one strike, at that strike's NAV (Rule 22c-1).

    The in-kind basket is the current version of the day's Creation Basket valued at the strike's
    prices. Orders wait (stay ACCEPTED) while the NAV or a basket price is missing; nothing is guessed.
    """
    now = now or timezone.now()
    outcome = PricingOutcome(fund.ticker, trade_date, strike)
    nav = NetAssetValue.objects.filter(fund=fund, date=trade_date, strike=strike).defer("inputs").first()
    if nav is None:
        outcome.message = f"no {strike} NAV for {fund.ticker} on {trade_date.isoformat()} yet"
        return outcome
    with transaction.atomic():
        orders = list(
            Order.objects.select_for_update().filter(fund=fund, trade_date=trade_date, strike=strike, status=Order.Status.ACCEPTED)
            .select_related("participant").order_by("received_at")
        )
        if not orders:
            return outcome
        terms = order_terms_for(fund)
        substitute = None
        if any(o.basket_type == Order.BasketType.STANDARD for o in orders):
            substitute = SubstituteBasket.objects.filter(fund=fund, trade_date=trade_date).order_by("-version").first()
        sources: dict[tuple, _Exchanged | None] = {}
        waiting: dict[str, list[str]] = {}
        for order in orders:
            key = _source_key(order)
            if key not in sources:
                sources[key] = _exchanged(order, substitute, strike, trade_date)
            exchanged = sources[key]
            if exchanged is not None and exchanged.missing:
                waiting.setdefault(", ".join(exchanged.missing), []).append(order.reference)
                continue
            in_kind = exchanged is not None
            price = pricing.price_order(
                side=order.side, creation_units=order.creation_units, creation_unit_size=fund.creation_unit_size,
                nav_per_share=nav.nav_per_share, basket=exchanged.lines if in_kind else None,
                fixed_fee=terms.fixed_fee(order.settlement_channel), variable_fee_pct=terms.variable_fee_pct,
            )
            _apply_price(order, nav, substitute if order.basket_type == Order.BasketType.STANDARD else None, price, now)
            order.delivers_foreign_stock = in_kind and exchanged.foreign and order.side == Order.Side.REDEEM
            order.settlement_date = business_calendar.next_business_day(trade_date)
            deadline_days = FOREIGN_REDEMPTION_DEADLINE_DAYS if order.delivers_foreign_stock else REDEMPTION_DEADLINE_DAYS
            order.settlement_deadline = business_calendar.business_date(order.received_at) + dt.timedelta(days=deadline_days)
            _transition(
                order, "price", actor, now,
                f"Priced at NAV {nav.nav_per_share} per Share ({Strike(strike).label.split(' (')[0]}); Balancing Amount "
                f"{order.balancing_amount} paid by {order.balancing_amount_payer}; fees {order.total_fees}.",
                nav_id=nav.pk, basket_id=order.priced_basket_id, alternate_basket_id=order.alternate_basket_id,
            )
            _record_basket_exchanged(order, exchanged.components if in_kind else [], exchanged.lines if in_kind else [], now)
            outcome.priced.append(order.reference)
        for missing, references in waiting.items():
            outcome.waiting += references
            outcome.message = f"no {strike} price for basket securities {missing}: {len(references)} in-kind order(s) wait"
            logger.warning("Pricing %s %s %s: %s", fund.ticker, trade_date, strike, outcome.message)
    return outcome


@dataclass
class _ExchangedLine:
    security: Any
    quantity: Decimal
    cash_in_lieu: bool


@dataclass
class _Exchanged:
    """The basket an order exchanges, valued at the strike: its lines, or the securities without a price."""

    components: list[_ExchangedLine]
    lines: list[pricing.BasketLine]
    missing: list[str]
    foreign: bool


def _source_key(order: Order) -> tuple:
    if order.basket_type == Order.BasketType.CASH:
        return ("CASH",)
    if order.basket_type == Order.BasketType.ALTERNATE:
        return ("ALTERNATE", order.alternate_basket_id)
    return ("STANDARD", tuple(sorted(order.cash_in_lieu_tickers or ())))


def _exchanged(order: Order, substitute: SubstituteBasket | None, strike: str, trade_date: dt.date) -> _Exchanged | None:
    """The day's Creation Basket (with a cash day's securities as cash in lieu), or the order's Alternate Basket."""
    if order.basket_type == Order.BasketType.CASH:
        return None
    if order.basket_type == Order.BasketType.ALTERNATE:
        components = [_ExchangedLine(c.security, c.quantity, False)
                      for c in order.alternate_basket.components.select_related("security").order_by("security__ticker")]
    else:
        forced = set(order.cash_in_lieu_tickers or ())
        components = [_ExchangedLine(c.security, c.quantity, c.cash_in_lieu or c.security.ticker in forced)
                      for c in substitute.components.select_related("security").order_by("security__ticker")]
    prices = strike_prices(strike=strike, day=trade_date, security_ids=[c.security.pk for c in components])
    missing = [c.security.ticker for c in components if c.security.pk not in prices]
    lines = [] if missing else [pricing.BasketLine(c.quantity, prices[c.security.pk], c.cash_in_lieu, c.security.ticker) for c in components]
    foreign = any(c.security.is_foreign or c.security.asset_class == AssetClass.FOREIGN_COMMON_STOCK
                  for c in components if not c.cash_in_lieu)
    return _Exchanged(components, lines, missing, foreign)


def _apply_price(order: Order, nav: NetAssetValue, basket: SubstituteBasket | None, price: pricing.OrderPrice, now) -> None:
    order.nav, order.priced_basket, order.priced_at = nav, basket, now
    order.nav_per_share = price.nav_per_share
    order.nav_per_creation_unit = price.nav_per_creation_unit
    order.nav_amount = price.nav_amount
    order.in_kind_value = price.in_kind_value
    order.cash_in_lieu_amount = price.cash_in_lieu_amount
    order.basket_value = price.basket_value
    order.balancing_amount = price.balancing_amount
    order.balancing_amount_payer = price.balancing_amount_payer
    order.fixed_fee, order.variable_fee, order.total_fees = price.fixed_fee, price.variable_fee, price.total_fees
    order.net_cash_amount, order.net_cash_payer = price.net_cash_amount, price.net_cash_payer


def _record_basket_exchanged(order: Order, components, lines: list[pricing.BasketLine], now) -> CreationBasketRecord:
    """Condition A.9(c): what was exchanged, with whom, and the Balancing Amount."""
    units = Decimal(order.creation_units)
    record = CreationBasketRecord.objects.create(
        order=order, fund=order.fund, participant=order.participant, participant_name=order.participant.legal_name,
        dtc_participant_number=order.participant.dtc_participant_number, trade_date=order.trade_date, side=order.side,
        creation_units=order.creation_units, basket_type=order.basket_type,
        is_alternate_basket=order.basket_type == Order.BasketType.ALTERNATE, alternate_basket=order.alternate_basket,
        alternate_basket_compliance=_alternate_compliance_record(order.alternate_basket),
        substitute_basket=order.priced_basket, basket_value=order.basket_value, balancing_amount=order.balancing_amount,
        balancing_amount_payer=order.balancing_amount_payer,
        cash_amount=order.nav_amount if order.basket_type == Order.BasketType.CASH else order.cash_in_lieu_amount,
        recorded_at=now, retain_until=years_after(order.trade_date, RECORD_RETENTION_YEARS),
    )
    values = [line.quantity_per_unit * line.price * units for line in lines]
    weights = pricing.percentage_weights(values)
    CreationBasketRecordLine.objects.bulk_create(
        CreationBasketRecordLine(
            record=record, security=component.security, ticker=component.security.ticker, cusip=component.security.cusip,
            description=component.security.description, quantity=component.quantity * units, price=line.price,
            market_value=value, weight_pct=weight, cash_in_lieu=component.cash_in_lieu,
        )
        for component, line, value, weight in zip(components, lines, values, weights)
    )
    return record


def _alternate_compliance_record(basket) -> str:
    """A.9(c)(ii): the record that the Alternate Basket complies with the Fund's basket policy."""
    if basket is None:
        return ""
    return (f"Alternate Basket {basket.pk}: every basket-policy check passed at {basket.check_report.get('checked_at')} "
            f"(check report SHA-256 {basket.check_report_sha256}); approved by {basket.decided_by} at "
            f"{basket.decided_at.isoformat() if basket.decided_at else '?'}")[:300]


def orders_price_due(*, actor, now: dt.datetime | None = None) -> list[PricingOutcome]:
    """Price every accepted order whose NAV has been struck (the strike task calls this after striking)."""
    now = now or timezone.now()
    pending = list(Order.objects.filter(status=Order.Status.ACCEPTED).values_list("fund_id", "trade_date", "strike").distinct())
    struck = set(
        NetAssetValue.objects.filter(date__in={day for _, day, _ in pending}).values_list("fund_id", "date", "strike")
    ) if pending else set()
    outcomes = []
    for fund_id, trade_date, strike in sorted(set(pending)):
        if (fund_id, trade_date, strike) not in struck:
            continue
        fund = Fund.objects.select_related("order_terms").get(pk=fund_id)
        outcomes.append(orders_price(fund=fund, trade_date=trade_date, strike=strike, actor=actor, now=now))
    return outcomes


# --- Orders: settlement ---------------------------------------------------------------------


@transaction.atomic
def order_settle(*, actor, order: Order, settled_on: dt.date, now: dt.datetime | None = None) -> Order:
    """Settled: the Shares are issued or cancelled. The ledger entry counts from ``settled_on``'s NAVs."""
    now = now or timezone.now()
    order = _locked(order)
    if order.status != Order.Status.PRICED:
        raise InvalidTransition(f"Order {order.reference} is {order.get_status_display().lower()}: only a priced order settles.")
    if not business_calendar.is_business_day(settled_on):
        raise _field_error("settled_on", f"{settled_on.isoformat()} is not a business day.")
    if settled_on < order.trade_date:
        raise _field_error("settled_on", f"cannot be before the trade date {order.trade_date.isoformat()}.")
    if settled_on > business_calendar.business_date(now):
        # Confirming a settlement that has not happened yet would be a false record.
        raise _field_error("settled_on", f"{settled_on.isoformat()} has not come yet: confirm a settlement once it has happened.")
    order.settled_on = settled_on
    order.settled_late = bool(order.settlement_deadline and settled_on > order.settlement_deadline)
    creation = order.side == Order.Side.CREATE
    entry = SharesOutstandingEntry(
        fund=order.fund, effective_date=settled_on,
        kind=SharesOutstandingEntry.Kind.CREATION if creation else SharesOutstandingEntry.Kind.REDEMPTION,
        change=order.shares if creation else -order.shares, reference=order.reference, created_by=actor,
    )
    entry._history_user = actor
    entry.save()
    late = f" LATE: after the {order.settlement_deadline.isoformat()} deadline (section 22(e))." if order.settled_late else ""
    return _transition(order, "settle", actor, now, f"Settled on {settled_on.isoformat()}.{late}", settled_late=order.settled_late)


@transaction.atomic
def order_fail(*, actor, order: Order, reason: str, now: dt.datetime | None = None) -> Order:
    if not reason.strip():
        raise _field_error("reason", "say why the settlement failed.")
    order = _locked(order)
    order.failure_reason = reason.strip()[:300]
    return _transition(order, "fail", actor, now or timezone.now(), f"Settlement failed: {order.failure_reason}")


@transaction.atomic
def cash_day_announce(
    *, actor, fund: Fund, trade_date: dt.date, applies_to: str, extent: str, reason: str, cash_in_lieu_tickers=(),
    now: dt.datetime | None = None,
) -> CashAnnouncement:
    """Before the open: all creations, all redemptions or both are wholly or partly in cash that day.

    It leaves the system through the one dissemination channel, released to every AP at once.
    """
    from baskets.models import Publication
    from baskets.services.dissemination import publication_append

    now = now or timezone.now()
    if not business_calendar.is_business_day(trade_date):
        raise _field_error("trade_date", f"{trade_date.isoformat()} is not a business day.")
    opens = business_calendar.session_open(trade_date)
    if now >= opens:
        raise _field_error("trade_date", f"a cash day is announced before the open ({opens.astimezone(business_calendar.NEW_YORK):%Y-%m-%d %H:%M} ET).")
    if applies_to not in CashAnnouncement.AppliesTo.values:
        raise _field_error("applies_to", f"one of {', '.join(CashAnnouncement.AppliesTo.values)}.")
    if extent not in CashAnnouncement.Extent.values:
        raise _field_error("extent", f"one of {', '.join(CashAnnouncement.Extent.values)}.")
    if not (reason or "").strip():
        raise _field_error("reason", "say why the day is in cash.")
    tickers = sorted({t.strip().upper() for t in cash_in_lieu_tickers if t.strip()})
    if extent == CashAnnouncement.Extent.PARTLY:
        if not tickers:
            raise _field_error("cash_in_lieu_tickers", "name the basket securities delivered as cash.")
        basket = SubstituteBasket.objects.filter(fund=fund, trade_date=trade_date).order_by("-version").first()
        known = set(basket.components.values_list("security__ticker", flat=True)) if basket else set()
        unknown = [t for t in tickers if t not in known]
        if basket is None or unknown:
            raise _field_error("cash_in_lieu_tickers", f"not in the {trade_date.isoformat()} Creation Basket of {fund.ticker}: "
                               f"{', '.join(unknown) if basket else 'no basket published yet'}.")
    elif tickers:
        raise _field_error("cash_in_lieu_tickers", "only for a partly-cash day.")
    if CashAnnouncement.objects.filter(fund=fund, trade_date=trade_date).exists():
        raise InvalidTransition(f"{fund.ticker} already announced {trade_date.isoformat()}'s cash terms.")
    payload = {"applies_to": applies_to, "extent": extent, "cash_in_lieu_tickers": tickers, "reason": reason.strip()}
    publication = publication_append(kind=Publication.Kind.CASH_ANNOUNCEMENT, fund=fund, trade_date=trade_date, release_at=now,
                                     payload=payload, actor=actor, now=now, source_reference=f"cash day {fund.ticker} {trade_date}")
    announcement = CashAnnouncement(fund=fund, trade_date=trade_date, applies_to=applies_to, extent=extent, cash_in_lieu_tickers=tickers,
                                    reason=reason.strip(), announced_by=actor, announced_at=now, publication=publication)
    announcement._history_user = actor
    announcement.save()
    return announcement


@transaction.atomic
def order_require_cash(*, actor, order: Order, reason: str, now: dt.datetime | None = None) -> Order:
    """The Fund requires this one in-kind order to be made in cash (before it is priced), with the reason recorded."""
    now = now or timezone.now()
    if not (reason or "").strip():
        raise _field_error("reason", "say why the Fund requires cash for this order.")
    order = _locked(order)
    if order.status != Order.Status.ACCEPTED:
        raise InvalidTransition(f"Order {order.reference} is {order.get_status_display().lower()}: only an accepted order can be switched to cash.")
    if order.basket_type == Order.BasketType.CASH:
        raise InvalidTransition(f"Order {order.reference} is already an all-cash order.")
    before = order.basket_type
    order.basket_type, order.substitute_basket, order.alternate_basket = Order.BasketType.CASH, None, None
    order.cash_reason = f"Required by the Fund: {reason.strip()}"[:300]
    order._history_user = actor
    order.save()
    OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status, actor=actor, at=now,
                              message=f"Switched from {before} to all cash: {reason.strip()}"[:500], details={"from_basket_type": before})
    return order


def orders_overdue(*, today: dt.date) -> Any:
    """Priced orders past their section 22(e) deadline and still unsettled."""
    return Order.objects.filter(status=Order.Status.PRICED, settlement_deadline__lt=today)


def participant_for_user(user) -> AuthorizedParticipant:
    """The AP an API user acts for (404 for anyone else)."""
    loaded = getattr(getattr(user, "_state", None), "fields_cache", {})
    if "ap_binding" in loaded:
        # Loaded with the token (backoffice.authentication), with its participant: no query.
        binding = loaded["ap_binding"]
    else:
        binding = AuthorizedParticipantUser.objects.select_related("participant").filter(user=user).first()
    if binding is None:
        raise NotEntitled("Your user is not bound to an Authorized Participant: ask AP Relationship staff to bind it.")
    return binding.participant
