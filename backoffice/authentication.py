"""API authentication: DRF's token authentication, with what every API request needs loaded in one query."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from backoffice.precompiled import PrecompiledQuery


class TokenWithRolesAuthentication(TokenAuthentication):
    """``TokenAuthentication`` (same header, errors and 401s) that loads, with the token and its user:

    - the user's AP binding and its Authorized Participant (``orders.services.participant_for_user`` reads
      them from ``user.ap_binding`` instead of querying again; a user without one gets no binding);
    - on PostgreSQL, the user's role names (``backoffice.roles.user_roles`` reads ``user._role_names``),
      as an ``ARRAY(SELECT ...)`` column of the same query. Elsewhere the roles are read on first use.

    One query instead of three on every order placed (bench/order_load.py).
    """

    def authenticate_credentials(self, key):
        token = _TOKEN.first(key=key)  # the token's key is its primary key: one row at most
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))

        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        role_names = getattr(token, "role_names", None)
        if role_names is not None:
            token.user._role_names = set(role_names)
        return (token.user, token)


def _tokens(key):
    tokens = Token.objects.select_related("user__ap_binding__participant").filter(key=key)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.expressions import ArraySubquery
        from django.db.models import OuterRef

        tokens = tokens.annotate(role_names=ArraySubquery(Group.objects.filter(user=OuterRef("user_id")).values("name")))
    return tokens


_TOKEN = PrecompiledQuery(Token, _tokens, key="\x00placeholder token")  # SQL compiled once (backoffice.precompiled)
