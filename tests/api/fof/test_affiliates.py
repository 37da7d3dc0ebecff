"""Affiliate lists (issue 6, item 3): condition B.9. The Investing Fund transmits its Investing Fund
Affiliates and Underwriting Affiliates; every version is kept and Compliance is told of each change."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from backoffice import roles
from fof.models import AffiliateListVersion, InvestingFundEvent
from orders.models import RetentionError
from tests.api.fof.test_agreements import make_investing_fund
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/fof/affiliates/"

LISTS = {
    "investing_fund_affiliates": [
        {"name": "Harbor Capital Advisors LLC", "sec_number": "801-77001"},
        {"name": "Harbor Holdings Inc"},
    ],
    "underwriting_affiliates": [{"name": "Harbor Securities LLC", "sec_number": "8-41234", "crd_number": "123456"}],
}


@pytest.fixture(autouse=True)
def _roles(db):
    if not Group.objects.filter(name=roles.INVESTING_FUND).exists():
        roles.sync_roles()


@pytest.fixture
def compliance():
    return [UserFactory(roles=[roles.COMPLIANCE], email="compliance1@backoffice.example.com"),
            UserFactory(roles=[roles.COMPLIANCE], email="compliance2@backoffice.example.com"),
            UserFactory(roles=[roles.OPERATIONS], email="ops@backoffice.example.com")]


def put(client, data, capture):
    with capture(execute=True):
        return client.put(URL, data, format="json")


def test_a_first_list_is_version_1_and_compliance_is_emailed(compliance, mailoutbox, django_capture_on_commit_callbacks):
    investing_fund, client = make_investing_fund(1)

    # when
    response = put(client, LISTS, django_capture_on_commit_callbacks)

    # then
    assert response.status_code == 201, response.content
    version = AffiliateListVersion.objects.get()
    assert (version.investing_fund, version.version, version.submitted_by) == (investing_fund, 1, client.user)
    assert version.investing_fund_affiliates == [
        {"name": "Harbor Capital Advisors LLC", "sec_number": "801-77001", "crd_number": ""},
        {"name": "Harbor Holdings Inc", "sec_number": "", "crd_number": ""},
    ]
    assert version.underwriting_affiliates == [{"name": "Harbor Securities LLC", "sec_number": "8-41234", "crd_number": "123456"}]
    assert response.json()["version"] == 1
    [mail] = mailoutbox
    assert sorted(mail.to) == ["compliance1@backoffice.example.com", "compliance2@backoffice.example.com"]
    assert str(investing_fund) in mail.subject and "version 1" in mail.subject
    assert "Harbor Securities LLC" in mail.body and "CRD 123456" in mail.body
    assert InvestingFundEvent.objects.filter(kind=InvestingFundEvent.Kind.AFFILIATES_CHANGED, actor=client.user).count() == 1


def test_no_email_leaves_before_the_commit(compliance, mailoutbox, django_capture_on_commit_callbacks):
    _, client = make_investing_fund(1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.put(URL, LISTS, format="json").status_code == 201

    assert mailoutbox == [] and len(callbacks) == 1


def test_every_change_is_a_new_version_and_the_old_ones_are_kept(compliance, mailoutbox, django_capture_on_commit_callbacks):
    _, client = make_investing_fund(1)
    put(client, LISTS, django_capture_on_commit_callbacks)
    changed = {**LISTS, "underwriting_affiliates": []}

    # when the list changes, then is sent again unchanged
    assert put(client, changed, django_capture_on_commit_callbacks).status_code == 201
    unchanged = put(client, changed, django_capture_on_commit_callbacks)

    # then
    assert unchanged.status_code == 200 and unchanged.json()["version"] == 2
    first, second = AffiliateListVersion.objects.order_by("version")
    assert first.underwriting_affiliates == [{"name": "Harbor Securities LLC", "sec_number": "8-41234", "crd_number": "123456"}]
    assert second.underwriting_affiliates == [] and second.submitted_at >= first.submitted_at
    assert len(mailoutbox) == 2 and "version 2" in mailoutbox[1].subject

    current = client.get(URL).json()
    assert [v["version"] for v in current] == [2]
    history = client.get(URL, {"history": 1}).json()
    assert [v["version"] for v in history] == [2, 1]
    assert history[1]["underwriting_affiliates"][0]["name"] == "Harbor Securities LLC"


def test_versions_are_immutable_and_never_deleted(django_capture_on_commit_callbacks):
    _, client = make_investing_fund(1)
    put(client, LISTS, django_capture_on_commit_callbacks)
    version = AffiliateListVersion.objects.get()

    version.underwriting_affiliates = []
    with pytest.raises(RetentionError):
        version.save()
    with pytest.raises(RetentionError):
        version.delete()
    with pytest.raises(RetentionError):
        AffiliateListVersion.objects.all().delete()
    assert AffiliateListVersion.objects.get().underwriting_affiliates[0]["name"] == "Harbor Securities LLC"


@pytest.mark.parametrize("bad, field", [
    ({"investing_fund_affiliates": [{"name": ""}], "underwriting_affiliates": []}, "investing_fund_affiliates"),
    ({"investing_fund_affiliates": [], "underwriting_affiliates": [{"name": "A LLC"}, {"name": " a llc "}]}, "underwriting_affiliates"),
    ({"investing_fund_affiliates": []}, "underwriting_affiliates"),
    ({"investing_fund_affiliates": [{"name": "A LLC", "crd_number": "12x"}], "underwriting_affiliates": []}, "investing_fund_affiliates"),
])
def test_bad_lists_are_refused_naming_the_field_and_nothing_is_written(bad, field, compliance, mailoutbox, django_capture_on_commit_callbacks):
    _, client = make_investing_fund(1)

    response = put(client, bad, django_capture_on_commit_callbacks)

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert not AffiliateListVersion.objects.exists() and mailoutbox == []


def test_no_list_yet_is_a_404():
    _, client = make_investing_fund(1)

    assert client.get(URL).status_code == 404
    assert client.get(URL, {"history": 1}).json() == []


def test_an_investing_fund_sees_and_writes_only_its_own_lists(django_capture_on_commit_callbacks):
    # given two Investing Funds, each with its list
    harbor, harbor_client = make_investing_fund(1)
    quay, quay_client = make_investing_fund(2)
    put(harbor_client, LISTS, django_capture_on_commit_callbacks)
    put(quay_client, {"investing_fund_affiliates": [{"name": "Quay Advisors LP"}], "underwriting_affiliates": []},
        django_capture_on_commit_callbacks)

    # then each reads its own current list and history only
    assert harbor_client.get(URL).json()[0]["investing_fund_affiliates"][0]["name"] == "Harbor Capital Advisors LLC"
    assert quay_client.get(URL).json()[0]["investing_fund_affiliates"] == [{"name": "Quay Advisors LP", "sec_number": "", "crd_number": ""}]
    assert [v["version"] for v in quay_client.get(URL, {"history": 1}).json()] == [1]
    assert AffiliateListVersion.objects.get(investing_fund=quay).version == 1
    assert AffiliateListVersion.objects.get(investing_fund=harbor).version == 1


def test_staff_cannot_use_the_investing_fund_affiliates_api():
    from rest_framework.test import APIClient

    staff = APIClient()
    staff.force_authenticate(UserFactory(roles=[roles.COMPLIANCE]))

    assert staff.get(URL).status_code == 403
    assert staff.put(URL, LISTS, format="json").status_code == 403
    assert not AffiliateListVersion.objects.exists()


def test_a_malformed_history_flag_is_refused_naming_it():
    _, client = make_investing_fund(1)

    response = client.get(URL, {"history": "maybe"})

    assert response.status_code == 400
    assert "history" in response.json()["error"]["details"]
