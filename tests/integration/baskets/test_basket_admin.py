import datetime as dt

import pytest
import time_machine
from django.test import Client

from backoffice import roles
from baskets.models import SubstituteBasket
from baskets.services import substitute_baskets_publish
from funds import business_calendar
from tests.baskets_fixtures import TRADE_DATE, before_open, market  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def basket(market):
    [outcome] = substitute_baskets_publish(trade_date=TRADE_DATE, fund_ids=[market.fund.pk], actor=market.pm, now=before_open(TRADE_DATE))
    return outcome.basket


def page(user, url):
    client = Client()
    client.force_login(user)
    return client.get(url)


def test_pm_sees_basket_against_portfolio_with_protected_names_and_the_engine_report(market, basket):
    response = page(market.pm, f"/admin/baskets/substitutebasket/{basket.pk}/change/")
    text = response.content.decode()
    assert response.status_code == 200
    assert "against portfolio" in text.lower() and "Active Share Differential" in text
    assert "ex-ante tracking error" in text and "realised Tracking Error" in text
    for ticker in market.protected:
        assert f"<td>{ticker}</td>" in text
    assert ">protected<" in text and "engine report" in text.lower()
    assert "Publish a correction" in text and "Download PCF" in text


@pytest.mark.parametrize("role", [roles.OPERATIONS, roles.BOARD, roles.AP_RELATIONSHIP])
def test_other_roles_never_see_which_securities_are_protected(market, basket, role):
    user = UserFactory(roles=[role])
    text = page(user, f"/admin/baskets/substitutebasket/{basket.pk}/change/").content.decode()
    assert ">protected<" not in text and "engine report" not in text.lower()
    assert "against portfolio" not in text.lower()  # the side-by-side would reveal the protected names
    assert "Publish a correction" not in text
    assert page(user, "/admin/baskets/protectedsecurity/").status_code == 403


def test_baskets_cannot_be_edited_or_deleted_in_the_admin(market, basket):
    admin_user = UserFactory(is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    response = client.post(f"/admin/baskets/substitutebasket/{basket.pk}/change/", {"cash_amount": "1.00"})
    assert response.status_code == 403
    assert client.get(f"/admin/baskets/substitutebasket/{basket.pk}/delete/").status_code == 403
    assert client.get("/admin/baskets/substitutebasket/add/").status_code == 403


def test_pm_publishes_a_correction_from_the_admin(market, basket):
    client = Client()
    client.force_login(market.pm)
    wrong = basket.components.order_by("-market_value").first().security
    with time_machine.travel(business_calendar.at_new_york(TRADE_DATE, dt.time(10, 0)), tick=False):
        bad = client.post(f"/admin/baskets/substitutebasket/{basket.pk}/correct/", {"reason": "x", "exclude": "NOSUCH"})
        assert bad.status_code == 200 and "unknown ticker(s): NOSUCH" in bad.content.decode()
        response = client.post(f"/admin/baskets/substitutebasket/{basket.pk}/correct/", {"reason": "wrong name", "exclude": wrong.ticker})
    assert response.status_code == 302
    corrected = SubstituteBasket.objects.get(fund=market.fund, trade_date=TRADE_DATE, version=2)
    assert corrected.supersedes == basket and not corrected.components.filter(security=wrong).exists()
    ops = UserFactory(roles=[roles.OPERATIONS])
    assert page(ops, f"/admin/baskets/substitutebasket/{corrected.pk}/correct/").status_code == 403
