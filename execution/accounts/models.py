"""Trading accounts, the narrow credential they trade with, their symbols and risk settings."""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from core.encryption import EncryptedTextField
from execution.accounts.symbols import AssetClass
from orgs.models import Organization
from platforms.models import TradePlatform


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
    SET_UP_STATES = (CONNECTED, DISCONNECTED)

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

    @property
    def is_set_up(self) -> bool:
        """Its connection was established (it may be down now): it can be read and streamed.
        Reading an account still being set up, or whose setup failed, must never reach the broker."""
        return self.connection_state in self.SET_UP_STATES

    # Saves name the fields they change: an actor's stale copy never overwrites a concurrent edit.
    STATE_FIELDS = ("connection_state", "connection_error", "state_changed_at")
    FIGURE_FIELDS = ("balance", "equity", "margin", "free_margin", "currency", "leverage", "figures_at")

    def set_state(self, state: str, error: str = "") -> None:
        """Change the connection state (unsaved: save ``STATE_FIELDS``)."""
        self.connection_state = state
        self.connection_error = error
        self.state_changed_at = timezone.now()


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

    def clean(self) -> None:
        problems = self.problems()
        if problems:
            raise ValidationError(problems)

    def problems(self) -> dict[str, str]:
        """What keeps these settings from sizing an order, by field (empty: nothing). Lots, a cap
        and the risk % are finite numbers within the ``*_LOTS`` / ``*_RISK_PERCENT`` bounds; the
        caps map known asset classes to lots."""
        found = {
            "mode": _choice_problem(self.mode, self.MODE_CHOICES),
            "risk_level": _choice_problem(self.risk_level, self.LEVEL_CHOICES),
            "fixed_lots": _bounded_problem(self.fixed_lots, MIN_LOTS, MAX_LOTS, "lots"),
            "risk_percent": _bounded_problem(self.risk_percent, MIN_RISK_PERCENT, MAX_RISK_PERCENT, "%"),
            "asset_caps": _asset_caps_problem(self.asset_caps),
        }
        return {name: problem for name, problem in found.items() if problem}


# The bounds of risk settings: below the smallest lot nothing trades; above them a typo, not a plan.
MIN_LOTS = Decimal("0.01")
MAX_LOTS = Decimal("100")
MIN_RISK_PERCENT = Decimal("0.01")
MAX_RISK_PERCENT = Decimal("10")
ASSET_CLASSES = tuple(asset.value for asset in AssetClass)


def _choice_problem(value, choices) -> str | None:
    known = [choice for choice, _label in choices]
    return None if value in known else f"{value!r} is not one of {', '.join(known)}."


def _number(value) -> Decimal | None:
    """``value`` as a finite Decimal (a number or its text); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _bounded_problem(value, low: Decimal, high: Decimal, unit: str) -> str | None:
    number = _number(value)
    if number is None or not low <= number <= high:
        return f"Give a number from {low} to {high} {unit}, not {value!r}."
    return None


def _asset_caps_problem(caps) -> str | None:
    example = 'lots by asset class, e.g. {"metals": "0.5"}'
    if not isinstance(caps, Mapping):
        return f"Give an object of {example}."
    unknown = sorted(str(asset) for asset in caps if asset not in ASSET_CLASSES)
    if unknown:
        return f"Unknown asset classes: {', '.join(unknown)}; known: {', '.join(ASSET_CLASSES)}."
    for asset, lots in caps.items():
        problem = _bounded_problem(lots, MIN_LOTS, MAX_LOTS, "lots")
        if problem:
            return f"{asset}: {problem}"
    return None
