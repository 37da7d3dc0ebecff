import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User

from backoffice.audit import system_user
from funds.models import Fund, NetAssetValue
from funds.services import portfolio_book, shares_outstanding_launch
from tests.factories import AdviserFactory, DistributorFactory, FundFactory, SecurityFactory, TrustFactory, make_cusip
from tests.integration.funds.conftest import DAY, add_prices

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-unused-123"))
    return client


def form_data(**overrides):
    data = {
        "trust": TrustFactory().pk, "adviser": AdviserFactory().pk, "distributor": DistributorFactory().pk,
        "name": "Admin Made ETF", "ticker": "ADMN", "cusip": make_cusip(7, "A"), "listing_exchange": "ARCX",
        "is_active": "on", "creation_unit_size": "5000", "launch_date": "2026-01-02", "initial_price": "25",
        "intraday_strike_time": "12:00", "end_of_day_strike_time": "",
        "corrective_action_threshold_pct": "2.00", "tracking_error_threshold_pct": "1.00",
    }
    data.update(overrides)
    return data


def test_admin_refuses_a_creation_unit_under_5000(admin_client):
    response = admin_client.post("/admin/funds/fund/add/", form_data(creation_unit_size="4999"))
    assert response.status_code == 200
    assert "A Creation Unit is at least 5,000 Shares." in response.content.decode()
    assert not Fund.objects.filter(ticker="ADMN").exists()


def test_admin_refuses_a_threshold_above_its_cap(admin_client):
    response = admin_client.post("/admin/funds/fund/add/", form_data(corrective_action_threshold_pct="2.50"))
    assert "may not exceed 2.00%" in response.content.decode()
    assert not Fund.objects.filter(ticker="ADMN").exists()


def test_admin_creates_through_the_service_with_the_user_in_history(admin_client):
    response = admin_client.post("/admin/funds/fund/add/", form_data())
    assert response.status_code == 302
    fund = Fund.objects.get(ticker="ADMN")
    assert fund.history.get().history_user.username == "root"


def test_admin_change_page_and_changelists_render(admin_client):
    fund = FundFactory()
    for url in ["/admin/", f"/admin/funds/fund/{fund.pk}/change/", "/admin/funds/netassetvalue/", "/admin/funds/portfolio/",
                "/admin/funds/security/", "/admin/funds/dailyprice/", "/admin/funds/navstrikefailure/"]:
        assert admin_client.get(url).status_code == 200, url


def test_strike_action_queues_after_commit_and_the_task_strikes(admin_client, django_capture_on_commit_callbacks, time_machine):
    # given: a priced fund (10 x 10.00 over 4 shares = 25.0000), the clock at 16:30 ET that day
    fund = FundFactory(ticker="ADM2")
    security = SecurityFactory()
    add_prices(security, DAY, "10.00")
    portfolio_book(fund_id=fund.pk, as_of=DAY, positions=[(security.pk, D("10"))], cash=D("0"), actor=system_user())
    shares_outstanding_launch(fund_id=fund.pk, shares=D("4"), effective_date=DAY, actor=system_user())
    time_machine.move_to(dt.datetime(2025, 11, 26, 21, 30, tzinfo=dt.timezone.utc))
    # when: the admin action runs; the task is only sent on commit
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post("/admin/funds/fund/", {"action": "strike_end_of_day_today", "_selected_action": [fund.pk]}, follow=True)
    # then
    assert len(callbacks) == 1
    assert "queued for 1 fund(s)" in response.content.decode()
    nav = NetAssetValue.objects.get(fund=fund)
    assert nav.nav_per_share == D("25.0000") and nav.struck_by.username == "root"


def test_history_pages_are_read_only_for_every_role(client, actor):
    """django-simple-history saves a POST to its history page after checking only the view permission."""
    from backoffice import roles
    from funds.models import Fund
    from tests.factories import FundFactory, UserFactory

    fund = FundFactory(name="Before")
    fund.name = "Second version"
    fund.save()
    version = fund.history.order_by("history_id").first()
    board = UserFactory(roles=[roles.BOARD])
    client.force_login(board)
    url = f"/admin/funds/fund/{fund.pk}/history/{version.history_id}/"
    assert client.get(url).status_code == 200  # viewing a past version is allowed
    response = client.post(url, {**form_data(), "name": "Renamed by a read-only role"})
    assert response.status_code == 403
    fund.refresh_from_db()
    assert fund.name == "Second version" and not Fund.objects.filter(name="Renamed by a read-only role").exists()
