"""FOF Participation Agreements (issue 6, item 2): condition B.9, footnote 71 and section V.B.

The Investing Fund asks for an agreement and signs it through the API, accepting each acknowledgment at
its current text version; staff countersign (or terminate, or decline) for the Fund through the services
and the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from backoffice import roles
from fof import acknowledgments, services
from fof.models import AgreementAcknowledgment, InvestingFund, ParticipationAgreement, ParticipationAgreementEvent
from orders.models import RetentionError
from tests.factories import FundFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/fof/agreements/"


@pytest.fixture(autouse=True)
def _roles(db):
    if not Group.objects.filter(name=roles.INVESTING_FUND).exists():
        roles.sync_roles()


def make_investing_fund(n: int, *, approve: bool = True):
    fund = services.investing_fund_register(registration=services.RegistrationInput(
        legal_name=f"Harbor Allocation Fund {n}", kind="MANAGEMENT_COMPANY", sec_file_number=f"811-2345{n}",
        adviser_name=f"Harbor Capital Advisors {n} LLC", adviser_sec_file_number=f"801-7700{n}",
        contact_name="Dana Lee", contact_email=f"dana{n}@harbor.example.com",
    ))
    if not approve:
        return fund, None
    approval = services.investing_fund_approve(investing_fund_id=fund.pk, actor=UserFactory(roles=[roles.AP_RELATIONSHIP]))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {approval.token_key}")
    client.user = approval.user
    return approval.investing_fund, client


def all_acknowledgments() -> list[dict]:
    return [{"code": code, "text_version": version} for code, (version, _) in acknowledgments.ACKNOWLEDGMENTS.items()]


@pytest.fixture
def harbor():
    return make_investing_fund(1)


@pytest.fixture
def etf():
    return FundFactory(ticker="SAET")


def create(client, ticker="SAET"):
    return client.post(URL, {"fund": ticker}, format="json")


def sign(client, agreement_id, acks):
    return client.post(f"{URL}{agreement_id}/sign/", {"acknowledgments": acks}, format="json")


def compliance_user(**kwargs):
    return UserFactory(roles=[roles.COMPLIANCE], **kwargs)


# --- the acknowledgment texts ----------------------------------------------------------------------


def test_the_required_acknowledgments_cover_b9_footnote_71_and_section_vb():
    assert set(acknowledgments.REQUIRED) == {
        "ORDER_TERMS_UNDERSTOOD", "ORDER_ONLY_FOR_FUNDS", "SECTION_17E1_COMPENSATION", "CREATION_UNIT_PURCHASES_CONSISTENT",
    }
    assert "fulfill their responsibilities under the Order" in acknowledgments.text("ORDER_TERMS_UNDERSTOOD")
    assert "Trustee and Sponsor" in acknowledgments.text("ORDER_TERMS_UNDERSTOOD")
    assert "only to invest in the Funds" in acknowledgments.text("ORDER_ONLY_FOR_FUNDS")
    assert "Section 17(e)(1)" in acknowledgments.text("SECTION_17E1_COMPENSATION")
    assert "investment restrictions of the Investing Fund" in acknowledgments.text("CREATION_UNIT_PURCHASES_CONSISTENT")


# --- create ----------------------------------------------------------------------------------------


def test_an_active_investing_fund_creates_a_draft_with_the_texts_to_accept(harbor, etf):
    investing_fund, client = harbor

    # when
    response = create(client)

    # then
    assert response.status_code == 201, response.content
    agreement = ParticipationAgreement.objects.get()
    body = response.json()
    assert (body["id"], body["fund"], body["status"]) == (agreement.pk, "SAET", "DRAFT")
    assert {a["code"] for a in body["required_acknowledgments"]} == set(acknowledgments.REQUIRED)
    assert (agreement.investing_fund, agreement.fund, agreement.created_by) == (investing_fund, etf, client.user)
    [event] = ParticipationAgreementEvent.objects.all()
    assert (event.from_status, event.to_status, event.actor) == ("", "DRAFT", client.user)
    assert agreement.history.count() == 1


def test_an_unknown_ticker_is_refused_naming_fund_and_nothing_is_written(harbor, etf):
    _, client = harbor

    response = create(client, "NOPE")

    assert response.status_code == 400
    assert "fund" in response.json()["error"]["details"]
    assert not ParticipationAgreement.objects.exists() and not ParticipationAgreementEvent.objects.exists()


def test_a_second_open_agreement_for_the_same_fund_is_refused(harbor, etf):
    _, client = harbor
    assert create(client).status_code == 201

    response = create(client)

    assert response.status_code == 409
    assert ParticipationAgreement.objects.count() == 1


def test_the_database_allows_one_open_agreement_per_pair_but_keeps_closed_ones(harbor, etf):
    investing_fund, client = harbor
    first = ParticipationAgreement.objects.get(pk=create(client).json()["id"])

    with pytest.raises(IntegrityError), transaction.atomic():
        ParticipationAgreement.objects.create(investing_fund=investing_fund, fund=etf, created_by=client.user)

    services.agreement_decline(agreement_id=first.pk, actor=compliance_user(), reason="The Fund is closing.")
    assert create(client).status_code == 201
    assert ParticipationAgreement.objects.filter(investing_fund=investing_fund, fund=etf).count() == 2


def test_a_suspended_investing_fund_cannot_create_an_agreement(harbor, etf):
    investing_fund, client = harbor
    InvestingFund.objects.filter(pk=investing_fund.pk).update(status=InvestingFund.Status.SUSPENDED)

    response = create(client)

    assert response.status_code == 403
    assert not ParticipationAgreement.objects.exists()


def test_staff_and_anonymous_callers_cannot_use_the_investing_fund_api(etf):
    staff = APIClient()
    staff.force_authenticate(compliance_user())

    assert create(staff).status_code == 403
    assert create(APIClient()).status_code == 401
    assert not ParticipationAgreement.objects.exists()


# --- sign ------------------------------------------------------------------------------------------


def test_signing_records_each_acknowledgment_with_its_text_and_version(harbor, etf):
    _, client = harbor
    agreement_id = create(client).json()["id"]

    # when
    response = sign(client, agreement_id, all_acknowledgments())

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "SIGNED_BY_INVESTING_FUND"
    agreement = ParticipationAgreement.objects.get(pk=agreement_id)
    assert agreement.status == ParticipationAgreement.Status.SIGNED_BY_INVESTING_FUND
    assert agreement.signed_by == client.user and agreement.signed_at is not None
    rows = {a.code: a for a in AgreementAcknowledgment.objects.filter(agreement=agreement)}
    assert set(rows) == set(acknowledgments.REQUIRED)
    for code, (version, text) in acknowledgments.ACKNOWLEDGMENTS.items():
        assert (rows[code].text_version, rows[code].text, rows[code].accepted_by) == (version, text, client.user)
    assert {a["code"] for a in response.json()["acknowledgments"]} == set(acknowledgments.REQUIRED)
    assert list(agreement.events.values_list("to_status", flat=True)) == ["DRAFT", "SIGNED_BY_INVESTING_FUND"]
    assert agreement.events.last().actor == client.user


@pytest.mark.parametrize("missing", sorted(acknowledgments.REQUIRED))
def test_a_missing_acknowledgment_is_refused_naming_it_and_nothing_is_written(harbor, etf, missing):
    _, client = harbor
    agreement_id = create(client).json()["id"]

    response = sign(client, agreement_id, [a for a in all_acknowledgments() if a["code"] != missing])

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]["acknowledgments"]) == [missing]
    assert ParticipationAgreement.objects.get(pk=agreement_id).status == ParticipationAgreement.Status.DRAFT
    assert not AgreementAcknowledgment.objects.exists()
    assert ParticipationAgreementEvent.objects.count() == 1


def test_an_old_text_version_or_an_unknown_code_is_refused_naming_it(harbor, etf):
    _, client = harbor
    agreement_id = create(client).json()["id"]
    acks = all_acknowledgments()
    acks[0] = {**acks[0], "text_version": acks[0]["text_version"] + 1}

    response = sign(client, agreement_id, acks + [{"code": "SOMETHING_ELSE", "text_version": 1}])

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["acknowledgments"]) == {acks[0]["code"], "SOMETHING_ELSE"}
    assert not AgreementAcknowledgment.objects.exists()


def test_signing_twice_is_a_conflict(harbor, etf):
    _, client = harbor
    agreement_id = create(client).json()["id"]
    assert sign(client, agreement_id, all_acknowledgments()).status_code == 200

    response = sign(client, agreement_id, all_acknowledgments())

    assert response.status_code == 409
    assert AgreementAcknowledgment.objects.count() == len(acknowledgments.REQUIRED)


# --- countersign, terminate, decline (services) -------------------------------------------------------


@pytest.fixture
def signed(harbor, etf):
    _, client = harbor
    agreement_id = create(client).json()["id"]
    assert sign(client, agreement_id, all_acknowledgments()).status_code == 200
    return ParticipationAgreement.objects.get(pk=agreement_id)


@pytest.mark.parametrize("role", [roles.COMPLIANCE, roles.AP_RELATIONSHIP])
def test_compliance_or_ap_relationship_countersign_and_the_agreement_is_executed(signed, role):
    staff = UserFactory(roles=[role])

    agreement = services.agreement_countersign(agreement_id=signed.pk, actor=staff)

    agreement.refresh_from_db()
    assert agreement.status == ParticipationAgreement.Status.EXECUTED
    assert (agreement.countersigned_by, agreement.countersigned_at is not None) == (staff, True)
    event = agreement.events.last()
    assert (event.from_status, event.to_status, event.actor) == ("SIGNED_BY_INVESTING_FUND", "EXECUTED", staff)
    assert agreement.history.first().history_user == staff


@pytest.mark.parametrize("role", [roles.OPERATIONS, roles.PORTFOLIO_MANAGER, roles.BOARD])
def test_other_staff_cannot_countersign(signed, role):
    with pytest.raises(services.NotEntitled):
        services.agreement_countersign(agreement_id=signed.pk, actor=UserFactory(roles=[role]))
    signed.refresh_from_db()
    assert signed.status == ParticipationAgreement.Status.SIGNED_BY_INVESTING_FUND


def test_the_signer_cannot_countersign_even_with_the_permission(signed):
    signer = signed.signed_by
    signer.groups.add(Group.objects.get(name=roles.COMPLIANCE))
    signer = type(signer).objects.get(pk=signer.pk)  # fresh permission cache

    with pytest.raises(services.NotEntitled):
        services.agreement_countersign(agreement_id=signed.pk, actor=signer)
    signed.refresh_from_db()
    assert signed.status == ParticipationAgreement.Status.SIGNED_BY_INVESTING_FUND


def test_a_draft_cannot_be_countersigned(harbor, etf):
    _, client = harbor
    agreement_id = create(client).json()["id"]

    with pytest.raises(services.InvalidTransition):
        services.agreement_countersign(agreement_id=agreement_id, actor=compliance_user())


def test_an_executed_agreement_is_terminated_with_a_reason(signed):
    staff = compliance_user()
    services.agreement_countersign(agreement_id=signed.pk, actor=staff)

    with pytest.raises(services.InvalidInput) as refused:
        services.agreement_terminate(agreement_id=signed.pk, actor=staff, reason="  ")
    assert "reason" in refused.value.details

    agreement = services.agreement_terminate(agreement_id=signed.pk, actor=staff, reason="The Investing Fund sold its Shares.")
    agreement.refresh_from_db()
    assert (agreement.status, agreement.closing_reason, agreement.closed_by) == ("TERMINATED", "The Investing Fund sold its Shares.", staff)
    assert agreement.events.last().payload == {"reason": "The Investing Fund sold its Shares."}
    with pytest.raises(services.InvalidTransition):
        services.agreement_terminate(agreement_id=signed.pk, actor=staff, reason="again")


def test_the_fund_declines_a_signed_agreement_but_not_an_executed_one(signed):
    staff = compliance_user()

    agreement = services.agreement_decline(agreement_id=signed.pk, actor=staff, reason="The Board declined.")

    agreement.refresh_from_db()
    assert (agreement.status, agreement.closing_reason) == ("DECLINED", "The Board declined.")
    assert agreement.events.last().to_status == "DECLINED"
    with pytest.raises(services.InvalidTransition):
        services.agreement_countersign(agreement_id=signed.pk, actor=staff)


# --- retention -----------------------------------------------------------------------------------------


def test_agreements_acknowledgments_and_events_refuse_deletion(signed):
    with pytest.raises(RetentionError):
        signed.delete()
    with pytest.raises(RetentionError):
        ParticipationAgreement.objects.all().delete()
    with pytest.raises(RetentionError):
        AgreementAcknowledgment.objects.all().delete()
    with pytest.raises(RetentionError):
        signed.acknowledgments.first().delete()
    with pytest.raises(RetentionError):
        ParticipationAgreementEvent.objects.all().delete()
    assert ParticipationAgreement.objects.count() == 1
    assert AgreementAcknowledgment.objects.count() == len(acknowledgments.REQUIRED)


# --- access: two Investing Funds ----------------------------------------------------------------------


def test_an_investing_fund_sees_only_its_own_agreements(etf):
    # given two Investing Funds with an agreement each, on two Funds
    other_etf = FundFactory(ticker="SAEU")
    _, harbor_client = make_investing_fund(1)
    _, quay_client = make_investing_fund(2)
    harbor_id = create(harbor_client).json()["id"]
    quay_id = create(quay_client, "SAEU").json()["id"]
    assert other_etf and harbor_id != quay_id

    # list
    assert [a["id"] for a in harbor_client.get(URL).json()] == [harbor_id]
    assert [a["id"] for a in quay_client.get(URL).json()] == [quay_id]
    # by id
    assert harbor_client.get(f"{URL}{harbor_id}/").status_code == 200
    assert harbor_client.get(f"{URL}{quay_id}/").status_code == 404
    assert harbor_client.get(f"{URL}999999/").status_code == 404
    # signing another's agreement answers like a missing one, and writes nothing
    assert sign(harbor_client, quay_id, all_acknowledgments()).status_code == 404
    assert not AgreementAcknowledgment.objects.exists()
    # filters never widen the view
    assert harbor_client.get(URL, {"fund": "SAEU"}).json() == []
    assert [a["id"] for a in harbor_client.get(URL, {"fund": "SAET", "status": "DRAFT"}).json()] == [harbor_id]
    assert harbor_client.get(URL, {"status": "EXECUTED"}).json() == []
    assert harbor_client.get(URL, {"status": "BOGUS"}).status_code == 400
