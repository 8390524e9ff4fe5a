"""The real SDK (metaapi-cloud-sdk 29.1.1), offline: what the adapter relies on, checked against it.

Nothing here reaches MetaApi: the domain is ``metaapi.invalid`` and the SDK's one HTTP client answers the
account look-up from a dict and fails everything else as a network error (the only stand-in). The rest
(MetaApi, its websocket client, accounts, RPC and streaming connections, their background tasks) is the
SDK's own code.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from metaapi_cloud_sdk import MemoryHistoryStorage, MetaApi
from metaapi_cloud_sdk.metaapi.models import format_date

from execution.broker.gateways.base import GatewayError
from execution.broker.gateways.metaapi import MetaApiGateway, sdk, translate_exception
from execution.broker.gateways.metaapi.sdk import RecentHistoryStorage, TooManyRequestsException
from execution.broker.gateways.metaapi.tasks import TaskScope
from execution.safety.errors import Category, classify_gateway_error
from tests.execution.broker.gateways.metaapi.fakes import jwt

DOMAIN = "metaapi.invalid"
INSTANCE = "vint-hill:0:ps-mpa-1"
TOKEN = jwt(
    {
        "_id": "user",
        "accessRules": [
            {"id": "metaapi-rpc-api", "roles": ["reader", "writer"], "resources": ["account:$USER_ID$:acc-1"]}
        ],
    }
)


def account_dto(account_id: str) -> dict:
    return {
        "_id": account_id,
        "name": "demo",
        "login": "5012345",
        "server": "SimBroker-Demo",
        "type": "cloud-g2",
        "state": "DEPLOYED",
        "connectionStatus": "CONNECTED",
        "region": "vint-hill",
        "reliability": "regular",
        "version": 5,
        "accountReplicas": [],
    }


def offline(api: MetaApi) -> list[str]:
    """Answer the account look-ups of ``api``'s HTTP client; every other request fails at the network."""
    client = api.metatrader_account_api._metatrader_account_client._http_client
    asked: list[str] = []

    async def make_request(options):
        url = options["url"]
        asked.append(url)
        request = httpx.Request(options.get("method", "GET"), url)
        account_id = url.rsplit("/", 1)[-1]
        if "/users/current/accounts/" in url:
            return httpx.Response(200, json=account_dto(account_id), request=request)
        raise httpx.ConnectError("offline", request=request)

    client._make_request = make_request
    return asked


def offline_factory(made: list):
    def factory(token, options):
        api = MetaApi(token, dict(options))
        offline(api)
        made.append(api)
        return api

    return factory


def loop_tasks() -> set:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


@contextlib.asynccontextmanager
async def sdk_session(options: dict | None = None):
    """A real MetaApi inside a TaskScope, stopped (and checked stopped) on the way out."""
    before = loop_tasks()
    scope = TaskScope("test")
    with scope.active():
        api = MetaApi(TOKEN, {"domain": DOMAIN, **(options or {})})
        offline(api)
        yield api
    scope.collect(sdk.close_api, api)
    await scope.close(grace=1.0)
    assert loop_tasks() - before == set()


def gateway_over_the_sdk(made: list, **options) -> MetaApiGateway:
    arguments = {"domain": DOMAIN, "connect_timeout": 1.5, "close_timeout": 1.0, "ready_timeout": 0.2}
    arguments.update(options)
    return MetaApiGateway(TOKEN, "acc-1", api_factory=offline_factory(made), **arguments)


# -- sessions: nothing left behind ----------------------------------------------------------------


async def test_over_the_real_sdk_a_session_that_cannot_sync_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = loop_tasks()
    made: list = []
    gateway = gateway_over_the_sdk(made)
    with pytest.raises(GatewayError) as caught:
        await gateway.connect()  # the account is read, the RPC connection opened, no server ever answers
    assert caught.value.string_code == "timeout"
    assert gateway._scope is None and not gateway.connected
    assert loop_tasks() - before == set()  # SynchronizationThrottler, subscribe loops, jobs: all gone
    assert not (tmp_path / ".metaapi").exists()
    (api,) = made
    assert api._metaapi_websocket_client._packet_orderer._out_of_order_interval is None  # its close ran
    assert api._connection_registry.rpc_connections == {}  # and so did the RPC connection's scheduled close


async def test_over_the_real_sdk_a_cancelled_connect_leaves_nothing_behind():
    before = loop_tasks()
    gateway = gateway_over_the_sdk([], connect_timeout=60)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):  # the engine's deadline
            await gateway.connect()
    assert loop_tasks() - before == set()
    assert not gateway.connected


async def test_the_sdk_alone_leaves_tasks_behind_after_close():
    """Why the scope: MetaApi.close() and the RPC connection's close() leave the SDK's jobs running."""
    before = loop_tasks()
    api = MetaApi(TOKEN, {"domain": DOMAIN})
    offline(api)
    account = await api.metatrader_account_api.get_account("acc-1")
    rpc = account.get_rpc_connection()
    await rpc.connect()
    await asyncio.sleep(0.3)  # the subscription starts its sockets
    await rpc.close()
    api.close()
    await asyncio.sleep(0.3)  # the scheduled closes run
    left = loop_tasks() - before
    names = {task.get_coro().__qualname__ for task in left}
    assert any("SynchronizationThrottler" in name for name in names), names
    for task in left:
        task.cancel()
    await asyncio.wait(left, timeout=2)


async def test_a_real_metaapi_object_is_built_inside_the_scope():
    before = loop_tasks()
    scope = TaskScope("test")
    with scope.active():
        api = sdk.default_api_factory(TOKEN, sdk.sdk_options(domain=DOMAIN))
    assert len(scope.pending()) >= 6  # ReferenceTree x3, cache jobs, latency refresh, packet orderer
    scope.collect(sdk.close_api, api)
    await scope.close(grace=1.0)
    assert loop_tasks() - before == set()


# -- the RPC connection's state, and its unbounded wait -------------------------------------------


async def test_rpc_link_up_reads_the_sdks_own_state():
    async with sdk_session() as api:
        account = await api.metatrader_account_api.get_account("acc-1")
        rpc = account.get_rpc_connection()
        assert sdk.rpc_link_up(rpc) is False
        await rpc.connect()
        assert sdk.rpc_link_up(rpc) is False  # subscribed, no server instance has answered
        connection = rpc._meta_api_connection
        await connection.on_connected(INSTANCE, 1)  # what the server's 'authenticated' packet triggers
        assert sdk.rpc_link_up(rpc) is True
        await connection.on_disconnected(INSTANCE)  # its 'disconnected' packet
        assert sdk.rpc_link_up(rpc) is False
        await rpc.close()
    assert sdk.rpc_link_up(object()) is None


async def test_without_a_server_the_sdk_waits_without_limit_then_hands_out_a_cancelled_future():
    """rpc_request -> LatencyService.wait_connected_instance: no limit of its own; a timeout around it
    cancels the future every later request of the account then awaits (they raise CancelledError at once,
    though nobody cancelled them): the gateway checks the state first, and turns such a CancelledError
    into 'not_connected'."""
    async with sdk_session({"retryOpts": sdk.EXECUTION_RETRY_OPTS}) as api:
        account = await api.metatrader_account_api.get_account("acc-1")
        rpc = account.get_rpc_connection()
        await rpc.connect()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.5):
                await rpc.get_account_information()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(1.5):
                await rpc.get_account_information()
        assert asyncio.current_task().cancelling() == 0  # not a cancellation of this task

        gateway = MetaApiGateway(TOKEN, "acc-1", request_timeout=1.5)
        gateway._connected, gateway._rpc, gateway._scope = True, rpc, TaskScope("test-gateway")
        gateway._ensure_link = _no_check  # as if the state had said 'up' a moment before
        with pytest.raises(GatewayError) as caught:
            await gateway.account_information()
        assert (caught.value.source, caught.value.string_code) == ("transport", "not_connected")
        await rpc.close()


async def _no_check(rpc, name):
    return None


# -- 429: raised at once, with the broker's retry time ---------------------------------------------


def rate_limited(seconds: float) -> TooManyRequestsException:
    when = format_date(datetime.now(UTC) + timedelta(seconds=seconds))
    return TooManyRequestsException(
        "Too many requests", {"recommendedRetryTime": when, "type": "LIMIT_REQUEST_RATE_PER_USER"}
    )


def rpc_ready(api: MetaApi, attempts: list):
    """The websocket client's state of an account with a connected instance; its sends answer 429."""
    ws = api._metaapi_websocket_client
    ws.add_account_cache("acc-1", {"vint-hill": "acc-1"})
    ws._latency_service._connected_instances_cache[f"acc-1:{INSTANCE}"] = True
    ws._socket_instances = {"vint-hill": {0: [{"resolved": True, "requestResolves": {}}]}}
    ws._socket_instances_by_accounts = {0: {"acc-1": 0}}

    async def make_request(account_id, instance_number, request, timeout_in_seconds=None):
        attempts.append(request["type"])
        raise rate_limited(10)

    ws._make_request = make_request
    return ws


async def test_a_429_of_an_rpc_query_is_raised_at_once_with_the_gateways_options():
    gateway = MetaApiGateway(TOKEN, "acc-1", domain=DOMAIN)
    attempts: list = []
    async with sdk_session(gateway._options) as api:
        ws = rpc_ready(api, attempts)
        with pytest.raises(TooManyRequestsException) as raised:
            async with asyncio.timeout(1):
                await ws.get_account_information("acc-1")
    assert attempts == ["getAccountInformation"]
    error = translate_exception(raised.value, platform="mt5")
    assert classify_gateway_error(error).category is Category.RATE_LIMITED
    assert 8 < error.retry_after <= 10


async def test_with_the_sdks_default_retries_a_429_is_slept_through():
    attempts: list = []
    async with sdk_session() as api:
        ws = rpc_ready(api, attempts)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):  # the call's deadline, eaten by the SDK's sleep
                await ws.get_account_information("acc-1")
    assert attempts == ["getAccountInformation"]


@pytest.mark.parametrize(("options", "raised_at_once"), [("gateway", True), ("sdk defaults", False)])
async def test_a_rest_429_with_the_gateways_options(options, raised_at_once):
    gateway = MetaApiGateway(TOKEN, "acc-1", domain=DOMAIN)
    async with sdk_session(gateway._options if options == "gateway" else {}) as api:
        client = api.metatrader_account_api._metatrader_account_client
        when = format_date(datetime.now(UTC) + timedelta(seconds=10))

        async def make_request(request_options):
            request = httpx.Request("GET", request_options["url"])
            body = {"message": "Too many requests", "metadata": {"recommendedRetryTime": when}}
            return httpx.Response(429, json=body, request=request)

        client._http_client._make_request = make_request
        if raised_at_once:
            with pytest.raises(TooManyRequestsException) as raised:
                async with asyncio.timeout(1):
                    await client.get_account("acc-1")
            error = translate_exception(raised.value, platform="mt5")
            assert error.string_code == "http_429" and 8 < error.retry_after <= 10
        else:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await client.get_account("acc-1")


def test_the_gateway_asks_the_sdk_not_to_retry_and_keeps_other_options():
    gateway = MetaApiGateway(TOKEN, "acc-1", domain=DOMAIN, sdk_extra={"useSharedClientApi": True})
    assert gateway._options["retryOpts"] == {"retries": 0}
    assert gateway._options["domain"] == DOMAIN and gateway._options["useSharedClientApi"] is True
    own = MetaApiGateway(TOKEN, "acc-1", sdk_extra={"retryOpts": {"retries": 2}})
    assert own._options["retryOpts"] == {"retries": 2}  # an explicit choice wins


# -- history: in memory, recent only ---------------------------------------------------------------


async def test_recent_history_storage_keeps_nothing_on_disk_and_starts_the_sync_at_the_connection(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    start = datetime.now(UTC) - timedelta(minutes=5)
    async with sdk_session() as api:
        ws = api._metaapi_websocket_client
        asked: list[dict] = []

        async def synchronize(
            account_id, instance_number, host, synchronization_id, orders_from, deals_from, h
        ):
            asked.append({"orders": orders_from, "deals": deals_from})

        ws.synchronize = synchronize
        account = await api.metatrader_account_api.get_account("acc-1")
        storage = RecentHistoryStorage()
        streaming = account.get_streaming_connection(storage, start)
        await streaming.connect()
        assert streaming.history_storage is storage
        connection = streaming._meta_api_connection
        await connection.synchronize(INSTANCE)
        assert asked[-1]["deals"] == start and asked[-1]["orders"] == start
        newer = start + timedelta(minutes=1)
        await storage.on_deal_added(INSTANCE, {"id": "1", "time": newer})
        await storage.on_history_order_added(INSTANCE, {"id": "2", "time": start, "doneTime": newer})
        await connection.synchronize(INSTANCE)  # a resynchronization asks only for what is newer
        assert asked[-1]["deals"] == newer and asked[-1]["orders"] == newer
        assert storage.deals == [] and storage.get_deals_by_position("1") == []
        assert not (tmp_path / ".metaapi").exists()

        # what the SDK does without it: files in the working directory, and all history since 1970
        other = await api.metatrader_account_api.get_account("acc-2")
        default = other.get_streaming_connection()
        await default.connect()
        assert isinstance(default.history_storage, MemoryHistoryStorage)
        assert (tmp_path / ".metaapi").is_dir()
        await default._meta_api_connection.synchronize(INSTANCE)
        assert asked[-1]["deals"] < datetime(1970, 1, 3, tzinfo=UTC)  # the SDK's date(0)
        # not closed here: the SDK's close unsubscribes, which waits up to connectTimeout (60 s) for a socket
        # that never connects, or raises KeyError before one was made (MetaApiWebsocketClient.unsubscribe);
        # the gateway runs closes as tasks of its scope, bounded by close_timeout, as sdk_session does here
    assert [path.name for path in Path(tmp_path).iterdir()] == [".metaapi"]
