"""The execution API's request and response shapes: every number a caller gives is bounded here
(finite, within named limits), and a level is a price above 0; the domain's own checks come after."""

from datetime import UTC, datetime
from decimal import Decimal

from rest_framework import serializers

from execution.accounts.models import AccountSymbol, RiskSettings, SymbolOverride, TradingAccount
from execution.broker.faults import (
    FAULT_OPERATIONS,
    MAX_FAULT_CODE,
    MAX_FAULT_LATENCY_SECONDS,
    MAX_RETRY_AFTER_SECONDS,
    MAX_SCRIPTED_ERRORS,
    SCRIPTED_TRANSPORT_FAULTS,
)
from execution.broker.market import MAX_MOVE_SECONDS, MAX_POINTS
from execution.orders.models import Operation, OperationAttempt


class TradingAccountSerializer(serializers.ModelSerializer):
    """``password`` is the MetaTrader password: write-only, used once to set the connection up."""

    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    platform_name = serializers.CharField(source="platform.name", read_only=True)
    is_live = serializers.BooleanField(read_only=True)

    class Meta:
        model = TradingAccount
        fields = [
            "id",
            "name",
            "type",
            "is_live",
            "platform",
            "platform_name",
            "login",
            "server",
            "password",
            "connection_state",
            "connection_error",
            "state_changed_at",
            "balance",
            "equity",
            "margin",
            "free_margin",
            "currency",
            "leverage",
            "figures_at",
            "created_at",
        ]
        read_only_fields = [
            "connection_state",
            "connection_error",
            "state_changed_at",
            "balance",
            "equity",
            "margin",
            "free_margin",
            "currency",
            "leverage",
            "figures_at",
            "created_at",
        ]
        extra_kwargs = {"type": {"default": TradingAccount.DEMO}}

    def __init__(self, *args, organization=None, **kwargs):
        super().__init__(*args, **kwargs)
        if organization is not None:  # only this organization's platforms can be chosen
            self.fields["platform"].queryset = organization.platforms.all()


class AccountUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = TradingAccount
        fields = ["name", "type"]


class ReconnectSerializer(serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False, max_length=128)


class PositionSerializer(serializers.Serializer):
    id = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    volume = serializers.DecimalField(max_digits=12, decimal_places=2)
    open_price = serializers.DecimalField(max_digits=20, decimal_places=6)
    current_price = serializers.DecimalField(max_digits=20, decimal_places=6)
    sl = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    tp = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    profit = serializers.DecimalField(max_digits=20, decimal_places=2)
    client_tag = serializers.CharField(allow_null=True)
    opened_at = serializers.DateTimeField()


class PendingOrderSerializer(serializers.Serializer):
    id = serializers.CharField()
    symbol = serializers.CharField()
    type = serializers.CharField()
    volume = serializers.DecimalField(max_digits=12, decimal_places=2)
    price = serializers.DecimalField(max_digits=20, decimal_places=6)
    sl = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    tp = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    client_tag = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class AccountSymbolSerializer(serializers.ModelSerializer):
    class Meta:
        model = AccountSymbol
        exclude = ["id", "account"]


class SymbolOverrideSerializer(serializers.ModelSerializer):
    class Meta:
        model = SymbolOverride
        fields = ["id", "alias", "broker_symbol"]


class SymbolResolutionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    broker_symbol = serializers.CharField()
    canonical = serializers.CharField()
    asset_class = serializers.CharField(allow_null=True)
    matched_by = serializers.CharField()


_TRANSPORT_FAULTS = ", ".join(repr(name) for name in SCRIPTED_TRANSPORT_FAULTS)


class FaultSettingsSerializer(serializers.Serializer):
    """Simulated broker faults. ``scripted_errors``: the next calls fail with these codes in order
    (MT5 codes such as 10004, 10024, or a transport fault: see ``SCRIPTED_TRANSPORT_FAULTS``).
    Codes are within +-``MAX_FAULT_CODE``, the latency and the retry-after within their maximums."""

    latency_seconds = serializers.FloatField(min_value=0, max_value=MAX_FAULT_LATENCY_SECONDS, default=0)
    scripted_errors = serializers.ListField(
        child=serializers.JSONField(), default=list, max_length=MAX_SCRIPTED_ERRORS
    )
    error_rate = serializers.FloatField(min_value=0, max_value=1, default=0)
    error_rate_code = serializers.IntegerField(
        min_value=-MAX_FAULT_CODE, max_value=MAX_FAULT_CODE, default=10024
    )
    disconnected = serializers.BooleanField(default=False)
    applies_to = serializers.ChoiceField(choices=FAULT_OPERATIONS, default="all")
    retry_after_seconds = serializers.FloatField(
        min_value=0, max_value=MAX_RETRY_AFTER_SECONDS, allow_null=True, default=1.0
    )

    def validate_scripted_errors(self, value):
        for item in value:
            numeric = isinstance(item, int) and not isinstance(item, bool)
            if numeric and abs(item) > MAX_FAULT_CODE:
                raise serializers.ValidationError(f"{item}: a code is within +-{MAX_FAULT_CODE}.")
            if not (numeric or item in SCRIPTED_TRANSPORT_FAULTS):
                raise serializers.ValidationError(
                    f"{item!r}: give a numeric code or one of {_TRANSPORT_FAULTS}."
                )
        return value


def _above_zero(value: Decimal) -> None:
    if not value > 0:
        raise serializers.ValidationError("Must be greater than 0.")


def _price_field(**kwargs) -> serializers.DecimalField:
    """A price or level: finite (the field refuses NaN and infinities), above 0, 8 decimals."""
    return serializers.DecimalField(max_digits=20, decimal_places=8, validators=[_above_zero], **kwargs)


MAX_MARKET_TIME = datetime(2100, 1, 1, tzinfo=UTC)  # a scripted point's time, from the unix epoch


class MarketTimeField(serializers.DateTimeField):
    """An ISO 8601 time (with its time zone; UTC when none) or unix seconds, from the unix epoch to
    ``MAX_MARKET_TIME``."""

    def to_internal_value(self, value):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                moment = datetime.fromtimestamp(value, UTC)
            except (OverflowError, OSError, ValueError):
                self.fail("invalid", format="unix seconds or ISO 8601")
        else:
            moment = super().to_internal_value(value)
        if not datetime(1970, 1, 1, tzinfo=UTC) <= moment < MAX_MARKET_TIME:
            raise serializers.ValidationError(f"Give a time from 1970 to before {MAX_MARKET_TIME:%Y}.")
        return moment


class MarketPointSerializer(serializers.Serializer):
    at = MarketTimeField(help_text="ISO 8601 time or unix seconds")
    price = _price_field(help_text="The mid price then")


class MarketPathSerializer(serializers.Serializer):
    """A scripted path: linear between its points, the last price held after the end; before the
    first point the usual prices apply."""

    instrument = serializers.CharField()
    points = MarketPointSerializer(many=True)


class PlatformMarketSerializer(serializers.Serializer):
    paths = MarketPathSerializer(many=True)


class MarketPathSetSerializer(serializers.Serializer):
    """Give ``points``, or ``move_to`` and ``over_seconds`` (a move from the current price, starting
    now; 0 seconds: at once)."""

    instrument = serializers.CharField(max_length=20, help_text="A feed instrument: BTCUSD, XAUUSD, US30...")
    points = MarketPointSerializer(many=True, required=False, max_length=MAX_POINTS)
    move_to = _price_field(required=False)
    over_seconds = serializers.IntegerField(required=False, min_value=0, max_value=MAX_MOVE_SECONDS)


ORDER_TYPE_CHOICES = ["market", "limit", "stop"]


class _EntrySerializer(serializers.Serializer):
    """Where a new order or trade goes in; its volume comes from the account's risk settings (a
    proposed volume is ignored). Levels are prices above 0; a pending price and the SL/TPs must be on
    their sides of the market by the symbol's stop level when the venue's price is known at once
    (the simulated broker), else only against the order's own price: the broker judges the rest."""

    symbol = serializers.CharField(max_length=40, help_text="As a person writes it: EURUSD, gold, US30...")
    side = serializers.ChoiceField(choices=["buy", "sell"])
    type = serializers.ChoiceField(choices=ORDER_TYPE_CHOICES, default="market")
    price = _price_field(required=False, allow_null=True)
    sl = _price_field(required=False, allow_null=True)


class OrderPlaceSerializer(_EntrySerializer):
    """A new order."""

    tp = _price_field(required=False, allow_null=True)
    fail_if_paused = serializers.BooleanField(
        required=False,
        default=False,
        help_text="If the account's safety pause (or its platform's) is on, fail at once instead of "
        "waiting for the recovery test (the default: the order waits, up to its deadline).",
    )


class TradeOpenSerializer(_EntrySerializer):
    """A new trade: one position per take-profit."""

    tps = serializers.ListField(
        child=_price_field(),
        min_length=1,
        max_length=6,
        help_text="The take-profits, nearest first: one position each",
    )


class PositionModifySerializer(serializers.Serializer):
    """Give ``sl`` and/or ``tp`` (null removes the level; an omitted one is kept), or ``breakeven``.
    New levels are judged as a new order's, on the position's side of the market when both are known."""

    sl = _price_field(required=False, allow_null=True)
    tp = _price_field(required=False, allow_null=True)
    breakeven = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("breakeven") and "sl" not in attrs and "tp" not in attrs:
            raise serializers.ValidationError("Give sl, tp, or breakeven.")
        if attrs.get("breakeven") and "sl" in attrs:
            raise serializers.ValidationError({"sl": ["Give either sl or breakeven, not both."]})
        return attrs


class PositionCloseSerializer(serializers.Serializer):
    volume = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=Decimal("0.01"),
        help_text="Lots to close; omitted: all",
    )


class OperationAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = OperationAttempt
        exclude = ["id", "operation"]


class OperationSerializer(serializers.ModelSerializer):
    attempts = OperationAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Operation
        fields = [
            "id",
            "account",
            "kind",
            "state",
            "priority",
            "params",
            "client_tag",
            "reason",
            "result",
            "attempt_count",
            "last_category",
            "not_before",
            "deadline",
            "requested_by",
            "created_at",
            "finished_at",
            "attempts",
        ]
        read_only_fields = fields


class RiskSettingsSerializer(serializers.ModelSerializer):
    """Refused, by field, as the model refuses them (``RiskSettings.problems``): lots and caps from
    ``MIN_LOTS`` to ``MAX_LOTS``, the risk % from ``MIN_RISK_PERCENT`` to ``MAX_RISK_PERCENT``, caps
    an object of known asset classes."""

    class Meta:
        model = RiskSettings
        fields = ["mode", "risk_level", "fixed_lots", "risk_percent", "asset_caps"]

    def validate(self, attrs):
        problems = RiskSettings(**attrs).problems()
        if problems:
            raise serializers.ValidationError({field: [problem] for field, problem in problems.items()})
        return attrs


class SafetyEventSerializer(serializers.Serializer):
    monitor = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    cause = serializers.CharField()
    at = serializers.DateTimeField()


class SafetyStatusSerializer(serializers.Serializer):
    pause_state = serializers.CharField(help_text="trading, paused or testing")
    consecutive_failures = serializers.IntegerField()
    consecutive_permanent = serializers.IntegerField()
    seconds_to_test = serializers.FloatField(allow_null=True)
    tests_in_flight = serializers.IntegerField()
    broker_health = serializers.CharField(help_text="healthy or paused (the whole platform)")
    broker_health_seconds_remaining = serializers.FloatField(allow_null=True)
    in_flight = serializers.IntegerField()
    queue_depth = serializers.DictField(child=serializers.IntegerField(), help_text="by priority")
    recent_events = SafetyEventSerializer(many=True)
