"""The MetaApi SDK boundary: the one place that says which SDK objects the adapter uses, and how.

Everything the gateway and the provisioning functions need from the SDK is built by an *api factory*
``(token, options) -> api`` where ``api`` behaves like :class:`metaapi_cloud_sdk.MetaApi`:

* ``api.metatrader_account_api.get_account(account_id)`` / ``.create_account(dto)`` returning an account
  with ``id``, ``state``, ``connection_status``, ``version``, ``deploy()``, ``wait_deployed()``,
  ``wait_connected()``, ``get_rpc_connection()``, ``get_streaming_connection(history_storage,
  history_start_time)``;
* ``api.token_management_api.narrow_down_token(payload, validity_in_hours)``;
* ``api.close()``.

Tests pass a factory building stand-ins with the same names and signatures that raise the SDK's real
exception classes (imported here).

What the SDK (29.1.1) does on its own, and what this boundary makes of it:

* Per token, one ``MetaApi`` object (one websocket client); each account has its own narrowed token, so a
  session is one ``MetaApi`` per account and process.
* ``retryOpts``: ``MetaApiWebsocketClient.rpc_request`` sleeps through a 429 of a non-trade request until
  its ``recommendedRetryTime`` whenever that falls inside its retry budget (sum of
  ``min(2**k * minDelayInSeconds, maxDelayInSeconds)`` for k = 1..``retries``: 60 s with the defaults 5,
  1 s, 30 s), and retries TimeoutException / NotSynchronizedException / InternalException with back-off;
  ``HttpClient._handle_error`` sleeps through a REST 429 whose retry time is before
  ``now + maxDelayInSeconds * retries`` and retries network errors and 5xx. Inside a call's deadline that
  sleep looks like a timeout. :data:`EXECUTION_RETRY_OPTS` (``retries: 0``) makes both raise at once,
  so a 429 reaches the product as ``TooManyRequestsException`` with the broker's retry time and the
  product's own retry policy decides.
* History: a streaming connection without a history storage uses ``MemoryHistoryStorage``, which persists
  every deal and history order to ``./.metaapi/<account>-<application>-*.bin`` in the working directory
  (``FilesystemHistoryDatabase``; unencrypted, shared by every process started there, fatal on a read-only
  directory), and with nothing stored synchronizes the whole account history from 1970
  (``StreamingMetaApiConnection.synchronize``: ``max(history_start_time, storage.last_deal_time())``).
  :class:`RecentHistoryStorage` keeps nothing but the newest times seen, in memory.
* RPC state: ``RpcMetaApiConnectionInstance`` has no public non-blocking state, and an RPC request made
  while no MetaApi server instance is connected for the account waits without limit
  (``rpc_request`` -> ``LatencyService.wait_connected_instance``). :func:`rpc_link_up` reads the state the
  SDK keeps for it: ``RpcMetaApiConnection.is_synchronized()`` (true once a server instance sent
  'authenticated' for the account, false after its 'disconnected').
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from metaapi_cloud_sdk import HistoryStorage, MetaApi, SynchronizationListener
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

#: ``MetaApiOpts.retryOpts`` of the execution path: the SDK raises a 429 (and any other error) at once.
EXECUTION_RETRY_OPTS: Mapping[str, Any] = {"retries": 0}

EPOCH = datetime.fromtimestamp(0, UTC)


def default_api_factory(token: str, options: Mapping[str, Any]) -> MetaApi:
    """The real SDK object (opens no connection until a method needs one; starts background tasks, so it
    must be built inside a running event loop)."""
    return MetaApi(token, dict(options))


def sdk_options(
    *,
    domain: str | None = None,
    region: str | None = None,
    request_timeout: float | None = None,
    connect_timeout: float | None = None,
    retry_opts: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``MetaApiOpts`` for :class:`MetaApi` (only the keys that are set; ``extra`` wins)."""
    options: dict[str, Any] = {}
    if domain:
        options["domain"] = domain
    if region:
        options["region"] = region
    if request_timeout:
        options["requestTimeout"] = request_timeout
    if connect_timeout:
        options["connectTimeout"] = connect_timeout
    if retry_opts is not None:
        options["retryOpts"] = dict(retry_opts)
    options.update(extra or {})
    return options


def close_api(api: Any) -> None:
    """``MetaApi.close()``: synchronous; it cancels some jobs and SCHEDULES the websocket close as a task
    (run the call inside a :class:`~execution.broker.gateways.metaapi.tasks.TaskScope` and close the scope
    to let that task run). Never raises."""
    close = getattr(api, "close", None)
    if close is None:
        return
    with contextlib.suppress(Exception):  # closing is best effort
        close()


def rpc_link_up(rpc: Any) -> bool | None:
    """Whether the SDK has a MetaApi server instance connected for the RPC connection's account
    (``RpcMetaApiConnection.is_synchronized()``); None when the connection object does not say."""
    connection = getattr(rpc, "_meta_api_connection", None)
    is_synchronized = getattr(connection, "is_synchronized", None)
    if not callable(is_synchronized):
        return None
    try:
        return bool(is_synchronized())
    except Exception:  # a state the SDK cannot report is no answer
        return None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


class RecentHistoryStorage(HistoryStorage):
    """A streaming connection's history storage that stores no deal and no order, in memory only.

    It remembers the newest deal time and history order time seen, which is all the SDK asks of it
    (``StreamingMetaApiConnection.synchronize`` starts the history of a (re)synchronization at
    ``max(history_start_time, last_deal_time())``), so with a ``history_start_time`` at the connection only
    recent history is ever sent. The gateway reads history through RPC, never from here."""

    def __init__(self) -> None:
        super().__init__()
        self._last_deal = EPOCH
        self._last_order = EPOCH

    async def clear(self):
        self._last_deal = self._last_order = EPOCH

    async def last_history_order_time(self, instance_index: str = None) -> datetime:
        return self._last_order

    async def last_deal_time(self, instance_index: str = None) -> datetime:
        return self._last_deal

    async def on_history_order_added(self, instance_index: str, history_order) -> None:
        moment = _moment((history_order or {}).get("doneTime"))
        if moment is not None and moment > self._last_order:
            self._last_order = moment

    async def on_deal_added(self, instance_index: str, deal) -> None:
        moment = _moment((deal or {}).get("time"))
        if moment is not None and moment > self._last_deal:
            self._last_deal = moment

    @property
    def deals(self) -> list:
        return []

    def get_deals_by_ticket(self, id: str) -> list:  # noqa: A002 - the SDK's parameter name
        return []

    def get_deals_by_position(self, position_id: str) -> list:
        return []

    def get_deals_by_time_range(self, start_time: datetime, end_time: datetime) -> list:
        return []

    @property
    def history_orders(self) -> list:
        return []

    def get_history_orders_by_ticket(self, id: str) -> list:  # noqa: A002 - the SDK's parameter name
        return []

    def get_history_orders_by_position(self, position_id: str) -> list:
        return []

    def get_history_orders_by_time_range(self, start_time: datetime, end_time: datetime) -> list:
        return []


__all__ = [
    "EXECUTION_RETRY_OPTS",
    "ApiException",
    "ApiFactory",
    "ConflictException",
    "ForbiddenException",
    "HistoryStorage",
    "InternalException",
    "MetaApi",
    "MethodAccessException",
    "NotConnectedException",
    "NotFoundException",
    "NotSynchronizedException",
    "RecentHistoryStorage",
    "SynchronizationListener",
    "TimeoutException",
    "TooManyRequestsException",
    "TradeException",
    "UnauthorizedException",
    "ValidationException",
    "close_api",
    "default_api_factory",
    "rpc_link_up",
    "sdk_options",
]
