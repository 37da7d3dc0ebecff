"""The whole FOF journey through the API and the admin only (issue 6, "Done when").

register -> approve (admin, token shown once) -> agreement signed (API) -> countersigned (admin) -> affiliate
list (API, Compliance e-mailed) -> holdings over 3% with an executed agreement (NOTIFICATION_DUE) and, for a
second Investing Fund without one, a 12(d)(1)(A)(i) alert that Compliance acknowledges in the admin; and
neither Investing Fund sees the other's records. Only the Fund and the staff users are fixture data."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from backoffice import roles
from fof import acknowledgments
from fof.models import (
    AffiliateListVersion,
    HoldingsReport,
    InvestingFund,
    InvestingFundUser,
    LimitAlert,
    ParticipationAgreement,
)
from funds.models import SharesOutstandingEntry
from tests.factories import FundFactory, UserFactory

pytestmark = pytest.mark.django_db

AS_OF = "2026-01-15"


@pytest.fixture(autouse=True)
def _fresh_throttle_and_roles(db):
    cache.clear()  # the registration throttle counts per address in the cache
    if not Group.objects.filter(name=roles.INVESTING_FUND).exists():
        roles.sync_roles()  # a transactional test ran before and flushed the groups the data migration made
    yield
    cache.clear()


@pytest.fixture
def etf():
    fund = FundFactory(ticker="SAET")
    SharesOutstandingEntry.objects.create(fund=fund, effective_date=dt.date(2025, 1, 2), kind="LAUNCH",
                                          change=1_000_000, created_by=UserFactory())
    return fund


def staff_client(*role_names, email: str = "") -> tuple[Client, object]:
    user = UserFactory(roles=list(role_names), is_staff=True, email=email)
    client = Client()
    client.force_login(user)
    return client, user


def register_and_approve(n: int, ap_admin: Client, ap_user) -> tuple[InvestingFund, APIClient]:
    """Anonymous registration through the API, approval on the admin review page, token read from the page."""
    # registration (anonymous, JSON)
    registration = {
        "legal_name": f"Harbor Allocation Fund {n}", "kind": "MANAGEMENT_COMPANY", "sec_file_number": f"811-2345{n}",
        # a different adviser for each fund: they are not one Advisory Group (condition B.1)
        "adviser": {"name": f"Harbor Capital Advisors {n} LLC", "sec_file_number": f"801-7700{n}"},
        "sub_advisers": [],
        "contact": {"name": "Dana Lee", "email": f"dana{n}@harbor.example.com", "phone": "+1 212 555 0100"},
    }
    response = APIClient().post("/api/fof/registrations/", registration, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "PENDING"
    fund = InvestingFund.objects.get(registration_reference=response.json()["registration_reference"])
    assert fund.status == InvestingFund.Status.PENDING

    # the review page, reached from the change page's button
    change = ap_admin.get(f"/admin/fof/investingfund/{fund.pk}/change/")
    assert change.status_code == 200
    review_url = f"/admin/fof/investingfund/{fund.pk}/review/"
    assert review_url in change.content.decode()
    assert 'name="decision"' in ap_admin.get(review_url).content.decode()
    approved = ap_admin.post(review_url, {"decision": "Approve", "review_note": "Form N-CEN checked"})
    assert approved.status_code == 200
    assert "no-cache" in approved["Cache-Control"]
    token = re.search(r'<code id="api-token">([0-9a-f]{40})</code>', approved.content.decode()).group(1)
    fund.refresh_from_db()
    assert (fund.status, fund.reviewed_by) == (InvestingFund.Status.ACTIVE, ap_user)
    assert token not in ap_admin.get(review_url).content.decode()  # shown once

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api.get("/api/fof/me/")
    assert me.status_code == 200
    assert (me.json()["legal_name"], me.json()["status"]) == (fund.legal_name, "ACTIVE")
    api.user = InvestingFundUser.objects.get(investing_fund=fund).user
    return fund, api


def test_the_whole_fof_journey_through_the_api_and_admin(etf, mailoutbox, django_capture_on_commit_callbacks):
    # given: the staff who act for the Funds
    ap_admin, ap_user = staff_client(roles.AP_RELATIONSHIP, email="ap@backoffice.example.com")
    compliance_admin, compliance = staff_client(roles.COMPLIANCE, email="compliance@backoffice.example.com")

    # 1-2. register and approve the first Investing Fund
    harbor, harbor_api = register_and_approve(1, ap_admin, ap_user)

    # 3. it asks for an agreement with the Fund and signs it, accepting every current acknowledgment
    created = harbor_api.post("/api/fof/agreements/", {"fund": "SAET"}, format="json")
    assert created.status_code == 201, created.content
    agreement_id = created.json()["id"]
    assert created.json()["status"] == "DRAFT"
    accepted = [{"code": code, "text_version": version} for code, (version, _) in acknowledgments.ACKNOWLEDGMENTS.items()]
    signed = harbor_api.post(f"/api/fof/agreements/{agreement_id}/sign/", {"acknowledgments": accepted}, format="json")
    assert signed.status_code == 200, signed.content
    assert signed.json()["status"] == "SIGNED_BY_INVESTING_FUND"
    agreement = ParticipationAgreement.objects.get(pk=agreement_id)
    assert (agreement.investing_fund, agreement.fund, agreement.signed_by) == (harbor, etf, harbor_api.user)
    assert set(agreement.acknowledgments.values_list("code", flat=True)) == set(acknowledgments.REQUIRED)

    # 4. Compliance countersigns in the admin
    decide_url = f"/admin/fof/participationagreement/{agreement_id}/decide/"
    assert compliance_admin.get(decide_url).status_code == 200
    countersigned = compliance_admin.post(decide_url, {"decision": "Countersign", "reason": ""})
    assert countersigned.status_code == 302
    agreement.refresh_from_db()
    assert (agreement.status, agreement.countersigned_by) == (ParticipationAgreement.Status.EXECUTED, compliance)
    assert agreement.events.last().actor == compliance
    assert harbor_api.get(f"/api/fof/agreements/{agreement_id}/").json()["status"] == "EXECUTED"

    # 5. the affiliate lists; Compliance (only) is e-mailed on commit
    affiliates = {
        "investing_fund_affiliates": [{"name": "Harbor Capital Advisors 1 LLC", "sec_number": "801-77001"}],
        "underwriting_affiliates": [{"name": "Harbor Securities LLC", "sec_number": "8-41234", "crd_number": "123456"}],
    }
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        put = harbor_api.put("/api/fof/affiliates/", affiliates, format="json")
    assert put.status_code == 201, put.content
    assert put.json()["version"] == 1
    version = AffiliateListVersion.objects.get(investing_fund=harbor)
    assert (version.version, version.submitted_by) == (1, harbor_api.user)
    [mail] = mailoutbox
    assert mail.to == ["compliance@backoffice.example.com"]
    assert mail.subject == f"[FOF] {harbor}: affiliate list version 1"
    assert "Harbor Securities LLC" in mail.body

    # 6a. holdings over 3% under the executed agreement: NOTIFICATION_DUE, no breach
    mailoutbox.clear()
    holdings = {"as_of": AS_OF, "total_assets": "100000000.00",
                "holdings": [{"fund": "SAET", "shares": "35000", "value": "875000.00"}]}  # 3.5% of 1,000,000
    with django_capture_on_commit_callbacks(execute=True):
        reported = harbor_api.post("/api/fof/holdings-reports/", holdings, format="json")
    assert reported.status_code == 201, reported.content
    result = reported.json()["results"]["holdings"][0]
    assert result["a_i"]["over_limit"] is True and result["a_i"]["breached"] is False
    assert result["agreement_executed"] is True and result["notification_due"] is True
    assert list(LimitAlert.objects.filter(investing_fund=harbor).values_list("kind", flat=True)) == [LimitAlert.Kind.NOTIFICATION_DUE]
    [mail] = mailoutbox
    assert mail.to == ["compliance@backoffice.example.com"]
    assert mail.subject == f"[FOF] {harbor}: 1 limit alert(s) on its holdings as of {AS_OF}"
    assert "Condition B.9" in mail.body

    # 6b. a second Investing Fund, registered and approved the same way, reports over 3% without an agreement
    anchor, anchor_api = register_and_approve(2, ap_admin, ap_user)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        breached = anchor_api.post("/api/fof/holdings-reports/", holdings, format="json")
    assert breached.status_code == 201, breached.content
    result = breached.json()["results"]["holdings"][0]
    assert result["a_i"]["breached"] is True and result["agreement_executed"] is False
    [alert] = LimitAlert.objects.filter(investing_fund=anchor)
    assert (alert.kind, alert.fund, str(alert.figure)) == (LimitAlert.Kind.A_I, etf, "3.5000")
    assert "Section 12(d)(1)(A)(i)" in alert.message and alert.acknowledged_at is None
    [mail] = mailoutbox
    assert mail.to == ["compliance@backoffice.example.com"]
    assert mail.subject == f"[FOF] {anchor}: 1 limit alert(s) on its holdings as of {AS_OF}"
    assert "Section 12(d)(1)(A)(i)" in mail.body

    # Compliance acknowledges it with the LimitAlert admin action; the list shows it acknowledged
    listed = compliance_admin.get("/admin/fof/limitalert/")
    assert listed.status_code == 200 and "OPEN" in listed.content.decode()
    acted = compliance_admin.post("/admin/fof/limitalert/", {"action": "acknowledge_selected", "_selected_action": [alert.pk]})
    assert acted.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == compliance and alert.acknowledged_at is not None
    assert compliance.username in compliance_admin.get(f"/admin/fof/limitalert/{alert.pk}/change/").content.decode()
    # acknowledging twice is refused and changes nothing
    compliance_admin.post("/admin/fof/limitalert/", {"action": "acknowledge_selected", "_selected_action": [alert.pk]})
    assert LimitAlert.objects.get(pk=alert.pk).acknowledged_at == alert.acknowledged_at
    listed = compliance_admin.get("/admin/fof/limitalert/", {"investing_fund__id__exact": anchor.pk}).content.decode()
    assert "acknowledged" in listed and "OPEN" not in listed
    # the first fund's NOTIFICATION_DUE stays open
    assert LimitAlert.objects.get(investing_fund=harbor).acknowledged_at is None

    # 7. access: neither Investing Fund sees the other's agreements or reports
    assert anchor_api.get("/api/fof/agreements/").json() == []
    assert anchor_api.get(f"/api/fof/agreements/{agreement_id}/").status_code == 404
    assert anchor_api.post(f"/api/fof/agreements/{agreement_id}/sign/", {"acknowledgments": accepted}, format="json").status_code == 404
    anchor_reports = anchor_api.get("/api/fof/holdings-reports/").json()
    assert [r["id"] for r in anchor_reports] == [HoldingsReport.objects.get(investing_fund=anchor).pk]
    harbor_reports = harbor_api.get("/api/fof/holdings-reports/").json()
    assert [r["id"] for r in harbor_reports] == [HoldingsReport.objects.get(investing_fund=harbor).pk]
    assert anchor_api.get("/api/fof/affiliates/").status_code == 404  # the second fund has sent no list; never sees the first's
    assert [a["id"] for a in harbor_api.get("/api/fof/agreements/").json()] == [agreement_id]
    # and an anonymous caller sees nothing
    assert APIClient().get("/api/fof/agreements/").status_code in (401, 403)
