"""Trade platforms and their credentials move here from ``orgs``: the models are taken over in
the migration state only (their tables, with every row, stay as they are); ``0002`` renames the
tables once ``orgs`` has let go of them."""

import core.encryption
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("orgs", "0002_platforms_and_api_clients"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TradePlatform",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=120)),
                        (
                            "type",
                            models.CharField(
                                choices=[("mt4", "MetaTrader 4"), ("mt5", "MetaTrader 5")], max_length=3
                            ),
                        ),
                        (
                            "api",
                            models.CharField(
                                choices=[("simulated", "Simulated broker"), ("metaapi", "MetaApi")],
                                max_length=20,
                            ),
                        ),
                        (
                            "servers",
                            models.JSONField(
                                default=list, help_text="Trade server names, e.g. ['Broker-Live01']."
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "organization",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="platforms",
                                to="orgs.organization",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["organization", "name"],
                        "db_table": "orgs_tradeplatform",
                    },
                ),
                migrations.CreateModel(
                    name="ReportDbCredentials",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("host", models.CharField(help_text="Host name or IP address", max_length=255)),
                        ("port", models.PositiveIntegerField(default=3306)),
                        ("database", models.CharField(max_length=64)),
                        ("login", core.encryption.EncryptedTextField()),
                        ("password", core.encryption.EncryptedTextField()),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "platform",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="report_db",
                                to="platforms.tradeplatform",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "report database credentials",
                        "verbose_name_plural": "report database credentials",
                        "db_table": "orgs_reportdbcredentials",
                    },
                ),
                migrations.CreateModel(
                    name="ManagerApiCredentials",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("host", models.CharField(help_text="Host name or IP address", max_length=255)),
                        ("port", models.PositiveIntegerField()),
                        ("login", core.encryption.EncryptedTextField()),
                        ("password", core.encryption.EncryptedTextField()),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "platform",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="manager_api",
                                to="platforms.tradeplatform",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "Manager API credentials",
                        "verbose_name_plural": "Manager API credentials",
                        "db_table": "orgs_managerapicredentials",
                    },
                ),
                migrations.AddConstraint(
                    model_name="tradeplatform",
                    constraint=models.UniqueConstraint(
                        fields=("organization", "name"), name="platform_name_unique_in_org"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
