"""Give the role groups their permissions on the Substitute Basket models."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import sync_roles as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [("baskets", "0003_substitute_basket")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
