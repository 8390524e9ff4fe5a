"""Trading accounts and safety events point at ``platforms.TradePlatform`` (the same table: state only)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("execution", "0002_operations_and_safety"),
        ("platforms", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="safetyevent",
                    name="platform",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="safety_events",
                        to="platforms.tradeplatform",
                    ),
                ),
                migrations.AlterField(
                    model_name="tradingaccount",
                    name="platform",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="trading_accounts",
                        to="platforms.tradeplatform",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
