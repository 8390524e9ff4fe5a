"""Trading accounts as their owners change them: connect, reconnect, edit, remove, symbols, risk.

``account_connect`` records the account (state ``connecting``) with the MetaTrader password
encrypted, and enqueues the setup (``execution.accounts.setup``, run by the setup actor) after
commit. Symbol names are resolved here, as a person or a signal writes them. A new MetaTrader
password and a change of risk settings are recorded in the organization's audit log, in the same
transaction, with who made them (the password only as changed).
"""

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from audit import kinds as audit_kinds
from audit.services import Actor, AnyRequest, field_changes, record_audit_event, secret_changed
from core.errors import ServiceError
from execution.accounts import symbols as symbol_mapping
from execution.accounts.actors import setup_account
from execution.accounts.models import (
    AccountSymbol,
    RiskSettings,
    SymbolOverride,
    TradingAccount,
)
from execution.broker.registry import connector_for
from orgs.models import Organization
from platforms.models import TradePlatform


def _check_server(platform: TradePlatform, server: str) -> None:
    connector = connector_for(platform)
    known = connector.known_servers()
    if known and server not in known:
        raise ServiceError(f"The {connector.name} has the servers {', '.join(known)}.", field="server")
    if platform.servers and server not in platform.servers:
        raise ServiceError(
            f"This platform's trade servers are {', '.join(platform.servers)}.", field="server"
        )


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
        raise ServiceError("Unknown platform.", field="platform")
    server = server.strip()
    _check_server(platform, server)
    if not password:
        raise ServiceError(
            "The MetaTrader password is needed once, to set the connection up.", field="password"
        )
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
            transaction.on_commit(lambda: setup_account.send(account.pk))
    except IntegrityError:
        raise ServiceError("This account is already connected.", field="login") from None
    return account


def account_reconnect(
    *, account: TradingAccount, password: str, actor: Actor, request: AnyRequest | None = None
) -> TradingAccount:
    """Set the connection up again (after an error, or a changed password)."""
    if not password:
        raise ServiceError(
            "The MetaTrader password is needed once, to set the connection up.", field="password"
        )
    with transaction.atomic():
        account = TradingAccount.objects.select_for_update().get(pk=account.pk)
        account.setup_password = password
        account.set_state(TradingAccount.CONNECTING)
        account.save(update_fields=["setup_password", *TradingAccount.STATE_FIELDS])
        record_audit_event(
            organization=account.organization,
            actor=actor,
            kind=audit_kinds.ACCOUNT_CREDENTIALS_CHANGED,
            target=account,
            changes=secret_changed("password"),
            request=request,
        )
        transaction.on_commit(lambda: setup_account.send(account.pk))
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


def suggested_account_type(organization: Organization) -> str | None:
    """The first account an organization connects is suggested as Demo; later ones: no suggestion."""
    if TradingAccount.objects.filter(organization=organization).exists():
        return None
    return TradingAccount.DEMO


def symbol_resolve(*, account: TradingAccount, name: str) -> symbol_mapping.Resolution:
    """Resolve a symbol as a person or a signal writes it to this account's broker symbol.
    Raises ``symbol_mapping.SymbolError`` naming the candidates when unknown or ambiguous."""
    broker_symbols = list(AccountSymbol.objects.filter(account=account).values_list("name", "description"))
    overrides = dict(SymbolOverride.objects.filter(account=account).values_list("alias", "broker_symbol"))
    return symbol_mapping.resolve(name, broker_symbols, overrides=overrides)


def symbol_override_set(*, account: TradingAccount, alias: str, broker_symbol: str) -> SymbolOverride:
    alias = alias.strip()
    if not alias:
        raise ServiceError("Say what is written, e.g. GOLD.", field="alias")
    if not AccountSymbol.objects.filter(account=account, name=broker_symbol).exists():
        raise ServiceError(f"This account's broker has no symbol {broker_symbol!r}.", field="broker_symbol")
    override, _ = SymbolOverride.objects.update_or_create(
        account=account, alias=alias.upper(), defaults={"broker_symbol": broker_symbol}
    )
    return override


def symbol_override_delete(*, override: SymbolOverride) -> None:
    override.delete()


RISK_FIELDS = ("mode", "risk_level", "fixed_lots", "risk_percent", "asset_caps")


def _risk_values(settings_row: RiskSettings) -> dict:
    return {name: getattr(settings_row, name) for name in RISK_FIELDS}


@transaction.atomic
def risk_settings_set(
    *, account: TradingAccount, actor: Actor, request: AnyRequest | None = None, **fields
) -> RiskSettings:
    """Save the account's risk settings; asset-class caps only ever lower the volume. What changed
    (before and after, the defaults standing for settings never saved) goes to the audit log."""
    caps = fields.get("asset_caps") or {}
    try:
        cleaned = {asset: str(Decimal(str(lots))) for asset, lots in caps.items()}
    except (InvalidOperation, TypeError):
        raise ServiceError(
            'Asset caps are lots by asset class, e.g. {"metals": "0.5"}.', field="asset_caps"
        ) from None
    unknown = set(cleaned) - {asset.value for asset in symbol_mapping.AssetClass}
    if unknown:
        raise ServiceError(f"Unknown asset classes: {', '.join(sorted(unknown))}.", field="asset_caps")
    stored = RiskSettings.objects.select_for_update().filter(account=account).first()
    before = _risk_values(stored or RiskSettings(account=account))
    settings_row, _ = RiskSettings.objects.update_or_create(
        account=account, defaults={**fields, "asset_caps": cleaned}
    )
    settings_row.refresh_from_db(fields=RISK_FIELDS)  # the values as stored (e.g. 0.10, not 0.1)
    changes = field_changes(before, _risk_values(settings_row))
    if changes:
        record_audit_event(
            organization=account.organization,
            actor=actor,
            kind=audit_kinds.ACCOUNT_RISK_SETTINGS_CHANGED,
            target=account,
            changes=changes,
            request=request,
        )
    return settings_row
