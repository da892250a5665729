"""Each instrument's fee policy by the rule new instruments follow
(trading.fees.fee_policy_default): `quote` when the base has no fractional unit
(the demo RELIANCE-INR and TCS-INR: shares) or a lot is one smallest unit,
`received` otherwise (the crypto pairs).

A trade's buyer_fee_asset is its buyer's fill's fee_asset: the base for every
trade made before fee policies (the fills recorded it all along), and right
again after a rollback and a re-apply. Orders keep the policy they were placed
under (0004: `received` for every order before), so an order still open settles
as it was reserved. Reversible: back to `received` everywhere, as before."""

from django.db import migrations
from django.db.models import OuterRef, Q, Subquery


def forwards(apps, schema_editor):
    Instrument = apps.get_model("trading", "Instrument")
    Trade = apps.get_model("trading", "Trade")
    Fill = apps.get_model("trading", "Fill")
    whole = Q(base__decimals=0) | Q(lot_size__lt=2)
    Instrument.objects.filter(whole).update(fee_policy="quote")
    Instrument.objects.exclude(whole).update(fee_policy="received")
    buyer_fill = Fill.objects.filter(trade_id=OuterRef("pk"), side="buy")
    Trade.objects.filter(buyer_fee_asset__isnull=True).update(
        buyer_fee_asset_id=Subquery(buyer_fill.values("fee_asset_id")[:1])
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
