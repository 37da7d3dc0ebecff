"""Tamper evidence: `verify_publications` recomputes every payload hash and chain link and names the first
broken row; an edited payload, hash, release time or trade date, a deleted row and a stale head are caught."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from baskets import selectors
from baskets.models import GENESIS_SHA256, Publication, PublicationChainHead
from baskets.services.dissemination import chain_hash, publication_append, sha256_hex
from tests.factories import FundFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2021, 4, 20, 13, 0, tzinfo=dt.UTC)


@pytest.fixture
def chain(actor):
    """Five Publications over two Funds and every kind."""
    funds = [FundFactory(ticker="AAAA"), FundFactory(ticker="BBBB")]
    kinds = list(Publication.Kind)
    rows = []
    for n in range(5):
        release_at = START + dt.timedelta(minutes=n)
        rows.append(publication_append(
            kind=kinds[n % len(kinds)], fund=funds[n % 2], trade_date=dt.date(2021, 4, 20), release_at=release_at,
            payload={"n": n, "cash": f"{n}00.25", "note": "é"}, actor=actor, now=release_at,
        ))
    return rows


def verify() -> str:
    out = StringIO()
    call_command("verify_publications", stdout=out)
    return out.getvalue()


def refused() -> str:
    with pytest.raises(CommandError) as failure:
        verify()
    return str(failure.value)


def test_an_intact_chain_passes_and_names_its_head(chain):
    # the links are what publication_append wrote: genesis, then each row's hash over the previous one
    previous = GENESIS_SHA256
    for row in chain:
        assert row.previous_chain_sha256 == previous
        assert row.payload_sha256 == sha256_hex(row.payload.encode("utf-8"))
        previous = chain_hash(previous=previous, sequence=row.sequence, kind=row.kind, fund_ticker=row.fund.ticker,
                              release_at=row.release_at, payload_sha256=row.payload_sha256)
        assert row.chain_sha256 == previous
    assert verify().strip() == f"5 publications, chain intact, head {chain[-1].chain_sha256}"


def test_an_empty_chain_is_intact(db):
    assert verify().strip() == f"0 publications, chain intact, head {GENESIS_SHA256}"


def test_an_edited_payload_is_caught_and_named(chain):
    # given the third payload edited in the database (Publication.save refuses updates; SQL does not)
    target = chain[2]
    edited = target.payload.replace('"200.25"', '"999.25"')
    assert edited != target.payload
    Publication.objects.filter(pk=target.pk).update(payload=edited)
    # when / then
    message = refused()
    assert f"publication #{target.sequence} ({target.kind}, {target.fund.ticker}, 2021-04-20)" in message
    assert "payload SHA-256" in message and "the payload was edited" in message
    assert "after 2 intact publication(s)" in message
    report = selectors.publication_chain_verify()
    assert (report.intact, report.sequence, report.count, report.head) == (False, target.sequence, 2, chain[1].chain_sha256)


def test_a_payload_edited_with_its_hash_breaks_the_link(chain):
    # the forger recomputes the payload hash too: the chain link no longer matches
    target = chain[1]
    edited = target.payload.replace('"100.25"', '"0.25"')
    Publication.objects.filter(pk=target.pk).update(payload=edited, payload_sha256=sha256_hex(edited.encode("utf-8")))
    message = refused()
    assert f"publication #{target.sequence} " in message and "chain hash recomputes to" in message


def test_an_edited_chain_hash_is_caught_at_that_row(chain):
    target = chain[3]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Publication._meta.db_table} SET chain_sha256 = %s WHERE id = %s", ["f" * 64, target.pk])
    message = refused()
    assert f"publication #{target.sequence} " in message and "chain hash recomputes to" in message


def test_a_rewritten_chain_from_an_edited_row_is_caught_at_the_head(chain):
    # the forger rewrites every link after the edited row: the head (updated on every append) gives it away
    edited_rows = list(Publication.objects.order_by("sequence"))
    previous = edited_rows[1].chain_sha256
    for row in edited_rows[2:]:
        payload = row.payload.replace("é", "e")
        digest = sha256_hex(payload.encode("utf-8"))
        link = chain_hash(previous=previous, sequence=row.sequence, kind=row.kind, fund_ticker=row.fund.ticker, release_at=row.release_at,
                          payload_sha256=digest)
        Publication.objects.filter(pk=row.pk).update(payload=payload, payload_sha256=digest, previous_chain_sha256=previous, chain_sha256=link)
        previous = link
    message = refused()
    assert "the chain head says #5" in message and chain[-1].chain_sha256 in message


def test_an_edited_release_time_or_trade_date_is_caught(chain):
    target = chain[4]
    Publication.objects.filter(pk=target.pk).update(release_at=target.release_at - dt.timedelta(hours=1))
    assert f"publication #{target.sequence} " in refused()
    Publication.objects.filter(pk=target.pk).update(release_at=target.release_at, trade_date=dt.date(2021, 4, 19))
    message = refused()
    assert "trade_date is '2021-04-19' but the payload says '2021-04-20'" in message


def test_a_deleted_middle_row_is_named(chain):
    # Publication.delete() refuses; raw SQL does not
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Publication._meta.db_table} WHERE id = %s", [chain[2].pk])
    message = refused()
    assert f"publication #{chain[3].sequence} " in message and f"publication #{chain[2].sequence} is missing" in message


def test_a_deleted_last_row_is_caught_by_the_head(chain):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Publication._meta.db_table} WHERE id = %s", [chain[-1].pk])
    message = refused()
    assert "the chain head says #5" in message and "the last publication is #4" in message


def test_the_model_refuses_updates_and_deletes(chain):
    from django.core.exceptions import ValidationError

    row = Publication.objects.get(pk=chain[0].pk)
    row.payload = "{}"
    with pytest.raises(ValidationError):
        row.save()
    with pytest.raises(ValidationError):
        row.delete()
    assert PublicationChainHead.objects.get().last_sequence == 5
