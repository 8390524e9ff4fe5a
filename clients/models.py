"""API clients: machine callers of an organization's API, authenticated by a secret kept only as a digest."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.models import Organization


class ApiClient(models.Model):
    """A machine caller of the API. Its secret is shown once; only a SHA-256 digest is kept."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_clients")
    name = models.CharField(max_length=120)
    client_id = models.CharField(max_length=40, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    secret_hint = models.CharField(max_length=12, editable=False, help_text="First and last characters")
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
