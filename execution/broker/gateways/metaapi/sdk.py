"""The MetaApi SDK boundary: the one place that says which SDK objects the adapter uses.

Everything the gateway and the provisioning functions need from the SDK is built by an *api factory*
``(token, options) -> api`` where ``api`` behaves like :class:`metaapi_cloud_sdk.MetaApi`:

* ``api.metatrader_account_api.get_account(account_id)`` / ``.create_account(dto)`` returning an account
  with ``id``, ``state``, ``connection_status``, ``version``, ``deploy()``, ``wait_deployed()``,
  ``wait_connected()``, ``get_rpc_connection()``, ``get_streaming_connection()``;
* ``api.token_management_api.narrow_down_token(payload, validity_in_hours)``;
* ``api.close()``.

Tests pass a factory building stand-ins with the same names and signatures that raise the SDK's real
exception classes (imported here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from metaapi_cloud_sdk import MetaApi, SynchronizationListener
from metaapi_cloud_sdk.clients.error_handler import (
    ApiException,
    ConflictException,
    ForbiddenException,
    InternalException,
    NotFoundException,
    TooManyRequestsException,
    UnauthorizedException,
    ValidationException,
)
from metaapi_cloud_sdk.clients.metaapi.not_connected_exception import NotConnectedException
from metaapi_cloud_sdk.clients.metaapi.not_synchronized_exception import NotSynchronizedException
from metaapi_cloud_sdk.clients.metaapi.trade_exception import TradeException
from metaapi_cloud_sdk.clients.method_access_exception import MethodAccessException
from metaapi_cloud_sdk.clients.timeout_exception import TimeoutException

#: ``(token, MetaApi options) -> MetaApi-like object``.
ApiFactory = Callable[[str, Mapping[str, Any]], Any]


def default_api_factory(token: str, options: Mapping[str, Any]) -> MetaApi:
    """The real SDK object (opens no connection until a method needs one)."""
    return MetaApi(token, dict(options))


def sdk_options(
    *,
    domain: str | None = None,
    region: str | None = None,
    request_timeout: float | None = None,
    connect_timeout: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``MetaApiOpts`` for :class:`MetaApi` (only the keys that are set)."""
    options: dict[str, Any] = dict(extra or {})
    if domain:
        options["domain"] = domain
    if region:
        options["region"] = region
    if request_timeout:
        options["requestTimeout"] = request_timeout
    if connect_timeout:
        options["connectTimeout"] = connect_timeout
    return options


def close_api(api: Any) -> None:
    """``MetaApi.close()`` (synchronous; schedules the websocket close). Never raises."""
    close = getattr(api, "close", None)
    if close is None:
        return
    with contextlib.suppress(Exception):  # closing is best effort
        close()


__all__ = [
    "ApiException",
    "ApiFactory",
    "ConflictException",
    "ForbiddenException",
    "InternalException",
    "MetaApi",
    "MethodAccessException",
    "NotConnectedException",
    "NotFoundException",
    "NotSynchronizedException",
    "SynchronizationListener",
    "TimeoutException",
    "TooManyRequestsException",
    "TradeException",
    "UnauthorizedException",
    "ValidationException",
    "close_api",
    "default_api_factory",
    "sdk_options",
]
