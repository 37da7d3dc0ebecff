"""Give the role groups their permissions on the orders models."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import sync_roles as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial"), ("baskets", "0005_basket_policy_hybrid_three_years")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
