"""Investing Fund review in the admin, by users holding the real roles (issue 6, item 2)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backoffice import roles
from fof import services
from fof.models import InvestingFund, InvestingFundEvent, InvestingFundUser
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/fof/investingfund/"


@pytest.fixture(autouse=True)
def _roles(db):
    if not Group.objects.filter(name=roles.AP_RELATIONSHIP).exists():
        roles.sync_roles()  # a transactional test ran before and flushed the groups the data migration made


@pytest.fixture
def pending() -> InvestingFund:
    return services.investing_fund_register(registration=services.RegistrationInput(
        legal_name="Harbor Allocation Fund", kind="MANAGEMENT_COMPANY", sec_file_number="811-23456",
        adviser_name="Harbor Capital Advisors LLC", adviser_sec_file_number="801-77001",
        contact_name="Dana Lee", contact_email="dana.lee@harbor.example.com",
        sub_advisers=[services.SubAdviserInput(name="Quay Quant Partners LP", sec_file_number="801-66002")],
    ))


def login(client, *role_names, is_staff=True):
    user = UserFactory(roles=list(role_names), is_staff=is_staff)
    client.force_login(user)
    return user


def review_url(fund) -> str:
    return f"{LIST_URL}{fund.pk}/review/"


@pytest.mark.parametrize("role", [roles.AP_RELATIONSHIP, roles.COMPLIANCE])
def test_approval_binds_a_new_api_user_whose_token_works_once_shown(client, pending, role):
    # given
    reviewer = login(client, role)
    assert "Approve or reject" in client.get(f"{LIST_URL}{pending.pk}/change/").content.decode()

    # when
    response = client.post(review_url(pending), {"decision": "Approve", "review_note": "Form N-CEN checked"})

    # then: the fund is active, reviewed by this user, with a bound API user holding the role and a token
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    fund = InvestingFund.objects.get(pk=pending.pk)
    assert (fund.status, fund.reviewed_by, fund.review_note) == (InvestingFund.Status.ACTIVE, reviewer, "Form N-CEN checked")
    assert fund.reviewed_at is not None
    binding = InvestingFundUser.objects.get(investing_fund=fund)
    api_user = binding.user
    assert not api_user.is_staff and not api_user.has_usable_password()
    assert set(api_user.groups.values_list("name", flat=True)) == {roles.INVESTING_FUND}
    token = Token.objects.get(user=api_user)
    shown = re.search(r'<code id="api-token">([0-9a-f]{40})</code>', response.content.decode()).group(1)
    assert shown == token.key
    event = InvestingFundEvent.objects.get(investing_fund=fund, kind=InvestingFundEvent.Kind.APPROVED)
    assert event.actor == reviewer and event.payload["api_user"] == api_user.username
    assert fund.history.first().history_user == reviewer

    # and the token works with the API's token authentication
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {shown}")
    me = api.get("/api/fof/me/")
    assert me.status_code == 200
    assert (me.json()["legal_name"], me.json()["status"]) == ("Harbor Allocation Fund", "ACTIVE")

    # the token is not shown again: the review page of an active fund has no token and no form
    page = client.get(review_url(pending)).content.decode()
    assert token.key not in page and 'name="decision"' not in page


def test_rejection_needs_a_note_and_records_it(client, pending):
    reviewer = login(client, roles.AP_RELATIONSHIP)

    # without a note: refused, nothing changes
    refused = client.post(review_url(pending), {"decision": "Reject", "review_note": "  "})
    assert refused.status_code == 400
    assert "Say why" in refused.content.decode()
    assert InvestingFund.objects.get(pk=pending.pk).status == InvestingFund.Status.PENDING

    # with a note
    response = client.post(review_url(pending), {"decision": "Reject", "review_note": "Part of the Funds' group (common control)."})
    assert response.status_code == 302
    fund = InvestingFund.objects.get(pk=pending.pk)
    assert (fund.status, fund.reviewed_by, fund.review_note) == (InvestingFund.Status.REJECTED, reviewer, "Part of the Funds' group (common control).")
    assert not InvestingFundUser.objects.exists() and not Token.objects.filter(user__fof_binding__isnull=False).exists()
    assert InvestingFundEvent.objects.get(investing_fund=fund, kind=InvestingFundEvent.Kind.REJECTED).actor == reviewer

    # a rejected fund cannot then be approved
    again = client.post(review_url(pending), {"decision": "Approve"})
    assert again.status_code == 400
    assert InvestingFund.objects.get(pk=pending.pk).status == InvestingFund.Status.REJECTED


@pytest.mark.parametrize("role", [roles.OPERATIONS, roles.BOARD, roles.PORTFOLIO_MANAGER])
def test_staff_without_the_review_permission_get_403_and_nothing_changes(client, pending, role):
    login(client, role)

    assert client.post(review_url(pending), {"decision": "Approve"}).status_code == 403
    assert client.get(review_url(pending)).status_code == 403
    assert InvestingFund.objects.get(pk=pending.pk).status == InvestingFund.Status.PENDING
    assert not InvestingFundUser.objects.exists()


def test_operations_and_board_see_the_list_but_pm_does_not(client, pending):
    login(client, roles.OPERATIONS)
    assert "Harbor Allocation Fund" in client.get(LIST_URL).content.decode()
    client.logout()
    login(client, roles.PORTFOLIO_MANAGER)
    assert client.get(LIST_URL).status_code == 403


def test_an_ap_user_cannot_approve(client, pending):
    # an Authorized Participant's API user is not staff: the admin sends it to the login page
    login(client, roles.AUTHORIZED_PARTICIPANT, is_staff=False)
    response = client.post(review_url(pending), {"decision": "Approve"})
    assert response.status_code == 302 and "/login/" in response["Location"]

    # and even marked staff, the AP role carries no review permission
    client.logout()
    login(client, roles.AUTHORIZED_PARTICIPANT)
    assert client.post(review_url(pending), {"decision": "Approve"}).status_code == 403
    assert InvestingFund.objects.get(pk=pending.pk).status == InvestingFund.Status.PENDING


def test_the_service_refuses_a_reviewer_without_the_permission(pending):
    operations = UserFactory(roles=[roles.OPERATIONS])

    with pytest.raises(services.NotEntitled):
        services.investing_fund_approve(investing_fund_id=pending.pk, actor=operations)
    with pytest.raises(services.NotEntitled):
        services.investing_fund_reject(investing_fund_id=pending.pk, actor=operations, note="no")
    assert InvestingFund.objects.get(pk=pending.pk).status == InvestingFund.Status.PENDING


def test_the_admin_cannot_add_delete_or_edit_status(client, pending):
    login(client, roles.AP_RELATIONSHIP)

    assert client.get(f"{LIST_URL}add/").status_code == 403
    client.post(f"{LIST_URL}{pending.pk}/change/", {"status": "ACTIVE"})
    assert InvestingFund.objects.get(pk=pending.pk).status == InvestingFund.Status.PENDING
    assert client.post(f"{LIST_URL}{pending.pk}/delete/", {"post": "yes"}).status_code == 403
    assert InvestingFund.objects.filter(pk=pending.pk).exists()
