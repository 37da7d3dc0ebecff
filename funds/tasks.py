"""Thin Celery tasks: ids and ISO dates in, one service call, a JSON summary out."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError

from backoffice.audit import system_user
from funds import services

TRANSIENT = (OperationalError,)


def _summary(outcomes) -> list[dict]:
    return [
        {
            "fund": o.ticker, "date": o.date.isoformat(), "strike": o.strike, "status": o.status,
            "nav_per_share": str(o.nav.nav_per_share) if o.nav else None, "missing": o.missing_tickers,
        }
        for o in outcomes
    ]


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def nav_strike_task(fund_id: int, day: str, strike: str) -> list[dict]:
    outcomes = services.nav_strike_batch(fund_ids=[fund_id], day=dt.date.fromisoformat(day), strike=strike, actor=system_user())
    return _summary(outcomes)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def nav_strike_batch_task(fund_ids: list[int], day: str, strike: str, actor_id: int | None = None) -> list[dict]:
    actor = get_user_model().objects.get(pk=actor_id) if actor_id else system_user()
    outcomes = services.nav_strike_batch(fund_ids=fund_ids, day=dt.date.fromisoformat(day), strike=strike, actor=actor)
    return _summary(outcomes)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def nav_strikes_due_task() -> list[dict]:
    return _summary(services.nav_strikes_due(actor=system_user()))
