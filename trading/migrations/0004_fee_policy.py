"""Fee policies (docs/trading.md, "Fees"): the instrument's, copied onto each
order, and the asset of the buyer's fee on each trade. Existing rows keep what
they were settled under until 0005 sets each instrument's policy: orders placed
before were placed under `received` (the buyer paid in base), and so were their
trades."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trading', '0003_order_open_by_user'),
        ('wallet', '0002_roles'),
    ]

    operations = [
        migrations.AddField(
            model_name='instrument',
            name='fee_policy',
            field=models.CharField(choices=[('quote', 'Quote (both sides pay in the quote asset)'), ('received', 'Received (each side pays in what it receives)')], default='received', help_text='Fixed at creation: quote (brokers, shares) or received (crypto).', max_length=8),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name='instrument',
            constraint=models.CheckConstraint(condition=models.Q(('fee_policy__in', ['quote', 'received'])), name='instrument_fee_policy_valid'),
        ),
        migrations.AddField(
            model_name='order',
            name='fee_policy',
            field=models.CharField(choices=[('quote', 'Quote (both sides pay in the quote asset)'), ('received', 'Received (each side pays in what it receives)')], default='received', help_text="The instrument's fee policy when the order was placed.", max_length=8),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='order',
            name='fees_paid',
            field=models.BigIntegerField(default=0, help_text='Units of the fee asset: quote, but base for a buy under the received policy (trading.fees.fee_asset).'),
        ),
        migrations.AlterField(
            model_name='trade',
            name='buyer_fee',
            field=models.BigIntegerField(help_text='Units of buyer_fee_asset: base under the received policy, quote under quote.'),
        ),
        migrations.AlterField(
            model_name='trade',
            name='seller_fee',
            field=models.BigIntegerField(help_text='Quote units (either policy).'),
        ),
        migrations.AddField(
            model_name='trade',
            name='buyer_fee_asset',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='wallet.asset'),
        ),
    ]
