"""Connecting trading accounts, keeping their figures and symbols, and resolving symbols.

``account_connect`` records the account (state ``connecting``) with the MetaTrader password
encrypted, and enqueues the setup after commit. ``account_setup`` (run by the setup actor, safe to
run twice) establishes the connection, clears the password whatever the outcome, then discovers
figures and symbols through the gateway.
"""

import logging
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from asgiref.sync import async_to_sync
from django.db import IntegrityError, transaction
from django.utils import timezone

from execution import symbols as symbol_mapping
from execution.gateway_factory import gateway_for, open_simulated_account, simulated_fault_group
from execution.gateways.base import BrokerGateway, GatewayError
from execution.gateways.simulated import FaultSettings, account_scope, platform_scope
from execution.models import AccountCredential, AccountSymbol, RiskSettings, SymbolOverride, TradingAccount
from execution.simulator import SIMULATED_SERVERS, account_key, engine
from orgs.models import Organization, TradePlatform
from orgs.services import OrgError

logger = logging.getLogger(__name__)

# Saves name the fields they change: an actor's stale copy never overwrites a concurrent edit.
STATE_FIELDS = ["connection_state", "connection_error", "state_changed_at"]
FIGURE_FIELDS = ["balance", "equity", "margin", "free_margin", "currency", "leverage", "figures_at"]


def _check_server(platform: TradePlatform, server: str) -> None:
    if platform.api == TradePlatform.SIMULATED and server not in SIMULATED_SERVERS:
        raise OrgError(
            f"The simulated broker has the servers {', '.join(SIMULATED_SERVERS)}.", field="server"
        )
    if platform.servers and server not in platform.servers:
        raise OrgError(f"This platform's trade servers are {', '.join(platform.servers)}.", field="server")


def account_connect(
    *,
    organization: Organization,
    platform: TradePlatform,
    name: str,
    type: str,
    login: str,
    server: str,
    password: str,
) -> TradingAccount:
    if platform.organization_id != organization.pk:
        raise OrgError("Unknown platform.", field="platform")
    server = server.strip()
    _check_server(platform, server)
    if not password:
        raise OrgError("The MetaTrader password is needed once, to set the connection up.", field="password")
    try:
        with transaction.atomic():
            account = TradingAccount.objects.create(
                organization=organization,
                platform=platform,
                name=name.strip(),
                type=type,
                login=login.strip(),
                server=server,
                setup_password=password,
            )
            transaction.on_commit(lambda: _enqueue_setup(account.pk))
    except IntegrityError:
        raise OrgError("This account is already connected.", field="login") from None
    return account


def account_reconnect(*, account: TradingAccount, password: str) -> TradingAccount:
    """Set the connection up again (after an error, or a changed password)."""
    if not password:
        raise OrgError("The MetaTrader password is needed once, to set the connection up.", field="password")
    with transaction.atomic():
        account = TradingAccount.objects.select_for_update().get(pk=account.pk)
        account.setup_password = password
        _set_state(account, TradingAccount.CONNECTING)
        account.save(update_fields=["setup_password", *STATE_FIELDS])
        transaction.on_commit(lambda: _enqueue_setup(account.pk))
    return account


def account_update(
    *, account: TradingAccount, name: str | None = None, type: str | None = None
) -> TradingAccount:
    if name is not None:
        account.name = name.strip()
    if type is not None:
        account.type = type
    account.save(update_fields=["name", "type"])
    return account


def account_remove(*, account: TradingAccount) -> None:
    """Forget the account (its simulated broker state stays, like a real broker's would)."""
    account.delete()


def _enqueue_setup(account_id: int) -> None:
    from execution.actors import setup_account

    setup_account.send(account_id)


def suggested_account_type(organization: Organization) -> str | None:
    """The first account an organization connects is suggested as Demo; later ones: no suggestion."""
    if TradingAccount.objects.filter(organization=organization).exists():
        return None
    return TradingAccount.DEMO


def _set_state(account: TradingAccount, state: str, error: str = "") -> None:
    account.connection_state = state
    account.connection_error = error
    account.state_changed_at = timezone.now()


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
                _establish(account, password)
            except (GatewayError, OrgError, ValueError) as error:
                logger.warning("setup of account %s failed: %s", account.pk, error)
                account.setup_password = None
                _set_state(account, TradingAccount.ERROR, str(error))
                account.save(update_fields=["setup_password", *STATE_FIELDS])
                return account
            account.setup_password = None
            account.save(update_fields=["setup_password", "broker_account_id"])
        elif not _is_established(account):
            _set_state(
                account,
                TradingAccount.ERROR,
                "The connection setup was interrupted: reconnect with the MetaTrader password.",
            )
            account.save(update_fields=STATE_FIELDS)
            return account
    return account_sync(account=account)


def _is_established(account: TradingAccount) -> bool:
    if account.platform.api == TradePlatform.SIMULATED:
        return engine().load_account(account_key(account.pk)) is not None
    return AccountCredential.objects.filter(account=account).exists()


def _establish(account: TradingAccount, password: str) -> None:
    if account.platform.api == TradePlatform.SIMULATED:
        open_simulated_account(account)
        return
    from execution.provisioning import provision_metaapi_account

    provision_metaapi_account(account=account, password=password)


def account_sync(*, account: TradingAccount) -> TradingAccount:
    """Read figures and symbols through the gateway and store them; connection state follows."""
    try:
        info, specs = async_to_sync(_read_account)(gateway_for(account))
    except GatewayError as error:
        _set_state(
            account,
            TradingAccount.DISCONNECTED if error.source == "transport" else TradingAccount.ERROR,
            str(error),
        )
        account.save(update_fields=STATE_FIELDS)
        return account
    with transaction.atomic():
        account.balance, account.equity = info.balance, info.equity
        account.margin, account.free_margin = info.margin, info.free_margin
        account.currency, account.leverage = info.currency, info.leverage
        account.figures_at = timezone.now()
        _set_state(account, TradingAccount.CONNECTED)
        account.save(update_fields=[*FIGURE_FIELDS, *STATE_FIELDS])
        _store_symbols(account, specs)
    return account


async def _read_account(gateway: BrokerGateway):
    await gateway.connect()
    try:
        info = await gateway.account_information()
        specs = [await gateway.symbol_spec(name) for name in await gateway.symbols()]
    finally:
        await gateway.disconnect()
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


def symbol_resolve(*, account: TradingAccount, name: str) -> symbol_mapping.Resolution:
    """Resolve a symbol as a person or a signal writes it to this account's broker symbol.
    Raises ``symbol_mapping.SymbolError`` naming the candidates when unknown or ambiguous."""
    broker_symbols = list(AccountSymbol.objects.filter(account=account).values_list("name", "description"))
    overrides = dict(SymbolOverride.objects.filter(account=account).values_list("alias", "broker_symbol"))
    return symbol_mapping.resolve(name, broker_symbols, overrides=overrides)


def symbol_override_set(*, account: TradingAccount, alias: str, broker_symbol: str) -> SymbolOverride:
    alias = alias.strip()
    if not alias:
        raise OrgError("Say what is written, e.g. GOLD.", field="alias")
    if not AccountSymbol.objects.filter(account=account, name=broker_symbol).exists():
        raise OrgError(f"This account's broker has no symbol {broker_symbol!r}.", field="broker_symbol")
    override, _ = SymbolOverride.objects.update_or_create(
        account=account, alias=alias.upper(), defaults={"broker_symbol": broker_symbol}
    )
    return override


def symbol_override_delete(*, override: SymbolOverride) -> None:
    override.delete()


# --- simulated broker fault injection ------------------------------------------------------------

FAULT_FIELDS = (
    "latency_seconds",
    "scripted_errors",
    "error_rate",
    "error_rate_code",
    "disconnected",
    "applies_to",
    "retry_after_seconds",
)


def _fault_scope(*, account: TradingAccount | None = None, platform: TradePlatform | None = None) -> str:
    target = platform or account.platform
    if target.api != TradePlatform.SIMULATED:
        raise OrgError("Faults can be injected on simulated platforms only.", code="not_simulated")
    if account is not None:
        return account_scope(account_key(account.pk))
    return platform_scope(simulated_fault_group(platform))


def simulated_faults(
    *, account: TradingAccount | None = None, platform: TradePlatform | None = None
) -> FaultSettings:
    scope = _fault_scope(account=account, platform=platform)
    try:
        return engine().get_faults(scope)
    except KeyError:
        raise OrgError(
            "The account is not set up at the simulated broker yet.", code="not_configured"
        ) from None


def simulated_faults_set(
    *, account: TradingAccount | None = None, platform: TradePlatform | None = None, **settings
) -> FaultSettings:
    """Replace the fault settings of a simulated account or platform (fields not given: defaults)."""
    scope = _fault_scope(account=account, platform=platform)
    unknown = set(settings) - set(FAULT_FIELDS)
    if unknown:
        raise OrgError(f"Unknown fault settings: {', '.join(sorted(unknown))}.")
    try:
        faults = FaultSettings(**settings)
        engine().set_faults(scope, faults)
    except ValueError as error:
        raise OrgError(str(error)) from None
    except KeyError:
        raise OrgError(
            "The account is not set up at the simulated broker yet.", code="not_configured"
        ) from None
    return faults


def risk_settings_set(*, account: TradingAccount, **fields) -> RiskSettings:
    """Save the account's risk settings; asset-class caps only ever lower the volume."""
    caps = fields.get("asset_caps") or {}
    try:
        cleaned = {asset: str(Decimal(str(lots))) for asset, lots in caps.items()}
    except (InvalidOperation, TypeError):
        raise OrgError(
            'Asset caps are lots by asset class, e.g. {"metals": "0.5"}.', field="asset_caps"
        ) from None
    unknown = set(cleaned) - {asset.value for asset in symbol_mapping.AssetClass}
    if unknown:
        raise OrgError(f"Unknown asset classes: {', '.join(sorted(unknown))}.", field="asset_caps")
    settings_row, _ = RiskSettings.objects.update_or_create(
        account=account, defaults={**fields, "asset_caps": cleaned}
    )
    return settings_row
