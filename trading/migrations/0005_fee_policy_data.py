"""Each instrument's fee policy by the rule new instruments follow
(trading.fees.fee_policy_default): `quote` when the base has no fractional unit
(the demo RELIANCE-INR and TCS-INR: shares) or a lot is one smallest unit,
`received` otherwise (the crypto pairs). Every trade so far charged its buyer in the base: its buyer_fee_asset is
the base. Orders keep the policy they were placed under (`received`), so an
order still open settles as it was reserved. Reversible: back to `received`
everywhere, as before."""

from django.db import migrations
from django.db.models import OuterRef, Q, Subquery


def forwards(apps, schema_editor):
    Instrument = apps.get_model("trading", "Instrument")
    Trade = apps.get_model("trading", "Trade")
    whole = Q(base__decimals=0) | Q(lot_size__lt=2)
    Instrument.objects.filter(whole).update(fee_policy="quote")
    Instrument.objects.exclude(whole).update(fee_policy="received")
    base_of = Instrument.objects.filter(pk=OuterRef("instrument_id")).values("base_id")
    Trade.objects.filter(buyer_fee_asset__isnull=True).update(
        buyer_fee_asset_id=Subquery(base_of[:1])
    )


def backwards(apps, schema_editor):
    Instrument = apps.get_model("trading", "Instrument")
    Instrument.objects.update(fee_policy="received")


class Migration(migrations.Migration):

    dependencies = [
        ('trading', '0004_fee_policy'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
