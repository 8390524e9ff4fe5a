"""MetaApiGateway beyond the contract: connection, credentials, timeouts, trade details, history."""

import inspect
import logging
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from execution.broker.gateways.base import (
    ConnectionDown,
    GatewayError,
    OrderKind,
    OrderRequest,
    PendingOrderType,
    Side,
)
from execution.broker.gateways.metaapi import MetaApiGateway, adapter, token_is_unrestricted
from execution.broker.gateways.metaapi.sdk import NotConnectedException, TimeoutException
from tests.execution.broker.gateways.metaapi.fakes import MASTER_TOKEN, Hang

LOTS = Decimal("0.01")


# -- credentials -----------------------------------------------------------------------------------


def test_the_gateway_has_no_way_to_take_a_master_token():
    parameters = inspect.signature(MetaApiGateway).parameters
    assert not [name for name in parameters if "master" in name]
    assert token_is_unrestricted(MASTER_TOKEN)
    with pytest.raises(ValueError, match="unrestricted"):
        MetaApiGateway(MASTER_TOKEN, "acc-1")


async def test_the_factory_only_ever_sees_the_narrowed_token(make_metaapi, cloud):
    gateway, record = await make_metaapi()
    assert not token_is_unrestricted(gateway._token)
    await gateway.connect()
    await gateway.place_order(OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, LOTS))
    await gateway.disconnect()
    assert cloud.tokens_seen == [gateway._token]
    assert MASTER_TOKEN not in cloud.tokens_seen
    assert cloud.tokens[gateway._token] == record.id
    assert gateway._token not in repr(gateway)


async def test_a_token_of_another_account_is_refused(make_metaapi, cloud, clock):
    _gateway, record = await make_metaapi()
    other = await cloud.add_account()
    gateway = MetaApiGateway(cloud.issue_token(other.id), record.id, api_factory=cloud.factory, clock=clock)
    with pytest.raises(GatewayError) as caught:
        await gateway.connect()
    assert (caught.value.source, caught.value.string_code) == ("transport", "forbidden")
    assert not gateway.connected


async def test_the_smoke_test_may_use_an_unrestricted_token(make_metaapi, cloud, clock):
    _gateway, record = await make_metaapi()
    gateway = MetaApiGateway(
        MASTER_TOKEN, record.id, api_factory=cloud.factory, clock=clock, allow_unrestricted_token=True
    )
    await gateway.connect()
    assert (await gateway.account_information()).balance == Decimal(10000)
    await gateway.disconnect()


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError):
        MetaApiGateway("", "acc")
    with pytest.raises(ValueError):
        MetaApiGateway("token", "")
    with pytest.raises(ValueError):
        MetaApiGateway("token", "acc", platform="mt6")


# -- connection ------------------------------------------------------------------------------------


async def test_calls_before_connect_fail_as_not_connected(make_metaapi):
    gateway, _record = await make_metaapi()
    with pytest.raises(GatewayError) as caught:
        await gateway.positions()
    assert (caught.value.source, caught.value.string_code) == ("transport", "not_connected")


async def test_connect_is_idempotent_and_reconnects_with_new_sdk_objects(make_metaapi, cloud):
    gateway, _record = await make_metaapi()
    await gateway.connect()
    await gateway.connect()
    assert len(cloud.apis) == 1
    await gateway.disconnect()
    await gateway.disconnect()
    assert cloud.closed_apis == 1
    await gateway.connect()
    assert len(cloud.apis) == 2
    await gateway.account_information()
    await gateway.disconnect()


@pytest.mark.parametrize(
    ("account", "string_code"),
    [
        ({"state": "UNDEPLOYED"}, "not_connected"),
        ({"connection_status": "DISCONNECTED_FROM_BROKER"}, "timeout"),
    ],
)
async def test_an_account_that_is_not_ready_cannot_connect(make_metaapi, cloud, account, string_code):
    gateway, record = await make_metaapi(**account)
    record.connects_on_deploy = False
    with pytest.raises(GatewayError) as caught:
        await gateway.connect()
    assert (caught.value.source, caught.value.string_code) == ("transport", string_code)
    assert cloud.closed_apis == 1  # what was opened is closed again


async def test_an_unknown_account_is_not_found(cloud, clock):
    gateway = MetaApiGateway(cloud.issue_token("nope"), "nope", api_factory=cloud.factory, clock=clock)
    with pytest.raises(GatewayError) as caught:
        await gateway.connect()
    assert caught.value.string_code == "not_found"


async def test_connect_is_bounded_even_when_the_sdk_never_answers(make_metaapi, cloud):
    gateway, record = await make_metaapi(gateway_options={"connect_timeout": 0.05})
    record.hang_wait_connected = True
    started = time.monotonic()
    with pytest.raises(GatewayError) as caught:
        await gateway.connect()
    assert time.monotonic() - started < 2
    assert (caught.value.source, caught.value.string_code) == ("transport", "timeout")
    assert cloud.closed_apis == 1


async def test_a_streaming_failure_ends_the_streams_and_leaves_rpc_working(make_metaapi, cloud):
    """Streaming is opened lazily by events(), so its failure no longer fails connect() (it did when streaming
    was opened at connect): the streams get ConnectionDown and end (their consumer reconnects), the failed
    streaming connection is closed (as the SDK closes it), RPC works on, and the next events() tries again."""
    gateway, record = await make_metaapi()
    await gateway.connect()
    record.fail_next("streaming.connect", TimeoutException("Timed out waiting for MetaApi to synchronize"))
    events = [event async for event in gateway.events()]
    assert [type(e) for e in events] == [ConnectionDown]
    assert events[0].reason.startswith("streaming failed") and "Timed out" in events[0].reason
    (failed,) = cloud.streaming_connections
    assert failed._closed and failed not in record.streams  # nothing half-open
    assert (await gateway.account_information()).balance == Decimal(10000)
    record.fail_next("streaming.connect", TimeoutException("Timed out waiting for MetaApi to synchronize"))
    with pytest.raises(GatewayError) as caught:
        await gateway.open_streaming()
    assert caught.value.string_code == "timeout"
    stream = gateway.events()
    await gateway.open_streaming()  # a third attempt works
    assert gateway.streaming_open and len(cloud.streaming_connections) == 3
    await gateway.disconnect()
    assert isinstance([event async for event in stream][-1], ConnectionDown)


async def test_each_call_is_bounded_by_the_request_timeout(make_metaapi):
    gateway, record = await make_metaapi(gateway_options={"request_timeout": 0.05})
    await gateway.connect()
    record.fail_next("get_positions", Hang())
    with pytest.raises(GatewayError) as caught:
        await gateway.positions()
    assert caught.value.string_code == "timeout"
    await gateway.disconnect()


async def test_the_platform_is_the_accounts_own(make_metaapi, caplog):
    gateway, _record = await make_metaapi(
        server="SimTrade-Pro", platform="mt4", gateway_options={"platform": "mt5"}
    )
    assert gateway.platform == "mt5"
    with caplog.at_level(logging.WARNING):
        await gateway.connect()
    assert gateway.platform == "mt4"
    assert "is mt4, configured as mt5" in caplog.text
    with pytest.raises(GatewayError) as caught:
        await gateway.place_order(OrderRequest("US30.cash", Side.BUY, OrderKind.MARKET, Decimal("0.001")))
    assert (caught.value.source, caught.value.code) == ("mt4", 131)
    await gateway.disconnect()


# -- trading details -------------------------------------------------------------------------------


async def test_the_client_tag_is_the_client_id_trade_option(make_metaapi):
    gateway, record = await make_metaapi()
    await gateway.connect()
    await gateway.place_order(OrderRequest("EURUSD", Side.SELL, OrderKind.MARKET, LOTS, client_tag="sig-42"))
    name, args = next(call for call in record.calls if call[0] == "create_market_sell_order")
    assert args[-1] == {"clientId": "sig-42"}
    assert args[1] == 0.01 and isinstance(args[1], float)
    await gateway.disconnect()


async def test_a_done_trade_stays_done_when_its_details_cannot_be_read(make_metaapi):
    gateway, record = await make_metaapi()
    await gateway.connect()
    record.fail_next("get_deals_by_position", NotConnectedException("gone"))
    record.fail_next("get_position", NotConnectedException("gone"))
    result = await gateway.place_order(OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, LOTS))
    assert result.code == 10009 and result.position_id
    assert (result.price, result.volume) == (None, LOTS)
    assert [p.id for p in await gateway.positions()] == [result.position_id]
    record.fail_next("get_deals_by_position", NotConnectedException("gone"))
    closed = await gateway.close_position(result.position_id)
    assert closed.code == 10009 and closed.price is None
    await gateway.disconnect()


async def test_details_fall_back_to_the_position_when_deals_are_not_there_yet(make_metaapi):
    gateway, record = await make_metaapi()
    await gateway.connect()
    record.fail_next("get_deals_by_position", NotConnectedException("history lags"))
    quote = await gateway.price("EURUSD")
    result = await gateway.place_order(OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, Decimal("0.02")))
    assert (result.price, result.volume) == (quote.ask, Decimal("0.02"))
    await gateway.disconnect()


async def test_pending_orders_need_a_price(make_metaapi):
    gateway, record = await make_metaapi()
    await gateway.connect()
    with pytest.raises(GatewayError) as caught:
        await gateway.place_order(OrderRequest("EURUSD", Side.BUY, OrderKind.STOP, LOTS))
    assert caught.value.string_code == "validation"
    assert not [call for call in record.calls if call[0].startswith("create_")]
    await gateway.disconnect()


async def test_modify_order_removes_levels_with_zero(make_metaapi):
    gateway, record = await make_metaapi()
    await gateway.connect()
    quote = await gateway.price("EURUSD")
    price = quote.bid - Decimal("0.0100")
    placed = await gateway.place_order(
        OrderRequest("EURUSD", Side.BUY, OrderKind.LIMIT, LOTS, price=price, sl=price - Decimal("0.01"))
    )
    result = await gateway.modify_order(placed.order_id, price, None, price + Decimal("0.01"))
    assert result.code == 10009 and result.order_id == placed.order_id
    (order,) = await gateway.orders()
    assert (order.type, order.sl, order.tp) == (PendingOrderType.BUY_LIMIT, None, price + Decimal("0.01"))
    await gateway.disconnect()


# -- history ---------------------------------------------------------------------------------------


async def test_history_that_is_still_synchronizing_is_not_trusted(make_metaapi, clock):
    gateway, record = await make_metaapi()
    await gateway.connect()
    record.history_synchronizing = True
    with pytest.raises(GatewayError) as caught:
        await gateway.find_by_client_tag("anything")
    assert (caught.value.source, caught.value.string_code) == ("transport", "not_synchronized")
    with pytest.raises(GatewayError):
        await gateway.history_deals(clock() - timedelta(days=1))
    await gateway.disconnect()


async def test_history_is_read_page_by_page(make_metaapi, clock, monkeypatch):
    monkeypatch.setattr(adapter, "DEAL_PAGE", 2)
    gateway, record = await make_metaapi()
    await gateway.connect()
    for _ in range(3):
        result = await gateway.place_order(
            OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, LOTS, client_tag="p")
        )
        await gateway.close_position(result.position_id)
    deals = await gateway.history_deals(clock() - timedelta(hours=1))
    assert len(deals) == 6 and len({d.id for d in deals}) == 6
    assert [c for c in record.calls if c[0] == "get_deals_by_time_range"][-1][1][2:] == (6, 2)
    match = await gateway.find_by_client_tag("p")
    assert len(match.deals) == 6
    assert await gateway.history_deals(clock() - timedelta(hours=1), clock() - timedelta(minutes=1)) == []
    await gateway.disconnect()


async def test_the_broker_offset_is_read_once_an_hour(make_metaapi, clock):
    gateway, record = await make_metaapi()
    await gateway.connect()
    await gateway.symbol_spec("EURUSD")
    await gateway.symbol_spec("GBPUSD")
    clock.advance(hours=2)
    await gateway.symbol_spec("EURUSD")
    assert [c[0] for c in record.calls].count("get_server_time") == 2
    await gateway.disconnect()


async def test_malformed_answers_become_gateway_errors(make_metaapi, monkeypatch):
    gateway, _record = await make_metaapi()
    await gateway.connect()

    async def broken(options=None):
        return {"balance": "lots", "equity": 1.0}

    monkeypatch.setattr(gateway._rpc, "get_account_information", broken)
    with pytest.raises(GatewayError) as caught:
        await gateway.account_information()
    assert (caught.value.source, caught.value.string_code) == ("transport", "internal")
    await gateway.disconnect()
