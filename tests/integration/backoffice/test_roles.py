import pytest
from django.contrib.auth.models import Group

from backoffice import roles
from backoffice.audit import system_user
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def perms(role):
    return {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=role).permissions.select_related("content_type")}


def test_every_role_exists_with_exactly_its_mapped_permissions():
    for role, codenames in roles.ROLE_PERMISSIONS.items():
        assert perms(role) == set(codenames), role


def test_board_is_read_only_and_nobody_deletes_records():
    assert all(p.split(".")[1].startswith("view_") for p in perms(roles.BOARD))
    for role in roles.ALL_ROLES:
        assert not any(p.split(".")[1].startswith("delete_") for p in perms(role)), role


def test_external_users_have_no_model_permissions():
    assert perms(roles.AUTHORIZED_PARTICIPANT) == set()
    assert perms(roles.INVESTING_FUND) == set()


def test_only_operations_may_strike_and_only_pm_and_operations_book_portfolios():
    assert [r for r in roles.ALL_ROLES if "funds.add_netassetvalue" in perms(r)] == [roles.OPERATIONS]
    assert {r for r in roles.ALL_ROLES if "funds.add_portfolio" in perms(r)} == {roles.PORTFOLIO_MANAGER, roles.OPERATIONS}


def test_sync_roles_is_idempotent_and_restores_drift():
    group = Group.objects.get(name=roles.BOARD)
    group.permissions.clear()
    roles.sync_roles()
    roles.sync_roles()
    assert perms(roles.BOARD) == set(roles.ROLE_PERMISSIONS[roles.BOARD])


def test_role_assignments_are_history_tracked():
    user = UserFactory()
    user.groups.add(Group.objects.get(name=roles.COMPLIANCE))
    assert user.history.exists()
    latest = user.history.latest()
    assert list(latest.groups.values_list("group__name", flat=True)) == [roles.COMPLIANCE]


def test_system_user_exists_and_cannot_log_in():
    user = system_user()
    assert user.username == "system" and not user.is_active and not user.has_usable_password()
