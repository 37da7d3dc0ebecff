"""The acting user for work that has no request: Celery tasks and management commands."""

from django.contrib.auth import get_user_model

SYSTEM_USERNAME = "system"


def system_user():
    """The named system user, created by the roles migration (created here if missing)."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"is_active": False, "first_name": "System", "last_name": "(tasks and commands)"},
    )
    return user
