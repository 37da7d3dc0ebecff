"""AP API of the one channel: released Publications only, identical for every AP, the webhook's exact bytes;
acknowledgements in the dissemination log; Alternate Baskets read from their Publications; the basket API
never serves a basket before its Publication's release time."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
import time_machine

from backoffice import roles
from baskets.models import Publication
from baskets.services.dissemination import publication_append, release_stamp
from orders import services
from orders.dissemination import disseminations_due, participant_webhook_set
from orders.models import AuthorizedParticipant, Dissemination
from tests.factories import UserFactory
from tests.orders_fixtures import (
    TRADE_DATE,
    client_for,
    et,
    module_trading_day_fixtures,
)
from tests.webhook_receivers import receivers

pytestmark = pytest.mark.django_db

_built_day, trading_day = module_trading_day_fixtures()

NOON = et(TRADE_DATE, 12, 0)


def publish(day, actor, kind, release_at, **payload) -> Publication:
    return publication_append(kind=kind, fund=day.fund, trade_date=TRADE_DATE, release_at=release_at, payload=payload, actor=actor,
                              now=NOON - dt.timedelta(minutes=30))


@pytest.fixture
def feed(trading_day, actor):
    """#1 the morning basket (fixture), #2 an Alternate Basket released at 11:00, #3 a cash announcement at 11:30,
    #4 an Alternate Basket released at 14:00 (not yet at noon)."""
    day = trading_day
    alt = publish(day, actor, Publication.Kind.ALTERNATE_BASKET, et(TRADE_DATE, 11, 0), alternate_basket_id=7,
                  components=[{"ticker": "AAA", "quantity": "100"}])
    cash = publish(day, actor, Publication.Kind.CASH_ANNOUNCEMENT, et(TRADE_DATE, 11, 30), estimated_cash_per_creation_unit="99.10")
    later = publish(day, actor, Publication.Kind.ALTERNATE_BASKET, et(TRADE_DATE, 14, 0), alternate_basket_id=8, components=[])
    return day, alt, cash, later


def get(user, path, at=NOON):
    with time_machine.travel(at, tick=False):
        return client_for(user).get(path)


def test_list_is_released_only_in_sequence_order_and_identical_for_every_ap(feed):
    day, alt, cash, later = feed
    # when
    one, two = get(day.user_one, "/api/publications/"), get(day.user_two, "/api/publications/")
    # then
    assert one.status_code == two.status_code == 200
    assert one.content == two.content
    body = one.json()
    assert [p["sequence"] for p in body["results"]] == [1, alt.sequence, cash.sequence]
    assert later.sequence not in [p["sequence"] for p in body["results"]]
    assert body["next_after"] is None
    first_alt = body["results"][1]
    assert first_alt == {
        "sequence": alt.sequence, "kind": "ALTERNATE_BASKET", "fund": "BSKT", "trade_date": "2021-04-20",
        "release_at": "2021-04-20T15:00:00.000000Z", "payload_sha256": alt.payload_sha256, "chain_sha256": alt.chain_sha256,
        "payload": json.loads(alt.payload),
    }
    # filters and the ?after= cursor
    assert [p["sequence"] for p in get(day.user_one, f"/api/publications/?after={alt.sequence}").json()["results"]] == [cash.sequence]
    assert [p["sequence"] for p in get(day.user_one, "/api/publications/?kind=CASH_ANNOUNCEMENT").json()["results"]] == [cash.sequence]
    assert get(day.user_one, "/api/publications/?fund=NOPE").json()["results"] == []
    page = get(day.user_one, "/api/publications/?limit=2").json()
    assert [p["sequence"] for p in page["results"]] == [1, alt.sequence] and page["next_after"] == alt.sequence
    # after its release the fourth appears, for everyone at once
    assert [p["sequence"] for p in get(day.user_two, f"/api/publications/?after={cash.sequence}", at=et(TRADE_DATE, 14)).json()["results"]] \
        == [later.sequence]


def test_detail_serves_the_exact_bytes_with_the_webhook_headers_and_the_same_404_before_release(feed, actor, settings, receivers):
    day, alt, cash, later = feed
    # given ap_one also receives webhooks
    settings.ALLOW_HTTP_WEBHOOKS = True
    receiver = receivers()
    participant_webhook_set(actor=actor, participant=day.ap_one, webhook_url=receiver.url)
    with time_machine.travel(NOON, tick=False):
        disseminations_due()
    # when
    served = get(day.user_one, f"/api/publications/{cash.sequence}/")
    # then the body is the webhook's body, byte for byte, with the same headers but the signature
    [posted] = receiver.for_sequence(cash.sequence)
    assert served.status_code == 200 and served["Content-Type"] == "application/json"
    assert served.content == posted.body == cash.payload.encode("utf-8")
    for name in ("X-ETF-Publication", "X-ETF-Release-At", "X-ETF-Payload-SHA256", "X-ETF-Chain-SHA256", "X-ETF-Kind", "X-ETF-Fund"):
        assert served[name] == posted.headers[name], name
    assert served["X-ETF-Payload-SHA256"] == hashlib.sha256(served.content).hexdigest()
    assert "X-ETF-Signature" not in served
    # before release, unreleased and nonexistent answer the same 404, for every AP, byte for byte
    answers = [get(user, f"/api/publications/{seq}/") for user in (day.user_one, day.user_two) for seq in (later.sequence, 424242, 2**70)]
    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers}) == 1
    assert answers[0].json() == {"error": {"code": "not_found", "message": "No released publication has this sequence."}}
    assert get(day.user_one, f"/api/publications/{later.sequence}/", at=et(TRADE_DATE, 14)).content == later.payload.encode("utf-8")


def test_acknowledgement_is_recorded_once_per_ap_and_404_before_release(feed):
    day, alt, cash, later = feed
    with time_machine.travel(NOON, tick=False):
        disseminations_due()  # fan-out: both APs have no webhook, so API_ONLY rows
    # when ap_one acknowledges twice
    for minute in (1, 5):
        with time_machine.travel(NOON + dt.timedelta(minutes=minute), tick=False):
            answer = client_for(day.user_one).post(f"/api/publications/{cash.sequence}/ack/")
        assert answer.status_code == 200
    # then the first time is kept, on its own row only
    assert answer.json() == {"sequence": cash.sequence, "acknowledged_at": "2021-04-20T16:01:00Z", "status": "API_ONLY"}
    rows = dict(Dissemination.objects.filter(publication=cash).values_list("participant", "acknowledged_at"))
    assert rows == {day.ap_one.pk: NOON + dt.timedelta(minutes=1), day.ap_two.pk: None}
    # an unreleased or missing sequence answers 404 and writes nothing
    with time_machine.travel(NOON, tick=False):
        for seq in (later.sequence, 99999):
            refused = client_for(day.user_two).post(f"/api/publications/{seq}/ack/")
            assert refused.status_code == 404
            assert refused.json()["error"]["message"] == "No released publication has this sequence."
    assert not Dissemination.objects.filter(publication=later).exists()


def test_roles_staff_read_aps_acknowledge_others_refused(feed):
    day, alt, cash, later = feed
    ops = UserFactory(roles=[roles.OPERATIONS])
    assert get(ops, "/api/publications/").status_code == 200
    assert get(ops, f"/api/publications/{cash.sequence}/").content == cash.payload.encode("utf-8")
    with time_machine.travel(NOON, tick=False):
        assert client_for(ops).post(f"/api/publications/{cash.sequence}/ack/").status_code == 403
    investing_fund = UserFactory(roles=[roles.INVESTING_FUND], is_staff=False)
    assert get(investing_fund, "/api/publications/").status_code == 403
    assert get(UserFactory(is_staff=False), f"/api/publications/{cash.sequence}/").status_code == 403
    with time_machine.travel(NOON, tick=False):
        from rest_framework.test import APIClient

        assert APIClient().get("/api/publications/").status_code == 401


def test_a_suspended_ap_reads_nothing(feed, actor):
    day, alt, cash, later = feed
    day.ap_two.status = AuthorizedParticipant.Status.SUSPENDED
    services.participant_save(actor=actor, participant=day.ap_two)
    for path in ("/api/publications/", f"/api/publications/{cash.sequence}/", "/api/funds/BSKT/alternate-baskets/?date=2021-04-20"):
        answer = get(day.user_two, path)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "not_entitled", path


def test_alternate_baskets_are_read_from_released_publications(feed):
    day, alt, cash, later = feed
    # when
    noon = get(day.user_one, "/api/funds/bskt/alternate-baskets/?date=2021-04-20")
    # then only the released one, with the payload every AP received
    assert noon.status_code == 200
    assert [(p["sequence"], p["payload"]["alternate_basket_id"]) for p in noon.json()] == [(alt.sequence, 7)]
    assert noon.content == get(day.user_two, "/api/funds/BSKT/alternate-baskets/?date=2021-04-20").content
    afternoon = get(day.user_one, "/api/funds/BSKT/alternate-baskets/", at=et(TRADE_DATE, 14, 0))  # default: today in New York
    assert [p["sequence"] for p in afternoon.json()] == [alt.sequence, later.sequence]
    assert afternoon.json()[1]["release_at"] == release_stamp(later.release_at)
    assert get(day.user_one, "/api/funds/BSKT/alternate-baskets/?date=2021-04-19").json() == []
    assert get(day.user_one, "/api/funds/NOPE/alternate-baskets/").status_code == 404


def test_the_basket_api_serves_no_basket_before_its_publication_is_released(trading_day):
    day = trading_day
    released = day.basket.publications.get().release_at
    path = "/api/funds/BSKT/basket/?date=2021-04-20"
    before = get(day.user_one, path, at=released - dt.timedelta(microseconds=1))
    missing = get(day.user_one, "/api/funds/BSKT/basket/?date=2021-04-21", at=released - dt.timedelta(microseconds=1))
    assert before.status_code == missing.status_code == 404
    assert get(day.user_one, "/api/funds/BSKT/basket/metrics/", at=released - dt.timedelta(microseconds=1)).json()["results"] == []
    at_release = get(day.user_one, path, at=released)
    assert at_release.status_code == 200 and at_release.json()["version"] == 1
