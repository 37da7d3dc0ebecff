"""Investing Fund registration and its own record through the API (issue 6, items 1-2)."""

from __future__ import annotations

import copy

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backoffice import roles
from fof import services
from fof.models import InvestingFund, InvestingFundEvent, InvestingFundSubAdviser
from tests.factories import AdviserFactory, DistributorFactory, TrustFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/fof/registrations/"
ME_URL = "/api/fof/me/"

REGISTRATION = {
    "legal_name": "Harbor Allocation Fund",
    "kind": "MANAGEMENT_COMPANY",
    "sec_file_number": "811-23456",
    "adviser": {"name": "Harbor Capital Advisors LLC", "sec_file_number": "801-77001"},
    "sub_advisers": [
        {"name": "Quay Quant Partners LP", "sec_file_number": "801-66002"},
        {"name": "Pier Fixed Income LLC", "sec_file_number": "801-55003"},
    ],
    "contact": {"name": "Dana Lee", "email": "dana.lee@harbor.example.com", "phone": "+1 212 555 0100"},
}


@pytest.fixture(autouse=True)
def _fresh_throttle_and_roles(db):
    cache.clear()  # the throttle counts requests per address in the cache
    if not Group.objects.filter(name=roles.INVESTING_FUND).exists():
        roles.sync_roles()
    yield
    cache.clear()


def body(**overrides) -> dict:
    data = copy.deepcopy(REGISTRATION)
    data.update(overrides)
    return data


def register(data: dict, client: APIClient | None = None):
    return (client or APIClient()).post(URL, data, format="json")


def nothing_written() -> bool:
    return not InvestingFund.objects.exists() and not InvestingFundSubAdviser.objects.exists() and not InvestingFundEvent.objects.exists()


def approved_token(fund: InvestingFund) -> str:
    reviewer = UserFactory(roles=[roles.AP_RELATIONSHIP])
    return services.investing_fund_approve(investing_fund_id=fund.pk, actor=reviewer).token_key


# --- registration ---------------------------------------------------------------------------


def test_registration_records_a_pending_investing_fund_with_its_sub_advisers():
    # when
    response = register(body())

    # then
    assert response.status_code == 201, response.content
    fund = InvestingFund.objects.get()
    assert response.json() == {"registration_reference": fund.registration_reference, "legal_name": "Harbor Allocation Fund", "status": "PENDING"}
    assert fund.registration_reference.startswith("IFR-")
    assert (fund.kind, fund.sec_file_number, fund.status) == ("MANAGEMENT_COMPANY", "811-23456", InvestingFund.Status.PENDING)
    assert (fund.adviser_name, fund.adviser_sec_file_number) == ("Harbor Capital Advisors LLC", "801-77001")
    assert (fund.contact_name, fund.contact_email, fund.contact_phone) == ("Dana Lee", "dana.lee@harbor.example.com", "+1 212 555 0100")
    assert sorted(fund.sub_advisers.values_list("sec_file_number", flat=True)) == ["801-55003", "801-66002"]
    assert fund.reviewed_by is None and fund.reviewed_at is None
    [event] = InvestingFundEvent.objects.all()
    assert event.kind == InvestingFundEvent.Kind.REGISTERED and event.payload["registration_reference"] == fund.registration_reference
    assert fund.history.count() == 1


def test_an_investing_trust_registers_with_a_broker_dealer_sponsor_or_none():
    assert register(body(legal_name="Anchor UIT Series 1", kind="UNIT_INVESTMENT_TRUST", sec_file_number="811-3001",
                         adviser={"name": "Anchor Sponsors Inc", "sec_file_number": "8-41234"}, sub_advisers=[])).status_code == 201
    assert register(body(legal_name="Anchor UIT Series 2", kind="UNIT_INVESTMENT_TRUST", sec_file_number="811-3002",
                         adviser={"name": "Anchor Sponsors Inc"}, sub_advisers=[])).status_code == 201
    assert set(InvestingFund.objects.values_list("adviser_sec_file_number", flat=True)) == {"8-41234", ""}


def test_a_duplicate_sec_file_number_is_refused_naming_it_and_nothing_more_is_written():
    # given
    assert register(body()).status_code == 201

    # when
    response = register(body(legal_name="Another Allocation Fund"))

    # then
    assert response.status_code == 400
    assert "sec_file_number" in response.json()["error"]["details"]
    assert InvestingFund.objects.count() == 1 and InvestingFundSubAdviser.objects.count() == 2
    assert InvestingFundEvent.objects.count() == 1


def test_a_legal_name_already_registered_is_refused_naming_it():
    assert register(body()).status_code == 201

    for same_name in (" Harbor Allocation Fund ", "HARBOR ALLOCATION FUND"):
        response = register(body(legal_name=same_name, sec_file_number="811-23999", sub_advisers=[]))

        assert response.status_code == 400
        assert "legal_name" in response.json()["error"]["details"]
    assert InvestingFund.objects.count() == 1


@pytest.mark.parametrize("bad", ["811-123", "812-12345", "811-123456", "81112345", "", "811-1234a"])
def test_a_malformed_sec_file_number_is_refused_naming_it(bad):
    response = register(body(sec_file_number=bad))

    assert response.status_code == 400
    assert "sec_file_number" in response.json()["error"]["details"]
    assert nothing_written()


def test_malformed_adviser_and_sub_adviser_numbers_are_refused_naming_the_nested_field():
    # an Investing Fund Adviser is a registered investment adviser: 801-, not a broker-dealer's 8-
    response = register(body(adviser={"name": "Harbor Capital Advisors LLC", "sec_file_number": "8-12345"}))
    assert response.status_code == 400
    assert "sec_file_number" in response.json()["error"]["details"]["adviser"]

    response = register(body(sub_advisers=[{"name": "Quay Quant Partners LP", "sec_file_number": "801-66002"},
                                           {"name": "Broken LP", "sec_file_number": "801-12"}]))
    assert response.status_code == 400
    assert "sec_file_number" in response.json()["error"]["details"]["sub_advisers"]["1"]
    assert nothing_written()


@pytest.mark.parametrize("missing", ["legal_name", "kind", "sec_file_number", "adviser", "contact"])
def test_a_missing_field_is_refused_naming_it(missing):
    data = body()
    del data[missing]

    response = register(data)

    assert response.status_code == 400
    assert missing in response.json()["error"]["details"]
    assert nothing_written()


def test_a_sub_adviser_listed_twice_is_refused_naming_its_position():
    sub = {"name": "Quay Quant Partners LP", "sec_file_number": "801-66002"}

    response = register(body(sub_advisers=[sub, dict(sub)]))

    assert response.status_code == 400
    assert "sec_file_number" in response.json()["error"]["details"]["sub_advisers"]["1"]
    assert nothing_written()


def test_bad_contact_and_kind_are_refused_naming_them():
    response = register(body(kind="HEDGE_FUND", contact={"name": "Dana Lee", "email": "not-an-email"}))

    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert "kind" in details and "email" in details["contact"]
    assert nothing_written()


@pytest.mark.parametrize("factory, field", [(AdviserFactory, "legal_name"), (TrustFactory, "legal_name"), (DistributorFactory, "legal_name")])
def test_a_member_of_the_funds_group_cannot_register_as_an_investing_fund(factory, field):
    party = factory()

    response = register(body(legal_name=party.name.upper()))

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert nothing_written()


def test_the_funds_own_adviser_cannot_be_the_investing_fund_adviser_but_may_sub_advise():
    adviser = AdviserFactory(name="Blue Line Asset Management LLC")

    refused = register(body(adviser={"name": adviser.name, "sec_file_number": "801-77001"}))
    assert refused.status_code == 400
    assert "name" in refused.json()["error"]["details"]["adviser"]
    assert nothing_written()

    # application section V.B.2: an Investing Fund may be sub-advised by the Adviser
    accepted = register(body(sub_advisers=[{"name": adviser.name, "sec_file_number": "801-10001"}]))
    assert accepted.status_code == 201


def test_registration_ignores_session_and_csrf():
    staff = UserFactory(roles=[roles.OPERATIONS])
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)

    response = client.post(URL, body(), format="json")

    assert response.status_code == 201
    assert InvestingFund.objects.get().history.get().history_user.username == "system"  # the registrant is anonymous


def test_the_sixth_registration_in_a_minute_from_one_address_is_throttled():
    # given: five requests, valid or not, from the same address
    for n in range(5):
        response = register(body(legal_name=f"Fund {n}", sec_file_number=f"811-4000{n}", sub_advisers=[]))
        assert response.status_code == 201

    # when
    response = register(body(legal_name="Fund 6", sec_file_number="811-40006", sub_advisers=[]))

    # then
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"
    assert InvestingFund.objects.count() == 5
    # another address is not affected
    assert APIClient(REMOTE_ADDR="10.0.0.9").post(URL, body(legal_name="Fund 7", sec_file_number="811-40007", sub_advisers=[]),
                                                    format="json").status_code == 201


# --- the Investing Fund's own record ----------------------------------------------------------


def test_an_approved_investing_funds_token_reads_its_own_record_only():
    # given: two registered Investing Funds, both approved
    register(body())
    register(body(legal_name="Other Allocation Fund", sec_file_number="811-23457", sub_advisers=[]))
    mine, other = InvestingFund.objects.get(sec_file_number="811-23456"), InvestingFund.objects.get(sec_file_number="811-23457")
    my_token, _ = approved_token(mine), approved_token(other)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {my_token}")

    # when
    response = client.get(ME_URL)

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["legal_name"], data["sec_file_number"], data["status"]) == ("Harbor Allocation Fund", "811-23456", "ACTIVE")
    assert {s["sec_file_number"] for s in data["sub_advisers"]} == {"801-66002", "801-55003"}
    assert "Other Allocation Fund" not in response.content.decode()


def test_me_refuses_anonymous_ap_and_staff_users():
    assert APIClient().get(ME_URL).status_code == 401
    for role in (roles.AUTHORIZED_PARTICIPANT, roles.AP_RELATIONSHIP):
        user = UserFactory(roles=[role], is_staff=False)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        assert client.get(ME_URL).status_code == 403


def test_an_investing_fund_role_without_a_binding_gets_404():
    user = UserFactory(roles=[roles.INVESTING_FUND], is_staff=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    assert client.get(ME_URL).status_code == 404


def test_both_endpoints_are_in_the_openapi_schema():
    response = APIClient().get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "post" in paths["/api/fof/registrations/"] and "get" in paths["/api/fof/me/"]
