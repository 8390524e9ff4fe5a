"""Streaming: SDK callbacks (two instances, resynchronizations, odd orders) -> gateway events."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from execution.broker.gateways.base import (
    AccountFigures,
    CloseReason,
    ConnectionDown,
    ConnectionUp,
    GatewayError,
    OrderCancelled,
    OrderFilled,
    OrderKind,
    OrderRequest,
    PositionClosed,
    PositionModified,
    PositionOpened,
    PriceTick,
    Side,
)
from execution.broker.gateways.metaapi import MetaApiGateway
from execution.broker.gateways.metaapi.events import EventHub, MetaApiEventListener
from tests.execution.broker.gateways.metaapi.fakes import INSTANCES, FakeCloud

I0, I1 = INSTANCES
LOTS = Decimal("0.01")


async def settle(record) -> None:
    """Wait until the streaming connections delivered everything sent so far."""
    for stream in list(record.streams):
        await stream.drained()


def trade_events(events):
    return [e for e in events if not isinstance(e, AccountFigures | PriceTick)]


@pytest.fixture
async def connected(make_metaapi):
    """A connected, streaming gateway whose new positions never wait for the timer (the deal must publish
    them)."""
    gateway, record = await make_metaapi(gateway_options={"open_grace": 60})
    await gateway.connect()
    await gateway.open_streaming()  # synchronized: the streams opened by the tests see only news
    yield gateway, record
    await gateway.disconnect()


async def test_each_change_is_published_once_and_in_order_despite_two_instances(connected):
    gateway, record = connected
    stream = gateway.events()
    result = await gateway.place_order(
        OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, Decimal("0.03"), client_tag="tag-once")
    )
    await gateway.close_position(result.position_id, LOTS)
    await gateway.close_position(result.position_id)
    await settle(record)
    events = trade_events(stream.drain())
    assert [type(e) for e in events] == [OrderFilled, PositionOpened, PositionClosed, PositionClosed]
    filled, opened, partial, full = events
    assert (filled.order_id, filled.position_id, filled.volume, filled.price) == (
        result.order_id,
        result.position_id,
        Decimal("0.03"),
        result.price,
    )
    assert opened.position.client_tag == "tag-once"
    assert (partial.volume, partial.remaining_volume, partial.reason) == (
        LOTS,
        Decimal("0.02"),
        CloseReason.CLIENT,
    )
    assert (full.volume, full.remaining_volume) == (Decimal("0.02"), Decimal(0))
    assert full.open_price == result.price and full.side is Side.BUY
    assert full.client_tag == "tag-once"  # the closing deal has no clientId: the position's tag
    balance = (await gateway.account_information()).balance
    assert balance == Decimal(10000) + partial.profit + full.profit


async def test_sl_tp_changes_are_position_modified(connected):
    gateway, record = connected
    result = await gateway.place_order(OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, LOTS))
    quote = await gateway.price("EURUSD")
    await settle(record)
    stream = gateway.events()
    await gateway.modify_position(result.position_id, quote.bid - Decimal("0.0100"), None)
    unchanged = await gateway.modify_position(result.position_id, quote.bid - Decimal("0.0100"), None)
    assert unchanged.code == 10025
    await gateway.modify_position(result.position_id, None, None)
    await settle(record)
    events = trade_events(stream.drain())
    assert [type(e) for e in events] == [PositionModified, PositionModified]
    assert events[0].position.sl == quote.bid - Decimal("0.0100")
    assert events[1].position.sl is None
    assert ("modify_position", (result.position_id, 0.0, 0.0)) in record.calls  # 0 removes both levels


async def test_a_cancelled_pending_order_is_order_cancelled(connected):
    gateway, record = connected
    quote = await gateway.price("EURUSD")
    placed = await gateway.place_order(
        OrderRequest(
            "EURUSD", Side.BUY, OrderKind.LIMIT, LOTS, price=quote.bid - Decimal("0.01"), client_tag="pend"
        )
    )
    stream = gateway.events()
    await gateway.cancel_order(placed.order_id)
    await settle(record)
    events = trade_events(stream.drain())
    assert len(events) == 1 and isinstance(events[0], OrderCancelled)
    assert (events[0].order_id, events[0].reason, events[0].client_tag) == (
        placed.order_id,
        "cancelled",
        "pend",
    )


async def test_a_resynchronization_replays_nothing_already_seen(connected):
    gateway, record = connected
    result = await gateway.place_order(
        OrderRequest("EURUSD", Side.SELL, OrderKind.MARKET, LOTS, client_tag="x")
    )
    await gateway.close_position(result.position_id)
    await gateway.place_order(OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, LOTS))
    await settle(record)
    stream = gateway.events()
    for instance in INSTANCES:
        record.broadcast([("on_disconnected",)], (instance,))
    for instance in INSTANCES:
        record.broadcast(record.sync_packet(instance), (instance,))
    await settle(record)
    events = stream.drain()
    assert [type(e) for e in events] == [ConnectionDown, ConnectionUp]


async def test_link_state_follows_the_instances_and_the_broker_connection(connected):
    gateway, record = connected
    stream = gateway.events()
    record.broadcast([("on_disconnected",)], (I0,))
    await settle(record)
    assert stream.drain() == []  # the other instance still serves the account
    record.broadcast([("on_disconnected",)], (I1,))
    record.broadcast([("on_connected", 1)], (I0,))
    record.broadcast([("on_broker_connection_status_changed", False)], (I0,))
    record.broadcast([("on_broker_connection_status_changed", True)], (I0,))
    await settle(record)
    events = stream.drain()
    assert [type(e) for e in events] == [ConnectionDown, ConnectionUp, ConnectionDown, ConnectionUp]
    assert events[0].reason == "disconnected" and events[2].reason == "broker_disconnected"


async def test_price_ticks_and_account_figures(connected, clock):
    gateway, record = connected
    await gateway.subscribe_prices(["GBPUSD"])
    await gateway.place_order(OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, Decimal("0.1")))
    await settle(record)
    stream = gateway.events()
    clock.advance(seconds=30)
    await record.tick()
    await settle(record)
    events = stream.drain()
    ticks = [e for e in events if isinstance(e, PriceTick)]
    assert sorted(t.price.symbol for t in ticks) == ["EURUSD", "GBPUSD"]  # once each, not once per instance
    assert all(t.price.time == clock() for t in ticks)
    figures = [e for e in events if isinstance(e, AccountFigures)]
    info = await gateway.account_information()
    assert figures and figures[-1].info.equity == info.equity


async def test_subscribing_to_an_unknown_symbol_fails(connected):
    gateway, _record = connected
    with pytest.raises(GatewayError) as caught:
        await gateway.subscribe_prices(["NO_SUCH_SYMBOL"])
    assert (caught.value.source, caught.value.string_code) == ("transport", "validation")


async def test_streams_end_at_disconnect_and_need_a_connection(make_metaapi):
    gateway, _record = await make_metaapi()
    before = gateway.events()
    assert [e async for e in before] == []
    await gateway.connect()
    stream = gateway.events()
    await gateway.disconnect()
    events = [e async for e in stream]
    assert [type(e) for e in events] == [ConnectionDown] and events[0].reason == "client"
    assert [e async for e in gateway.events()] == []


# -- a pending order filled by the market, then stopped out ----------------------------------------


@pytest.fixture
def scripted_cloud(scripted_engine, clock):
    return FakeCloud(scripted_engine, clock=clock)


async def test_pending_fill_then_stop_loss(scripted_cloud, scripted, clock):
    scripted.set("EURUSD", 1.10000)
    record = await scripted_cloud.add_account()
    gateway = MetaApiGateway(
        scripted_cloud.issue_token(record.id),
        record.id,
        api_factory=scripted_cloud.factory,
        clock=clock,
        open_grace=60,
    )
    await gateway.connect()
    await gateway.open_streaming()
    stream = gateway.events()
    placed = await gateway.place_order(
        OrderRequest(
            "EURUSD",
            Side.BUY,
            OrderKind.LIMIT,
            LOTS,
            price=Decimal("1.09900"),
            sl=Decimal("1.09500"),
            client_tag="dip",
        )
    )
    now = int(clock().timestamp())
    scripted.set("EURUSD", 1.09800, at=now + 1)
    scripted.set("EURUSD", 1.09400, at=now + 3)
    clock.advance(seconds=2)
    await record.tick()
    clock.advance(seconds=2)
    await record.tick()
    await settle(record)
    events = trade_events(stream.drain())
    assert [type(e) for e in events] == [OrderFilled, PositionOpened, PositionClosed]
    filled, opened, closed = events
    assert filled.order_id == placed.order_id and filled.client_tag == "dip"
    assert opened.position.id == filled.position_id
    assert (closed.reason, closed.remaining_volume, closed.client_tag) == (CloseReason.SL, Decimal(0), "dip")
    await gateway.disconnect()


# -- the listener alone ----------------------------------------------------------------------------


@pytest.fixture
def hub():
    return EventHub()


def listener_for(hub, clock, **options):
    listener = MetaApiEventListener(hub.publish, clock=clock, since=clock(), **options)
    listener.seed_positions([])
    return listener


def position(pid="5", *, volume=0.1, sl=None, update=None, clock=None, tag=None):
    data = {
        "id": pid,
        "type": "POSITION_TYPE_BUY",
        "symbol": "EURUSD",
        "time": clock(),
        "updateTime": update or clock(),
        "openPrice": 1.1,
        "currentPrice": 1.1,
        "volume": volume,
        "unrealizedProfit": 0.0,
    }
    if sl is not None:
        data["stopLoss"] = sl
    if tag:
        data["clientId"] = tag
    return data


def deal(did, *, entry="DEAL_ENTRY_IN", pid="5", time=None, volume=0.1, kind="DEAL_TYPE_BUY", tag=None):
    data = {
        "id": did,
        "type": kind,
        "entryType": entry,
        "symbol": "EURUSD",
        "time": time,
        "volume": volume,
        "price": 1.1,
        "profit": 0.0,
        "positionId": pid,
        "orderId": f"o{did}",
    }
    if tag:
        data["clientId"] = tag
    return data


async def test_history_replayed_by_a_synchronization_is_not_news(hub, clock):
    listener = listener_for(hub, clock)
    stream = hub.open(active=True)
    old = clock() - timedelta(hours=2)
    await listener.on_synchronization_started(I0, synchronization_id="s1")
    await listener.on_deal_added(I0, deal("1", time=old))
    await listener.on_deal_added(
        I0, deal("2", pid="6", time=clock() + timedelta(seconds=5))
    )  # during an outage
    await listener.on_history_order_added(
        I0,
        {
            "id": "9",
            "type": "ORDER_TYPE_BUY_LIMIT",
            "state": "ORDER_STATE_CANCELED",
            "symbol": "EURUSD",
            "doneTime": old,
        },
    )
    await listener.on_deals_synchronized(I0, "s1")
    await listener.on_history_orders_synchronized(I0, "s1")
    await listener.on_deal_added(I1, deal("1", time=old))  # the other instance: already seen
    await listener.on_deal_added(I0, deal("3", pid="7", time=old))  # live update with an odd time: news
    events = stream.drain()
    assert [(type(e), getattr(e, "position_id", None)) for e in events] == [
        (OrderFilled, "6"),
        (OrderFilled, "7"),
    ]


async def test_stale_position_updates_are_ignored(hub, clock):
    listener = listener_for(hub, clock, open_grace=60)
    stream = hub.open(active=True)
    later = clock() + timedelta(seconds=10)
    await listener.on_position_updated(I0, position(clock=clock))
    await listener.on_deal_added(I0, deal("1", time=clock()))
    await listener.on_position_updated(I0, position(sl=1.05, update=later, clock=clock))
    await listener.on_position_updated(I1, position(clock=clock))  # lagging instance: older update time
    await listener.on_position_removed(I0, "5")
    await listener.on_position_updated(I1, position(sl=1.05, update=later, clock=clock))  # after removal
    events = stream.drain()
    assert [type(e) for e in events] == [OrderFilled, PositionOpened, PositionModified]
    assert events[2].position.sl == Decimal("1.05")


async def test_a_position_without_its_deal_is_published_after_the_grace(hub, clock):
    listener = listener_for(hub, clock, open_grace=0.01)
    stream = hub.open(active=True)
    await listener.on_position_updated(I0, position(clock=clock))
    assert stream.drain() == []
    event = await asyncio.wait_for(anext(stream), 1)
    assert isinstance(event, PositionOpened) and event.position.id == "5"
    listener.close()


async def test_a_deal_before_its_position_still_gives_filled_then_opened(hub, clock):
    listener = listener_for(hub, clock, open_grace=60)
    stream = hub.open(active=True)
    await listener.on_deal_added(I0, deal("1", time=clock(), tag="t"))
    await listener.on_position_updated(I0, position(clock=clock, tag="t"))
    assert [type(e) for e in stream.drain()] == [OrderFilled, PositionOpened]


async def test_a_closing_deal_before_the_position_update_computes_what_remains(hub, clock):
    listener = listener_for(hub, clock, open_grace=60)
    stream = hub.open(active=True)
    await listener.on_position_updated(I0, position(volume=0.3, clock=clock))
    await listener.on_deal_added(I0, deal("1", volume=0.3, time=clock()))
    closing = deal(
        "2", entry="DEAL_ENTRY_OUT", kind="DEAL_TYPE_SELL", volume=0.1, time=clock() + timedelta(seconds=1)
    )
    await listener.on_deal_added(I0, closing)
    events = stream.drain()
    assert isinstance(events[-1], PositionClosed)
    assert (events[-1].remaining_volume, events[-1].side) == (Decimal("0.2"), Side.BUY)


async def test_a_closed_listener_is_silent_and_never_raises_into_the_sdk(hub, clock):
    listener = listener_for(hub, clock)
    stream = hub.open(active=True)
    await listener.on_deal_added(I0, {"id": "1", "type": "DEAL_TYPE_BUY", "entryType": "SOMETHING_NEW"})
    await listener.on_symbol_price_updated(I0, {"symbol": "EURUSD"})  # malformed: logged, not raised
    listener.close()
    await listener.on_connected(I0, 1)
    assert stream.drain() == []
