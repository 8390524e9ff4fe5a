"""``POST /api/v1/orgs/{slug}/signals/parse/``: a message (and the one it replies to) read by the
parser, answered with the parse contract exactly (``Reading.to_contract()``). Needs
``view_accounts``; nothing is stored and no trade is placed."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from execution.signals import parsing
from execution.signals.parsing.reading import PROBLEMS
from execution.signals.parsing.vocabulary import MEANINGS, phrase_table
from execution.signals.web import MAX_MESSAGE_LENGTH
from orgs.api.base import OrganizationScopedViewSet
from orgs.models import Organization

MAX_NAME_LENGTH = 32  # characters of a source's keyword or symbol name
MAX_NAMES = 200  # keywords (or aliases) in one request

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


class SignalParseSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=MAX_MESSAGE_LENGTH, help_text="The message, as the channel sent it."
    )
    reply_to = serializers.CharField(
        max_length=MAX_MESSAGE_LENGTH,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The text of the message it replies to, if any (e.g. the alert that levels complete).",
    )
    keywords = serializers.DictField(
        child=serializers.ChoiceField(choices=sorted(MEANINGS)),
        required=False,
        help_text='A source\'s own words and what each means, e.g. {"kopen": "buy", "doel": "tp"}.',
    )
    aliases = serializers.DictField(
        child=serializers.CharField(max_length=MAX_NAME_LENGTH),
        required=False,
        help_text='A source\'s own symbol names, e.g. {"G": "XAUUSD"}.',
    )

    def validate_keywords(self, keywords: dict) -> dict:
        try:
            phrase_table(keywords)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from error
        return self._names(keywords)

    def validate_aliases(self, aliases: dict) -> dict:
        return self._names(aliases)

    def _names(self, mapping: dict) -> dict:
        if len(mapping) > MAX_NAMES:
            raise serializers.ValidationError(f"At most {MAX_NAMES} names.")
        if any(not name.strip() or len(name) > MAX_NAME_LENGTH for name in mapping):
            raise serializers.ValidationError(f"Each name must be 1 to {MAX_NAME_LENGTH} characters.")
        return mapping

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


class SignalParseViewSet(OrganizationScopedViewSet):
    queryset = Organization.objects.all()  # no rows are read: the organization only scopes access
    organization_field = "pk"
    serializer_class = SignalParseSerializer
    required_permissions = {"parse": "view_accounts"}

    @extend_schema(
        request=SignalParseSerializer,
        responses=SignalReadingSerializer,
        description="Read a message as the parser does. Nothing is stored and no trade is placed.",
    )
    @action(detail=False, methods=["post"])
    def parse(self, request, slug):
        serializer = SignalParseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reading = parsing.parse(
            data["text"], reply_to=data.get("reply_to") or None, options=serializer.parser_options()
        )
        return Response(reading.to_contract())
