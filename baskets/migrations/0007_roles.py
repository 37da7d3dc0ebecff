"""Give the role groups their permissions on Alternate Baskets and Publications."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import sync_roles as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [("baskets", "0006_alternate_baskets_publications"), ("orders", "0002_roles")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
