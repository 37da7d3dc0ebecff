"""Give the role groups read access to the dissemination log (backoffice.roles.DISSEMINATIONS)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import sync_roles as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_dissemination"), ("baskets", "0007_roles")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
