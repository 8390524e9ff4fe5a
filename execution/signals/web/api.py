"""Signals over the API, under ``/api/v1/orgs/{slug}/``:

* ``signal-sources/``: list, create, retrieve, partial update, delete (``view_accounts`` to read,
  ``manage_accounts`` to change); ``{id}/rotate-secret/`` (``manage_accounts``): a webhook source's
  new credentials, which, like a new source's, are in that one response and never again;
  ``{id}/messages/`` (``trade``): post a message live into a manual source (409 for another kind).
* ``signal-routes/`` (``?source=``): the routes of sources to accounts (read ``view_accounts``,
  change ``manage_accounts``); ``{id}/dry-run/`` (``view_accounts``): what the route would do with
  a message, nothing stored or sent.
* ``signals/`` (``?source=``): read-only, newest first, with each route's decision, its trace and
  the current state of the operations it accepted; ``signals/parse/``: a message read by the parser,
  answered with the parse contract exactly (``Reading.to_contract()``), nothing stored.
* ``signal-trades/``: read-only, what opening signals became on each account.

Parse, check (by the base class), call one service. Another organization's ids are 404.
"""

from dataclasses import asdict

from django.db.models import Count
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from core.errors import ServiceError
from execution.signals import intake, parsing, selectors, services
from execution.signals.models import Route, Signal, SignalSource, Trade
from execution.signals.web.serializers import (
    KINDS,
    ORDER_TYPES,
    PROBLEM_CODES,
    DryRunRequestSerializer,
    DryRunSerializer,
    PostedMessageSerializer,
    SignalParseSerializer,
    SignalReadingSerializer,
    SignalRouteSerializer,
    SignalRouteUpdateSerializer,
    SignalSerializer,
    SignalSourceCreateSerializer,
    SignalSourceSerializer,
    SignalSourceUpdateSerializer,
    SignalSourceWithSecretsSerializer,
    TradeSerializer,
)
from orgs.api.base import OrganizationScopedViewSet

__all__ = ["KINDS", "ORDER_TYPES", "PROBLEM_CODES"]  # ENUM_NAME_OVERRIDES names the first two here

SOURCE_FILTER = OpenApiParameter("source", int, description="Only this source's rows (a source id).")


class Conflict(APIException):
    """The source's kind or state does not allow this (a message posted into a webhook source, a
    secret rotated on a manual one, a message into a paused source)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


CONFLICT_CODES = frozenset({services.WRONG_KIND, services.SOURCE_PAUSED})


class _SignalsViewSet(OrganizationScopedViewSet):
    lookup_value_converter = "int"

    def handle_exception(self, exc):
        if isinstance(exc, ServiceError) and exc.code in CONFLICT_CODES:
            exc = Conflict(exc.message, code=exc.code)
        return super().handle_exception(exc)

    def source_filter(self, queryset, field: str = "source"):
        value = self.request.query_params.get("source")
        if value is None or value == "":
            return queryset
        try:
            source_id = int(value)
        except ValueError:
            raise serializers.ValidationError({"source": ["Give a source id."]}) from None
        return queryset.filter(**{field: source_id})


def _with_secrets(source: SignalSource, secrets: dict) -> dict:
    return {**SignalSourceSerializer(source).data, "secrets": secrets or None}


def _signal_data(signal: Signal, organization) -> dict:
    operations = selectors.operations_by_id(signal.decisions.all(), organization=organization)
    return SignalSerializer(signal, context={"operations": operations}).data


class SignalSourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _SignalsViewSet):
    queryset = SignalSource.objects.annotate(route_count=Count("routes"))
    serializer_class = SignalSourceSerializer
    required_permissions = {
        "list": "view_accounts",
        "retrieve": "view_accounts",
        "create": "manage_accounts",
        "partial_update": "manage_accounts",
        "destroy": "manage_accounts",
        "rotate_secret": "manage_accounts",
        "messages": "trade",
    }

    def _reloaded(self, source: SignalSource) -> SignalSource:
        return self.get_queryset().get(pk=source.pk)

    @extend_schema(
        request=SignalSourceCreateSerializer,
        responses={201: SignalSourceWithSecretsSerializer},
        description="A new source. A webhook source's signing secret and URL token are in this "
        "response only: they are never shown again (rotate them to get new ones).",
    )
    def create(self, request, slug):
        serializer = SignalSourceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source, secrets = services.source_create(organization=self.organization, **serializer.validated_data)
        return Response(_with_secrets(self._reloaded(source), secrets), status=status.HTTP_201_CREATED)

    @extend_schema(request=SignalSourceUpdateSerializer, responses=SignalSourceSerializer)
    def partial_update(self, request, slug, pk):
        source = self.get_object()
        serializer = SignalSourceUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.source_update(source=source, **serializer.validated_data)
        return Response(SignalSourceSerializer(self._reloaded(source)).data)

    def destroy(self, request, slug, pk):
        services.source_delete(source=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={200: SignalSourceWithSecretsSerializer},
        description="New credentials for a webhook source (409 for another kind): the old secret "
        "and URL token stop working at once; the new ones are in this response only.",
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, slug, pk):
        source = self.get_object()
        secrets = services.source_rotate_secret(source=source)
        return Response(_with_secrets(source, secrets))

    @extend_schema(
        request=PostedMessageSerializer,
        responses={201: SignalSerializer, 204: None},
        description="Post a message live into a manual source (409 for another kind, or a paused "
        "source): it is received as any source's message, and every route of the source decides "
        "(trades are placed). 204: the message was received before.",
    )
    @action(detail=True, methods=["post"])
    def messages(self, request, slug, pk):
        source = self.get_object()
        if source.kind != SignalSource.MANUAL:  # before the body: nothing to say about it
            raise Conflict("Messages are posted into a manual source only.", code=services.WRONG_KIND)
        serializer = PostedMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        signal = services.message_post(source=source, **serializer.validated_data)
        if signal is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        signal = selectors.signal_in(self.organization, signal.pk)
        return Response(_signal_data(signal, self.organization), status=status.HTTP_201_CREATED)


class SignalRouteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _SignalsViewSet):
    queryset = Route.objects.select_related("source", "account")
    serializer_class = SignalRouteSerializer
    required_permissions = {
        "list": "view_accounts",
        "retrieve": "view_accounts",
        "create": "manage_accounts",
        "partial_update": "manage_accounts",
        "destroy": "manage_accounts",
        "dry_run": "view_accounts",
    }

    def safely_get_queryset(self, queryset):
        return self.source_filter(queryset)

    @extend_schema(parameters=[SOURCE_FILTER])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def create(self, request, slug):
        serializer = SignalRouteSerializer(data=request.data, organization=self.organization)
        serializer.is_valid(raise_exception=True)
        settings = dict(serializer.validated_data)
        route = services.route_create(
            organization=self.organization,
            source=settings.pop("source"),
            account=settings.pop("account"),
            **settings,
        )
        return Response(SignalRouteSerializer(route).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SignalRouteUpdateSerializer, responses=SignalRouteSerializer)
    def partial_update(self, request, slug, pk):
        route = self.get_object()
        serializer = SignalRouteUpdateSerializer(
            data=request.data, partial=True, organization=self.organization
        )
        serializer.is_valid(raise_exception=True)
        route = services.route_update(route=route, **serializer.validated_data)
        return Response(SignalRouteSerializer(route).data)

    def destroy(self, request, slug, pk):
        services.route_delete(route=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=DryRunRequestSerializer,
        responses=DryRunSerializer,
        description="What this route would do with a message: the same parse, checks and sizing as "
        "a received message. Nothing is stored and nothing is sent.",
    )
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, slug, pk):
        route = self.get_object()
        serializer = DryRunRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = intake.dry_run(route=route, text=data["text"], reply_to=data.get("reply_to") or None)
        return Response(DryRunSerializer(asdict(result)).data)


class SignalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _SignalsViewSet):
    queryset = selectors.with_decisions(Signal.objects.all())
    serializer_class = SignalSerializer
    required_permissions = {"list": "view_accounts", "retrieve": "view_accounts", "parse": "view_accounts"}

    def safely_get_queryset(self, queryset):
        return self.source_filter(queryset)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "operations": getattr(self, "operations", None)}

    @extend_schema(parameters=[SOURCE_FILTER])
    def list(self, request, slug):
        page = self.paginate_queryset(self.get_queryset())
        self.operations = selectors.operations_by_id(
            [decision for signal in page for decision in signal.decisions.all()],
            organization=self.organization,
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, slug, pk):
        return Response(_signal_data(self.get_object(), self.organization))

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


class SignalTradeViewSet(mixins.ListModelMixin, _SignalsViewSet):
    queryset = Trade.objects.select_related("account")
    serializer_class = TradeSerializer
    required_permissions = {"list": "view_accounts"}
