from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    sync_role_permissions(apps)


class Migration(migrations.Migration):
    """Support may start a second-factor reset (a KYC re-check finishes it)."""

    dependencies = [
        ("accounts", "0012_sessions_sign_ins"),
        ("django_otp_webauthn", "0004_webauthnuserhandle"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
