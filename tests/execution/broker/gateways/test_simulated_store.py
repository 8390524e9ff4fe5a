"""State stores: serialization, persistence across restarts, several processes on one store."""

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from execution.broker.gateways.base import DealEntry, OrderKind, OrderRequest, PendingOrderType, Side
from execution.broker.gateways.simulated import (
    FaultSettings,
    InMemoryStateStore,
    JsonFileStateStore,
    ManualClock,
    SimAccountState,
    SimulatedEngine,
    SimulatedGateway,
    run_inline,
)
from tests.execution.broker.gateways.conftest import WEDNESDAY_NOON


def buy(volume="0.10", **kwargs) -> OrderRequest:
    return OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, D(volume), **kwargs)


def test_account_state_round_trips_through_json(engine):
    engine.open_account("rt", server="SimMarkets-Live", balance=2500, leverage=500, platform="mt4")
    result = engine.place_order(
        "rt", OrderRequest("GOLD", Side.SELL, OrderKind.MARKET, D("0.05"), client_tag="t")
    )
    engine.close_position("rt", result.position_id, D("0.02"))
    quote = engine.price("rt", "EURUSD.m")
    engine.place_order(
        "rt",
        OrderRequest(
            "EURUSD.m",
            Side.BUY,
            OrderKind.STOP,
            D("0.10"),
            price=quote.ask + D("0.001"),
            sl=quote.bid,
            tp=None,
        ),
    )
    engine.set_faults("account:rt", FaultSettings(scripted_errors=[10024, "timeout"], error_rate=0.5))
    state = engine.load_account("rt")
    again = SimAccountState.from_json(state.to_json())
    assert again == state
    assert again.orders[0].type is PendingOrderType.BUY_STOP
    assert isinstance(again.positions[0].volume, D) and again.positions[0].volume == D("0.03")
    assert again.history[-1].entry is DealEntry.OUT
    assert again.faults.scripted_errors == [10024, "timeout"]
    assert again.positions[0].opened_at.tzinfo is not None


def test_json_file_store_survives_a_restart(tmp_path):
    clock = ManualClock(WEDNESDAY_NOON)
    first = SimulatedEngine(JsonFileStateStore(tmp_path / "state"), clock=clock, seed=3)
    first.open_account("persist", server="SimBroker-Demo", balance=20000)
    kept = first.place_order("persist", buy("0.30", client_tag="keep"))
    closed = first.place_order("persist", buy("0.20"))
    clock.advance(90)
    first.close_position("persist", closed.position_id)
    quote = first.price("persist", "EURUSD")
    order = first.place_order(
        "persist", OrderRequest("EURUSD", Side.SELL, OrderKind.LIMIT, D("0.10"), price=quote.bid + D("0.01"))
    )
    balance = first.account_information("persist").balance
    assert balance != D("20000.00")
    del first

    restarted = SimulatedEngine(JsonFileStateStore(tmp_path / "state"), clock=clock, seed=3)
    assert restarted.account_information("persist").balance == balance
    assert [(p.id, p.volume, p.client_tag) for p in restarted.positions("persist")] == [
        (kept.position_id, D("0.30"), "keep")
    ]
    assert [o.id for o in restarted.orders("persist")] == [order.order_id]
    assert restarted.find_by_client_tag("persist", "keep").positions
    # tickets continue instead of starting over
    assert int(restarted.place_order("persist", buy()).order_id) > int(order.order_id)


async def test_a_new_gateway_over_the_same_file_sees_the_same_account(tmp_path, sleep):
    clock = ManualClock(WEDNESDAY_NOON)

    def gateway():
        engine = SimulatedEngine(JsonFileStateStore(tmp_path), clock=clock)
        return SimulatedGateway(engine, "gw-persist", initial_balance=777, run_sync=run_inline, sleep=sleep)

    first = gateway()
    await first.connect()
    result = await first.place_order(buy())
    info = await first.account_information()
    await first.disconnect()

    second = gateway()
    await second.connect()  # initial_balance is ignored for an existing account
    assert await second.account_information() == info
    assert [p.id for p in await second.positions()] == [result.position_id]


def test_fault_settings_are_shared_through_the_store(tmp_path):
    a = SimulatedEngine(JsonFileStateStore(tmp_path))
    b = SimulatedEngine(JsonFileStateStore(tmp_path))
    a.set_faults("platform:mt4", FaultSettings(latency_seconds=0.5, scripted_errors=[10024]))
    assert b.get_faults("platform:mt4") == FaultSettings(latency_seconds=0.5, scripted_errors=[10024])
    assert b.get_faults("platform:mt5") == FaultSettings()
    with pytest.raises(ValueError):
        a.set_faults("everything", FaultSettings())
    with pytest.raises(KeyError):
        a.set_faults("account:missing", FaultSettings())


def test_in_memory_store_serializes_threads(clock):
    engine = SimulatedEngine(InMemoryStateStore(), clock=clock)
    engine.open_account("threads", server="SimBroker-Demo", balance=1_000_000)
    errors = []

    def trade():
        try:
            for _ in range(15):
                engine.place_order("threads", buy("0.01"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=trade) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    positions = engine.positions("threads")
    assert len(positions) == 60 and len({p.id for p in positions}) == 60


def _trade_in_another_process(directory: str, count: int) -> None:
    clock = ManualClock(datetime(2024, 6, 5, 12, 0, tzinfo=UTC))
    engine = SimulatedEngine(JsonFileStateStore(directory), clock=clock)
    for _ in range(count):
        engine.place_order("multi", buy("0.01"))
        clock.advance(1)


def test_several_processes_share_a_json_file_store(tmp_path):
    engine = SimulatedEngine(JsonFileStateStore(tmp_path), clock=ManualClock(WEDNESDAY_NOON))
    engine.open_account("multi", server="SimBroker-Demo", balance=1_000_000)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_trade_in_another_process, args=(str(tmp_path), 12)) for _ in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    state = engine.load_account("multi")
    assert len(state.positions) == 36
    assert len({p.id for p in state.positions}) == 36
    assert len([d for d in state.history if d.entry is DealEntry.IN]) == 36


def test_history_and_event_log_are_bounded(clock):
    engine = SimulatedEngine(InMemoryStateStore(), clock=clock, history_limit=10, event_log_limit=5)
    engine.open_account("bounded", server="SimBroker-Demo", balance=1_000_000)
    for _ in range(8):
        engine.place_order("bounded", buy("0.01"))
    state = engine.load_account("bounded")
    assert len(state.history) == 8
    assert len(state.events) == 5 and state.event_seq == 16
    for position in list(state.positions):
        engine.close_position("bounded", position.id)
    assert len(engine.load_account("bounded").history) == 10


def test_evaluation_time_moves_forward_only(engine, clock):
    engine.open_account("time", server="SimBroker-Demo")
    engine.place_order("time", buy())
    clock.advance(-60)  # a clock that jumps back must not replay or break anything
    assert len(engine.positions("time")) == 1
    assert engine.load_account("time").last_evaluated == WEDNESDAY_NOON
    clock.set(WEDNESDAY_NOON + timedelta(seconds=5))
    engine.positions("time")
    assert engine.load_account("time").last_evaluated == WEDNESDAY_NOON + timedelta(seconds=5)
