"""Give the role groups their permissions on the baskets models."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import sync_roles as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [("baskets", "0001_initial"), ("funds", "0003_fund_strike_times_inside_session")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
