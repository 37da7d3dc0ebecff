"""Concurrent outbox runs on PostgreSQL (row locks, SKIP LOCKED, leases): each AP gets each Publication once."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from django.db import connection

from backoffice.audit import system_user
from baskets.models import Publication
from baskets.services.dissemination import publication_append
from orders.dissemination import disseminations_due, participant_webhook_set
from orders.models import Dissemination, DisseminationAttempt, DisseminationFanOut
from tests.factories import FundFactory
from tests.orders_fixtures import make_participant
from tests.services import require_postgres
from tests.webhook_receivers import receivers

START = dt.datetime(2021, 4, 20, 16, 0, tzinfo=dt.UTC)


def _run_in_threads(n: int, work) -> list:
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait(timeout=30)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_post_each_publication_once_to_each_ap(receivers, settings, monkeypatch):
    from orders.tasks import disseminations_due_task

    require_postgres()
    settings.ALLOW_HTTP_WEBHOOKS = True
    # commits are real here: keep the on-commit ETA task (eager in tests) from delivering before the race
    scheduled = []
    monkeypatch.setattr(disseminations_due_task, "apply_async", lambda **kwargs: scheduled.append(kwargs))
    # given three webhook APs whose receivers answer slowly, and three released Publications
    actor = system_user()
    fund = FundFactory(ticker="CONC")
    participants = [make_participant(actor, f"Concurrent AP {i} LLC", f"09{i}0") for i in range(3)]
    hooks = [receivers(delay=0.2) for _ in participants]
    for participant, receiver in zip(participants, hooks):
        participant_webhook_set(actor=actor, participant=participant, webhook_url=receiver.url)
    sequences = [
        publication_append(kind=Publication.Kind.CASH_ANNOUNCEMENT, fund=fund, trade_date=START.date(), release_at=START + dt.timedelta(seconds=i),
                           payload={"i": i}, actor=actor, now=START).sequence
        for i in range(3)
    ]
    # when six workers run the outbox at the same instant
    with time_machine.travel(START + dt.timedelta(minutes=1), tick=False):
        runs = _run_in_threads(6, lambda _: disseminations_due())
    # then each Publication was fanned out once and POSTed once to each AP
    assert len(scheduled) == 3
    assert sum(run.fanned_out for run in runs) == 3 == DisseminationFanOut.objects.count()
    assert sum(len(run.delivered) for run in runs) == 9
    for receiver in hooks:
        assert sorted(int(r.headers["X-ETF-Publication"]) for r in receiver.received) == sequences
        assert receiver.accepted == 3
    assert set(Dissemination.objects.values_list("status", "attempts")) == {(Dissemination.Status.DELIVERED, 1)}
    assert DisseminationAttempt.objects.count() == 9
