"""Give the role groups their permissions on the FOF agreement and affiliate-list models (backoffice.roles)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import sync_roles as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [("fof", "0003_participation_agreements_affiliates")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
