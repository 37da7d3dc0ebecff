"""Thin Celery tasks: ISO dates and ids in, one service call, a JSON summary out."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError

from backoffice.audit import system_user
from baskets import services

TRANSIENT = (OperationalError,)


def _baskets(outcomes) -> list[dict]:
    return [
        {
            "fund": o.ticker, "trade_date": o.trade_date.isoformat(), "status": o.status,
            "version": o.basket.version if o.basket else None, "constraint": o.constraint, "message": o.message,
        }
        for o in outcomes
    ]


def _spreads(outcomes) -> list[dict]:
    return [
        {"fund": o.ticker, "date": o.date.isoformat(), "status": o.status,
         "spread_pct": str(o.spread.spread_pct) if o.spread else None, "reason": o.reason}
        for o in outcomes
    ]


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def baskets_publish_due_task() -> list[dict]:
    return _baskets(services.substitute_baskets_publish_due(actor=system_user()))


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def baskets_publish_task(trade_date: str, fund_ids: list[int] | None = None) -> list[dict]:
    return _baskets(services.substitute_baskets_publish(trade_date=dt.date.fromisoformat(trade_date), fund_ids=fund_ids, actor=system_user()))


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def proxy_spreads_due_task() -> list[dict]:
    return _spreads(services.proxy_spreads_record_due(actor=system_user()))
