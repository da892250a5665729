"""The demo assets' payout rails. Securities (RELIANCE, TCS) get none: they are
not withdrawable. Assets created later set theirs in the admin."""

from django.db import migrations

RAILS = {
    "USD": ["bank_iban"],
    "INR": ["bank_account_in", "upi"],
    "BTC": ["bitcoin"],
    "ETH": ["ethereum"],
}


def forwards(apps, schema_editor):
    Asset = apps.get_model("wallet", "Asset")
    for asset in Asset.objects.filter(code__in=RAILS):
        if not asset.payout_rails:
            asset.payout_rails = RAILS[asset.code]
            asset.save(update_fields=["payout_rails"])


def backwards(apps, schema_editor):
    Asset = apps.get_model("wallet", "Asset")
    Asset.objects.filter(code__in=RAILS).update(payout_rails=[])


class Migration(migrations.Migration):
    dependencies = [("wallet", "0003_beneficiaries")]

    operations = [migrations.RunPython(forwards, backwards)]
