"""Trading accounts over the API: connect, read figures, positions, orders, symbols, mappings, and
the simulated broker's fault settings and market paths. Parse, check (by the base class), call one
service."""

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from core import idempotency
from core.errors import ServiceError
from execution.accounts import selectors, services
from execution.accounts.models import SymbolOverride, TradingAccount
from execution.accounts.symbols import SymbolError
from execution.broker import faults as fault_injection
from execution.broker import market
from execution.broker.gateways.base import GatewayError
from execution.orders import accept
from execution.orders.models import Operation
from execution.safety import selectors as safety_selectors
from execution.signals import services as signal_services
from execution.web.api.serializers import (
    AccountSymbolSerializer,
    AccountUpdateSerializer,
    FaultSettingsSerializer,
    MarketPathSetSerializer,
    OperationSerializer,
    OrderPlaceSerializer,
    PendingOrderSerializer,
    PlatformMarketSerializer,
    PositionCloseSerializer,
    PositionModifySerializer,
    PositionSerializer,
    ReconnectSerializer,
    RiskSettingsSerializer,
    SafetyStatusSerializer,
    SymbolOverrideSerializer,
    SymbolResolutionSerializer,
    TradeOpenSerializer,
    TradingAccountSerializer,
)
from orgs.api.base import OrganizationScopedViewSet
from platforms.models import TradePlatform

IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    idempotency.HEADER_SCHEMA,
    OpenApiParameter.HEADER,
    description="Same key and body: the first response again. Same key, other body: 409.",
)


class BrokerUnavailable(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "broker_unavailable"


class TradingAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationScopedViewSet):
    queryset = TradingAccount.objects.select_related("platform")
    serializer_class = TradingAccountSerializer
    lookup_value_converter = "int"
    required_permissions = {
        "list": "view_accounts",
        "retrieve": "view_accounts",
        "create": "manage_accounts",
        "partial_update": "manage_accounts",
        "destroy": "manage_accounts",
        "reconnect": "manage_accounts",
        "positions": "view_accounts",
        "orders:GET": "view_accounts",
        "orders:POST": "trade",
        "trades": "trade",
        "cancel_order": "trade",
        "modify_position": "trade",
        "close_position": "trade",
        "safety": "view_operations",
        "risk_settings:GET": "view_accounts",
        "risk_settings:PUT": "manage_accounts",
        "symbols": "view_accounts",
        "faults:GET": "view_accounts",
        "faults:PUT": "manage_accounts",
    }

    def get_serializer(self, *args, **kwargs):
        return TradingAccountSerializer(*args, organization=getattr(self, "organization", None), **kwargs)

    def create(self, request, slug):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.account_connect(organization=self.organization, **serializer.validated_data)
        return Response(self.get_serializer(account).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=AccountUpdateSerializer, responses=TradingAccountSerializer)
    def partial_update(self, request, slug, pk):
        account = self.get_object()
        serializer = AccountUpdateSerializer(account, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        account = services.account_update(account=account, **serializer.validated_data)
        return Response(self.get_serializer(account).data)

    def destroy(self, request, slug, pk):
        services.account_remove(account=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ReconnectSerializer, responses={202: TradingAccountSerializer})
    @action(detail=True, methods=["post"])
    def reconnect(self, request, slug, pk):
        serializer = ReconnectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.account_reconnect(
            account=self.get_object(),
            actor=self.api_client or request.user,
            request=request,
            **serializer.validated_data,
        )
        return Response(self.get_serializer(account).data, status=status.HTTP_202_ACCEPTED)

    def _read_broker(self, reader):
        try:
            return reader(self.get_object())
        except GatewayError as error:
            raise BrokerUnavailable(str(error)) from None

    @extend_schema(responses=PositionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def positions(self, request, slug, pk):
        return Response(PositionSerializer(self._read_broker(selectors.broker_positions), many=True).data)

    @extend_schema(
        methods=["GET"],
        responses=PendingOrderSerializer(many=True),
        description="Pending orders at the broker.",
    )
    @extend_schema(
        methods=["POST"],
        request=OrderPlaceSerializer,
        responses={202: OperationSerializer},
        parameters=[IDEMPOTENCY_KEY],
        description="Place a market, limit or stop order (202: the operation the safety pipeline runs).",
    )
    @action(detail=True, methods=["get", "post"])
    def orders(self, request, slug, pk):
        if request.method == "GET":
            return Response(
                PendingOrderSerializer(self._read_broker(selectors.broker_orders), many=True).data
            )
        return self._trade(request, OrderPlaceSerializer, accept.order_place)

    @extend_schema(
        request=TradeOpenSerializer,
        responses={202: OperationSerializer},
        parameters=[IDEMPOTENCY_KEY],
        description="Open a trade of one position per take-profit (1 to 6), sized from the risk settings "
        "and protected like a signal's trade (202: its opening operation).",
    )
    @action(detail=True, methods=["post"])
    def trades(self, request, slug, pk):
        return self._trade(request, TradeOpenSerializer, signal_services.trade_open)

    @extend_schema(request=None, responses={202: OperationSerializer}, parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["delete"], url_path="orders/<str:order_id>")
    def cancel_order(self, request, slug, pk, order_id):
        return self._trade(request, None, accept.order_cancel, order_id=order_id)

    @extend_schema(
        request=PositionModifySerializer, responses={202: OperationSerializer}, parameters=[IDEMPOTENCY_KEY]
    )
    @action(detail=True, methods=["patch"], url_path="positions/<str:position_id>")
    def modify_position(self, request, slug, pk, position_id):
        return self._trade(request, PositionModifySerializer, accept.position_modify, position_id=position_id)

    @extend_schema(
        request=PositionCloseSerializer, responses={202: OperationSerializer}, parameters=[IDEMPOTENCY_KEY]
    )
    @action(detail=True, methods=["post"], url_path="positions/<str:position_id>/close")
    def close_position(self, request, slug, pk, position_id):
        return self._trade(request, PositionCloseSerializer, accept.position_close, position_id=position_id)

    def _trade(self, request, serializer_class, submit, **target) -> Response:
        """Parse, then submit once per Idempotency-Key: a retried request never doubles an order."""
        key = idempotency.idempotency_key(request)
        account = self.get_object()
        data = {}
        if serializer_class is not None:
            serializer = serializer_class(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data

        def produce():
            operation = submit(account=account, requested_by=str(request.user), **target, **data)
            return status.HTTP_202_ACCEPTED, OperationSerializer(operation).data

        fingerprint = accept.request_fingerprint(
            method=request.method, path=request.path, body=request.data if serializer_class else {}
        )
        code, body = accept.idempotent(
            organization=self.organization,
            key=key,
            fingerprint=fingerprint,
            produce=produce,
        )
        return Response(body, status=code)

    @extend_schema(responses=SafetyStatusSerializer)
    @action(detail=True, methods=["get"])
    def safety(self, request, slug, pk):
        return Response(SafetyStatusSerializer(safety_selectors.account_safety(self.get_object())).data)

    @extend_schema(request=RiskSettingsSerializer, responses=RiskSettingsSerializer)
    @action(detail=True, methods=["get", "put"], url_path="risk-settings")
    def risk_settings(self, request, slug, pk):
        account = self.get_object()
        if request.method == "PUT":
            serializer = RiskSettingsSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            return Response(
                RiskSettingsSerializer(
                    services.risk_settings_set(
                        account=account,
                        actor=self.api_client or request.user,
                        request=request,
                        **serializer.validated_data,
                    )
                ).data
            )
        return Response(RiskSettingsSerializer(selectors.risk_settings(account)).data)

    @extend_schema(responses=AccountSymbolSerializer(many=True))
    @action(detail=True, methods=["get"])
    def symbols(self, request, slug, pk):
        rows = selectors.account_symbols(self.get_object())
        return Response(AccountSymbolSerializer(rows, many=True).data)

    @extend_schema(request=FaultSettingsSerializer, responses=FaultSettingsSerializer)
    @action(detail=True, methods=["get", "put"])
    def faults(self, request, slug, pk):
        return _faults(request, account=self.get_object())


def _faults(request, **target) -> Response:
    if request.method == "PUT":
        serializer = FaultSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        faults = fault_injection.simulated_faults_set(**target, **serializer.validated_data)
    else:
        faults = fault_injection.simulated_faults(**target)
    return Response(FaultSettingsSerializer(faults.to_dict()).data)


class SymbolMapViewSet(OrganizationScopedViewSet):
    """An account's symbol overrides; ``GET ?symbol=GOLD`` resolves a name instead of listing."""

    queryset = SymbolOverride.objects.all()
    organization_field = "account__organization"
    serializer_class = SymbolOverrideSerializer
    lookup_value_converter = "int"
    required_permissions = {
        "list": "view_accounts",
        "create": "manage_accounts",
        "destroy": "manage_accounts",
    }

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.account = selectors.account_in(self.organization, kwargs["account_id"])

    def safely_get_queryset(self, queryset):
        return queryset.filter(account=self.account)

    @extend_schema(
        parameters=[OpenApiParameter("symbol", str, description="A name to resolve, e.g. GOLD or us30")],
        responses=SymbolOverrideSerializer(many=True),
    )
    def list(self, request, slug, account_id):
        name = request.query_params.get("symbol")
        if name is None:
            return Response(SymbolOverrideSerializer(self.get_queryset(), many=True).data)
        try:
            resolution = services.symbol_resolve(account=self.account, name=name)
        except SymbolError as error:
            raise ServiceError(str(error), field="symbol", code="unknown_symbol") from None
        return Response(SymbolResolutionSerializer({"symbol": name, **asdict(resolution)}).data)

    def create(self, request, slug, account_id):
        serializer = SymbolOverrideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        override = services.symbol_override_set(account=self.account, **serializer.validated_data)
        return Response(SymbolOverrideSerializer(override).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, slug, account_id, pk):
        services.symbol_override_delete(override=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlatformFaultsViewSet(OrganizationScopedViewSet):
    """Fault settings of a whole simulated platform (every account on it)."""

    queryset = TradePlatform.objects.all()
    serializer_class = FaultSettingsSerializer
    lookup_value_converter = "int"
    required_permissions = {"retrieve": "view_platforms", "update": "manage_platforms"}

    def retrieve(self, request, slug, pk):
        return _faults(request, platform=self.get_object())

    def update(self, request, slug, pk):
        return _faults(request, platform=self.get_object())


class PlatformMarketViewSet(OrganizationScopedViewSet):
    """Scripted market prices of a whole simulated platform: a path per instrument, which every
    account on the platform trades at."""

    queryset = TradePlatform.objects.all()
    serializer_class = PlatformMarketSerializer
    lookup_value_converter = "int"
    required_permissions = {
        "retrieve": "view_platforms",
        "update": "manage_platforms",
        "destroy": "manage_platforms",
    }

    def retrieve(self, request, slug, pk):
        return _market(self.get_object())

    @extend_schema(request=MarketPathSetSerializer, responses=PlatformMarketSerializer)
    def update(self, request, slug, pk):
        """Replace one instrument's path."""
        platform = self.get_object()
        serializer = MarketPathSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        points = data.get("points")
        market.simulated_market_set(
            platform=platform,
            instrument=data["instrument"],
            points=None if points is None else [(point["at"], point["price"]) for point in points],
            move_to=data.get("move_to"),
            over_seconds=data.get("over_seconds"),
        )
        return _market(platform)

    @extend_schema(
        parameters=[OpenApiParameter("instrument", str, description="Clear this one only (default: all)")],
        responses={204: None},
    )
    def destroy(self, request, slug, pk):
        """Back to the usual prices."""
        market.simulated_market_clear(
            platform=self.get_object(), instrument=request.query_params.get("instrument")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _market(platform: TradePlatform) -> Response:
    paths = market.describe_paths(market.simulated_market(platform=platform))
    return Response(PlatformMarketSerializer({"paths": paths}).data)


class OperationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationScopedViewSet):
    """An account's broker operations: state, attempts (timing, codes, category) and reason."""

    queryset = Operation.objects.prefetch_related("attempts")
    serializer_class = OperationSerializer
    lookup_value_converter = "int"
    required_permissions = {"list": "view_operations", "retrieve": "view_operations", "cancel": "trade"}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.account = selectors.account_in(self.organization, kwargs["account_id"])

    @extend_schema(
        request=None,
        responses={200: OperationSerializer},
        description="Cancel an operation that waits (accepted, or waiting out a pause, a retry or speed "
        "control): it is never sent. 409 once it is being sent or has ended.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, slug, account_id, pk):
        operation = accept.operation_cancel(operation=self.get_object(), requested_by=str(request.user))
        return Response(OperationSerializer(operation).data)

    def safely_get_queryset(self, queryset):
        return queryset.filter(account=self.account)
