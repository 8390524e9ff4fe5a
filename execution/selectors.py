"""Reads of trading accounts, scoped to an organization; live broker reads through the gateway."""

from asgiref.sync import async_to_sync
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from execution.gateway_factory import gateway_for
from execution.gateways.base import GatewayError, PendingOrder, Position
from execution.models import AccountSymbol, Operation, RiskSettings, SafetyEvent, TradingAccount
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
    if account.connection_state not in (TradingAccount.CONNECTED, TradingAccount.DISCONNECTED):
        raise GatewayError(
            f"The account is {account.connection_state}: it is read once connected.",
            source="transport",
            string_code="not_connected",
        )
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


def operations_of(account: TradingAccount) -> QuerySet[Operation]:
    return Operation.objects.filter(account=account).prefetch_related("attempts")


def risk_settings(account: TradingAccount) -> RiskSettings:
    """The account's risk settings (the defaults until someone saves them)."""
    return RiskSettings.objects.filter(account=account).first() or RiskSettings(account=account)


def account_safety(account: TradingAccount) -> dict:
    """The pause, the platform's broker health, operations in flight and waiting, recent events."""
    from execution.safety.runtime import safety

    policies = safety()
    pause = policies.pause.status(str(account.pk))
    health = policies.health.status(str(account.platform_id))
    return {
        "pause_state": str(pause.state),
        "consecutive_failures": pause.consecutive_failures,
        "consecutive_permanent": pause.consecutive_permanent,
        "seconds_to_test": pause.seconds_to_test,
        "tests_in_flight": pause.tests_in_flight,
        "broker_health": str(health.state),
        "broker_health_seconds_remaining": health.seconds_remaining,
        "in_flight": policies.speed.in_flight(str(account.pk)),
        "queue_depth": {
            priority.name.lower(): n for priority, n in policies.speed.queue_depth(str(account.pk)).items()
        },
        "recent_events": list(SafetyEvent.objects.filter(account=account)[:20])
        + list(SafetyEvent.objects.filter(platform_id=account.platform_id)[:10]),
    }
