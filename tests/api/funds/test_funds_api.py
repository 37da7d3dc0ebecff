import datetime as dt
from decimal import Decimal as D

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backoffice import roles
from funds.models import NetAssetValue, Strike
from funds.services import nav_strike
from tests.factories import UserFactory
from tests.integration.funds.conftest import DAY, priced_fund  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def client_for(*role_names, token=False):
    user = UserFactory(roles=list(role_names), is_staff=not token)
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    else:
        client.force_authenticate(user)
    return client, user


def test_anonymous_is_denied_everywhere(priced_fund):
    client = APIClient()
    for url in ["/api/funds/", f"/api/funds/{priced_fund.ticker}/", f"/api/funds/{priced_fund.ticker}/navs/",
                f"/api/funds/{priced_fund.ticker}/portfolio/", "/api/securities/"]:
        response = client.get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"
        assert "error" in response.json()


def test_fund_list_and_navs_for_an_authorized_participant(priced_fund, actor):
    nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    client, _ = client_for(roles.AUTHORIZED_PARTICIPANT, token=True)
    funds = client.get("/api/funds/").json()
    assert [f["ticker"] for f in funds["results"]] == ["ACTV"]
    navs = client.get("/api/funds/actv/navs/").json()["results"]
    assert navs == [{
        "date": "2025-11-26", "strike": "END_OF_DAY", "strike_at": "2025-11-26T21:00:00Z",
        "struck_at": navs[0]["struck_at"], "net_assets": "129000.00", "shares_outstanding": "5000.0000",
        "nav_per_share": "25.8000",
    }]


@pytest.mark.parametrize("role", [roles.AUTHORIZED_PARTICIPANT, roles.INVESTING_FUND, roles.AP_RELATIONSHIP])
def test_holdings_are_never_served_to_outside_roles(priced_fund, actor, role):
    nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    client, _ = client_for(role)
    portfolio = client.get(f"/api/funds/ACTV/portfolio/?date={DAY}")
    explain = client.get(f"/api/funds/ACTV/navs/{DAY}/END_OF_DAY/")
    assert portfolio.status_code == 403 and explain.status_code == 403
    assert "AAA" not in portfolio.content.decode() + explain.content.decode()


@pytest.mark.parametrize("role", [roles.PORTFOLIO_MANAGER, roles.COMPLIANCE, roles.OPERATIONS, roles.BOARD])
def test_internal_roles_see_holdings_and_nav_inputs(priced_fund, actor, role):
    nav_strike(fund_id=priced_fund.pk, day=DAY, strike=Strike.END_OF_DAY, actor=actor)
    client, _ = client_for(role)
    portfolio = client.get(f"/api/funds/ACTV/portfolio/?date={DAY}").json()
    assert [h["ticker"] for h in portfolio["holdings"]] == ["AAA", "BBB", "CCC"]
    explain = client.get(f"/api/funds/ACTV/navs/{DAY}/END_OF_DAY/").json()
    assert explain["net_assets"] == "129000.00" and explain["portfolio_as_of"] == str(DAY)


def test_operations_strike_through_the_api_and_repeat_is_a_no_op(priced_fund):
    client, user = client_for(roles.OPERATIONS)
    first = client.post("/api/funds/ACTV/navs/strike/", {"date": str(DAY), "strike": "INTRADAY"}, format="json")
    second = client.post("/api/funds/ACTV/navs/strike/", {"date": str(DAY), "strike": "INTRADAY"}, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["nav_per_share"] == second.json()["nav_per_share"] == "25.5933"
    nav = NetAssetValue.objects.get()
    assert nav.struck_by == user and nav.history.get().history_user == user


def test_strike_errors_have_one_shape(priced_fund):
    client, _ = client_for(roles.OPERATIONS)
    holiday = client.post("/api/funds/ACTV/navs/strike/", {"date": "2025-11-27", "strike": "INTRADAY"}, format="json")
    assert holiday.status_code == 400
    assert holiday.json()["error"]["code"] == "not_a_business_day"
    bad = client.post("/api/funds/ACTV/navs/strike/", {"date": "2025-13-01", "strike": "LUNCH"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]) == {"date", "strike"}
    priced_fund.securities["AAA"].intraday_snapshots.all().delete()
    missing = client.post("/api/funds/ACTV/navs/strike/", {"date": str(DAY), "strike": "INTRADAY"}, format="json")
    assert missing.status_code == 409
    assert missing.json()["error"]["details"]["missing_tickers"] == ["AAA"]
    assert not NetAssetValue.objects.exists()


def test_only_operations_may_strike(priced_fund):
    client, _ = client_for(roles.PORTFOLIO_MANAGER)
    response = client.post("/api/funds/ACTV/navs/strike/", {"date": str(DAY), "strike": "INTRADAY"}, format="json")
    assert response.status_code == 403


def test_unknown_fund_is_404():
    client, _ = client_for(roles.COMPLIANCE)
    response = client.get("/api/funds/NOPE/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_security_master_is_internal_only(priced_fund):
    ap, _ = client_for(roles.AUTHORIZED_PARTICIPANT)
    assert ap.get("/api/securities/").status_code == 403
    ops, _ = client_for(roles.OPERATIONS)
    assert {s["ticker"] for s in ops.get("/api/securities/").json()["results"]} == {"AAA", "BBB", "CCC"}


def test_openapi_schema_and_swagger_ui_are_served():
    client = APIClient()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/funds/{ticker}/navs/" in paths and "/api/funds/{ticker}/portfolio/" in paths
    assert client.get("/api/docs/").status_code == 200


def test_nav_explain_names_a_bad_date_or_a_missing_nav(priced_fund):
    client, _ = client_for(roles.COMPLIANCE)
    bad = client.get("/api/funds/ACTV/navs/2025-02-30/END_OF_DAY/")
    assert bad.status_code == 400 and "date" in bad.json()["error"]["details"]
    missing = client.get(f"/api/funds/ACTV/navs/{DAY}/END_OF_DAY/")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"No END_OF_DAY NAV for ACTV on {DAY}."
