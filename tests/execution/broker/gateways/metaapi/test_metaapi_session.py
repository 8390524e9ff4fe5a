"""One MetaApi session as the execution engine uses it: one gateway, connected once, reused for every call.

Over the SDK stand-ins, which count what is opened and behave as the SDK does (see fakes.py): one SDK
object and one RPC connection per session, no streaming and no history download for trading, a lost
connection re-opened once without a duplicate order, nothing left on the loop or on disk afterwards.
"""

import asyncio
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from execution.broker.gateways.base import (
    ConnectionDown,
    GatewayError,
    OrderKind,
    OrderRequest,
    Side,
)
from execution.broker.gateways.metaapi import MetaApiGateway
from execution.broker.gateways.metaapi.sdk import RecentHistoryStorage, TradeException
from execution.broker.gateways.metaapi.tasks import TaskScope
from execution.safety.errors import Category, classify_gateway_error

LOTS = Decimal("0.01")
FAST = {"ready_timeout": 0.2, "close_timeout": 1.0}
MAYBE_SENT = ("connection_lost", "timeout")


def market(tag: str | None = None, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest("EURUSD", side, OrderKind.MARKET, LOTS, client_tag=tag)


class EngineLike:
    """How the execution engine drives one account's gateway: connect once, reuse it; after a CONNECTION
    error disconnect and connect the same gateway again on the next use, and when the failed call may have
    reached the broker (transport 'connection_lost' or 'timeout') look its client tag up before sending
    it again."""

    def __init__(self, gateway: MetaApiGateway) -> None:
        self.gateway = gateway
        self.reopened = 0
        self.looked_up = 0
        self.calls = 0

    async def run(self, operation, *, tag: str | None = None):
        self.calls += 1
        for _attempt in range(3):
            try:
                return await operation()
            except GatewayError as error:
                maybe_sent = error.source == "transport" and error.string_code in MAYBE_SENT
                if classify_gateway_error(error).category is not Category.CONNECTION and not maybe_sent:
                    raise
                await self.gateway.disconnect()
                await self.gateway.connect()
                self.reopened += 1
                if tag is not None and maybe_sent:
                    self.looked_up += 1
                    match = await self.gateway.find_by_client_tag(tag)
                    if match.positions or match.orders or match.deals:
                        return match
        raise AssertionError("still failing after reconnecting")


def session_tasks(gateway: MetaApiGateway) -> list:
    return [] if gateway._scope is None else gateway._scope.pending()


async def hundred_calls(engine: EngineLike, symbol: str = "EURUSD") -> None:
    gateway = engine.gateway
    for cycle in range(10):
        tag = f"cycle-{cycle}"
        opened = await engine.run(
            lambda tag=tag: gateway.place_order(
                OrderRequest(symbol, Side.BUY, OrderKind.MARKET, Decimal("0.03"), client_tag=tag)
            ),
            tag=tag,
        )
        quote = await engine.run(lambda: gateway.price(symbol))
        await engine.run(
            lambda: gateway.modify_position(opened.position_id, quote.bid - Decimal("0.0100"), None)
        )
        await engine.run(lambda: gateway.close_position(opened.position_id, LOTS))
        await engine.run(lambda: gateway.positions())
        await engine.run(lambda: gateway.close_position(opened.position_id))
        pending = await engine.run(
            lambda: gateway.place_order(
                OrderRequest(symbol, Side.BUY, OrderKind.LIMIT, LOTS, price=quote.bid - Decimal("0.0200"))
            )
        )
        await engine.run(
            lambda: gateway.modify_order(pending.order_id, quote.bid - Decimal("0.0300"), None, None)
        )
        await engine.run(lambda: gateway.cancel_order(pending.order_id))
        if cycle % 2:
            await engine.run(lambda: gateway.symbol_spec(symbol))
        else:
            await engine.run(lambda tag=tag: gateway.find_by_client_tag(tag))
    assert engine.calls == 100


# -- the issue's test ------------------------------------------------------------------------------


async def test_one_session_for_100_calls_and_a_dropped_connection_reopened_once_without_duplicates(
    make_metaapi, cloud
):
    gateway, record = await make_metaapi(gateway_options=FAST)
    await gateway.connect()
    engine = EngineLike(gateway)
    await hundred_calls(engine)
    assert (len(cloud.apis), len(cloud.rpc_connections), len(cloud.streaming_connections)) == (1, 1, 0)
    assert gateway.connected and engine.reopened == 0

    # dropped before sending: the trade fails at once as not sent, is re-opened once and sent once
    record.drop_link()
    placed = await engine.run(
        lambda: gateway.place_order(market("after-drop", Side.SELL)),
        tag="after-drop",
    )
    assert engine.reopened == 1 and engine.looked_up == 0
    assert placed.position_id
    assert (len(cloud.apis), len(cloud.rpc_connections)) == (2, 2)
    assert [p.client_tag for p in await gateway.positions()] == ["after-drop"]

    # dropped after sending: the order is done at the broker, the SDK reports the link lost; after one
    # re-open the client tag finds it, and it is not sent again
    record.fail_after(
        "create_market_buy_order",
        TradeException("Connection lost during trade", -11, "TRADE_RETCODE_DISCONNECTED_DURING_TRADE"),
        drop_link=True,
    )
    found = await engine.run(
        lambda: gateway.place_order(market("sent-then-lost")),
        tag="sent-then-lost",
    )
    assert engine.reopened == 2 and engine.looked_up == 1
    assert [p.client_tag for p in found.positions] == ["sent-then-lost"]
    sent = [name for name, args in record.calls if args and args[-1] == {"clientId": "sent-then-lost"}]
    assert sent == ["create_market_buy_order"]  # once: no duplicate order
    assert sorted(p.client_tag for p in await gateway.positions()) == ["after-drop", "sent-then-lost"]
    assert (len(cloud.apis), len(cloud.rpc_connections), len(cloud.streaming_connections)) == (3, 3, 0)
    assert cloud.closed_apis == 2  # each re-open closed the session before it
    await gateway.disconnect()
    assert cloud.closed_apis == 3


async def test_trading_opens_no_streaming_and_downloads_no_history(make_metaapi, cloud):
    gateway, record = await make_metaapi()
    await gateway.connect()
    for tag in ("a", "b", "c"):
        result = await gateway.place_order(
            OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, LOTS, client_tag=tag)
        )
        await gateway.close_position(result.position_id)
    await gateway.disconnect()
    assert cloud.streaming_connections == [] and record.streams == []
    names = {name for name, _args in record.calls}
    assert "get_deals_by_time_range" not in names  # only the position's own deals, for the fill price
    assert names <= {"create_market_buy_order", "close_position", "get_deals_by_position", "get_position"}


# -- a connection without a MetaApi server: nothing is sent, and it says so -------------------------


async def test_the_stand_in_waits_without_limit_like_the_sdk(make_metaapi):
    gateway, record = await make_metaapi()
    await gateway.connect()
    record.drop_link()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await gateway._rpc.get_positions()  # the SDK object itself: no limit of its own
    await gateway.disconnect()


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (
            lambda gw: gw.place_order(market()),
            "trade request",
        ),
        (lambda gw: gw.close_position("123"), "trade request"),
        (lambda gw: gw.positions(), "request"),
    ],
)
async def test_a_call_without_a_server_connection_fails_fast_as_not_sent(make_metaapi, call, what):
    gateway, record = await make_metaapi(gateway_options={"ready_timeout": 0.2, "request_timeout": 30})
    await gateway.connect()
    record.drop_link()
    started = time.monotonic()
    with pytest.raises(GatewayError) as caught:
        await call(gateway)
    assert time.monotonic() - started < 2  # the ready timeout, not the request timeout
    error = caught.value
    assert (error.source, error.string_code) == ("transport", "not_connected")
    assert f"the {what}" in error.message and "was not sent" in error.message
    assert classify_gateway_error(error).category is Category.CONNECTION  # reconnect; not an unknown outcome
    assert record.calls == []  # nothing reached the SDK's request path
    await gateway.disconnect()


async def test_a_server_connection_that_comes_back_within_the_ready_timeout_is_used(make_metaapi):
    gateway, record = await make_metaapi(gateway_options={"ready_timeout": 2.0})
    await gateway.connect()
    (link,) = record.links
    link.down()
    asyncio.get_running_loop().call_later(0.2, link.restore)
    result = await gateway.place_order(market())
    assert result.position_id
    await gateway.disconnect()


async def test_connect_waits_for_the_server_connection_within_its_timeout(make_metaapi, cloud):
    gateway, record = await make_metaapi(gateway_options={"connect_timeout": 1.5, **FAST})
    record.server_available = False
    with pytest.raises(GatewayError) as caught:
        await gateway.connect()
    assert caught.value.string_code == "timeout"
    assert not gateway.connected and cloud.closed_apis == 1 and session_tasks(gateway) == []


# -- streaming: only for its consumers, opened lazily, with recent history only --------------------


async def test_streaming_opens_lazily_once_per_session_with_recent_history(make_metaapi, cloud, clock):
    gateway, record = await make_metaapi(gateway_options={"open_grace": 60})
    await gateway.connect()
    old = await gateway.place_order(market("old"))
    await gateway.close_position(old.position_id)
    clock.advance(hours=2)
    assert cloud.streaming_connections == []
    stream = gateway.events()
    again = gateway.events()
    fresh = await gateway.place_order(market("new"))
    (streaming,) = cloud.streaming_connections  # one, for both streams
    assert isinstance(streaming.history_storage, RecentHistoryStorage)
    assert streaming.history_start_time == gateway._listener.history_start
    assert clock() - timedelta(minutes=10) < streaming.history_start_time <= clock()
    for instance_stream in list(record.streams):
        await instance_stream.drained()
    events = [type(e).__name__ for e in stream.drain()]
    assert (
        events.count("OrderFilled") == 1 and events.count("PositionClosed") == 0
    )  # the old trade is history
    assert [type(e).__name__ for e in again.drain()] == events
    assert fresh.position_id
    await gateway.disconnect()


async def test_subscribing_to_prices_opens_streaming_too(make_metaapi, cloud):
    gateway, record = await make_metaapi()
    await gateway.connect()
    await gateway.subscribe_prices(["GBPUSD"])
    assert len(cloud.streaming_connections) == 1 and record.subscribed == {"GBPUSD"}
    await gateway.disconnect()


async def test_a_gateway_without_streaming_never_opens_it(make_metaapi, cloud):
    gateway, _record = await make_metaapi(gateway_options={"streaming": False})
    await gateway.connect()
    stream = gateway.events()
    with pytest.raises(GatewayError):
        await gateway.subscribe_prices(["EURUSD"])
    await gateway.disconnect()
    assert [type(e) for e in [e async for e in stream]] == [ConnectionDown]
    assert cloud.streaming_connections == []


async def test_no_metaapi_directory_is_created(make_metaapi, cloud, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gateway, record = await make_metaapi(gateway_options=FAST)
    await gateway.connect()
    stream = gateway.events()
    result = await gateway.place_order(market("t"))
    await gateway.close_position(result.position_id)
    for instance_stream in list(record.streams):
        await instance_stream.drained()
    assert stream.drain()
    await gateway.disconnect()
    assert not (tmp_path / ".metaapi").exists()
    assert list(Path(tmp_path).iterdir()) == []


async def test_the_stand_in_uses_the_sdks_file_storage_when_given_none(cloud, tmp_path, monkeypatch):
    """What RecentHistoryStorage avoids: the SDK's default storage writes ./.metaapi (the stand-in uses the
    SDK's real MemoryHistoryStorage, as the SDK does)."""
    monkeypatch.chdir(tmp_path)
    record = await cloud.add_account()
    scope = TaskScope("test")
    with scope.active():
        api = cloud.factory(cloud.issue_token(record.id), {})
        account = await api.metatrader_account_api.get_account(record.id)
        streaming = account.get_streaming_connection()
        await streaming.connect()
        await streaming.wait_synchronized()
    assert (tmp_path / ".metaapi").is_dir()
    scope.start(streaming.close(), closing=True)
    scope.collect(api.close)
    await scope.close(grace=1.0)


# -- teardown: nothing of the session stays on the loop --------------------------------------------


def loop_tasks() -> set:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_disconnect_leaves_no_task_of_the_session_pending(make_metaapi, cloud):
    before = loop_tasks()
    gateway, record = await make_metaapi(gateway_options=FAST)
    await gateway.connect()
    gateway.events()
    await gateway.place_order(market())
    scope = gateway._scope
    assert scope.pending() and loop_tasks() - before  # the SDK's jobs, dispatcher, streaming...
    await gateway.disconnect()
    assert loop_tasks() - before == set()
    assert scope.pending() == [] and scope.adopted >= 5
    assert cloud.apis[0]._websocket_client.closed  # the SDK's scheduled close did run
    assert record.links == []  # and so did the RPC connection's


async def test_without_the_scope_the_sdks_close_leaves_tasks_behind(cloud):
    """The stand-in is as unkind as the SDK: close() alone leaves its socket job and its scheduled close."""
    before = loop_tasks()
    record = await cloud.add_account()
    api = cloud.factory(cloud.issue_token(record.id), {})
    account = await api.metatrader_account_api.get_account(record.id)
    rpc = account.get_rpc_connection()
    await rpc.connect()
    await rpc.close()
    api.close()
    left = loop_tasks() - before
    assert left
    for task in left:
        task.cancel()
    await asyncio.wait(left)


@pytest.mark.parametrize("stage", ["wait_connected", "streaming"])
async def test_a_cancelled_connect_or_stream_leaves_nothing_behind(make_metaapi, cloud, stage):
    before = loop_tasks()
    gateway, record = await make_metaapi(gateway_options={"connect_timeout": 60, **FAST})
    if stage == "wait_connected":
        record.hang_wait_connected = True
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):  # the engine's deadline around connect()
                await gateway.connect()
        assert not gateway.connected
    else:
        await gateway.connect()
        gateway.events()
        await gateway.disconnect()  # while streaming is being opened
    assert loop_tasks() - before == set()
    assert cloud.closed_apis == 1


async def test_a_failed_connect_leaves_nothing_behind(make_metaapi, cloud):
    before = loop_tasks()
    gateway, record = await make_metaapi(state="UNDEPLOYED")
    with pytest.raises(GatewayError):
        await gateway.connect()
    assert loop_tasks() - before == set() and cloud.closed_apis == 1


async def test_reconnecting_the_same_gateway_makes_a_new_session(make_metaapi, cloud):
    gateway, record = await make_metaapi(gateway_options=FAST)
    for _ in range(3):
        await gateway.connect()
        await gateway.account_information()
        await gateway.disconnect()
    assert (len(cloud.apis), len(cloud.rpc_connections), cloud.closed_apis) == (3, 3, 3)
    assert record.links == []


async def test_the_dashboard_streamer_follows_the_account_on_a_session_of_its_own(make_metaapi, cloud, clock):
    """The live streamer's sequence (execution/live/streaming.py: connect, events(), figures, book, price
    subscriptions) over its own gateway, while the engine trades through another that never streams."""
    engine_gateway, record = await make_metaapi(gateway_options={"open_grace": 60, **FAST})
    streamer_gateway = MetaApiGateway(
        engine_gateway._token, record.id, api_factory=cloud.factory, clock=clock, open_grace=60
    )
    await engine_gateway.connect()
    await streamer_gateway.connect()
    stream = streamer_gateway.events()  # subscribed before the first read
    await streamer_gateway.account_information()  # waits for the streaming synchronization
    assert streamer_gateway.streaming_open and len(cloud.streaming_connections) == 1
    await streamer_gateway.positions()
    await streamer_gateway.orders()
    await streamer_gateway.subscribe_prices(["EURUSD"])
    placed = await engine_gateway.place_order(market("from-the-engine"))
    for instance_stream in list(record.streams):
        await instance_stream.drained()
    names = [type(e).__name__ for e in stream.drain()]
    assert "OrderFilled" in names and "PositionOpened" in names
    assert len(cloud.streaming_connections) == 1  # the engine's session opened none
    await engine_gateway.close_position(placed.position_id)
    await engine_gateway.disconnect()
    await streamer_gateway.disconnect()


async def test_a_disconnect_while_streaming_opens_fails_the_waiting_subscription_not_its_task(make_metaapi):
    gateway, _record = await make_metaapi(gateway_options=FAST)
    await gateway.connect()
    subscribing = asyncio.create_task(gateway.subscribe_prices(["EURUSD"]))
    await asyncio.sleep(0)  # the subscription waits for the streaming connection
    await gateway.disconnect()
    with pytest.raises(GatewayError) as caught:
        await subscribing  # a GatewayError, not a CancelledError its caller would take for its own
    assert caught.value.string_code == "not_connected"


async def test_an_error_never_carries_the_token(make_metaapi):
    gateway, record = await make_metaapi()
    await gateway.connect()
    record.fail_next(
        "get_positions", ConnectionError(f"wss://host/ws?auth-token={gateway._token}&protocol=3")
    )
    with pytest.raises(GatewayError) as caught:
        await gateway.positions()
    assert gateway._token not in caught.value.message and "auth-token=***" in caught.value.message
    assert gateway._token not in repr(caught.value) and gateway._token not in str(caught.value)
    await gateway.disconnect()


class _StatelessRpc:
    """An RPC connection object that does not expose the SDK's state: the gateway asks wait_synchronized."""

    def __init__(self, inner, synchronized: bool) -> None:
        self._inner = inner
        self._synchronized = synchronized
        self.waited: list[float] = []

    async def wait_synchronized(self, timeout_in_seconds: float = 300):
        self.waited.append(timeout_in_seconds)
        if not self._synchronized:
            await asyncio.sleep(timeout_in_seconds + 5)  # longer than asked: the gateway bounds it

    def __getattr__(self, name):
        if name == "_meta_api_connection":
            raise AttributeError(name)
        return getattr(self._inner, name)


@pytest.mark.parametrize("synchronized", [True, False])
async def test_without_the_sdks_state_the_gateway_asks_wait_synchronized_bounded(make_metaapi, synchronized):
    gateway, record = await make_metaapi(gateway_options=FAST)
    await gateway.connect()
    stateless = _StatelessRpc(gateway._rpc, synchronized)
    gateway._rpc = stateless
    if synchronized:
        assert (await gateway.account_information()).balance == Decimal(10000)
    else:
        started = time.monotonic()
        with pytest.raises(GatewayError) as caught:
            await gateway.place_order(market())
        assert caught.value.string_code == "not_connected" and time.monotonic() - started < 2
        assert record.calls == []
    assert stateless.waited == [FAST["ready_timeout"]]
    await gateway.disconnect()
