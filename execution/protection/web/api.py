"""Protection over the API, under ``/api/v1/orgs/{slug}/``:

* ``protection-settings/{account id}/``: GET (``view_accounts``) an account's settings (the
  defaults until saved), PUT (``manage_accounts``) them: breakeven trigger 0 (never) to 6, buffer
  0-50 pips, the trailing stop off or its activation, distance and step in pips;
* ``trade-protection/{trade id}/``: GET (``view_accounts``) a trade's plan and every protection
  step; ``{id}/breakeven/`` POST (``trade``): the button, a breakeven now (409 while one is on its
  way).

Parse, check (by the base class), call one service. Another organization's ids are 404.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from core.errors import ServiceError
from execution.accounts.models import TradingAccount
from execution.live.events import operation_data
from execution.protection import selectors, services
from execution.protection.models import ProtectionSettings
from execution.protection.web.serializers import ProtectionSettingsSerializer, TradePlanSerializer
from execution.signals.models import Trade
from orgs.api.base import OrganizationScopedViewSet


class AlreadyOnItsWay(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ProtectionSettingsViewSet(OrganizationScopedViewSet):
    queryset = TradingAccount.objects.all()
    serializer_class = ProtectionSettingsSerializer
    lookup_value_converter = "int"
    required_permissions = {"retrieve": "view_accounts", "update": "manage_accounts"}

    def retrieve(self, request, slug, pk):
        return Response(ProtectionSettingsSerializer(ProtectionSettings.of(self.get_object().pk)).data)

    def update(self, request, slug, pk):
        account = self.get_object()
        serializer = ProtectionSettingsSerializer(ProtectionSettings.of(account.pk), data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = services.settings_set(account=account, **serializer.validated_data)
        return Response(ProtectionSettingsSerializer(saved).data)


class TradeProtectionViewSet(OrganizationScopedViewSet):
    queryset = Trade.objects.select_related("account")
    serializer_class = TradePlanSerializer
    lookup_value_converter = "int"
    required_permissions = {"retrieve": "view_accounts", "breakeven": "trade"}

    def retrieve(self, request, slug, pk):
        trade = self.get_object()
        plan = {**selectors.plan_of(trade.pk), "steps": selectors.steps_of(trade)}
        return Response(TradePlanSerializer(plan).data)

    @extend_schema(
        request=None, responses={202: dict}, description="Move what is left of the trade to breakeven now."
    )
    @action(detail=True, methods=["post"])
    def breakeven(self, request, slug, pk):
        trade = self.get_object()
        try:
            operation = services.breakeven_for_user(
                account=trade.account, trade_id=trade.pk, requested_by=str(request.user)
            )
        except ServiceError as error:
            if error.code == "conflict":
                raise AlreadyOnItsWay(error.message) from None
            raise
        return Response(operation_data(operation, "queued"), status=status.HTTP_202_ACCEPTED)
