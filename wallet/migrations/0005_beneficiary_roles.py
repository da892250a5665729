from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    sync_role_permissions(apps)


class Migration(migrations.Migration):
    """Support and operators see beneficiaries (wallet.view_* now includes
    view_beneficiary and view_beneficiarystatuschange)."""

    dependencies = [("wallet", "0004_asset_payout_rails")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
