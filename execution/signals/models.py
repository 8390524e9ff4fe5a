"""Signal sources, the routes from a source to accounts, the messages received, and what each
route decided about each message.

A :class:`SignalSource` is where messages come from (a webhook, pasted messages, a recorded
channel; Telegram channels in their own issue). Every version of a message is one :class:`Signal`
row, unique on (source, message id, version): a message delivered twice is recorded once. A
:class:`Route` sends a source's signals to one account with its own policy; a :class:`Decision`
is one route's verdict on one signal (unique: never more than once per signal and route) with its
trace; a :class:`Trade` is what an opening signal became on one account: its positions carry the
trade's leg tags, which every later change to the trade acts on.
"""

import base64
import secrets
import uuid
from decimal import Decimal

from django.db import models
from django.utils import timezone

from core.encryption import EncryptedTextField
from core.fields import BulkJSONField
from execution.accounts.models import TradingAccount
from execution.orders.models import Operation
from orgs.models import Organization


class SignalSource(models.Model):
    """A channel of signal messages, owned by one organization."""

    WEBHOOK, MANUAL, RECORDED = "webhook", "manual", "recorded"
    KIND_CHOICES = [(WEBHOOK, "Webhook"), (MANUAL, "Manual (pasted)"), (RECORDED, "Recorded channel")]
    ACTIVE, PAUSED, DISCONNECTED = "active", "paused", "disconnected"
    STATE_CHOICES = [(ACTIVE, "Active"), (PAUSED, "Paused"), (DISCONNECTED, "Disconnected")]

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="signal_sources")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=KIND_CHOICES)
    state = models.CharField(max_length=12, choices=STATE_CHOICES, default=ACTIVE)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # webhook: the Standard Webhooks signing secret (whsec_...), encrypted; and the SHA-256 of the
    # URL token (TradingView-style senders that cannot sign). Shown once, never again.
    signing_secret = EncryptedTextField(blank=True, editable=False)
    url_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    # recorded: the recording played (a name in execution.signals.sources.recorded.RECORDINGS) and
    # where its player is (a lease: one player at a time, across processes)
    recording = models.CharField(max_length=60, blank=True)
    replay_round = models.PositiveIntegerField(default=0)
    replay_position = models.PositiveIntegerField(default=0)
    replay_next_at = models.DateTimeField(null=True, blank=True)
    replay_held_by = models.CharField(max_length=40, blank=True)
    replay_lease_until = models.DateTimeField(null=True, blank=True)
    max_age_seconds = models.PositiveIntegerField(
        default=300, help_text="A message older than this when it arrives is recorded, not traded"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="source_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Route(models.Model):
    """A source's signals to one account, with this route's own policy."""

    COMPLETE_ONLY, EXECUTE_ON_ALERT = "complete_only", "execute_on_alert"
    MODE_CHOICES = [
        (COMPLETE_ONLY, "Only complete signals (entry, SL and a TP)"),
        (EXECUTE_ON_ALERT, "Open on the alert with the default SL/TP, apply the details later"),
    ]
    ALL, INCLUDE, EXCLUDE = "all", "include", "exclude"
    FILTER_CHOICES = [(ALL, "All symbols"), (INCLUDE, "Only these symbols"), (EXCLUDE, "All but these")]
    SL_DEFAULT, SL_REJECT, SL_CORRECT = "default_sl", "reject", "correct"
    SL_POLICY_CHOICES = [
        (SL_DEFAULT, "Use the default SL"),
        (SL_REJECT, "Reject the signal"),
        (SL_CORRECT, "Mirror it to the right side"),
    ]
    SKIP, WAIT = "skip", "wait"
    CLOSED_CHOICES = [(SKIP, "Skip with the reason"), (WAIT, "Wait until the market opens")]
    FIXED, RISK_PERCENT = "fixed", "risk_percent"
    RISK_MODE_CHOICES = [(FIXED, "Fixed lots"), (RISK_PERCENT, "Risk % of balance")]

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="signal_routes")
    source = models.ForeignKey(SignalSource, on_delete=models.CASCADE, related_name="routes")
    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="signal_routes")
    active = models.BooleanField(default=True)
    symbol_filter = models.CharField(max_length=8, choices=FILTER_CHOICES, default=ALL)
    symbols = models.JSONField(default=list, blank=True, help_text="Canonical names, e.g. XAUUSD")
    # risk: the account's settings unless this route sets its own mode
    risk_mode = models.CharField(max_length=12, choices=RISK_MODE_CHOICES, blank=True)
    fixed_lots = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    risk_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    lot_multiplier = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1"))
    reverse = models.BooleanField(default=False, help_text="Buy becomes sell and sell buy")
    pending_expiry_minutes = models.PositiveIntegerField(null=True, blank=True)
    keywords = models.JSONField(default=dict, blank=True, help_text='Extra words, e.g. {"kopen": "buy"}')
    aliases = models.JSONField(default=dict, blank=True, help_text='Symbol names, e.g. {"G": "XAUUSD"}')
    mode = models.CharField(max_length=16, choices=MODE_CHOICES, default=COMPLETE_ONLY)
    alert_wait_seconds = models.PositiveIntegerField(default=300)
    confidence_threshold = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.70"))
    default_sl_pips = models.DecimalField(max_digits=8, decimal_places=1, default=Decimal("0"))
    default_tp_pips = models.DecimalField(max_digits=8, decimal_places=1, default=Decimal("0"))
    sl_policy = models.CharField(max_length=10, choices=SL_POLICY_CHOICES, default=SL_DEFAULT)
    duplicate_window_seconds = models.PositiveIntegerField(default=600)
    max_entry_distance_pips = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    max_spread_pips = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    market_closed = models.CharField(max_length=4, choices=CLOSED_CHOICES, default=SKIP)
    hours_start = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Trade only from this minute of the day (UTC)"
    )
    hours_end = models.PositiveSmallIntegerField(null=True, blank=True, help_text="... until this minute")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["source", "account"]
        constraints = [models.UniqueConstraint(fields=["source", "account"], name="route_unique_per_account")]

    def __str__(self) -> str:
        return f"{self.source.name} -> {self.account.name}"


class Signal(models.Model):
    """One version of one message of a source (an edit is a new version; a deletion marks every
    version deleted), with what the parser read in it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="signals")
    source = models.ForeignKey(SignalSource, on_delete=models.CASCADE, related_name="signals")
    message_id = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    reply_to = models.CharField(max_length=100, blank=True)
    text = models.TextField()
    posted_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    reading = models.JSONField(help_text="The parse contract, as the source's vocabulary reads it")
    kind = models.CharField(max_length=8)
    symbol = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True, help_text="Why nothing was done, when the message itself decides")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id", "version"], name="signal_version_unique")
        ]
        indexes = [models.Index(fields=["source", "message_id"])]

    def __str__(self) -> str:
        return f"{self.source.name} #{self.message_id} v{self.version}"


class Trade(models.Model):
    """An opening signal (or an API request) on one account: its positions (one per TP) and pending
    orders carry the leg tags; later changes act on whatever is still open with those tags."""

    OPEN, CLOSED = "open", "closed"
    STATE_CHOICES = [(OPEN, "Open"), (CLOSED, "Closed by a signal")]

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="trades")
    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="trades")
    route = models.ForeignKey(Route, on_delete=models.SET_NULL, null=True, related_name="trades")
    signal = models.ForeignKey(
        Signal,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="trades",
        help_text="None: opened through the API",
    )
    symbol = models.CharField(max_length=40, help_text="The broker's symbol")
    instrument = models.CharField(max_length=40, help_text="The canonical symbol the route read")
    side = models.CharField(max_length=4)
    order_type = models.CharField(max_length=6)
    entry = models.CharField(max_length=40, blank=True)
    sl = models.CharField(max_length=40, blank=True)
    tps = models.JSONField(default=list)
    leg_tags = BulkJSONField(default=list)
    open_operation = models.OneToOneField(Operation, on_delete=models.CASCADE, related_name="trade")
    state = models.CharField(max_length=6, choices=STATE_CHOICES, default=OPEN)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["route", "instrument", "state"])]

    def __str__(self) -> str:
        return f"{self.side} {self.symbol} on {self.account_id} (trade #{self.pk})"


class Decision(models.Model):
    """One route's verdict on one signal, with the trace of how it was reached."""

    OPENED, APPLIED, WAITING, HELD, REJECTED, SKIPPED, IGNORED = (
        "opened",
        "applied",
        "waiting",
        "held",
        "rejected",
        "skipped",
        "ignored",
    )
    OUTCOME_CHOICES = [
        (OPENED, "Trade opened"),
        (APPLIED, "Applied to a trade"),
        (WAITING, "Waiting for its details"),
        (HELD, "Held (low confidence)"),
        (REJECTED, "Rejected by a check"),
        (SKIPPED, "Skipped"),
        (IGNORED, "Nothing to trade"),
    ]

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="signal_decisions")
    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="decisions")
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="decisions")
    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="signal_decisions")
    outcome = models.CharField(max_length=8, choices=OUTCOME_CHOICES)
    code = models.CharField(max_length=32, blank=True, help_text="The check that decided, if one did")
    reason = models.TextField(blank=True)
    trace = BulkJSONField(default=list, help_text="[{stage, result, code, message}] in order")
    trade = models.ForeignKey(
        Trade, on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions"
    )
    operations = models.JSONField(default=list, help_text="Ids of the operations it accepted")
    wait_until = models.DateTimeField(null=True, blank=True, help_text="An alert waits for details until")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["signal", "route"], name="decision_once_per_route")]

    def __str__(self) -> str:
        return f"{self.outcome} {self.signal_id} on route {self.route_id}"
