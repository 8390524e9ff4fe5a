"""The gateway for an account: the simulated broker or MetaApi, by the platform's ``api``.

The execution path only ever gets the account's narrow credential, never the master token.
"""

from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings

from execution.gateways.base import BrokerGateway
from execution.gateways.simulated import SimulatedGateway
from execution.models import TradingAccount
from execution.simulator import account_key, engine
from orgs.models import TradePlatform


def simulated_fault_group(platform: TradePlatform) -> str:
    """Platform-wide simulated faults are set per trade platform."""
    return f"tp{platform.pk}"


def open_simulated_account(account: TradingAccount) -> None:
    """Create the account at the simulated broker (idempotent: an existing one is kept)."""
    engine().open_account(
        account_key(account.pk),
        server=account.server,
        balance=Decimal(settings.TTMT_SIMULATOR_BALANCE[account.type]),
        leverage=100,
        currency="USD",
        platform=account.platform.type,
        fault_group=simulated_fault_group(account.platform),
    )


def _on_the_callers_thread(function):
    """The engine's store is the ORM: run it on the thread (and database connection) of the sync
    caller of async_to_sync, or on Django's shared sync thread inside an async server."""
    return sync_to_async(function)()


def gateway_for(account: TradingAccount) -> BrokerGateway:
    if account.platform.api == TradePlatform.SIMULATED:
        return SimulatedGateway(
            engine(),
            account_key(account.pk),
            server=account.server,
            platform=account.platform.type,
            run_sync=_on_the_callers_thread,
        )
    if account.platform.api == TradePlatform.METAAPI:
        from execution.gateways.metaapi import MetaApiGateway
        from execution.provisioning import api_factory

        return MetaApiGateway(
            token=account.credential.token,  # narrowed to this account; never the master token
            account_id=account.broker_account_id,
            platform=account.platform.type,
            domain=settings.TTMT_METAAPI_DOMAIN,
            api_factory=api_factory(),
        )
    raise ValueError(f"no gateway for api {account.platform.api!r}")
