"""Reads of trading accounts, scoped to an organization; live broker reads through the gateway."""

from asgiref.sync import async_to_sync
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from execution.gateway_factory import gateway_for
from execution.gateways.base import PendingOrder, Position
from execution.models import AccountSymbol, TradingAccount
from orgs.models import Organization


def accounts_for(organization: Organization) -> QuerySet[TradingAccount]:
    return TradingAccount.objects.filter(organization=organization).select_related("platform")


def account_in(organization: Organization, account_id: int) -> TradingAccount:
    """The organization's account with this id; 404 for any other."""
    return get_object_or_404(accounts_for(organization), pk=account_id)


def account_symbols(account: TradingAccount) -> QuerySet[AccountSymbol]:
    return AccountSymbol.objects.filter(account=account)


def _read_broker(account: TradingAccount, read):
    """Run one read against the broker (the gateway is built here, outside the event loop)."""
    gateway = gateway_for(account)

    async def run():
        await gateway.connect()
        try:
            return await read(gateway)
        finally:
            await gateway.disconnect()

    return async_to_sync(run)()


def broker_positions(account: TradingAccount) -> list[Position]:
    return _read_broker(account, lambda gateway: gateway.positions())


def broker_orders(account: TradingAccount) -> list[PendingOrder]:
    return _read_broker(account, lambda gateway: gateway.orders())
