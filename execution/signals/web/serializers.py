"""The signal API's request and response shapes. They parse and document; the services decide."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.errors import ServiceError
from execution.orders.models import Operation
from execution.signals import parsing, selectors, services
from execution.signals.models import Decision, Route, Signal, SignalSource, Trade
from execution.signals.parsing.reading import PROBLEMS
from execution.signals.parsing.vocabulary import MEANINGS
from execution.signals.web import MAX_MESSAGE_LENGTH
from orgs.models import Organization

# the contract's choices, as the schema documents them (ENUM_NAME_OVERRIDES names the first two)
KINDS = [
    (parsing.Kind.OPEN.value, "a new trade"),
    (parsing.Kind.DETAILS.value, "levels completing an earlier alert (side and symbol come from the alert)"),
    (parsing.Kind.MODIFY.value, "changes to open trades"),
    (parsing.Kind.IGNORE.value, "noise: reports, recaps, promotions, commentary"),
]
PROBLEM_CODES = list(PROBLEMS.items())
ORDER_TYPES = [
    (parsing.OrderType.MARKET.value, "now, at market"),
    (parsing.OrderType.LIMIT.value, "pending, at the entry or better"),
    (parsing.OrderType.STOP.value, "pending, once the price moves through the entry"),
]
SOURCE_STATES = [
    (state, label) for state, label in SignalSource.STATE_CHOICES if state in services.SOURCE_STATES
]


def _message_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=MAX_MESSAGE_LENGTH, **kwargs)


def _reply_text_field() -> serializers.CharField:
    return _message_field(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The text of the message it replies to, if any (e.g. the alert that levels complete).",
    )


def _checked(check, value):
    try:
        return check(value)
    except ServiceError as error:
        raise serializers.ValidationError(error.message) from None


# --- the parse contract --------------------------------------------------------------------------


class SignalParseSerializer(serializers.Serializer):
    text = _message_field(help_text="The message, as the channel sent it.")
    reply_to = _reply_text_field()
    keywords = serializers.DictField(
        child=serializers.ChoiceField(choices=sorted(MEANINGS)),
        required=False,
        help_text='A source\'s own words and what each means, e.g. {"kopen": "buy", "doel": "tp"}.',
    )
    aliases = serializers.DictField(
        child=serializers.CharField(max_length=services.MAX_NAME_LENGTH),
        required=False,
        help_text='A source\'s own symbol names, e.g. {"G": "XAUUSD"}.',
    )

    def validate_keywords(self, keywords: dict) -> dict:
        return _checked(services.validate_keywords, keywords)

    def validate_aliases(self, aliases: dict) -> dict:
        return _checked(services.validate_aliases, aliases)

    def parser_options(self) -> parsing.ParserOptions:
        data = self.validated_data
        return parsing.ParserOptions(keywords=data.get("keywords", {}), aliases=data.get("aliases", {}))


@extend_schema_field(
    {
        "oneOf": [
            {"type": "number"},
            {
                "type": "object",
                "properties": {"low": {"type": "number"}, "high": {"type": "number"}},
                "required": ["low", "high"],
            },
        ],
        "nullable": True,
        "description": "A price, a zone {low, high}, or null (at market, or not written).",
    }
)
class _EntryField(serializers.JSONField):
    pass


class SignalActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[kind.value for kind in parsing.ActionKind])
    sl = serializers.FloatField(required=False)
    tp = serializers.FloatField(required=False)
    fraction = serializers.FloatField(required=False, min_value=0, max_value=1)


class SignalProblemSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=PROBLEM_CODES)
    message = serializers.CharField()


class SignalReadingSerializer(serializers.Serializer):
    """The parse contract (it documents the response; the view answers ``Reading.to_contract()``)."""

    kind = serializers.ChoiceField(choices=KINDS)
    side = serializers.ChoiceField(choices=[side.value for side in parsing.Side], allow_null=True)
    order_type = serializers.ChoiceField(choices=ORDER_TYPES, allow_null=True)
    symbol = serializers.CharField(allow_null=True, help_text="Canonical, e.g. XAUUSD for GOLD.")
    entry = _EntryField()
    sl = serializers.FloatField(allow_null=True)
    tp = serializers.ListField(child=serializers.FloatField(), help_text="TP1..TPn, in order.")
    runner = serializers.BooleanField(help_text="One more target is left open (a runner).")
    actions = SignalActionSerializer(many=True)
    confidence = serializers.FloatField(min_value=0, max_value=1)
    problems = SignalProblemSerializer(many=True)


@extend_schema_field(SignalReadingSerializer)
class _ReadingField(serializers.JSONField):
    """A stored parse contract, answered as stored."""


class TraceStepSerializer(serializers.Serializer):
    stage = serializers.CharField(help_text="parse, a check's name, sizing...")
    result = serializers.CharField(help_text="passed, corrected, failed, held, waiting or deferred")
    code = serializers.CharField(help_text="The check's code when it decided, else empty")
    message = serializers.CharField()


@extend_schema_field(TraceStepSerializer(many=True))
class _TraceField(serializers.JSONField):
    """A decision's trace, answered as stored."""


# --- sources -------------------------------------------------------------------------------------


class SignalSourceSerializer(serializers.ModelSerializer):
    """A source. Its signing secret and URL token are never in it (only when created or rotated)."""

    route_count = serializers.IntegerField(read_only=True)
    webhook_url = serializers.SerializerMethodField(
        help_text="Webhook sources: the path to POST signed messages to (null for other kinds)."
    )

    class Meta:
        model = SignalSource
        fields = [
            "id",
            "name",
            "kind",
            "state",
            "public_id",
            "recording",
            "max_age_seconds",
            "route_count",
            "webhook_url",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_webhook_url(self, source: SignalSource) -> str | None:
        return selectors.webhook_path(source) if source.kind == SignalSource.WEBHOOK else None


class SourceSecretsSerializer(serializers.Serializer):
    signing_secret = serializers.CharField(
        help_text="whsec_...: sign each request with it (Standard Webhooks: webhook-id, "
        "webhook-timestamp and webhook-signature headers)."
    )
    url_token = serializers.CharField(help_text="For a sender that cannot sign: in the URL instead.")
    url = serializers.CharField(help_text="The path with the URL token.")


class SignalSourceWithSecretsSerializer(SignalSourceSerializer):
    """A source just created or rotated: its credentials, shown this once (null for other kinds)."""

    secrets = SourceSecretsSerializer(read_only=True, allow_null=True)

    class Meta(SignalSourceSerializer.Meta):
        fields = [*SignalSourceSerializer.Meta.fields, "secrets"]
        read_only_fields = fields


class SignalSourceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.MAX_SOURCE_NAME)
    kind = serializers.ChoiceField(choices=SignalSource.KIND_CHOICES)
    recording = serializers.CharField(
        max_length=60, required=False, allow_blank=True, help_text="Recorded sources: the recording played."
    )
    max_age_seconds = serializers.IntegerField(
        min_value=1,
        max_value=services.MAX_AGE_SECONDS,
        required=False,
        help_text="A message older than this when it arrives is recorded, not traded.",
    )


class SignalSourceUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.MAX_SOURCE_NAME, required=False)
    state = serializers.ChoiceField(choices=SOURCE_STATES, required=False)
    max_age_seconds = serializers.IntegerField(
        min_value=1, max_value=services.MAX_AGE_SECONDS, required=False
    )


class PostedMessageSerializer(serializers.Serializer):
    id = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Your id of the message in this source: a retry with the same id is the same "
        "message (204), never a second trade. A new id is chosen when left out.",
    )
    text = _message_field(help_text="The message, as the channel would send it.")
    reply_to_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The message id (in this source) of the message it replies to.",
    )


# --- routes --------------------------------------------------------------------------------------

ROUTE_SETTINGS = list(services.ROUTE_SETTINGS)


def _unknown(what: str) -> dict[str, str]:
    return {"does_not_exist": f"Unknown {what}.", "incorrect_type": f"Unknown {what}."}


class SignalRouteSerializer(serializers.ModelSerializer):
    """A route from a source to one of the organization's accounts, with its own policy."""

    source_name = serializers.CharField(source="source.name", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    symbols = serializers.ListField(
        child=serializers.CharField(max_length=40),
        max_length=services.MAX_SYMBOLS,
        required=False,
        help_text="Canonical names (GOLD is kept as XAUUSD), for symbol_filter include/exclude.",
    )
    keywords = serializers.DictField(
        child=serializers.ChoiceField(choices=sorted(MEANINGS)),
        required=False,
        help_text='Extra words and what each means, e.g. {"kopen": "buy", "doel": "tp"}.',
    )
    aliases = serializers.DictField(
        child=serializers.CharField(max_length=services.MAX_NAME_LENGTH),
        required=False,
        help_text='The source\'s own symbol names, e.g. {"G": "XAUUSD"}.',
    )

    class Meta:
        model = Route
        fields = ["id", "source", "source_name", "account", "account_name", *ROUTE_SETTINGS, "created_at"]
        read_only_fields = ["created_at"]
        validators: list = []  # one route per (source, account): the service says so on its field
        extra_kwargs = {
            "source": {
                "error_messages": {"does_not_exist": "Unknown source.", "incorrect_type": "Unknown source."}
            },
            "account": {
                "error_messages": {"does_not_exist": "Unknown account.", "incorrect_type": "Unknown account."}
            },
        }

    def __init__(self, *args, organization: Organization | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if organization is not None:  # only this organization's sources and accounts can be chosen
            if not self.fields["source"].read_only:
                self.fields["source"].queryset = organization.signal_sources.all()
            if not self.fields["account"].read_only:
                self.fields["account"].queryset = organization.trading_accounts.all()


class SignalRouteUpdateSerializer(SignalRouteSerializer):
    """A route's settings (its source and account stay)."""

    class Meta(SignalRouteSerializer.Meta):
        read_only_fields = ["source", "account", "created_at"]


class DryRunRequestSerializer(serializers.Serializer):
    text = _message_field(help_text="The message, as the channel sent it.")
    reply_to = _reply_text_field()


class PlannedOperationSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="The operation kind, e.g. open_trade or manage_trade.")
    params = serializers.DictField(help_text="What it would send.")


class DryRunSerializer(serializers.Serializer):
    """What the route would do with the message; nothing stored, nothing sent."""

    reading = _ReadingField()
    outcome = serializers.ChoiceField(choices=Decision.OUTCOME_CHOICES)
    code = serializers.CharField(help_text="The check that decided, if one did.")
    reason = serializers.CharField()
    steps = _TraceField()
    operations = PlannedOperationSerializer(many=True)


# --- signals, decisions, trades ------------------------------------------------------------------


class OperationStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Operation
        fields = [
            "id",
            "account",
            "kind",
            "state",
            "reason",
            "attempt_count",
            "last_category",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class DecisionSerializer(serializers.ModelSerializer):
    """One route's verdict. ``operations``: the operations it accepted, as they are now (needs the
    ``operations`` context: id -> Operation, from ``selectors.operations_by_id``)."""

    account_name = serializers.CharField(source="account.name", read_only=True)
    trace = _TraceField(read_only=True)
    operations = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = [
            "id",
            "signal",
            "route",
            "account",
            "account_name",
            "outcome",
            "code",
            "reason",
            "trace",
            "trade",
            "operations",
            "wait_until",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OperationStateSerializer(many=True))
    def get_operations(self, decision: Decision) -> list[dict]:
        known = self.context.get("operations")
        return OperationStateSerializer(selectors.operations_of(decision, known), many=True).data


class SignalSerializer(serializers.ModelSerializer):
    """A message of a source (one version), what it was read as, and every route's decision."""

    source_name = serializers.CharField(source="source.name", read_only=True)
    reading = _ReadingField(read_only=True)
    summary = serializers.SerializerMethodField(help_text="The reading in one line.")
    decisions = DecisionSerializer(many=True, read_only=True)

    class Meta:
        model = Signal
        fields = [
            "id",
            "source",
            "source_name",
            "message_id",
            "version",
            "reply_to",
            "text",
            "posted_at",
            "received_at",
            "deleted_at",
            "kind",
            "symbol",
            "reading",
            "summary",
            "note",
            "decisions",
        ]
        read_only_fields = fields

    def get_summary(self, signal: Signal) -> str:
        return selectors.reading_summary(signal.reading)


class TradeSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = Trade
        fields = [
            "id",
            "account",
            "account_name",
            "route",
            "signal",
            "symbol",
            "side",
            "order_type",
            "entry",
            "sl",
            "tps",
            "leg_tags",
            "open_operation",
            "state",
            "created_at",
        ]
        read_only_fields = fields
