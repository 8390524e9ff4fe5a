"""The audit log's table; on PostgreSQL, a trigger that refuses to change or delete an event.

The trigger lets one UPDATE through: the acting user's or API client's link set to NULL when that
user or client is deleted (``on_delete=SET_NULL``), every other column unchanged. SQLite (the
embedded default) gets no trigger: the model refuses changes there.
"""

import django.core.serializers.json
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

APPEND_ONLY = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND (to_jsonb(NEW) - '{actor_user_id,actor_client_id}'::text[])
            = (to_jsonb(OLD) - '{actor_user_id,actor_client_id}'::text[])
        AND (NEW.actor_user_id IS NULL OR NEW.actor_user_id = OLD.actor_user_id)
        AND (NEW.actor_client_id IS NULL OR NEW.actor_client_id = OLD.actor_client_id)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER audit_event_append_only ON audit_auditevent;
DROP FUNCTION audit_event_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no placeholders: "%" is plpgsql's

    return run


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("clients", "0002_table_renamed"),
        ("orgs", "0003_platforms_and_clients_moved_out"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "actor_label",
                    models.CharField(help_text="Who acted, as they were named then", max_length=200),
                ),
                ("kind", models.CharField(help_text="A kind of audit.kinds.KINDS", max_length=64)),
                (
                    "target_type",
                    models.CharField(
                        help_text="The changed object's model, e.g. clients.apiclient", max_length=100
                    ),
                ),
                ("target_id", models.CharField(max_length=64)),
                (
                    "target_label",
                    models.CharField(help_text="The changed object, as it was named then", max_length=200),
                ),
                (
                    "changes",
                    models.JSONField(
                        blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder
                    ),
                ),
                ("ip", models.GenericIPAddressField(blank=True, null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "actor_client",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="clients.apiclient",
                    ),
                ),
                (
                    "actor_user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="audit_events",
                        to="orgs.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["organization", "-created_at"], name="audit_event_org_time")
                ],
            },
        ),
        migrations.RunPython(_on_postgresql(APPEND_ONLY), _on_postgresql(DROP_APPEND_ONLY)),
    ]
