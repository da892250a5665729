from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    sync_role_permissions(apps)


class Migration(migrations.Migration):
    """Support and administrators see and revoke users' API keys; operators see
    them (accounts/roles.py)."""

    dependencies = [("apikeys", "0001_initial")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
