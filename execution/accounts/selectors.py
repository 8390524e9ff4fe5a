"""Reads of trading accounts, scoped to an organization; live broker reads through the gateway."""

from asgiref.sync import async_to_sync
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from execution.accounts.models import AccountSymbol, RiskSettings, TradingAccount
from execution.broker.gateways.base import GatewayError, PendingOrder, Position
from execution.broker.registry import gateway_for
from orgs.models import Organization


def accounts_for(organization: Organization) -> QuerySet[TradingAccount]:
    return TradingAccount.objects.filter(organization=organization).select_related("platform")


def account_in(organization: Organization, account_id: int) -> TradingAccount:
    """The organization's account with this id; 404 for any other."""
    return get_object_or_404(accounts_for(organization), pk=account_id)


def account_symbols(account: TradingAccount) -> QuerySet[AccountSymbol]:
    return AccountSymbol.objects.filter(account=account)


def _read_broker(account: TradingAccount, read):
    """Run one read against the broker (the gateway is built here, outside the event loop). Only an
    account whose connection was set up is read: reading must never create it at the broker."""
    if not account.is_set_up:
        raise GatewayError(
            f"The account is {account.connection_state}: it is read once connected.",
            source="transport",
            string_code="not_connected",
        )
    gateway = gateway_for(account)

    async def run():
        async with gateway:
            return await read(gateway)

    return async_to_sync(run)()


def broker_positions(account: TradingAccount) -> list[Position]:
    return _read_broker(account, lambda gateway: gateway.positions())


def broker_orders(account: TradingAccount) -> list[PendingOrder]:
    return _read_broker(account, lambda gateway: gateway.orders())


def risk_settings(account: TradingAccount) -> RiskSettings:
    """The account's risk settings (the defaults until someone saves them)."""
    return RiskSettings.objects.filter(account=account).first() or RiskSettings(account=account)
