"""Give the role groups their permissions on the fof models (backoffice.roles is the mapping)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import sync_roles as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [("fof", "0001_initial"), ("orders", "0006_roles")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
