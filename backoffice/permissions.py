"""DRF permission classes built on the roles."""

from rest_framework.permissions import BasePermission

from backoffice import roles


class HasRole(BasePermission):
    allowed_roles: tuple[str, ...] = ()
    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and roles.user_has_role(request.user, *self.allowed_roles))


class IsInternalStaff(HasRole):
    allowed_roles = roles.INTERNAL_ROLES


class CanSeeHoldings(HasRole):
    """Confidential portfolio: never AP, Investing Fund or public users."""

    allowed_roles = roles.HOLDINGS_ROLES


class IsOperations(HasRole):
    allowed_roles = (roles.OPERATIONS,)
