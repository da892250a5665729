import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trading', '0005_fee_policy_data'),
        ('wallet', '0002_roles'),
    ]

    operations = [
        migrations.AlterField(
            model_name='trade',
            name='buyer_fee_asset',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='wallet.asset'),
        ),
    ]
