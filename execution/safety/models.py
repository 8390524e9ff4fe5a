"""Recorded transitions of the safety pause (per account) and broker health (per platform)."""

from django.db import models

from execution.accounts.models import TradingAccount
from orgs.models import Organization
from platforms.models import TradePlatform


class SafetyEvent(models.Model):
    """A recorded transition of the safety pause (per account) or the broker health monitor (per
    platform), with time and cause."""

    PAUSE, HEALTH = "pause", "health"
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="safety_events")
    account = models.ForeignKey(
        TradingAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="safety_events"
    )
    platform = models.ForeignKey(
        TradePlatform, on_delete=models.CASCADE, null=True, blank=True, related_name="safety_events"
    )
    monitor = models.CharField(max_length=6, choices=[(PAUSE, "Safety pause"), (HEALTH, "Broker health")])
    from_state = models.CharField(max_length=12)
    to_state = models.CharField(max_length=12)
    cause = models.TextField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.monitor}: {self.from_state} -> {self.to_state}"
