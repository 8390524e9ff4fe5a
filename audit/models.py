"""Audit events: one row per audited change in an organization, written once and never changed.

The ORM refuses to update or delete an event (``save`` of a stored one, ``delete``, and the
queryset's ``update``/``delete`` raise ``AuditLogIsAppendOnly``); on PostgreSQL a trigger refuses it
in the database too. The one change allowed is the database's own: when the acting user or API
client is deleted, its link is set to NULL; ``actor_label`` keeps who it was.
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from audit.kinds import KINDS
from clients.models import ApiClient
from orgs.models import Organization


class AuditLogIsAppendOnly(Exception):
    """An audit event was about to be changed or deleted."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events are never updated.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events are never deleted.")


class AuditEvent(models.Model):
    # PROTECT: an organization with an audit trail is not deleted through the application
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="audit_events")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_client = models.ForeignKey(
        ApiClient, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="Who acted, as they were named then")
    kind = models.CharField(max_length=64, help_text="A kind of audit.kinds.KINDS")
    target_type = models.CharField(
        max_length=100, help_text="The changed object's model, e.g. clients.apiclient"
    )
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, help_text="The changed object, as it was named then")
    # {field: {"before": ..., "after": ...}}, or {field: {"changed": true}} for a secret
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="audit_event_org_time")]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.description} ({self.target_label})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events are never updated.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events are never deleted.")

    @property
    def description(self) -> str:
        return KINDS.get(self.kind, self.kind)
