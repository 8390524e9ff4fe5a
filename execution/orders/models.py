"""Broker operations: each durable from acceptance to outcome, its attempts, and idempotency keys."""

from django.db import models
from django.utils import timezone

from core.fields import BulkJSONField
from execution.accounts.models import TradingAccount
from execution.orders.kinds import KINDS
from orgs.models import Organization


class Operation(models.Model):
    """One broker operation, durable from acceptance to outcome; executed by the pipeline."""

    ACCEPTED, RUNNING, WAITING = "accepted", "running", "waiting"
    DONE, FAILED, CANCELLED = "done", "failed", "cancelled"
    STATE_CHOICES = [
        (ACCEPTED, "Accepted"),
        (RUNNING, "Running"),
        (WAITING, "Waiting"),
        (DONE, "Done"),
        (FAILED, "Failed"),
        (CANCELLED, "Cancelled"),
    ]
    TERMINAL = (DONE, FAILED, CANCELLED)
    PENDING = (ACCEPTED, WAITING)  # not running now: may still be cancelled
    KIND_CHOICES = [(kind.name, kind.label) for kind in KINDS.values()]

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="operations")
    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    params = BulkJSONField(default=dict)
    priority = models.PositiveSmallIntegerField(help_text="0 high, 1 normal, 2 low")
    client_tag = models.CharField(max_length=26, unique=True, editable=False)
    state = models.CharField(max_length=10, choices=STATE_CHOICES, default=ACCEPTED)
    reason = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    last_category = models.CharField(max_length=16, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Earliest next run (retry, pause)")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A worker holds it until then")
    held_by = models.CharField(max_length=40, blank=True, help_text="The engine worker running it")
    fail_if_paused = models.BooleanField(
        default=False, help_text="Fail at once when the account is paused, instead of waiting for it"
    )
    deadline = models.DateTimeField(help_text="Fails with a reason if not done by then")
    after = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Runs once this operation has ended (a change to a trade after the trade's opening)",
    )
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "updated_at"]), models.Index(fields=["account", "state"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} on {self.account_id} ({self.state})"

    @classmethod
    def due_at(cls, moment) -> models.Q:
        """Operations that may run at ``moment``: not waiting for a time (``not_before``) nor for
        the operation they run after (``after``) to end."""
        return (models.Q(not_before__isnull=True) | models.Q(not_before__lte=moment)) & (
            models.Q(after__isnull=True) | models.Q(after__state__in=cls.TERMINAL)
        )


class OperationAttempt(models.Model):
    """One call to the broker. An attempt without ``finished_at`` had an unknown outcome (the
    worker died or the call timed out): the next run looks the client tag up before resending."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    category = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=12, blank=True)
    code = models.IntegerField(null=True, blank=True)
    string_code = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    retry_in_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome_unknown = models.BooleanField(
        default=False, help_text="Sent, but whether the broker did it is unknown (timeout, crash)"
    )

    class Meta:
        ordering = ["operation", "number"]
        constraints = [models.UniqueConstraint(fields=["operation", "number"], name="attempt_number_unique")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.operation_id}"


class IdempotencyKey(models.Model):
    """The first response to an ``Idempotency-Key``: the same key and body get it again; the same
    key with another body gets 409."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return self.key
