"""One dissemination channel: every active AP gets the same bytes and release stamp, by a real webhook POST,
never before the release time; retries with backoff give exactly one accepted delivery; no path picks APs."""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import socket

import pytest
import time_machine
from django.core import mail

from backoffice import roles
from backoffice.exceptions import InvalidInput
from baskets.models import Publication
from baskets.services.dissemination import publication_append, release_stamp
from orders import dissemination, services
from orders.dissemination import (
    MAX_ATTEMPTS,
    dissemination_deliver,
    disseminations_due,
    disseminations_fan_out,
    participant_webhook_secret_rotate,
    participant_webhook_set,
)
from orders.models import (
    AuthorizedParticipant,
    Dissemination,
    DisseminationAttempt,
    DisseminationFanOut,
)
from tests.factories import UserFactory
from tests.orders_fixtures import (
    TRADE_DATE,
    client_for,
    et,
    make_ap_user,
    make_participant,
    module_trading_day_fixtures,
)
from tests.webhook_receivers import receivers, signature_valid

pytestmark = pytest.mark.django_db

_built_day, trading_day = module_trading_day_fixtures()

RELEASE = et(TRADE_DATE, 12, 30)
BEFORE = et(TRADE_DATE, 12, 0)


@pytest.fixture(autouse=True)
def _http_webhooks(settings):
    settings.ALLOW_HTTP_WEBHOOKS = True  # local receivers on 127.0.0.1 (no TLS in tests)


@pytest.fixture
def day(trading_day, actor):
    """The morning basket (publication #1) is already fanned out (no webhook yet: API only), so the
    receivers see only what the tests publish."""
    with time_machine.travel(et(TRADE_DATE, 9, 0), tick=False):
        disseminations_fan_out()
    return trading_day


def announce(day, actor, *, release_at=RELEASE, cash="1250.00") -> Publication:
    """A cash announcement committed at 12:00 ET for release at ``release_at``."""
    return publication_append(
        kind=Publication.Kind.CASH_ANNOUNCEMENT, fund=day.fund, trade_date=TRADE_DATE, release_at=release_at,
        payload={"estimated_cash_per_creation_unit": cash, "note": "Dividend received — cash adjusted"}, actor=actor, now=BEFORE,
    )


def hook(participant, receiver, actor) -> str:
    return participant_webhook_set(actor=actor, participant=participant, webhook_url=receiver.url).secret


def run_at(instant: dt.datetime):
    with time_machine.travel(instant, tick=False):
        return disseminations_due()


def test_every_ap_gets_identical_bytes_and_release_stamp_and_nothing_before_release(day, actor, receivers):
    # given two APs with webhooks on real local HTTP servers, and a Publication released at 12:30
    one, two = receivers(), receivers()
    secret_one, secret_two = hook(day.ap_one, one, actor), hook(day.ap_two, two, actor)
    publication = announce(day, actor)

    # when the outbox runs before the release time
    run = run_at(BEFORE)
    # then nothing is POSTed, nothing is fanned out, and both APs get the 404 of a sequence that does not exist
    assert (one.received, two.received) == ([], [])
    assert run.fanned_out == 0 and not Dissemination.objects.filter(publication=publication).exists()
    with time_machine.travel(BEFORE, tick=False):
        answers = [client_for(user).get(f"/api/publications/{seq}/") for user in (day.user_one, day.user_two)
                   for seq in (publication.sequence, 999)]
    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers}) == 1

    # when it runs at the release time
    run = run_at(RELEASE)
    # then both receivers got one POST with the same bytes: the Publication's payload, byte for byte
    assert run.fanned_out == 1 and len(run.delivered) == 2
    [got_one], [got_two] = one.received, two.received
    assert got_one.body == got_two.body == publication.payload.encode("utf-8")
    assert "Dividend received — cash adjusted".encode() in got_one.body  # UTF-8, not escaped
    for name in ("X-ETF-Publication", "X-ETF-Release-At", "X-ETF-Payload-SHA256", "X-ETF-Chain-SHA256", "X-ETF-Kind", "X-ETF-Fund",
                 "Content-Type"):
        assert got_one.headers[name] == got_two.headers[name], name
    assert got_one.headers["X-ETF-Release-At"] == release_stamp(RELEASE) == "2021-04-20T16:30:00.000000Z"
    assert got_one.headers["X-ETF-Payload-SHA256"] == hashlib.sha256(got_one.body).hexdigest() == publication.payload_sha256
    assert got_one.headers["X-ETF-Publication"] == str(publication.sequence)
    # each verifies the signature with its own secret; the other AP's secret does not verify
    assert signature_valid(got_one, secret_one) and signature_valid(got_two, secret_two)
    assert not signature_valid(got_one, secret_two) and not signature_valid(got_two, secret_one)
    assert got_one.headers["X-ETF-Signature"] != got_two.headers["X-ETF-Signature"]
    # and the API serves the same bytes and stamps to both APs
    with time_machine.travel(RELEASE, tick=False):
        served = [client_for(user).get(f"/api/publications/{publication.sequence}/") for user in (day.user_one, day.user_two)]
    assert [r.content for r in served] == [got_one.body, got_one.body]
    assert {r["X-ETF-Release-At"] for r in served} == {got_one.headers["X-ETF-Release-At"]}
    # the dissemination log: one accepted attempt per AP
    rows = Dissemination.objects.filter(publication=publication).order_by("participant__legal_name")
    assert [(r.participant, r.status, r.attempts, r.delivered_at) for r in rows] == [
        (day.ap_one, Dissemination.Status.DELIVERED, 1, RELEASE), (day.ap_two, Dissemination.Status.DELIVERED, 1, RELEASE)]
    attempts = DisseminationAttempt.objects.filter(dissemination__publication=publication)
    assert sorted((a.http_status, a.accepted, a.url) for a in attempts) == sorted([(200, True, one.url), (200, True, two.url)])
    assert DisseminationFanOut.objects.get(publication=publication).recipients == 2


def test_a_receiver_failing_twice_gets_exactly_one_accepted_delivery(day, actor, receivers):
    # given ap_one's receiver answers 500 twice, then 200
    flaky, steady = receivers(500, 500), receivers()
    hook(day.ap_one, flaky, actor)
    hook(day.ap_two, steady, actor)
    publication = announce(day, actor)
    row = lambda: Dissemination.objects.get(publication=publication, participant=day.ap_one)

    # when: the first attempt at the release fails and is retried after 30 s, then 2 minutes
    run_at(RELEASE)
    assert (flaky.accepted, row().status, row().attempts, row().next_attempt_at) == (0, "PENDING", 1, RELEASE + dt.timedelta(seconds=30))
    run_at(RELEASE + dt.timedelta(seconds=10))  # not due yet: nothing POSTed
    assert len(flaky.received) == 1
    run_at(RELEASE + dt.timedelta(seconds=30))
    assert (len(flaky.received), row().attempts, row().next_attempt_at) == (2, 2, RELEASE + dt.timedelta(seconds=30, minutes=2))
    run_at(RELEASE + dt.timedelta(seconds=30, minutes=2))
    # later runs of the beat never POST a delivered Publication again
    for minutes in (5, 30, 120):
        run_at(RELEASE + dt.timedelta(minutes=minutes))
    dissemination_deliver(dissemination_id=row().pk, now=RELEASE + dt.timedelta(hours=3))

    # then three attempts, exactly one accepted, all carrying the same bytes and signature
    assert [r.answered for r in flaky.received] == [500, 500, 200]
    assert flaky.accepted == 1 and steady.accepted == 1 and len(steady.received) == 1
    assert len({(r.body, r.headers["X-ETF-Signature"]) for r in flaky.received}) == 1
    delivered = row()
    assert (delivered.status, delivered.attempts, delivered.delivered_at) == ("DELIVERED", 3, RELEASE + dt.timedelta(seconds=150))
    log = list(delivered.log.order_by("attempt").values_list("attempt", "http_status", "accepted", "attempted_at"))
    assert log == [(1, 500, False, RELEASE), (2, 500, False, RELEASE + dt.timedelta(seconds=30)),
                   (3, 200, True, RELEASE + dt.timedelta(seconds=150))]
    assert "HTTP 500" in delivered.log.get(attempt=1).error
    assert delivered.history.filter(status="DELIVERED").exists()


def test_backoff_grows_and_gives_up_alerting_operations(day, actor, receivers, django_capture_on_commit_callbacks):
    # given a receiver that always fails, and an Operations user with an e-mail address
    UserFactory(roles=[roles.OPERATIONS], email="ops@example.com")
    failing = receivers(*[503] * MAX_ATTEMPTS)
    hook(day.ap_one, failing, actor)
    publication = announce(day, actor)
    # when the beat runs whenever an attempt is due
    at, waits = RELEASE, []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with django_capture_on_commit_callbacks(execute=True):
            run_at(at)
        row = Dissemination.objects.get(publication=publication, participant=day.ap_one)
        if row.next_attempt_at:
            waits.append(row.next_attempt_at - at)
            at = row.next_attempt_at
    # then 30 s, 2 min, 8 min, 32 min, then hourly; GAVE_UP after MAX_ATTEMPTS and Operations e-mailed
    assert waits == [dt.timedelta(seconds=30), dt.timedelta(minutes=2), dt.timedelta(minutes=8), dt.timedelta(minutes=32)] + \
        [dt.timedelta(hours=1)] * (MAX_ATTEMPTS - 5)
    assert (row.status, row.attempts, row.log.count()) == (Dissemination.Status.GAVE_UP, MAX_ATTEMPTS, MAX_ATTEMPTS)
    [alert] = mail.outbox
    assert alert.to == ["ops@example.com"] and f"publication #{publication.sequence} NOT delivered" in alert.subject
    run_at(at + dt.timedelta(days=1))
    assert len(failing.received) == MAX_ATTEMPTS  # nothing more is sent


def test_a_refused_connection_and_a_redirect_are_failed_attempts(day, actor, receivers):
    # given ap_one's URL has nobody listening, and ap_two's receiver redirects
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    participant_webhook_set(actor=actor, participant=day.ap_one, webhook_url=f"http://127.0.0.1:{closed_port}/hook")
    redirecting = receivers(302)
    hook(day.ap_two, redirecting, actor)
    publication = announce(day, actor)
    # when
    run = run_at(RELEASE)
    # then both are logged as failed attempts and retried later; the redirect was not followed
    assert run.delivered == [] and len(run.retrying) == 2
    refused = DisseminationAttempt.objects.get(dissemination__participant=day.ap_one, dissemination__publication=publication)
    assert refused.http_status is None and "refused" in refused.error.lower()
    redirected = DisseminationAttempt.objects.get(dissemination__participant=day.ap_two, dissemination__publication=publication)
    assert redirected.http_status == 302 and not redirected.accepted
    assert len(redirecting.received) == 1


def test_suspended_aps_get_nothing_and_later_aps_read_the_api(day, actor, receivers):
    # given ap_two is suspended before the release, and both have webhooks
    one, two = receivers(), receivers()
    hook(day.ap_one, one, actor)
    hook(day.ap_two, two, actor)
    publication = announce(day, actor)
    day.ap_two.status = AuthorizedParticipant.Status.SUSPENDED
    services.participant_save(actor=actor, participant=day.ap_two)
    # when
    run_at(RELEASE)
    # then only the active AP got it; the suspended AP has no row and its users read nothing
    assert len(one.received) == 1 and two.received == []
    assert list(Dissemination.objects.filter(publication=publication).values_list("participant", flat=True)) == [day.ap_one.pk]
    with time_machine.travel(RELEASE, tick=False):
        assert client_for(day.user_two).get(f"/api/publications/{publication.sequence}/").status_code == 403

    # given an AP activated after the fan-out, with a webhook
    three_receiver = receivers()
    three = make_participant(actor, "Gamma Markets LLC", "0303")
    hook(three, three_receiver, actor)
    user_three = make_ap_user(actor, three, "gamma-trader")
    run_at(RELEASE + dt.timedelta(minutes=5))
    # then it is not pushed past Publications, but reads and acknowledges them through the API
    assert three_receiver.received == []
    with time_machine.travel(RELEASE + dt.timedelta(minutes=6), tick=False):
        client = client_for(user_three)
        assert client.get(f"/api/publications/{publication.sequence}/").content == one.received[0].body
        assert client.post(f"/api/publications/{publication.sequence}/ack/").status_code == 200
    row = Dissemination.objects.get(publication=publication, participant=three)
    assert (row.status, row.acknowledged_at, row.attempts) == (Dissemination.Status.API_ONLY, RELEASE + dt.timedelta(minutes=6), 0)


def test_an_ap_suspended_after_the_fan_out_is_not_posted(day, actor, receivers):
    one = receivers()
    hook(day.ap_one, one, actor)
    publication = announce(day, actor)
    with time_machine.travel(RELEASE, tick=False):
        disseminations_fan_out()
    day.ap_one.status = AuthorizedParticipant.Status.TERMINATED
    services.participant_save(actor=actor, participant=day.ap_one)
    run = run_at(RELEASE + dt.timedelta(seconds=1))
    assert one.received == [] and len(run.cancelled) == 1
    assert Dissemination.objects.get(publication=publication, participant=day.ap_one).status == Dissemination.Status.CANCELLED


def test_fan_out_covers_every_active_ap_and_no_path_takes_a_list_of_aps(day, actor, receivers):
    # given two webhook APs, one API-only AP, and a suspended one
    hook(day.ap_one, receivers(), actor)
    hook(day.ap_two, receivers(), actor)
    api_only = make_participant(actor, "Delta Prime LLC", "0404")
    make_participant(actor, "Epsilon Suspended LLC", "0505", status=AuthorizedParticipant.Status.SUSPENDED)
    publication = announce(day, actor)
    # when the fan-out runs twice (idempotent)
    with time_machine.travel(RELEASE, tick=False):
        assert len(disseminations_fan_out()) == 1
        assert disseminations_fan_out() == []
    # then every active AP has exactly one row: PENDING with a webhook, API_ONLY without
    rows = dict(Dissemination.objects.filter(publication=publication).values_list("participant", "status"))
    active = set(AuthorizedParticipant.objects.filter(status="ACTIVE").values_list("pk", flat=True))
    assert set(rows) == active and len(active) == 3
    assert rows == {day.ap_one.pk: "PENDING", day.ap_two.pk: "PENDING", api_only.pk: "API_ONLY"}
    assert Dissemination.history.filter(publication_id=publication.pk).count() == 3  # bulk writes keep history
    # and no service or task chooses recipients: they take a time (or one row's id), never APs
    for function, parameters in ((disseminations_fan_out, ["now"]), (disseminations_due, ["now"]),
                                 (dissemination_deliver, ["dissemination_id", "now"])):
        assert list(inspect.signature(function).parameters) == parameters
    assert not any("participant" in name for name, _ in inspect.getmembers(dissemination, inspect.isfunction)
                   if name.startswith("dissemination") and name != "dissemination_acknowledge")


def test_webhook_registration_https_only_and_secret_shown_once(day, actor, settings):
    settings.ALLOW_HTTP_WEBHOOKS = False
    # an http:// URL is refused, naming webhook_url, and nothing is saved
    for bad in ("http://ap.example.com/hook", "ftp://ap.example.com/hook", "not a url", "https://user:pw@ap.example.com/hook"):
        with pytest.raises(InvalidInput) as refused:
            participant_webhook_set(actor=actor, participant=day.ap_one, webhook_url=bad)
        assert refused.value.message.startswith("webhook_url:") and "webhook_url" in refused.value.details
    day.ap_one.refresh_from_db()
    assert (day.ap_one.webhook_url, day.ap_one.webhook_secret) == ("", "")
    # https is accepted; the secret is generated server-side and returned once
    first = participant_webhook_set(actor=actor, participant=day.ap_one, webhook_url="https://ap.example.com/hook")
    assert len(first.secret) == 64 and int(first.secret, 16) >= 0
    again = participant_webhook_set(actor=actor, participant=day.ap_one, webhook_url="https://ap.example.com/v2/hook")
    assert again.secret is None  # changing the URL keeps the secret, and does not show it again
    rotated = participant_webhook_secret_rotate(actor=actor, participant=day.ap_one)
    assert rotated.secret not in (None, first.secret)
    day.ap_one.refresh_from_db()
    assert (day.ap_one.webhook_url, day.ap_one.webhook_secret) == ("https://ap.example.com/v2/hook", rotated.secret)
    # the secret is never in the history table nor in the AP's API answer
    assert not hasattr(day.ap_one.history.latest(), "webhook_secret")
    me = client_for(day.user_one).get("/api/ap/me/").json()
    assert me["webhook_url"] == "https://ap.example.com/v2/hook" and rotated.secret not in str(me)
    # clearing the URL makes the AP API-only
    assert participant_webhook_set(actor=actor, participant=day.ap_one, webhook_url="").secret is None
    day.ap_one.refresh_from_db()
    assert day.ap_one.webhook_url == ""


def test_a_committed_publication_schedules_delivery_at_its_release(day, actor, monkeypatch, django_capture_on_commit_callbacks):
    from orders.tasks import disseminations_due_task

    scheduled = []
    monkeypatch.setattr(disseminations_due_task, "apply_async", lambda **kwargs: scheduled.append(kwargs))
    with time_machine.travel(BEFORE, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            soon = announce(day, actor, release_at=BEFORE + dt.timedelta(minutes=10))
        assert scheduled == [{"eta": soon.release_at, "expires": soon.release_at + dt.timedelta(minutes=10)}]
        # beyond an hour the broker could redeliver an ETA task early: the every-minute beat delivers it
        with django_capture_on_commit_callbacks(execute=True):
            announce(day, actor, release_at=BEFORE + dt.timedelta(hours=3))
        assert len(scheduled) == 1


def test_the_task_and_the_beat_entry(day, actor, receivers):
    from backoffice.celery import app
    from backoffice.celery_schedule import BEAT_SCHEDULE
    from orders.tasks import disseminations_due_task

    one = receivers()
    hook(day.ap_one, one, actor)
    announce(day, actor)
    app.loader.import_default_modules()
    entry = BEAT_SCHEDULE["disseminations-due"]
    assert entry["task"] == "orders.tasks.disseminations_due_task" and entry["task"] in app.tasks
    assert entry["schedule"].minute == set(range(60)) and entry["schedule"].hour == set(range(24))
    with time_machine.travel(RELEASE, tick=False):
        summary = disseminations_due_task.delay().get()
    assert summary == {"fanned_out": 1, "delivered": 1, "retrying": 0, "gave_up": 0, "cancelled": 0}
    assert one.accepted == 1


def test_admin_webhook_page_shows_the_secret_once_and_the_log_is_read_only(day, actor, receivers, client, settings):
    settings.ALLOW_HTTP_WEBHOOKS = False
    page = f"/admin/orders/authorizedparticipant/{day.ap_one.pk}/webhook/"
    # Operations may read APs but not set webhooks
    client.force_login(UserFactory(roles=[roles.OPERATIONS]))
    assert client.get(page).status_code == 403
    # AP Relationship: an http URL is refused on the form, nothing saved
    client.force_login(UserFactory(roles=[roles.AP_RELATIONSHIP]))
    refused = client.post(page, {"webhook_url": "http://ap.example.com/hook"})
    assert refused.status_code == 200 and b"must be an https URL" in refused.content
    day.ap_one.refresh_from_db()
    assert day.ap_one.webhook_url == "" and day.ap_one.webhook_secret == ""
    # an https URL: the secret is on the answer page once, never cached, then never shown again
    saved = client.post(page, {"webhook_url": "https://ap.example.com/hook"})
    day.ap_one.refresh_from_db()
    assert day.ap_one.webhook_url == "https://ap.example.com/hook" and len(day.ap_one.webhook_secret) == 64
    assert day.ap_one.webhook_secret.encode() in saved.content and "no-store" in saved["Cache-Control"]
    for later in (client.get(page), client.get(f"/admin/orders/authorizedparticipant/{day.ap_one.pk}/change/")):
        assert later.status_code == 200 and day.ap_one.webhook_secret.encode() not in later.content
    assert b"Set webhook / rotate secret" in client.get(f"/admin/orders/authorizedparticipant/{day.ap_one.pk}/change/").content
    rotated = client.post(page, {"webhook_url": "https://ap.example.com/hook", "rotate_secret": "on"})
    old = day.ap_one.webhook_secret
    day.ap_one.refresh_from_db()
    assert day.ap_one.webhook_secret != old and day.ap_one.webhook_secret.encode() in rotated.content
    # the dissemination log: Compliance reads it, nobody adds or changes it
    settings.ALLOW_HTTP_WEBHOOKS = True
    hook(day.ap_two, receivers(500), actor)
    announce(day, actor)
    run_at(RELEASE)
    client.force_login(UserFactory(roles=[roles.COMPLIANCE]))
    row = Dissemination.objects.get(participant=day.ap_two, publication__kind="CASH_ANNOUNCEMENT")
    assert client.get("/admin/orders/dissemination/").status_code == 200
    detail = client.get(f"/admin/orders/dissemination/{row.pk}/change/")
    assert detail.status_code == 200 and b"HTTP 500" in detail.content
    assert client.get("/admin/orders/dissemination/add/").status_code == 403
    assert client.post(f"/admin/orders/dissemination/{row.pk}/change/", {"status": "DELIVERED"}).status_code == 403
    assert client.get("/admin/orders/disseminationattempt/").status_code == 200
    assert client.get("/admin/orders/disseminationfanout/").status_code == 200
