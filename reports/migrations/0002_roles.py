from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    sync_role_permissions(apps)


class Migration(migrations.Migration):
    """Give the operator and support groups the reports' view permissions."""

    dependencies = [
        ("reports", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
