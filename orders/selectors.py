"""Reads of the orders app. An AP user only ever reaches its own AP's rows: every
AP-facing read starts from ``orders_visible_to`` / ``agreements_visible_to``."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from backoffice import roles
from backoffice.exceptions import NotFound
from orders.models import AuthorizedParticipantAgreement, CreationBasketRecord, Order

# Internal roles that see every AP's orders.
ORDER_STAFF_ROLES = (roles.OPERATIONS, roles.AP_RELATIONSHIP, roles.COMPLIANCE, roles.BOARD)


def _participant_id(user) -> int | None:
    binding = getattr(user, "ap_binding", None)
    return binding.participant_id if binding else None


def orders_visible_to(*, user) -> QuerySet[Order]:
    orders = Order.objects.select_related("fund", "participant")
    if roles.user_has_role(user, *ORDER_STAFF_ROLES):
        return orders
    participant_id = _participant_id(user)
    return orders.filter(participant_id=participant_id) if participant_id else orders.none()


def order_list(*, user, fund: str | None = None, status: str | None = None, side: str | None = None,
               start: dt.date | None = None, end: dt.date | None = None) -> QuerySet[Order]:
    orders = orders_visible_to(user=user)
    if fund:
        orders = orders.filter(fund__ticker=fund.upper())
    if status:
        orders = orders.filter(status=status)
    if side:
        orders = orders.filter(side=side)
    if start:
        orders = orders.filter(trade_date__gte=start)
    if end:
        orders = orders.filter(trade_date__lte=end)
    return orders.order_by("-received_at")


def order_get(*, user, reference: str) -> Order:
    """Another AP's order answers exactly like a missing one."""
    order = orders_visible_to(user=user).filter(reference=reference).first()
    if order is None:
        raise NotFound(f"No order {reference!r}.")
    return order


def order_events(*, order: Order):
    return order.events.select_related("actor").order_by("at", "id")


def agreements_visible_to(*, user) -> QuerySet[AuthorizedParticipantAgreement]:
    agreements = AuthorizedParticipantAgreement.objects.select_related("participant")
    if roles.user_has_role(user, roles.AP_RELATIONSHIP, roles.COMPLIANCE, roles.OPERATIONS):
        return agreements
    participant_id = _participant_id(user)
    return agreements.filter(participant_id=participant_id) if participant_id else agreements.none()


def basket_record_for(*, order: Order) -> CreationBasketRecord:
    record = CreationBasketRecord.objects.filter(order=order).first()
    if record is None:
        raise NotFound(f"Order {order.reference} has not been priced: no Creation Basket was exchanged yet.")
    return record


def basket_records(*, start: dt.date, end: dt.date, fund_ids: list[int] | None = None) -> QuerySet[CreationBasketRecord]:
    records = CreationBasketRecord.objects.filter(trade_date__gte=start, trade_date__lte=end).select_related("order", "fund")
    if fund_ids:
        records = records.filter(fund_id__in=fund_ids)
    return records.prefetch_related("lines").order_by("trade_date", "order__received_at")
