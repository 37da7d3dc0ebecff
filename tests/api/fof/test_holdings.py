"""Holdings reports and limit alerts (issue 6, item 4): section III.E, section 12(d)(1)(A)/(B), conditions B.1 and B.9.

An Investing Fund reports its holdings of the Funds and its total assets through the API; each report is checked
with fof.limits against the Fund's shares outstanding on as_of, and each breach raises a LimitAlert e-mailed to
Compliance on commit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice import roles
from fof import services
from fof.models import HoldingsReport, HoldingsReportLine, LimitAlert, ParticipationAgreement
from funds.models import SharesOutstandingEntry
from orders.models import RetentionError
from tests.factories import FundFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/fof/holdings-reports/"
AS_OF = "2026-01-15"


@pytest.fixture(autouse=True)
def _roles(db):
    if not Group.objects.filter(name=roles.INVESTING_FUND).exists():
        roles.sync_roles()


def make_investing_fund(n: int, *, adviser: str | None = None, adviser_number: str | None = None):
    fund = services.investing_fund_register(registration=services.RegistrationInput(
        legal_name=f"Harbor Allocation Fund {n}", kind="MANAGEMENT_COMPANY", sec_file_number=f"811-2345{n}",
        adviser_name=adviser or f"Harbor Capital Advisors {n} LLC", adviser_sec_file_number=adviser_number or f"801-7700{n}",
        contact_name="Dana Lee", contact_email=f"dana{n}@harbor.example.com",
    ))
    approval = services.investing_fund_approve(investing_fund_id=fund.pk, actor=UserFactory(roles=[roles.AP_RELATIONSHIP]))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {approval.token_key}")
    return approval.investing_fund, client


@pytest.fixture
def harbor():
    return make_investing_fund(1)


@pytest.fixture
def etf():
    fund = FundFactory(ticker="SAET")
    SharesOutstandingEntry.objects.create(fund=fund, effective_date=dt.date(2025, 1, 2), kind="LAUNCH",
                                          change=1_000_000, created_by=UserFactory())
    return fund


@pytest.fixture
def compliance():
    return UserFactory(roles=[roles.COMPLIANCE], email="compliance@example.com")


def report(client, *, shares="10000", value="250000.00", total_assets="100000000.00", ticker="SAET", as_of=AS_OF, **extra):
    body = {"as_of": as_of, "total_assets": total_assets, "holdings": [{"fund": ticker, "shares": shares, "value": value}], **extra}
    return client.post(URL, body, format="json")


def execute_agreement(investing_fund, fund):
    return ParticipationAgreement.objects.create(investing_fund=investing_fund, fund=fund, status="EXECUTED",
                                                 created_by=UserFactory())


def test_a_report_below_3_percent_raises_no_alert(harbor, etf, compliance, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = report(harbor[1], shares="20000")  # 2%
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["holdings"] == [{"fund": "SAET", "shares": "20000.000000", "value": "250000.00", "shares_outstanding": "1000000.000000"}]
    holding = body["results"]["holdings"][0]
    assert holding["a_i"]["percent"] == "2.0000" and holding["a_i"]["over_limit"] is False
    assert holding["a_ii"]["limit"] == "5"
    assert LimitAlert.objects.count() == 0
    assert mailoutbox == []


def test_over_3_percent_without_an_executed_agreement_alerts_compliance(harbor, etf, compliance, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = report(harbor[1], shares="35000")  # 3.5%
    assert response.status_code == 201, response.content
    [alert] = LimitAlert.objects.all()
    assert alert.kind == LimitAlert.Kind.A_I
    assert alert.investing_fund == harbor[0] and alert.fund == etf
    assert str(alert.figure) == "3.5000"
    assert "Section 12(d)(1)(A)(i)" in alert.message
    assert alert.acknowledged_at is None
    assert response.json()["results"]["holdings"][0]["a_i"]["breached"] is True
    [mail] = mailoutbox
    assert mail.to == ["compliance@example.com"]
    assert "Section 12(d)(1)(A)(i)" in mail.body


def test_over_3_percent_with_an_executed_agreement_records_the_notification_due(harbor, etf, compliance, mailoutbox, django_capture_on_commit_callbacks):
    execute_agreement(harbor[0], etf)
    with django_capture_on_commit_callbacks(execute=True):
        response = report(harbor[1], shares="35000")
    assert response.status_code == 201
    assert list(LimitAlert.objects.values_list("kind", flat=True)) == [LimitAlert.Kind.NOTIFICATION_DUE]
    holding = response.json()["results"]["holdings"][0]
    assert holding["a_i"]["over_limit"] is True and holding["a_i"]["breached"] is False
    assert holding["notification_due"] is True
    assert "Condition B.9" in mailoutbox[0].body


def test_a_ii_breach_via_total_assets(harbor, etf, compliance, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = report(harbor[1], shares="1000", value="600000.00", total_assets="10000000.00",
                          investment_company_assets="600000.00")  # 6% of total assets
    assert response.status_code == 201, response.content
    kinds = set(LimitAlert.objects.values_list("kind", flat=True))
    assert kinds == {LimitAlert.Kind.A_II}
    alert = LimitAlert.objects.get()
    assert "Section 12(d)(1)(A)(ii)" in alert.message and str(alert.figure) == "6.0000"


def test_b_aggregate_across_two_investing_funds(harbor, etf, compliance, django_capture_on_commit_callbacks):
    other = make_investing_fund(2)
    execute_agreement(harbor[0], etf)
    execute_agreement(other[0], etf)  # both covered for (A)(i); the second has its own agreement too
    assert report(harbor[1], shares="60000").status_code == 201  # 6%
    response = report(other[1], shares="50000")  # 5%: together 11% > 10%
    assert response.status_code == 201
    aggregate = response.json()["results"]["aggregates"][0]
    assert aggregate["percent"] == "11.0000" and aggregate["over_limit"] is True and aggregate["breached"] is False
    assert not LimitAlert.objects.filter(kind=LimitAlert.Kind.B).exists()  # every holder has an agreement

    third = make_investing_fund(3)  # no agreement
    response = report(third[1], shares="10000")  # 1%: under (A)(i), but the aggregate is 12% with a holder uncovered
    assert response.status_code == 201
    [alert] = LimitAlert.objects.filter(kind=LimitAlert.Kind.B)
    assert alert.investing_fund == third[0]
    assert "Section 12(d)(1)(B)" in alert.message and "Harbor Allocation Fund 3" in alert.message
    assert str(alert.figure) == "12.0000"


def test_b1_advisory_group_over_25_percent_raises_a_control_alert(etf, compliance, django_capture_on_commit_callbacks):
    first = make_investing_fund(1, adviser="Summit Advisers LLC", adviser_number="801-55555")
    second = make_investing_fund(2, adviser="Summit Advisers LLC", adviser_number="801-55555")
    unrelated = make_investing_fund(3)
    for investing_fund, _ in (first, second, unrelated):
        execute_agreement(investing_fund, etf)
    assert report(unrelated[1], shares="200000", value="100.00").status_code == 201  # 20%, another group
    assert report(first[1], shares="150000", value="100.00").status_code == 201  # group at 15%
    assert not LimitAlert.objects.filter(kind=LimitAlert.Kind.CONTROL).exists()
    response = report(second[1], shares="120000", value="100.00")  # group at 27%
    assert response.status_code == 201
    [alert] = LimitAlert.objects.filter(kind=LimitAlert.Kind.CONTROL)
    assert alert.investing_fund == second[0]
    assert "Condition B.1" in alert.message and "801-55555" in alert.message
    group = response.json()["results"]["groups"][0]
    assert group["percent"] == "27.0000" and group["control_alert"] is True


@pytest.mark.parametrize("change, field", [
    ({"total_assets": "-1.00"}, "total_assets"),
    ({"as_of": "2999-01-01"}, "as_of"),
    ({"investment_company_assets": "-5.00"}, "investment_company_assets"),
    ({"total_assets": 1000}, "total_assets"),  # a number where the schema says string
])
def test_bad_figures_are_refused_naming_the_field(harbor, etf, change, field):
    response = report(harbor[1], **change)
    assert response.status_code == 400
    assert field in str(response.json())
    assert HoldingsReport.objects.count() == 0 and LimitAlert.objects.count() == 0


@pytest.mark.parametrize("holdings, field", [
    ([{"fund": "NOPE", "shares": "1", "value": "1.00"}], "fund"),
    ([{"fund": "SAET", "shares": "-1", "value": "1.00"}], "shares"),
    ([{"fund": "SAET", "shares": "1", "value": "-1.00"}], "value"),
    ([{"fund": "SAET", "shares": "1", "value": "1.00"}, {"fund": "saet", "shares": "2", "value": "2.00"}], "fund"),
])
def test_bad_holdings_are_refused_naming_the_field(harbor, etf, holdings, field):
    response = harbor[1].post(URL, {"as_of": AS_OF, "total_assets": "1000000.00", "holdings": holdings}, format="json")
    assert response.status_code == 400, response.content
    assert field in str(response.json()["error"]["details"]["holdings"])
    assert HoldingsReport.objects.count() == 0 and HoldingsReportLine.objects.count() == 0


def test_today_is_accepted_and_future_is_not(harbor, etf):
    today = timezone.localdate()
    assert report(harbor[1], as_of=today.isoformat()).status_code == 201
    assert report(harbor[1], as_of=(today + dt.timedelta(days=1)).isoformat()).status_code == 400


def test_an_investing_fund_sees_only_its_own_reports_and_reports_only_for_itself(harbor, etf):
    other = make_investing_fund(2)
    assert report(harbor[1], shares="100").status_code == 201
    # an investing_fund key in the body is ignored: the report is always the caller's own
    response = other[1].post(URL, {"as_of": AS_OF, "total_assets": "1000.00", "investing_fund": harbor[0].pk,
                                   "holdings": [{"fund": "SAET", "shares": "7", "value": "7.00"}]}, format="json")
    assert response.status_code == 201
    assert HoldingsReport.objects.get(pk=response.json()["id"]).investing_fund == other[0]
    mine = harbor[1].get(URL).json()
    theirs = other[1].get(URL).json()
    assert [r["holdings"][0]["shares"] for r in mine] == ["100.000000"]
    assert [r["holdings"][0]["shares"] for r in theirs] == ["7.000000"]


@pytest.mark.parametrize("role", [None, roles.COMPLIANCE, roles.AUTHORIZED_PARTICIPANT])
def test_only_investing_funds_use_the_api(etf, role):
    client = APIClient()
    if role:
        client.force_authenticate(UserFactory(roles=[role]))
    assert client.get(URL).status_code in (401, 403)
    assert report(client).status_code in (401, 403)
    assert HoldingsReport.objects.count() == 0


def test_a_suspended_investing_fund_cannot_report(harbor, etf):
    from fof.models import InvestingFund

    InvestingFund.objects.filter(pk=harbor[0].pk).update(status="SUSPENDED")
    assert report(harbor[1]).status_code == 403
    assert HoldingsReport.objects.count() == 0


def test_compliance_acknowledges_and_others_cannot(harbor, etf, compliance):
    assert report(harbor[1], shares="35000").status_code == 201
    alert = LimitAlert.objects.get()
    with pytest.raises(services.NotEntitled):
        services.limit_alert_acknowledge(alert_id=alert.pk, actor=UserFactory(roles=[roles.BOARD]))
    services.limit_alert_acknowledge(alert_id=alert.pk, actor=compliance)
    alert.refresh_from_db()
    assert alert.acknowledged_by == compliance and alert.acknowledged_at is not None


def test_roles_view_reports_and_alerts(etf):
    for role in (roles.COMPLIANCE, roles.BOARD, roles.OPERATIONS, roles.AP_RELATIONSHIP):
        user = UserFactory(roles=[role])
        assert user.has_perm("fof.view_holdingsreport") and user.has_perm("fof.view_limitalert")
        assert not user.has_perm("fof.delete_limitalert")
        assert user.has_perm("fof.acknowledge_limitalert") == (role == roles.COMPLIANCE)


def test_reports_and_alerts_are_immutable_and_never_deleted(harbor, etf):
    assert report(harbor[1], shares="35000").status_code == 201
    held = HoldingsReport.objects.get()
    with pytest.raises(RetentionError):
        held.save()
    with pytest.raises(RetentionError):
        held.delete()
    with pytest.raises(RetentionError):
        LimitAlert.objects.all().delete()
    with pytest.raises(RetentionError):
        HoldingsReport.objects.all().delete()
    assert HoldingsReport.objects.count() == 1 and LimitAlert.objects.count() == 1


def test_the_admin_lists_alerts_and_compliance_acknowledges(harbor, etf, compliance, client):
    assert report(harbor[1], shares="35000").status_code == 201
    alert = LimitAlert.objects.get()
    client.force_login(compliance)
    page = client.get("/admin/fof/limitalert/")
    assert page.status_code == 200 and b"OPEN" in page.content
    client.post("/admin/fof/limitalert/", {"action": "acknowledge_selected", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.acknowledged_by == compliance
