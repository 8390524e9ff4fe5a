"""Trading accounts over the API: connect, read figures, positions, orders, symbols, mappings, and
the simulated broker's fault settings. Parse, check (by the base class), call one service."""

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from execution import selectors, services
from execution.api.serializers import (
    AccountSymbolSerializer,
    AccountUpdateSerializer,
    FaultSettingsSerializer,
    PendingOrderSerializer,
    PositionSerializer,
    ReconnectSerializer,
    SymbolOverrideSerializer,
    SymbolResolutionSerializer,
    TradingAccountSerializer,
)
from execution.gateways.base import GatewayError
from execution.symbols import SymbolError
from orgs.api.base import OrganizationScopedViewSet
from orgs.selectors import platforms_for
from orgs.services import OrgError


class BrokerUnavailable(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "broker_unavailable"


class TradingAccountViewSet(OrganizationScopedViewSet):
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
        "orders": "view_accounts",
        "symbols": "view_accounts",
        "faults:GET": "view_accounts",
        "faults:PUT": "manage_accounts",
    }

    def get_queryset(self):
        return selectors.accounts_for(self.organization)

    def get_serializer(self, *args, **kwargs):
        return TradingAccountSerializer(*args, organization=getattr(self, "organization", None), **kwargs)

    def list(self, request, slug):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, slug, pk):
        return Response(self.get_serializer(self.get_object()).data)

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
        account = services.account_reconnect(account=self.get_object(), **serializer.validated_data)
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

    @extend_schema(responses=PendingOrderSerializer(many=True))
    @action(detail=True, methods=["get"])
    def orders(self, request, slug, pk):
        return Response(PendingOrderSerializer(self._read_broker(selectors.broker_orders), many=True).data)

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
        faults = services.simulated_faults_set(**target, **serializer.validated_data)
    else:
        faults = services.simulated_faults(**target)
    return Response(FaultSettingsSerializer(faults.to_dict()).data)


class SymbolMapViewSet(OrganizationScopedViewSet):
    """An account's symbol overrides; ``GET ?symbol=GOLD`` resolves a name instead of listing."""

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

    def get_queryset(self):
        return self.account.symbol_overrides.all()

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
            raise OrgError(str(error), field="symbol", code="unknown_symbol") from None
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

    serializer_class = FaultSettingsSerializer
    lookup_value_converter = "int"
    required_permissions = {"retrieve": "view_platforms", "update": "manage_platforms"}

    def get_queryset(self):
        return platforms_for(self.organization)

    def retrieve(self, request, slug, pk):
        return _faults(request, platform=self.get_object())

    def update(self, request, slug, pk):
        return _faults(request, platform=self.get_object())
