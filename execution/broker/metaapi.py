"""The MetaApi connector, and the setup path of MetaApi accounts: the only code that reads the
MetaApi master token.

The setup runs in the ``setup_account`` actor (queue ``account_setup``), so only the workers consuming that
queue need ``TTMT_METAAPI_TOKEN`` in their environment. It creates and deploys the MetaApi account
from the MetaTrader login, password and server, waits until it is connected, and keeps a token
narrowed to that one account (encrypted, with its expiry) for the execution path; the token is
refreshed before it expires. The master token is never stored, logged, or passed on.
"""

import os
from datetime import timedelta

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from core.errors import ServiceError
from execution.accounts.models import AccountCredential, TradingAccount
from execution.broker.connector import Connector
from execution.broker.gateways.metaapi import MetaApiGateway
from execution.broker.gateways.metaapi.provisioning import ProvisioningError, provision_account, refresh_token
from platforms.models import TradePlatform

MASTER_TOKEN_VARIABLE = "TTMT_METAAPI_TOKEN"
REFRESH_AHEAD = timedelta(hours=24)


def _master_token() -> str:
    token = os.environ.get(MASTER_TOKEN_VARIABLE, "")
    if not token:
        raise ServiceError(
            f"This worker has no MetaApi master token ({MASTER_TOKEN_VARIABLE}): accounts on "
            f"MetaApi platforms cannot be set up here.",
            code="not_configured",
        )
    return token


def api_factory():
    """The SDK boundary: None means the real SDK; tests name stand-ins in TTMT_METAAPI_API_FACTORY."""
    path = settings.TTMT_METAAPI_API_FACTORY
    return import_string(path) if path else None


def provision_metaapi_account(*, account: TradingAccount, password: str) -> None:
    """Set the account up at MetaApi and keep its narrowed credential (the password is not kept)."""
    try:
        result = async_to_sync(provision_account)(
            _master_token(),
            login=account.login,
            password=password,
            server=account.server,
            platform=account.platform.type,
            name=f"{account.organization_id}:{account.name}"[:64],
            validity_hours=settings.TTMT_METAAPI_TOKEN_VALIDITY_HOURS,
            domain=settings.TTMT_METAAPI_DOMAIN,
            api_factory=api_factory(),
        )
    except ProvisioningError as error:
        raise ServiceError(f"MetaApi setup failed at {error.stage}: {error.message}") from None
    account.broker_account_id = result.account_id
    AccountCredential.objects.update_or_create(
        account=account,
        defaults={"token": result.token, "expires_at": result.expires_at, "refreshed_at": timezone.now()},
    )


def refresh_expiring_credentials() -> list[int]:
    """Narrow fresh tokens for credentials expiring within a day; returns the refreshed account ids."""
    refreshed = []
    expiring = AccountCredential.objects.filter(expires_at__lt=timezone.now() + REFRESH_AHEAD).select_related(
        "account"
    )
    for credential in expiring:
        try:
            token = async_to_sync(refresh_token)(
                _master_token(),
                credential.account.broker_account_id,
                settings.TTMT_METAAPI_TOKEN_VALIDITY_HOURS,
                domain=settings.TTMT_METAAPI_DOMAIN,
                api_factory=api_factory(),
            )
        except ProvisioningError:
            continue  # tried again on the next pass; the current token is still valid for a while
        credential.token, credential.expires_at, credential.refreshed_at = (
            token.token,
            token.expires_at,
            timezone.now(),
        )
        credential.save(update_fields=["token", "expires_at", "refreshed_at"])
        refreshed.append(credential.account_id)
    return refreshed


class MetaApiConnector(Connector):
    api = TradePlatform.METAAPI
    name = "MetaApi"

    def gateway(self, account: TradingAccount) -> MetaApiGateway:
        """A session of its own (one SDK object, one RPC connection once connected). It opens a streaming
        connection only when its events() or subscribe_prices() are used: by the live streamer (through
        the default StreamDriver), never by trading."""
        return MetaApiGateway(
            token=account.credential.token,  # narrowed to this account; never the master token
            account_id=account.broker_account_id,
            platform=account.platform.type,
            domain=settings.TTMT_METAAPI_DOMAIN,
            api_factory=api_factory(),
        )

    def session_key(self, account: TradingAccount) -> tuple:
        """A refreshed or re-issued credential re-opens the session (the SDK object holds the token)."""
        return (*super().session_key(account), account.credential.refreshed_at)

    def establish(self, *, account: TradingAccount, password: str) -> None:
        provision_metaapi_account(account=account, password=password)

    def is_established(self, account: TradingAccount) -> bool:
        return AccountCredential.objects.filter(account=account).exists()
