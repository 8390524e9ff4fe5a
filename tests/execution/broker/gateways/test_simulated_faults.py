"""Fault injection (latency, scripted codes, error rate, disconnects, unknown outcomes) and the gateway."""

import json
from decimal import Decimal as D

import pytest

from execution.broker.gateways.base import (
    AccountFigures,
    ConnectionDown,
    ConnectionUp,
    GatewayError,
    OrderFilled,
    OrderKind,
    OrderRequest,
    PositionClosed,
    PositionOpened,
    PriceTick,
    Side,
)
from execution.broker.gateways.simulated import FaultSettings, SimulatedEngine, SimulatedGateway, run_inline

BUY = OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, D("0.10"))


def buy(tag=None, symbol="EURUSD") -> OrderRequest:
    return OrderRequest(symbol, Side.BUY, OrderKind.MARKET, D("0.10"), client_tag=tag)


async def outcome(call):
    try:
        await call
    except GatewayError as error:
        return error.code if error.code is not None else error.string_code
    return "ok"


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------


def test_fault_settings_round_trip_through_json():
    faults = FaultSettings(
        latency_seconds=0.25,
        scripted_errors=[10024, "timeout_after", 10004],
        error_rate=0.1,
        error_rate_code=10031,
        error_seed=4,
        disconnected=True,
        applies_to="trading",
        retry_after_seconds=2.5,
    )
    text = faults.to_json()
    assert json.loads(text)["scripted_errors"] == [10024, "timeout_after", 10004]
    assert FaultSettings.from_json(text) == faults
    assert FaultSettings.from_dict({}) == FaultSettings()


@pytest.mark.parametrize(
    "bad",
    [
        {"error_rate": 1.5},
        {"latency_seconds": -1},
        {"applies_to": "everything"},
        {"scripted_errors": ["explode"]},
        {"no_such_setting": 1},
    ],
)
def test_invalid_fault_settings_are_refused(bad):
    with pytest.raises(ValueError):
        FaultSettings.from_dict(bad)


# --------------------------------------------------------------------------------------------------
# Faults through the gateway
# --------------------------------------------------------------------------------------------------


@pytest.fixture
async def gw(make_gateway):
    gateway = make_gateway("acc-f")
    await gateway.connect()
    yield gateway
    await gateway.disconnect()


async def test_latency_is_applied_through_the_injected_sleep_and_recorded(gw, engine, sleep):
    engine.set_faults("account:acc-f", FaultSettings(latency_seconds=1.5))
    engine.set_faults("platform:mt5", FaultSettings(latency_seconds=0.25))
    await gw.place_order(BUY)
    await gw.account_information()
    assert sleep.calls == [1.75, 1.75]
    assert gw.latency_log == [("place_order", 1.75), ("account_information", 1.75)]


async def test_latency_only_for_trading_calls(gw, engine, sleep):
    engine.set_faults("account:acc-f", FaultSettings(latency_seconds=2, applies_to="trading"))
    await gw.positions()
    await gw.place_order(BUY)
    assert gw.latency_log == [("place_order", 2)]


async def test_scripted_codes_fail_the_next_calls_in_order(gw, engine):
    engine.set_faults("account:acc-f", FaultSettings(scripted_errors=[10024, 10004, 10031]))
    results = [await outcome(gw.place_order(BUY)) for _ in range(4)]
    assert results == [10024, 10004, 10031, "ok"]
    assert engine.get_faults("account:acc-f").scripted_errors == []
    assert len(await gw.positions()) == 1


async def test_scripted_errors_carry_names_sources_and_retry_after(gw, engine):
    engine.set_faults("account:acc-f", FaultSettings(scripted_errors=[10024, 10004], retry_after_seconds=3))
    with pytest.raises(GatewayError) as caught:
        await gw.place_order(BUY)
    error = caught.value
    assert (error.source, error.code, error.string_code, error.retry_after) == (
        "mt5",
        10024,
        "TRADE_RETCODE_TOO_MANY_REQUESTS",
        3,
    )
    with pytest.raises(GatewayError) as caught:
        await gw.place_order(BUY)
    assert (caught.value.string_code, caught.value.retry_after) == ("TRADE_RETCODE_REQUOTE", None)


async def test_scripted_codes_are_translated_for_mt4(make_gateway, engine):
    gateway = make_gateway("acc-mt4", platform="mt4")
    await gateway.connect()
    engine.set_faults("account:acc-mt4", FaultSettings(scripted_errors=[10024, 10018]))
    assert [await outcome(gateway.place_order(BUY)) for _ in range(2)] == [141, 132]


async def test_platform_faults_hit_every_account_of_that_platform_only(make_gateway, engine):
    mt5_a, mt5_b, mt4 = make_gateway("a"), make_gateway("b"), make_gateway("c", platform="mt4")
    for gateway in (mt5_a, mt5_b, mt4):
        await gateway.connect()
    engine.set_faults("platform:mt5", FaultSettings(scripted_errors=[10024, 10024]))
    assert await outcome(mt4.place_order(BUY)) == "ok"
    assert await outcome(mt5_a.place_order(BUY)) == 10024
    assert await outcome(mt5_b.place_order(BUY)) == 10024
    assert await outcome(mt5_a.place_order(BUY)) == "ok"


async def test_faults_for_queries_do_not_block_trading(gw, engine):
    engine.set_faults(
        "account:acc-f", FaultSettings(error_rate=1.0, error_rate_code=10031, applies_to="queries")
    )
    assert await outcome(gw.place_order(BUY)) == "ok"
    assert await outcome(gw.positions()) == 10031


async def test_error_rate_is_seeded_and_reproducible(make_gateway, engine, clock):
    gateway = make_gateway("acc-f")
    await gateway.connect()
    engine.set_faults("account:acc-f", FaultSettings(error_rate=0.3, error_seed=8))
    pattern = [await outcome(gateway.account_information()) for _ in range(60)]
    failures = pattern.count(10024)
    assert 8 <= failures <= 30
    assert set(pattern) == {10024, "ok"}

    other = SimulatedEngine(clock=clock, seed=1)  # another process with its own store, same settings
    replay = SimulatedGateway(other, "acc-f", run_sync=run_inline)
    await replay.connect()
    other.set_faults("account:acc-f", FaultSettings(error_rate=0.3, error_seed=8))
    assert [await outcome(replay.account_information()) for _ in range(60)] == pattern


async def test_error_rate_zero_and_one(gw, engine):
    engine.set_faults("account:acc-f", FaultSettings(error_rate=0.0))
    assert {await outcome(gw.account_information()) for _ in range(20)} == {"ok"}
    engine.set_faults("account:acc-f", FaultSettings(error_rate=1.0, error_rate_code=10006))
    assert {await outcome(gw.account_information()) for _ in range(20)} == {10006}


async def test_disconnect_fault_emits_connection_down_and_reconnect_restores(gw, engine):
    stream = gw.events()
    engine.set_faults("account:acc-f", FaultSettings(disconnected=True))
    for call in (gw.account_information(), gw.place_order(BUY), gw.pump()):
        with pytest.raises(GatewayError) as caught:
            await call
        assert (caught.value.source, caught.value.code, caught.value.string_code) == (
            "transport",
            None,
            "not_connected",
        )
    assert not gw.connected
    assert [type(e) for e in stream.drain()] == [ConnectionDown]  # once, not per call

    engine.set_faults("account:acc-f", FaultSettings())
    assert await outcome(gw.account_information()) == "ok"
    assert gw.connected
    assert [type(e) for e in stream.drain()] == [ConnectionUp]
    assert await gw.positions() == []  # the order sent while disconnected never reached the server


async def test_connect_fails_while_the_platform_is_down(make_gateway, engine):
    engine.open_account("acc-down", server="SimBroker-Demo")
    engine.set_faults("platform:mt5", FaultSettings(disconnected=True))
    gateway = make_gateway("acc-down")
    with pytest.raises(GatewayError) as caught:
        await gateway.connect()
    assert caught.value.string_code == "not_connected"
    engine.set_faults("platform:mt5", FaultSettings())
    await gateway.connect()
    assert gateway.connected


async def test_server_keeps_evaluating_sl_while_the_client_is_disconnected(gw, engine, clock):
    quote = await gw.price("EURUSD")
    result = await gw.place_order(
        OrderRequest("EURUSD", Side.SELL, OrderKind.MARKET, D("0.10"), sl=quote.ask + D("0.00030"))
    )
    engine.set_faults("account:acc-f", FaultSettings(disconnected=True))
    for _ in range(40):  # walk the deterministic feed until the SL is hit
        clock.advance(minutes=15)
        await outcome(gw.positions())
        if not engine.load_account("acc-f").positions:
            break
    (deal,) = [d for d in engine.load_account("acc-f").history if d.entry.value == "out"]
    assert deal.position_id == result.position_id and deal.reason.value == "sl"
    engine.set_faults("account:acc-f", FaultSettings())
    assert await gw.positions() == []


async def test_timeout_after_execution_leaves_an_unknown_outcome_resolved_by_the_client_tag(gw, engine):
    engine.set_faults("account:acc-f", FaultSettings(scripted_errors=["timeout_after"]))
    with pytest.raises(GatewayError) as caught:
        await gw.place_order(buy("sig-1001-tp1"))
    assert (caught.value.source, caught.value.string_code) == ("transport", "timeout")
    match = await gw.find_by_client_tag("sig-1001-tp1")
    assert len(match.positions) == 1  # it was executed: do not send it again


async def test_timeout_before_execution_does_nothing(gw, engine):
    engine.set_faults("account:acc-f", FaultSettings(scripted_errors=["timeout"]))
    with pytest.raises(GatewayError) as caught:
        await gw.place_order(buy("sig-1002"))
    assert caught.value.string_code == "timeout"
    assert not await gw.find_by_client_tag("sig-1002")


# --------------------------------------------------------------------------------------------------
# Gateway behaviour
# --------------------------------------------------------------------------------------------------


async def test_calls_before_connect_raise_not_connected(make_gateway):
    gateway = make_gateway("acc-new")
    with pytest.raises(GatewayError) as caught:
        await gateway.account_information()
    assert caught.value.string_code == "not_connected"


async def test_unexpected_failures_leave_as_gateway_errors(make_gateway, engine, monkeypatch):
    gateway = make_gateway("acc-x")
    await gateway.connect()

    def broken(key):
        raise OSError("disk full")

    monkeypatch.setattr(engine.store, "load", broken)
    with pytest.raises(GatewayError) as caught:
        await gateway.positions()
    assert (caught.value.source, caught.value.string_code) == ("transport", "internal")
    assert "disk full" in caught.value.message


async def test_pump_publishes_ticks_figures_and_server_side_closes(gw, engine, clock):
    stream = gw.events()
    await gw.subscribe_prices(["XAUUSD"])
    quote = await gw.price("EURUSD")
    await gw.place_order(
        OrderRequest(
            "EURUSD", Side.BUY, OrderKind.MARKET, D("0.10"), tp=quote.bid + D("0.00020"), client_tag="tp"
        )
    )
    assert [type(e) for e in stream.drain()] == [OrderFilled, PositionOpened]

    published = await gw.pump()
    assert {e.price.symbol for e in published if isinstance(e, PriceTick)} == {"EURUSD", "XAUUSD"}
    assert [type(e) for e in published if isinstance(e, AccountFigures)] == [AccountFigures]
    assert await gw.pump() == []  # nothing changed within the same second

    closed = None
    for _ in range(100):
        clock.advance(30)
        for event in await gw.pump():
            if isinstance(event, PositionClosed):
                closed = event
        if closed:
            break
    assert closed is not None and closed.reason.value == "tp" and closed.client_tag == "tp"
    assert any(isinstance(e, PositionClosed) for e in stream.drain())


async def test_subscribe_to_an_unknown_symbol_fails(gw):
    with pytest.raises(GatewayError) as caught:
        await gw.subscribe_prices(["NOPE"])
    assert caught.value.code == 4301


async def test_events_from_another_process_reach_this_gateway(tmp_path, clock, sleep):
    from execution.broker.gateways.simulated import JsonFileStateStore

    first = SimulatedGateway(
        SimulatedEngine(JsonFileStateStore(tmp_path), clock=clock), "shared", run_sync=run_inline, sleep=sleep
    )
    second = SimulatedGateway(
        SimulatedEngine(JsonFileStateStore(tmp_path), clock=clock), "shared", run_sync=run_inline, sleep=sleep
    )
    await first.connect()
    await second.connect()
    stream = second.events()
    result = await first.place_order(buy("cross"))
    await second.pump()
    filled = [e for e in stream.drain() if isinstance(e, OrderFilled)]
    assert [(e.position_id, e.client_tag) for e in filled] == [(result.position_id, "cross")]


async def test_disconnect_ends_streams(gw):
    stream = gw.events()
    await gw.disconnect()
    events = [event async for event in stream]
    assert [type(e) for e in events] == [ConnectionDown]
    assert events[0].reason == "client"
    assert [e async for e in gw.events()] == []  # a stream opened while disconnected is already over


async def test_a_slow_consumer_loses_the_oldest_events(make_gateway):
    gateway = make_gateway("acc-q", max_queue=3)
    await gateway.connect()
    stream = gateway.events()
    for _ in range(3):
        await gateway.place_order(BUY)
    assert stream.dropped == 3
    assert len(stream.drain()) == 3


async def test_update_faults_changes_only_the_given_settings(gw, engine):
    engine.set_faults("account:acc-f", FaultSettings(latency_seconds=0.5))
    engine.update_faults("account:acc-f", disconnected=True)
    assert engine.get_faults("account:acc-f") == FaultSettings(latency_seconds=0.5, disconnected=True)
    assert await outcome(gw.positions()) == "not_connected"
    engine.update_faults("account:acc-f", disconnected=False)
    assert await outcome(gw.positions()) == "ok"
    with pytest.raises(ValueError):
        engine.update_faults("platform:mt5", error_rate=2)
