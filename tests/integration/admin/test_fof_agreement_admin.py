"""FOF Participation Agreements in the admin: staff act for the Fund (issue 6, item 2)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from backoffice import roles
from fof import acknowledgments, services
from fof.models import ParticipationAgreement
from tests.api.fof.test_agreements import make_investing_fund
from tests.factories import FundFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roles(db):
    if not Group.objects.filter(name=roles.COMPLIANCE).exists():
        roles.sync_roles()


@pytest.fixture
def signed() -> ParticipationAgreement:
    investing_fund, client = make_investing_fund(1)
    agreement = services.agreement_create(investing_fund=investing_fund, fund_ticker=FundFactory(ticker="SAET").ticker, actor=client.user)
    return services.agreement_sign(
        agreement_id=agreement.pk, investing_fund=investing_fund, actor=client.user,
        accepted=[services.AcceptedAcknowledgment(code=c, text_version=v) for c, (v, _) in acknowledgments.ACKNOWLEDGMENTS.items()],
    )


def decide_url(agreement) -> str:
    return f"/admin/fof/participationagreement/{agreement.pk}/decide/"


def login(client, *role_names):
    user = UserFactory(roles=list(role_names))
    client.force_login(user)
    return user


def test_compliance_countersigns_on_the_decide_page(client, signed):
    staff = login(client, roles.COMPLIANCE)
    page = client.get(decide_url(signed))
    assert page.status_code == 200 and b"Countersign" in page.content and b"SECTION_17E1_COMPENSATION" in page.content

    response = client.post(decide_url(signed), {"decision": "Countersign", "reason": ""})

    assert response.status_code == 302
    signed.refresh_from_db()
    assert (signed.status, signed.countersigned_by) == (ParticipationAgreement.Status.EXECUTED, staff)
    assert signed.events.last().actor == staff


def test_the_countersign_action_in_the_list_executes_the_selected_agreement(client, signed):
    staff = login(client, roles.AP_RELATIONSHIP)

    response = client.post("/admin/fof/participationagreement/", {"action": "countersign_selected", "_selected_action": [signed.pk]})

    assert response.status_code == 302
    signed.refresh_from_db()
    assert (signed.status, signed.countersigned_by) == (ParticipationAgreement.Status.EXECUTED, staff)


@pytest.mark.parametrize("role", [roles.OPERATIONS, roles.BOARD])
def test_staff_without_the_permission_are_refused(client, signed, role):
    login(client, role)

    assert client.get(decide_url(signed)).status_code == 403
    assert client.post(decide_url(signed), {"decision": "Countersign"}).status_code == 403
    client.post("/admin/fof/participationagreement/", {"action": "countersign_selected", "_selected_action": [signed.pk]})
    signed.refresh_from_db()
    assert signed.status == ParticipationAgreement.Status.SIGNED_BY_INVESTING_FUND


def test_declining_without_a_reason_is_refused_then_recorded_with_one(client, signed):
    login(client, roles.COMPLIANCE)

    refused = client.post(decide_url(signed), {"decision": "Decline", "reason": ""})
    assert refused.status_code == 400
    signed.refresh_from_db()
    assert signed.status == ParticipationAgreement.Status.SIGNED_BY_INVESTING_FUND

    assert client.post(decide_url(signed), {"decision": "Decline", "reason": "The Board declined."}).status_code == 302
    signed.refresh_from_db()
    assert (signed.status, signed.closing_reason) == (ParticipationAgreement.Status.DECLINED, "The Board declined.")


def test_the_agreement_page_shows_acknowledgments_and_cannot_be_deleted(client, signed):
    login(client, roles.COMPLIANCE)

    page = client.get(f"/admin/fof/participationagreement/{signed.pk}/change/")
    assert page.status_code == 200 and b"ORDER_ONLY_FOR_FUNDS" in page.content
    assert client.post(f"/admin/fof/participationagreement/{signed.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ParticipationAgreement.objects.filter(pk=signed.pk).exists()
