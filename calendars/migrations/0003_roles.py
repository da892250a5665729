from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    sync_role_permissions(apps)


class Migration(migrations.Migration):
    """Operators keep calendars and operate sessions; support sees them
    (accounts/roles.py)."""

    dependencies = [
        ("calendars", "0002_calendar_instrument"),
        ("accounts", "0018_audit_codes_sessions"),
        ("trading", "0012_instrument_sessions"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
