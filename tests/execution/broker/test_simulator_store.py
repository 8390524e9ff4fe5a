"""The simulated broker's database store: one locked read and one write per call, a kept state
that is used only while the row still has its stamp, shared by every process."""

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from execution.broker.gateways.base import OrderKind, OrderRequest, Side
from execution.broker.gateways.simulated import FaultSettings, ManualClock, SimulatedEngine
from execution.broker.models import SimulatorDocument
from execution.broker.simulator_store import DatabaseStateStore
from tests.execution.broker.gateways.conftest import WEDNESDAY_NOON

pytestmark = pytest.mark.django_db


def buy(volume="0.10", tag=None) -> OrderRequest:
    return OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, D(volume), client_tag=tag)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(WEDNESDAY_NOON)


def process(clock) -> SimulatedEngine:
    """An engine with its own store, as another worker process has."""
    return SimulatedEngine(DatabaseStateStore(), clock=clock, seed=7)


def open_in(engine: SimulatedEngine, key: str = "a1") -> None:
    engine.open_account(key, server="SimBroker-Demo", fault_group="tp1")


def statements(captured) -> list[str]:
    """What a call sent, without the savepoints of the test's own transaction."""
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_a_call_on_an_account_this_process_wrote_last_is_one_locked_read_and_one_write(clock):
    engine = process(clock)
    open_in(engine)
    engine.place_order("a1", buy())
    with CaptureQueriesContext(connection) as captured:
        engine.positions("a1")
    sent = statements(captured)
    assert len(sent) == 2, sent
    assert sent[0].startswith("SELECT a.stamp") and sent[1].startswith("UPDATE")
    # the locked read fetched the platform's fault settings with it, and no document: it was kept
    assert "FOR UPDATE OF a" in sent[0] or not connection.features.has_select_for_update_of


def test_another_process_s_change_is_seen_by_the_next_call(clock):
    first, second = process(clock), process(clock)
    open_in(first)
    one = first.place_order("a1", buy(tag="one"))
    assert [p.id for p in second.positions("a1")] == [one.position_id]
    two = second.place_order("a1", buy(tag="two"))
    assert {p.id for p in first.positions("a1")} == {one.position_id, two.position_id}
    first.close_position("a1", one.position_id)
    assert [p.id for p in second.positions("a1")] == [two.position_id]


def test_a_call_that_fails_half_way_leaves_no_trace_in_the_kept_state(clock):
    engine = process(clock)
    open_in(engine)
    before = engine.account_information("a1").balance

    def spend_then_break(state, now):
        state.balance -= D(1000)
        raise RuntimeError("a bug half-way through a call")

    with pytest.raises(RuntimeError):
        engine.call("a1", "queries", spend_then_break)
    assert engine.account_information("a1").balance == before


def test_a_row_created_again_is_never_mistaken_for_the_kept_state(clock):
    first, second = process(clock), process(clock)
    open_in(first)
    first.place_order("a1", buy(tag="before"))
    SimulatorDocument.objects.filter(key="account:a1").delete()
    open_in(second)  # as many writes as the first made: a write counter would match again
    second.place_order("a1", buy(tag="after"))
    assert [p.client_tag for p in first.positions("a1")] == ["after"]


def test_platform_faults_set_elsewhere_apply_to_the_next_call(clock):
    trading, operator = process(clock), process(clock)
    open_in(trading)
    trading.positions("a1")  # the account's state is kept here from now on
    operator.set_faults("platform:tp1", FaultSettings(latency_seconds=0.25))
    assert trading.call("a1", "queries", lambda state, now: None).latency == 0.25
    operator.set_faults("platform:tp1", FaultSettings(disconnected=True))
    assert trading.call("a1", "queries", lambda state, now: None).error.string_code == "not_connected"


def test_a_scripted_platform_fault_fires_once_across_processes(clock):
    first, second = process(clock), process(clock)
    open_in(first, "a1")
    open_in(second, "a2")
    first.positions("a1"), second.positions("a2")
    first.set_faults("platform:tp1", FaultSettings(scripted_errors=[10004]))
    outcomes = [
        second.call("a2", "trading", lambda s, n: "sent"),
        first.call("a1", "trading", lambda s, n: "sent"),
    ]
    assert [o.error.code if o.error else o.value for o in outcomes] == [10004, "sent"]
