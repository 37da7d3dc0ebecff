"""Project-level models: history of user accounts and their role (group) assignments."""

from django.contrib.auth import get_user_model
from simple_history import register

# Role assignments are regulator-relevant: who could approve what, and when.
register(get_user_model(), app="backoffice", m2m_fields=["groups"], excluded_fields=["last_login", "password"])
