"""Trade platforms (MT4/MT5 servers and the API executing there), and their Manager API and
report-DB credentials (encrypted at rest)."""

from django.db import models
from django.utils import timezone

from core.encryption import EncryptedTextField
from orgs.models import Organization


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
