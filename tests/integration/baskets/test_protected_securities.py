import datetime as dt

import pytest

from backoffice import roles
from backoffice.exceptions import InvalidInput, InvalidTransition, NotFound
from baskets.models import ProtectedSecurity
from baskets.selectors import protected_securities_visible_to, protected_security_ids
from baskets.services import protected_security_designate, protected_security_end
from tests.factories import FundFactory, SecurityFactory, UserFactory

pytestmark = pytest.mark.django_db

JAN2, JAN30, FEB2 = dt.date(2026, 1, 2), dt.date(2026, 1, 30), dt.date(2026, 2, 2)


@pytest.fixture
def pm():
    return UserFactory(roles=[roles.PORTFOLIO_MANAGER])


def test_designate_then_end_with_history(pm):
    # given
    fund, security = FundFactory(), SecurityFactory(ticker="SECRET")
    # when
    designation = protected_security_designate(
        fund_id=fund.pk, security_id=security.pk, effective_from=JAN2, reason="building a position", actor=pm
    )
    protected_security_end(designation_id=designation.pk, last_day=JAN30, reason="position complete", actor=pm)
    # then: protected through Jan 30, not after
    assert protected_security_ids(fund_id=fund.pk, on=JAN2) == {security.pk}
    assert protected_security_ids(fund_id=fund.pk, on=JAN30) == {security.pk}
    assert protected_security_ids(fund_id=fund.pk, on=FEB2) == set()
    assert protected_security_ids(fund_id=fund.pk, on=dt.date(2026, 1, 1)) == set()
    designation.refresh_from_db()
    assert (designation.ended_by, designation.end_reason) == (pm, "position complete")
    assert [h.history_user for h in designation.history.order_by("history_date")] == [pm, pm]


def test_protection_is_per_fund(pm):
    fund, other, security = FundFactory(), FundFactory(), SecurityFactory()
    protected_security_designate(fund_id=fund.pk, security_id=security.pk, effective_from=JAN2, reason="selling", actor=pm)
    assert protected_security_ids(fund_id=other.pk, on=JAN30) == set()


@pytest.mark.parametrize(
    "existing, new",
    [
        ((JAN2, None), (FEB2, None)),  # open-ended overlaps everything after
        ((JAN2, JAN30), (dt.date(2026, 1, 15), None)),
        ((FEB2, None), (JAN2, FEB2)),  # new one ends on the first day of the existing
    ],
)
def test_overlapping_designations_are_refused(pm, existing, new):
    fund, security = FundFactory(), SecurityFactory(ticker="DUPE")
    protected_security_designate(fund_id=fund.pk, security_id=security.pk, effective_from=existing[0], effective_to=existing[1], reason="a", actor=pm)
    with pytest.raises(InvalidInput, match="DUPE is already protected"):
        protected_security_designate(fund_id=fund.pk, security_id=security.pk, effective_from=new[0], effective_to=new[1], reason="b", actor=pm)
    assert ProtectedSecurity.objects.count() == 1


def test_back_to_back_designations_are_allowed(pm):
    fund, security = FundFactory(), SecurityFactory()
    protected_security_designate(fund_id=fund.pk, security_id=security.pk, effective_from=JAN2, effective_to=JAN30, reason="a", actor=pm)
    protected_security_designate(fund_id=fund.pk, security_id=security.pk, effective_from=dt.date(2026, 1, 31), reason="b", actor=pm)
    assert ProtectedSecurity.objects.count() == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reason": "  "}, "reason is required"),
        ({"effective_to": dt.date(2025, 12, 31)}, "is before effective_from"),
        ({"security_id": 987654}, "unknown security"),
    ],
)
def test_bad_designations_are_named(pm, kwargs, match):
    fund, security = FundFactory(), SecurityFactory()
    arguments = dict(fund_id=fund.pk, security_id=security.pk, effective_from=JAN2, reason="ok", actor=pm) | kwargs
    with pytest.raises(InvalidInput, match=match):
        protected_security_designate(**arguments)
    assert not ProtectedSecurity.objects.exists()


def test_ending_twice_or_before_the_start_is_refused(pm):
    fund, security = FundFactory(), SecurityFactory()
    designation = protected_security_designate(fund_id=fund.pk, security_id=security.pk, effective_from=JAN2, reason="a", actor=pm)
    with pytest.raises(InvalidInput, match="before the designation starts"):
        protected_security_end(designation_id=designation.pk, last_day=dt.date(2026, 1, 1), reason="x", actor=pm)
    protected_security_end(designation_id=designation.pk, last_day=JAN30, reason="done", actor=pm)
    with pytest.raises(InvalidTransition, match="already ends"):
        protected_security_end(designation_id=designation.pk, last_day=FEB2, reason="again", actor=pm)


@pytest.mark.parametrize("role", [roles.PORTFOLIO_MANAGER, roles.COMPLIANCE])
def test_pm_and_compliance_see_the_protected_set(pm, role):
    fund, security = FundFactory(), SecurityFactory()
    protected_security_designate(fund_id=fund.pk, security_id=security.pk, effective_from=JAN2, reason="a", actor=pm)
    assert protected_securities_visible_to(user=UserFactory(roles=[role]), fund_id=fund.pk).count() == 1


@pytest.mark.parametrize("role", [roles.OPERATIONS, roles.BOARD, roles.AP_RELATIONSHIP, roles.AUTHORIZED_PARTICIPANT, roles.INVESTING_FUND])
def test_nobody_else_sees_the_protected_set(role):
    with pytest.raises(NotFound):
        protected_securities_visible_to(user=UserFactory(roles=[role]), fund_id=FundFactory().pk)


def test_admin_pages_follow_the_roles(client, pm):
    fund, security = FundFactory(), SecurityFactory()
    protected_security_designate(fund_id=fund.pk, security_id=security.pk, effective_from=JAN2, reason="secret plan", actor=pm)
    for role, expected in [(roles.PORTFOLIO_MANAGER, 200), (roles.COMPLIANCE, 200), (roles.OPERATIONS, 403), (roles.BOARD, 403)]:
        client.force_login(UserFactory(roles=[role]))
        response = client.get("/admin/baskets/protectedsecurity/")
        assert response.status_code == expected, role


def test_admin_designates_through_the_service(client, pm):
    fund, security = FundFactory(), SecurityFactory()
    client.force_login(pm)
    response = client.post("/admin/baskets/protectedsecurity/add/", {
        "fund": fund.pk, "security": security.pk, "effective_from": "2026-01-02", "effective_to": "", "reason": "accumulating",
    })
    assert response.status_code == 302
    designation = ProtectedSecurity.objects.get()
    assert designation.designated_by == pm and designation.history.get().history_user == pm
