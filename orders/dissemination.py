"""Dissemination services: every Publication reaches every active AP, the same bytes at the same time.

The outbox of the one channel (``baskets.services.dissemination``; Regulation FD, conditions A.8-A.10).
A Publication is committed first; nothing here chooses recipients: once its release time has passed,
``disseminations_fan_out`` writes one Dissemination row for EVERY active AP in one transaction (PENDING
for an AP with a webhook, API_ONLY for one without), and ``disseminations_due`` POSTs the pending ones.
No function takes a list of APs. The AP API (``orders.api.publications``) serves the same Publications,
only after their release time, to every AP alike.

Webhook request (what an AP's receiver gets)::

    POST <webhook_url>
    Content-Type: application/json
    X-ETF-Publication: <sequence>            (monotonic; deduplicate and order on it)
    X-ETF-Kind: <kind>                       X-ETF-Fund: <ticker>
    X-ETF-Release-At: <release stamp>        (UTC, microseconds, e.g. 2021-04-20T12:30:00.000000Z)
    X-ETF-Payload-SHA256: <hex SHA-256 of the body>
    X-ETF-Chain-SHA256: <hex hash-chain link of this Publication>
    X-ETF-Signature: t=<release stamp>,v1=<hex HMAC-SHA256(key, b"<release stamp>." + body)>

    body: the Publication's canonical JSON, byte for byte what GET /api/publications/<sequence>/ serves

The HMAC key is the AP's ``webhook_secret`` text as ASCII bytes (64 hex characters). ``t`` is the release
stamp, not the sending time, so every header but the signature is identical for every AP and every retry;
a receiver verifies ``v1`` with its own secret in constant time and rejects a sequence it already holds.
Any 2xx is an accepted delivery: the row becomes DELIVERED and is never POSTed again. Redirects are not
followed (a 3xx is a failure: register the final URL). The POST is made directly (http.client, TLS
verified against the system CAs, 5 s timeout), not through an environment proxy. Anything else is retried after 30 s, 2 min, 8 min,
32 min, then hourly, and after ``MAX_ATTEMPTS`` attempts the row is GAVE_UP and Operations are e-mailed;
the AP can still read the Publication from the API.

Delivery is at least once: a POST that succeeded but whose result could not be recorded (the worker died)
is sent again after its lease expires; receivers deduplicate on X-ETF-Publication.

Latency: on commit, a Publication schedules ``disseminations_due_task`` at its release time (Celery ETA,
when the release is within the hour); the beat runs the same task every minute, so a Publication is
POSTed at most about a minute after its release even without the ETA task, and retries run on the
minute after their backoff. Before the release time nothing is POSTed: the guard compares the release
time with both the caller's ``now`` and the wall clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import logging
import secrets
import ssl
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from backoffice import roles
from backoffice.audit import system_user
from backoffice.exceptions import InvalidInput
from baskets import selectors as basket_selectors
from baskets.models import Publication
from baskets.services.dissemination import release_stamp
from orders.models import (
    AuthorizedParticipant,
    Dissemination,
    DisseminationAttempt,
    DisseminationFanOut,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_FIRST = dt.timedelta(seconds=30)
BACKOFF_FACTOR = 4
BACKOFF_CAP = dt.timedelta(hours=1)
# A claimed row is not picked by another run for this long (several POSTs of one AP run one after another).
LEASE = dt.timedelta(minutes=10)
BATCH = 500  # rows claimed per run; the next run (a minute later) takes the rest
MAX_THREADS = 16  # APs POSTed to in parallel; one AP's Publications go out one by one, in sequence order
ERROR_TEXT_LIMIT = 500
USER_AGENT = "etf-backoffice-dissemination/1"


# --- webhook registration ---------------------------------------------------------------------------


@dataclass
class WebhookRegistration:
    participant: AuthorizedParticipant
    secret: str | None  # the new secret, shown once; None when the secret was kept


def _new_secret() -> str:
    return secrets.token_hex(32)


def webhook_url_validate(url: str) -> str:
    """A well-formed https URL (http only when ``settings.ALLOW_HTTP_WEBHOOKS``, i.e. in tests)."""
    url = (url or "").strip()
    if not url:
        return ""
    allowed = ["https", "http"] if settings.ALLOW_HTTP_WEBHOOKS else ["https"]
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        raise InvalidInput("webhook_url: not a valid URL.", details={"webhook_url": ["Enter a valid https URL."]})
    parts = urlsplit(url)
    if parts.scheme not in allowed:
        raise InvalidInput(
            "webhook_url: must be an https URL (non-public Fund information is never sent in clear text).",
            details={"webhook_url": ["Must start with https://."]},
        )
    if parts.username or parts.password or parts.fragment:
        raise InvalidInput("webhook_url: no credentials or fragment in the URL; requests are signed instead.",
                           details={"webhook_url": ["No user:password@ or #fragment."]})
    return url


@transaction.atomic
def participant_webhook_set(*, actor, participant: AuthorizedParticipant, webhook_url: str, rotate_secret: bool = False) -> WebhookRegistration:
    """Register (or clear, with a blank URL) the AP's webhook. A secret is generated server-side when the AP
    has none or ``rotate_secret``; it is returned here once and never again (admin and API show only its presence)."""
    url = webhook_url_validate(webhook_url)
    participant = AuthorizedParticipant.objects.select_for_update().get(pk=participant.pk)
    secret = None
    fields = ["webhook_url", "updated_at"]
    if url and (rotate_secret or not participant.webhook_secret):
        secret = participant.webhook_secret = _new_secret()
        fields.append("webhook_secret")
    participant.webhook_url = url
    participant._history_user = actor
    participant.save(update_fields=fields)
    return WebhookRegistration(participant, secret)


@transaction.atomic
def participant_webhook_secret_rotate(*, actor, participant: AuthorizedParticipant) -> WebhookRegistration:
    """A new secret for the AP's webhook (the old one stops verifying at once), shown once."""
    participant = AuthorizedParticipant.objects.select_for_update().get(pk=participant.pk)
    if not participant.webhook_url:
        raise InvalidInput("webhook_url: the AP has no webhook; register one first.", details={"webhook_url": ["No webhook registered."]})
    return participant_webhook_set(actor=actor, participant=participant, webhook_url=participant.webhook_url, rotate_secret=True)


# --- what is sent -----------------------------------------------------------------------------------


def publication_headers(publication: Publication) -> dict[str, str]:
    """The headers every AP gets with a Publication (webhook and API alike); the signature is added per AP."""
    return {
        "Content-Type": "application/json",
        "X-ETF-Publication": str(publication.sequence),
        "X-ETF-Kind": publication.kind,
        "X-ETF-Fund": publication.fund.ticker,
        "X-ETF-Release-At": release_stamp(publication.release_at),
        "X-ETF-Payload-SHA256": publication.payload_sha256,
        "X-ETF-Chain-SHA256": publication.chain_sha256,
    }


def webhook_signature(*, secret: str, stamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("ascii"), stamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def _released(release_at: dt.datetime, now: dt.datetime) -> bool:
    """Released for ``now`` and for the wall clock: a caller's wrong ``now`` can never send early."""
    return release_at <= now and release_at <= timezone.now()


# --- fan-out ----------------------------------------------------------------------------------------


def disseminations_fan_out(*, now: dt.datetime | None = None) -> list[DisseminationFanOut]:
    """Every released Publication not yet fanned out gets one Dissemination row per active AP.

    Per Publication, one transaction writes the fan-out row and the rows of every active AP, so no
    AP is ever left out of a Publication another AP received. Idempotent: a second run (or a
    concurrent worker) finds the fan-out row and skips it. An AP activated later gets no row for past
    Publications; it reads them from GET /api/publications/?after=0.
    """
    now = now or timezone.now()
    horizon = min(now, timezone.now())
    due = (
        Publication.objects.filter(release_at__lte=horizon)
        .filter(~Exists(DisseminationFanOut.objects.filter(publication=OuterRef("pk"))))
        .order_by("sequence").values_list("pk", flat=True)[:BATCH]
    )
    done = []
    for publication_id in list(due):
        try:
            with transaction.atomic():
                done.append(_fan_out_one(publication_id, now))
        except IntegrityError:  # another worker fanned it out first
            logger.info("publication %s already fanned out", publication_id)
    return done


def _fan_out_one(publication_id: int, now: dt.datetime) -> DisseminationFanOut:
    participants = list(AuthorizedParticipant.objects.filter(status=AuthorizedParticipant.Status.ACTIVE).order_by("pk"))
    fan_out = DisseminationFanOut.objects.create(publication_id=publication_id, fanned_out_at=now, recipients=len(participants))
    # An AP may have acknowledged through the API before the fan-out ran (an API_ONLY row): keep its row.
    existing = {row.participant_id: row for row in Dissemination.objects.select_for_update().filter(publication_id=publication_id)}
    actor = system_user()
    rows = []
    for participant in participants:
        status = Dissemination.Status.PENDING if participant.webhook_url else Dissemination.Status.API_ONLY
        row = existing.get(participant.pk)
        if row is None:
            rows.append(Dissemination(publication_id=publication_id, participant=participant, status=status, created_at=now,
                                      next_attempt_at=now if status == Dissemination.Status.PENDING else None))
        elif row.status == Dissemination.Status.API_ONLY and status == Dissemination.Status.PENDING:
            row.status, row.next_attempt_at, row._history_user = status, now, actor
            row.save(update_fields=["status", "next_attempt_at"])
    bulk_create_with_history(rows, Dissemination, default_user=actor, default_date=now)
    return fan_out


# --- delivery ---------------------------------------------------------------------------------------


@dataclass
class _Job:
    dissemination_id: int
    participant_id: int
    sequence: int
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class _Answer:
    http_status: int | None
    error: str
    duration_ms: int

    @property
    def accepted(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


@dataclass
class DeliveryRun:
    fanned_out: int = 0
    delivered: list[int] = field(default_factory=list)  # dissemination ids
    retrying: list[int] = field(default_factory=list)
    gave_up: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"fanned_out": self.fanned_out, "delivered": len(self.delivered), "retrying": len(self.retrying),
                "gave_up": len(self.gave_up), "cancelled": len(self.cancelled)}


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failure: 30 s, 2 min, 8 min, 32 min, then 1 h."""
    return min(BACKOFF_FIRST * BACKOFF_FACTOR ** (attempts - 1), BACKOFF_CAP)


def _claim(now: dt.datetime, run: DeliveryRun, dissemination_id: int | None = None) -> list[_Job]:
    """Lock the due PENDING rows (skipping rows another worker holds), lease them, and build their requests."""
    horizon = min(now, timezone.now())
    actor = system_user()
    jobs = []
    with transaction.atomic():
        rows = (
            Dissemination.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Dissemination.Status.PENDING, next_attempt_at__lte=now, publication__release_at__lte=horizon)
            .select_related("publication", "publication__fund", "participant")
            .order_by("publication__sequence", "participant_id")
        )
        if dissemination_id is not None:
            rows = rows.filter(pk=dissemination_id)
        for row in rows[:BATCH]:
            participant, publication = row.participant, row.publication
            row._history_user = actor
            if participant.status != AuthorizedParticipant.Status.ACTIVE:
                row.status, row.next_attempt_at = Dissemination.Status.CANCELLED, None
                row.save(update_fields=["status", "next_attempt_at"])
                run.cancelled.append(row.pk)
                continue
            if not participant.webhook_url:  # the webhook was removed after the fan-out
                row.status, row.next_attempt_at = Dissemination.Status.API_ONLY, None
                row.save(update_fields=["status", "next_attempt_at"])
                continue
            if not _released(publication.release_at, now):  # the query's guard, restated where it matters
                continue
            body = publication.payload_bytes
            headers = publication_headers(publication)
            headers["X-ETF-Signature"] = webhook_signature(secret=participant.webhook_secret, stamp=headers["X-ETF-Release-At"], body=body)
            headers["User-Agent"] = USER_AGENT
            row.next_attempt_at = now + LEASE
            row.save(update_fields=["next_attempt_at"])
            jobs.append(_Job(row.pk, participant.pk, publication.sequence, participant.webhook_url, body, headers))
    return jobs


def _connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()), target
    if parts.scheme == "http" and settings.ALLOW_HTTP_WEBHOOKS:
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout), target
    raise ValueError(f"refused to POST to a non-https URL ({parts.scheme}://)")


def _post(job: _Job) -> _Answer:
    """One POST, no database access (runs in a worker thread). http.client sends the headers as spelled
    (urllib would re-case them) and never follows a redirect: a 3xx is answered as a failure."""
    started = time.perf_counter()
    status, error = None, ""
    connection = None
    try:
        connection, target = _connection(job.url)
        connection.request("POST", target, body=job.body, headers=job.headers)
        response = connection.getresponse()
        status = response.status
        text = response.read(ERROR_TEXT_LIMIT).decode("utf-8", "replace")
        if not 200 <= status < 300:
            error = f"HTTP {status} {response.reason}: {text}".strip()
    except (OSError, http.client.HTTPException, ValueError) as failure:  # refused, timeout, TLS, malformed answer
        error = f"{type(failure).__name__}: {failure}"
    finally:
        if connection is not None:
            connection.close()
    return _Answer(status, error[:ERROR_TEXT_LIMIT], int((time.perf_counter() - started) * 1000))


def _post_in_order(jobs: list[_Job]) -> list[tuple[_Job, _Answer]]:
    return [(job, _post(job)) for job in sorted(jobs, key=lambda j: j.sequence)]


def _record(job: _Job, answer: _Answer, now: dt.datetime, run: DeliveryRun) -> None:
    with transaction.atomic():
        row = (Dissemination.objects.select_for_update(of=("self",)).select_related("publication", "publication__fund", "participant")
               .get(pk=job.dissemination_id))
        attempt = row.attempts + 1
        DisseminationAttempt.objects.create(
            dissemination=row, attempt=attempt, attempted_at=now, url=job.url, http_status=answer.http_status,
            error=answer.error, duration_ms=answer.duration_ms, accepted=answer.accepted,
        )
        row.attempts = attempt
        row._history_user = system_user()
        if row.status != Dissemination.Status.PENDING:  # cannot happen under the lease; never downgrade a delivery
            row.save(update_fields=["attempts"])
            return
        if answer.accepted:
            row.status, row.delivered_at, row.next_attempt_at = Dissemination.Status.DELIVERED, now, None
            run.delivered.append(row.pk)
        elif attempt >= MAX_ATTEMPTS:
            row.status, row.next_attempt_at = Dissemination.Status.GAVE_UP, None
            run.gave_up.append(row.pk)
            transaction.on_commit(lambda: _alert_operations(row, answer))
        else:
            row.next_attempt_at = now + backoff(attempt)
            run.retrying.append(row.pk)
        row.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])


def _deliver(jobs: list[_Job], now: dt.datetime, run: DeliveryRun) -> None:
    by_participant: dict[int, list[_Job]] = defaultdict(list)
    for job in jobs:
        by_participant[job.participant_id].append(job)
    if len(by_participant) <= 1:
        answered = [pair for group in by_participant.values() for pair in _post_in_order(group)]
    else:  # every AP at once: the HTTP requests run in threads, the database writes stay here
        with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(by_participant)), thread_name_prefix="dissemination") as pool:
            answered = [pair for pairs in pool.map(_post_in_order, by_participant.values()) for pair in pairs]
    for job, answer in answered:
        _record(job, answer, now, run)


def dissemination_deliver(*, dissemination_id: int, now: dt.datetime | None = None) -> DeliveryRun:
    """Attempt one Dissemination now if it is PENDING, due and released (else nothing is sent)."""
    now = now or timezone.now()
    run = DeliveryRun()
    _deliver(_claim(now, run, dissemination_id=dissemination_id), now, run)
    return run


def disseminations_due(*, now: dt.datetime | None = None) -> DeliveryRun:
    """Fan out what was released, then POST every PENDING row whose attempt is due (the beat's task)."""
    now = now or timezone.now()
    run = DeliveryRun(fanned_out=len(disseminations_fan_out(now=now)))
    _deliver(_claim(now, run), now, run)
    return run


def _alert_operations(row: Dissemination, answer: _Answer) -> None:
    """E-mail Operations and AP Relationship (and superusers): an AP's webhook never accepted a Publication."""
    publication, participant = row.publication, row.participant
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    recipients = sorted(
        set(users.filter(groups__name__in=[roles.OPERATIONS, roles.AP_RELATIONSHIP]).values_list("email", flat=True))
        | set(users.filter(is_superuser=True).values_list("email", flat=True))
    )
    subject = f"[dissemination] {participant.legal_name}: publication #{publication.sequence} NOT delivered after {row.attempts} attempts"
    body = (
        f"Publication #{publication.sequence} ({publication.kind}, {publication.fund.ticker}, {publication.trade_date.isoformat()}, "
        f"released {release_stamp(publication.release_at)}) was not accepted by the webhook of {participant.legal_name} "
        f"({participant.webhook_url}) after {row.attempts} attempts.\n\nLast answer: {answer.http_status or '-'} {answer.error}\n\n"
        "Nothing more will be POSTed. The AP can still read it from GET /api/publications/; contact the AP's operations desk."
    )
    if recipients:
        send_mail(subject, body, None, recipients, fail_silently=True)
    logger.error("%s: %s", subject, answer.error)


# --- acknowledgements and the on-commit trigger ------------------------------------------------------


@transaction.atomic
def dissemination_acknowledge(*, participant: AuthorizedParticipant, sequence: int, now: dt.datetime | None = None) -> Dissemination:
    """The AP confirms it holds Publication ``sequence`` (404 before its release, like a missing one).

    The first acknowledgement time is kept. An AP without a row (API-only and activated after the
    fan-out, or acknowledging before the fan-out ran) gets an API_ONLY row.
    """
    now = now or timezone.now()
    publication = basket_selectors.publication_released_get(sequence=sequence, at=min(now, timezone.now()))
    row, _ = Dissemination.objects.get_or_create(
        publication=publication, participant=participant, defaults={"status": Dissemination.Status.API_ONLY, "created_at": now},
    )
    row = Dissemination.objects.select_for_update().get(pk=row.pk)
    if row.acknowledged_at is None:
        row.acknowledged_at = now
        row._history_user = system_user()
        row.save(update_fields=["acknowledged_at"])
    return row


ETA_HORIZON = dt.timedelta(hours=1)  # beyond this the broker may redeliver an ETA task early; the beat covers it


def publication_committed_schedule(sender, *, publication_id: int, release_at: dt.datetime, **kwargs) -> None:
    """Receiver of ``baskets.services.dissemination.publication_committed``: deliver at the release time."""
    from orders.tasks import disseminations_due_task

    now = timezone.now()
    if release_at - now <= ETA_HORIZON:
        eta = max(release_at, now)
        # a message still queued 10 minutes later is stale: the beat has delivered by then
        disseminations_due_task.apply_async(eta=eta, expires=eta + dt.timedelta(minutes=10))
