"""Organizations (tenants), their members and pending invitations."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.encryption import EncryptedTextField
from orgs import permissions as perms


class Organization(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        default_permissions = ()
        permissions = perms.PERMISSION_CHOICES

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=perms.ROLE_CHOICES)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """A pending offer of membership; becomes a Membership when accepted. Only the token's hash
    is stored: the link in the email is the only copy of the token."""

    PENDING, ACCEPTED, REVOKED, EXPIRED = "pending", "accepted", "revoked", "expired"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=perms.ROLE_CHOICES)
    permissions = models.JSONField(default=list)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "email"])]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return self.ACCEPTED
        if self.revoked_at:
            return self.REVOKED
        if self.expires_at <= timezone.now():
            return self.EXPIRED
        return self.PENDING


class TradePlatform(models.Model):
    """A MetaTrader 4/5 server the organization trades on, and the API used to execute there."""

    MT4, MT5 = "mt4", "mt5"
    TYPE_CHOICES = [(MT4, "MetaTrader 4"), (MT5, "MetaTrader 5")]
    SIMULATED, METAAPI = "simulated", "metaapi"
    API_CHOICES = [(SIMULATED, "Simulated broker"), (METAAPI, "MetaApi")]

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="platforms")
    name = models.CharField(max_length=120)
    type = models.CharField(max_length=3, choices=TYPE_CHOICES)
    api = models.CharField(max_length=20, choices=API_CHOICES)
    servers = models.JSONField(default=list, help_text="Trade server names, e.g. ['Broker-Live01'].")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="platform_name_unique_in_org"),
        ]

    def __str__(self) -> str:
        return self.name


class ManagerApiCredentials(models.Model):
    """MT4/MT5 Manager API access to a platform. Login and password are encrypted at rest."""

    platform = models.OneToOneField(TradePlatform, on_delete=models.CASCADE, related_name="manager_api")
    host = models.CharField(max_length=255, help_text="Host name or IP address")
    port = models.PositiveIntegerField()
    login = EncryptedTextField()
    password = EncryptedTextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Manager API credentials"
        verbose_name_plural = "Manager API credentials"

    def __str__(self) -> str:
        return f"Manager API of {self.platform}"


class ReportDbCredentials(models.Model):
    """The MySQL/MariaDB database the MetaQuotes report server fills; read-only use.
    Login and password are encrypted at rest."""

    platform = models.OneToOneField(TradePlatform, on_delete=models.CASCADE, related_name="report_db")
    host = models.CharField(max_length=255, help_text="Host name or IP address")
    port = models.PositiveIntegerField(default=3306)
    database = models.CharField(max_length=64)
    login = EncryptedTextField()
    password = EncryptedTextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "report database credentials"
        verbose_name_plural = "report database credentials"

    def __str__(self) -> str:
        return f"Report DB of {self.platform}"


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
