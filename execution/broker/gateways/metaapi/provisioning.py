"""The SETUP path: create, deploy and connect a MetaApi account, and narrow per-account tokens.

Plain async functions over an injectable SDK factory (``api_factory(token, options)``, the real
``MetaApi`` by default), meant to run on their own worker queue. The master token is taken ONLY from the
``master_token`` argument: it is never read from settings or the environment here, never logged, never
stored, never returned, and never part of an error message. The MetaTrader password is used once, in
``create_account``, and is not kept or returned either.

The per-account token is narrowed (:func:`narrow_down_payload`) to exactly one resource, the MetaApi
account, with the roles 'reader' and 'writer' ('writer' is what trading needs; 'reader' alone is MetaApi's
read-only token) and the applications the execution path and the dashboard streamer use, named as the
SDK 29.1.1 README names them in its account access token example (there is no 'metaapi-api' among them):

* 'trading-account-management-api': ``MetatraderAccountApi.get_account`` (mt-provisioning-api) when a
  session opens, and ``DomainClient`` (mt-provisioning-api ``/users/current/servers/mt-client-api``) before
  any socket connects;
* 'metaapi-rpc-api': the RPC connection (every query and trade of the execution path);
* 'metaapi-real-time-streaming-api': the streaming connection (opened only by the dashboard streamer);
* 'metaapi-rest-api': the MetaApi REST API (mt-client-api), which a streaming connection calls when it
  connects (``ClientApiClient.refresh_ignored_field_lists``, retried until it succeeds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from execution.broker.gateways.base import GatewayError, Platform
from execution.broker.gateways.metaapi import sdk
from execution.broker.gateways.metaapi.errors import translate_exception
from execution.broker.gateways.metaapi.tasks import TaskScope

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: What a per-account token may use (see the module docstring for which SDK call needs which).
TOKEN_APPLICATIONS: tuple[str, ...] = (
    "trading-account-management-api",
    "metaapi-rpc-api",
    "metaapi-real-time-streaming-api",
    "metaapi-rest-api",
)
#: 'writer' is needed to trade; nothing else than the one account is reachable.
TOKEN_ROLES: tuple[str, ...] = ("reader", "writer")
DEFAULT_VALIDITY_HOURS = 168
#: How long the SDK's scheduled closes may run before what is left of the setup's session is cancelled.
CLOSE_GRACE = 5.0

_CONNECTED_STATES = ("DEPLOYED", "DEPLOYING")


def utc_now() -> datetime:
    return datetime.now(UTC)


def narrow_down_payload(account_id: str) -> dict[str, Any]:
    """The SDK's simplified narrow-down payload (``NarrowDownSimplifiedAccessRules``) for one account."""
    if not account_id:
        raise ValueError("an account id is required to narrow a token")
    return {
        "applications": list(TOKEN_APPLICATIONS),
        "roles": list(TOKEN_ROLES),
        "resources": [{"entity": "account", "id": str(account_id)}],
    }


@dataclass(frozen=True)
class AccountToken:
    """A token narrowed to one MetaApi account (``token`` is kept out of ``repr``)."""

    account_id: str
    token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class ProvisionedAccount:
    """The outcome of :func:`provision_account`: no password, no master token."""

    account_id: str
    token: str = field(repr=False)
    expires_at: datetime
    platform: Platform
    state: str | None = None
    connection_status: str | None = None


class ProvisioningError(Exception):
    """A setup step failed. ``stage``: 'create' | 'deploy' | 'connect' | 'token'. ``account_id`` is set
    once MetaApi created the account (it then exists: retry from it or remove it). ``error`` is the
    GatewayError translation (classify it for the retry decision)."""

    def __init__(
        self, message: str, *, stage: str, account_id: str | None = None, error: GatewayError | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.account_id = account_id
        self.error = error

    def __str__(self) -> str:
        where = f" (account {self.account_id})" if self.account_id else ""
        return f"MetaApi setup failed at {self.stage}{where}: {self.message}"


@contextlib.asynccontextmanager
async def _sdk_api(factory: sdk.ApiFactory, token: str, options: Mapping[str, Any]) -> AsyncIterator[Any]:
    """The SDK's ``MetaApi`` for the duration of a setup step; on the way out its close runs and every task
    it started is stopped (the setup runs in a short-lived loop, which would otherwise drop them)."""
    scope = TaskScope("setup")
    api = None
    try:
        with scope.active():
            api = factory(token, options)
            yield api
    finally:
        if api is not None:
            scope.collect(sdk.close_api, api)
        await scope.close(grace=CLOSE_GRACE)


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _failure(
    exc: BaseException,
    *,
    stage: str,
    account_id: str | None,
    secrets: tuple[str, ...],
    message: str | None = None,
) -> ProvisioningError:
    translated = translate_exception(exc, platform="mt5")
    clean = GatewayError(
        _scrub(translated.message, secrets),
        source=translated.source,
        code=translated.code,
        string_code=translated.string_code,
        retry_after=translated.retry_after,
    )
    return ProvisioningError(
        _scrub(message, secrets) if message else clean.message,
        stage=stage,
        account_id=account_id,
        error=clean,
    )


async def _narrow(
    api: Any, account_id: str, validity_hours: float, clock: Clock, timeout: float
) -> AccountToken:
    issued = clock()
    async with asyncio.timeout(timeout):
        token = await api.token_management_api.narrow_down_token(
            narrow_down_payload(account_id), validity_hours
        )
    if not token or not isinstance(token, str):
        raise ValueError("MetaApi returned no token")
    return AccountToken(
        account_id=account_id, token=token, expires_at=issued + timedelta(hours=validity_hours)
    )


def _check_validity(validity_hours: float) -> None:
    if not validity_hours or validity_hours <= 0:
        raise ValueError("validity_hours must be positive")


async def provision_account(
    master_token: str,
    *,
    login: str | int,
    password: str,
    server: str,
    platform: Platform,
    name: str,
    magic: int = 0,
    validity_hours: float = DEFAULT_VALIDITY_HOURS,
    account_fields: Mapping[str, Any] | None = None,
    domain: str | None = None,
    region: str | None = None,
    create_timeout: float = 600.0,
    connect_timeout: float = 300.0,
    token_timeout: float = 60.0,
    api_factory: sdk.ApiFactory | None = None,
    clock: Clock = utc_now,
) -> ProvisionedAccount:
    """Create the MetaApi account for a MetaTrader login, deploy it, wait (at most ``connect_timeout``
    seconds) until its terminal is connected to the broker, and narrow a token to it.

    ``account_fields``: extra ``NewMetatraderAccountDto`` fields (``type``, ``reliability``, ``region``,
    ``keywords``, ...); login, password, server, platform, name and magic always win. The SDK adds the
    request's ``transaction-id`` itself (and reuses it while MetaApi answers 202 for a slow creation).
    Raises :class:`ProvisioningError`.
    """
    if platform not in ("mt4", "mt5"):
        raise ValueError("platform must be 'mt4' or 'mt5'")
    if not (master_token and password and server and name and str(login).strip()):
        raise ValueError("master token, login, password, server and name are required")
    _check_validity(validity_hours)
    secrets = (master_token, password)
    factory = api_factory or sdk.default_api_factory
    account_id: str | None = None
    account: Any = None
    async with _sdk_api(factory, master_token, sdk.sdk_options(domain=domain, region=region)) as api:
        try:
            dto: dict[str, Any] = dict(account_fields or {})
            dto.update(
                name=name,
                login=str(login).strip(),
                password=password,
                server=server,
                platform=platform,
                magic=int(magic),
            )
            async with asyncio.timeout(create_timeout):
                account = await api.metatrader_account_api.create_account(dto)
            dto.clear()  # the password goes no further than this request
            account_id = str(account.id)
        except Exception as exc:
            raise _failure(exc, stage="create", account_id=None, secrets=secrets) from None
        logger.info("MetaApi account %s created for a %s login on %s", account_id, platform, server)

        stage = "deploy"
        try:
            async with asyncio.timeout(connect_timeout):
                if getattr(account, "state", None) not in _CONNECTED_STATES:
                    await account.deploy()
                await account.wait_deployed(timeout_in_seconds=connect_timeout)
                stage = "connect"
                await account.wait_connected(timeout_in_seconds=connect_timeout)
        except Exception as exc:
            message = None
            if isinstance(exc, TimeoutError | sdk.TimeoutException):
                step = "deployed" if stage == "deploy" else "connected"
                message = (
                    f"MetaApi account {account_id} was not {step} "
                    f"within {connect_timeout:g} s (state {getattr(account, 'state', None)}, connection "
                    f"{getattr(account, 'connection_status', None)}): check login, password and server"
                )
            raise _failure(
                exc, stage=stage, account_id=account_id, secrets=secrets, message=message
            ) from None
        logger.info("MetaApi account %s deployed and connected", account_id)

        try:
            narrowed = await _narrow(api, account_id, validity_hours, clock, token_timeout)
        except Exception as exc:
            raise _failure(exc, stage="token", account_id=account_id, secrets=secrets) from None
        return ProvisionedAccount(
            account_id=account_id,
            token=narrowed.token,
            expires_at=narrowed.expires_at,
            platform=platform,
            state=getattr(account, "state", None),
            connection_status=getattr(account, "connection_status", None),
        )


async def refresh_token(
    master_token: str,
    account_id: str,
    validity_hours: float = DEFAULT_VALIDITY_HOURS,
    *,
    domain: str | None = None,
    timeout: float = 60.0,
    api_factory: sdk.ApiFactory | None = None,
    clock: Clock = utc_now,
) -> AccountToken:
    """A fresh token narrowed to ``account_id`` (the setup's payload). Raises :class:`ProvisioningError`."""
    if not master_token or not account_id:
        raise ValueError("master token and account id are required")
    _check_validity(validity_hours)
    factory = api_factory or sdk.default_api_factory
    async with _sdk_api(factory, master_token, sdk.sdk_options(domain=domain)) as api:
        try:
            narrowed = await _narrow(api, str(account_id), validity_hours, clock, timeout)
        except Exception as exc:
            raise _failure(exc, stage="token", account_id=str(account_id), secrets=(master_token,)) from None
    logger.info("MetaApi token for account %s refreshed (valid until %s)", account_id, narrowed.expires_at)
    return narrowed


__all__ = [
    "DEFAULT_VALIDITY_HOURS",
    "TOKEN_APPLICATIONS",
    "TOKEN_ROLES",
    "AccountToken",
    "ProvisionedAccount",
    "ProvisioningError",
    "narrow_down_payload",
    "provision_account",
    "refresh_token",
]
