"""Give the role groups their permissions on holdings reports and limit alerts (backoffice.roles)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import sync_roles as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [("fof", "0005_holdings_reports_limit_alerts")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
