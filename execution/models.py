"""Trading accounts, what they connect with, their symbols, and the simulated broker's state."""

from decimal import Decimal

from django.db import models
from django.utils import timezone

from core.encryption import EncryptedTextField
from orgs.models import Organization, TradePlatform


class TradingAccount(models.Model):
    """A MetaTrader account the organization trades on, through its platform's gateway."""

    DEMO, LIVE, PROP = "demo", "live", "prop"
    TYPE_CHOICES = [(DEMO, "Demo"), (LIVE, "Live"), (PROP, "Prop firm")]
    CONNECTING, CONNECTED, DISCONNECTED, ERROR = "connecting", "connected", "disconnected", "error"
    STATE_CHOICES = [
        (CONNECTING, "Connecting"),
        (CONNECTED, "Connected"),
        (DISCONNECTED, "Disconnected"),
        (ERROR, "Error"),
    ]

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="trading_accounts")
    platform = models.ForeignKey(TradePlatform, on_delete=models.PROTECT, related_name="trading_accounts")
    name = models.CharField(max_length=120)
    type = models.CharField(max_length=4, choices=TYPE_CHOICES)
    login = models.CharField(max_length=32)
    server = models.CharField(max_length=120)
    connection_state = models.CharField(max_length=12, choices=STATE_CHOICES, default=CONNECTING)
    connection_error = models.TextField(blank=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # The MetaTrader password, encrypted, only between "connect" and the end of the setup: the
    # setup actor clears it whatever the outcome. The connection then runs on narrow credentials.
    setup_password = EncryptedTextField(null=True, blank=True, editable=False)
    broker_account_id = models.CharField(max_length=64, blank=True, help_text="MetaApi account id")
    balance = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    equity = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    margin = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    free_margin = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=8, blank=True)
    leverage = models.PositiveIntegerField(null=True, blank=True)
    figures_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "platform", "server", "login"], name="account_unique_in_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_type_display()} {self.login}@{self.server})"

    @property
    def is_live(self) -> bool:
        return self.type == self.LIVE


class AccountCredential(models.Model):
    """The per-account credential the execution path uses: a token narrowed to this one account
    and to trading roles, encrypted at rest, refreshed before it expires."""

    account = models.OneToOneField(TradingAccount, on_delete=models.CASCADE, related_name="credential")
    token = EncryptedTextField()
    expires_at = models.DateTimeField()
    refreshed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Credential of {self.account} (expires {self.expires_at:%Y-%m-%d %H:%M})"


class AccountSymbol(models.Model):
    """A symbol the account's broker offers, with its specification (discovered on connection)."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="symbols")
    name = models.CharField(max_length=40)
    description = models.CharField(max_length=200, blank=True)
    asset_class = models.CharField(max_length=10, blank=True)
    digits = models.PositiveSmallIntegerField()
    contract_size = models.DecimalField(max_digits=20, decimal_places=6)
    tick_size = models.DecimalField(max_digits=20, decimal_places=10)
    tick_value = models.DecimalField(max_digits=20, decimal_places=10)
    volume_min = models.DecimalField(max_digits=12, decimal_places=4)
    volume_max = models.DecimalField(max_digits=12, decimal_places=4)
    volume_step = models.DecimalField(max_digits=12, decimal_places=4)
    trading_allowed = models.BooleanField(default=True)
    sessions = models.JSONField(default=list, help_text="[[weekday, start minute, end minute], ...] UTC")

    class Meta:
        ordering = ["account", "name"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="symbol_unique_per_account")]

    def __str__(self) -> str:
        return self.name


class SymbolOverride(models.Model):
    """A user's mapping for one account: what they (or a signal) write -> the broker's symbol."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="symbol_overrides")
    alias = models.CharField(max_length=40, help_text="As written, e.g. GOLD (case-insensitive)")
    broker_symbol = models.CharField(max_length=40)

    class Meta:
        ordering = ["account", "alias"]
        constraints = [
            models.UniqueConstraint(fields=["account", "alias"], name="override_unique_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.alias} -> {self.broker_symbol}"


class SimulatorDocument(models.Model):
    """The simulated broker's state (accounts, fault settings) as JSON documents, shared by every
    process through the database and locked per key with SELECT ... FOR UPDATE."""

    key = models.CharField(max_length=200, primary_key=True)
    document = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key


class RiskSettings(models.Model):
    """How an account sizes new orders: the volume a caller or signal proposes is never used."""

    FIXED, RISK_PERCENT = "fixed", "risk_percent"
    MODE_CHOICES = [(FIXED, "Fixed lots"), (RISK_PERCENT, "Risk % of balance")]
    NORMAL, MID, HIGH = "normal", "mid", "high"
    LEVEL_CHOICES = [
        (NORMAL, "Normal (x1, cap 5 lots)"),
        (MID, "Mid (x1.5, cap 7.5 lots)"),
        (HIGH, "High (x2, cap 10 lots)"),
    ]

    account = models.OneToOneField(TradingAccount, on_delete=models.CASCADE, related_name="risk_settings")
    mode = models.CharField(max_length=12, choices=MODE_CHOICES, default=FIXED)
    risk_level = models.CharField(max_length=6, choices=LEVEL_CHOICES, default=NORMAL)
    fixed_lots = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.01"))
    risk_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1.00"))
    asset_caps = models.JSONField(
        default=dict, blank=True, help_text='Lots by asset class, e.g. {"metals": "0.5"}'
    )

    class Meta:
        verbose_name_plural = "risk settings"

    def __str__(self) -> str:
        return f"Risk settings of {self.account}"


class Operation(models.Model):
    """One broker operation, durable from acceptance to outcome; executed by the pipeline."""

    ACCEPTED, RUNNING, WAITING, DONE, FAILED = "accepted", "running", "waiting", "done", "failed"
    STATE_CHOICES = [
        (ACCEPTED, "Accepted"),
        (RUNNING, "Running"),
        (WAITING, "Waiting"),
        (DONE, "Done"),
        (FAILED, "Failed"),
    ]
    TERMINAL = (DONE, FAILED)
    KIND_CHOICES = [
        (kind, kind.replace("_", " "))
        for kind in (
            "place_order",
            "modify_sl",
            "breakeven",
            "modify_tp",
            "modify_sltp",
            "close_position",
            "cancel_order",
            "modify_order",
            "query",
        )
    ]

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="operations")
    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    params = models.JSONField(default=dict)
    priority = models.PositiveSmallIntegerField(help_text="0 high, 1 normal, 2 low")
    client_tag = models.CharField(max_length=26, unique=True, editable=False)
    state = models.CharField(max_length=10, choices=STATE_CHOICES, default=ACCEPTED)
    reason = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    last_category = models.CharField(max_length=16, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Earliest next run (retry, pause)")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A worker holds it until then")
    deadline = models.DateTimeField(help_text="Fails with a reason if not done by then")
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "updated_at"]), models.Index(fields=["account", "state"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} on {self.account_id} ({self.state})"


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
