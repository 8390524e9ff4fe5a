"""Setting an account's connection up, and keeping its figures and symbols (run by the setup actor).

``account_setup`` establishes the connection through the platform's connector, clears the
MetaTrader password whatever the outcome, then reads figures and symbols through the gateway.
Safe to run twice.
"""

import logging
from collections.abc import Sequence

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils import timezone

from core.errors import ServiceError
from execution.accounts import symbols as symbol_mapping
from execution.accounts.models import (
    AccountSymbol,
    TradingAccount,
)
from execution.broker.gateways.base import BrokerGateway, GatewayError
from execution.broker.registry import connector_for, gateway_for

logger = logging.getLogger(__name__)


def account_setup(*, account_id: int) -> TradingAccount | None:
    """Establish the account's connection, clear the password, sync figures and symbols.
    Safe to run twice: a connected account without a pending password is only re-synced."""
    with transaction.atomic():
        account = (
            TradingAccount.objects.select_for_update(of=("self",))
            .select_related("platform")
            .filter(pk=account_id)
            .first()
        )
        if account is None:
            return None
        password = account.setup_password
        if password:
            try:
                connector_for(account.platform).establish(account=account, password=password)
            except (GatewayError, ServiceError, ValueError) as error:
                logger.warning("setup of account %s failed: %s", account.pk, error)
                account.setup_password = None
                account.set_state(TradingAccount.ERROR, str(error))
                account.save(update_fields=["setup_password", *TradingAccount.STATE_FIELDS])
                return account
            account.setup_password = None
            account.save(update_fields=["setup_password", "broker_account_id"])
        elif not connector_for(account.platform).is_established(account):
            account.set_state(
                TradingAccount.ERROR,
                "The connection setup was interrupted: reconnect with the MetaTrader password.",
            )
            account.save(update_fields=TradingAccount.STATE_FIELDS)
            return account
    return account_sync(account=account)


def account_sync(*, account: TradingAccount) -> TradingAccount:
    """Read figures and symbols through the gateway and store them; connection state follows."""
    try:
        info, specs = async_to_sync(_read_account)(gateway_for(account))
    except GatewayError as error:
        account.set_state(
            TradingAccount.DISCONNECTED if error.source == "transport" else TradingAccount.ERROR,
            str(error),
        )
        account.save(update_fields=TradingAccount.STATE_FIELDS)
        return account
    with transaction.atomic():
        account.balance, account.equity = info.balance, info.equity
        account.margin, account.free_margin = info.margin, info.free_margin
        account.currency, account.leverage = info.currency, info.leverage
        account.figures_at = timezone.now()
        account.set_state(TradingAccount.CONNECTED)
        account.save(update_fields=[*TradingAccount.FIGURE_FIELDS, *TradingAccount.STATE_FIELDS])
        _store_symbols(account, specs)
    return account


async def _read_account(gateway: BrokerGateway):
    async with gateway:
        info = await gateway.account_information()
        specs = [await gateway.symbol_spec(name) for name in await gateway.symbols()]
    return info, specs


def _store_symbols(account: TradingAccount, specs: Sequence) -> None:
    rows = [
        AccountSymbol(
            account=account,
            name=spec.name,
            description=spec.description or "",
            asset_class=(symbol_mapping.asset_class_of(spec.name, spec.description) or ""),
            digits=spec.digits,
            contract_size=spec.contract_size,
            tick_size=spec.tick_size,
            tick_value=spec.tick_value,
            volume_min=spec.volume_min,
            volume_max=spec.volume_max,
            volume_step=spec.volume_step,
            trading_allowed=spec.trading_allowed,
            sessions=[[s.weekday, s.start, s.end] for s in spec.sessions],
        )
        for spec in specs
    ]
    AccountSymbol.objects.filter(account=account).exclude(name__in=[r.name for r in rows]).delete()
    AccountSymbol.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["account", "name"],
        update_fields=[
            "description",
            "asset_class",
            "digits",
            "contract_size",
            "tick_size",
            "tick_value",
            "volume_min",
            "volume_max",
            "volume_step",
            "trading_allowed",
            "sessions",
        ],
    )
