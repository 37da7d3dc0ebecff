"""Role groups with their permissions, and the system user that tasks and commands act as."""

from django.db import migrations


def create_roles_and_system_user(apps, schema_editor):
    from backoffice.roles import sync_roles

    sync_roles(apps)
    user_model = apps.get_model("auth", "User")
    user_model.objects.get_or_create(
        username="system",
        defaults={"is_active": False, "password": "!", "first_name": "System", "last_name": "(tasks and commands)"},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("backoffice", "0001_initial"),
        ("funds", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles_and_system_user, migrations.RunPython.noop)]
