"""Give the role groups their permissions on cash announcements."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import sync_roles as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_alternate_and_cash_orders")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
