"""Thin Celery tasks for orders."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from backoffice.audit import system_user
from funds import services as fund_services
from funds.tasks import _summary
from orders import dissemination, services


def _pricing_summary(outcomes) -> list[dict]:
    return [
        {"fund": o.fund, "date": o.trade_date.isoformat(), "strike": o.strike, "priced": len(o.priced), "waiting": len(o.waiting),
         "message": o.message}
        for o in outcomes
    ]


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def nav_strikes_and_pricing_due_task() -> dict:
    """The beat's strike dispatcher: strike every NAV that is due, then price the orders waiting for it."""
    actor = system_user()
    strikes = fund_services.nav_strikes_due(actor=actor)
    return {"strikes": _summary(strikes), "pricing": _pricing_summary(services.orders_price_due(actor=actor))}


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def orders_price_due_task() -> list[dict]:
    return _pricing_summary(services.orders_price_due(actor=system_user()))


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def disseminations_due_task() -> dict:
    """Fan out released Publications to every active AP and POST the due webhooks (beat: every minute)."""
    return dissemination.disseminations_due().as_dict()
