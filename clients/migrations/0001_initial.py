"""API clients move here from ``orgs``: the model is taken over in the migration state only (its
table, with every row, stays as it is); ``0002`` renames the table once ``orgs`` has let go of it."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("orgs", "0002_platforms_and_api_clients"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiClient",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=120)),
                        ("client_id", models.CharField(editable=False, max_length=40, unique=True)),
                        ("secret_hash", models.CharField(editable=False, max_length=64)),
                        (
                            "secret_hint",
                            models.CharField(
                                editable=False, help_text="First and last characters", max_length=12
                            ),
                        ),
                        ("scopes", models.JSONField(default=list)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("rotated_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "organization",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="api_clients",
                                to="orgs.organization",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["organization", "name"],
                        "db_table": "orgs_apiclient",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
