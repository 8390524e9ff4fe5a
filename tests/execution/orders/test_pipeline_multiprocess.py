"""The pipeline across several real worker processes sharing one Redis broker and one account.

Each test starts two ``dramatiq`` worker processes (the modules ``rundramatiq`` discovers, plus
``mp_probe``, which records which process handled each message) consuming the ``execution`` queue,
and proves a safety promise from what the product records: the operations' attempts
(``started_at``/``finished_at``), the safety state in Redis, and the simulated broker.

How the attempt times relate to the speed-control slots: a run takes its slot (the start time speed
control spaces), then its pause permit, then records the attempt (``started_at``), calls the broker,
records the outcome (``finished_at``) and only then hands the slot back. So an attempt's interval
lies inside its slot's interval: counting overlapping attempts can only under-count the slots in
use, and needs no tolerance for "at most 5". The gap between two attempts' starts, though, differs
from the gap between their slots by the difference of the time each run spent between its slot and
its attempt row (a Redis round trip for the pause permit, a database read, and on a busy machine the
wait for a CPU, a database lock or the GIL): measured here (2 cores, other test runs going on) from 1.5
to 83 ms, SQLite and PostgreSQL alike, so that slots 200.5 ms apart showed attempts 174 ms apart.
A 5 ms tolerance would fail on a busy machine; hence ``ATTEMPT_GAP_TOLERANCE`` (100 ms: it still
catches starts that are not spaced at all), and the exact check of the 200 ms on the slot start
times themselves, as speed control decided them (recorded in the workers by ``mp_probe``).
"""

import time
from datetime import datetime

import pytest

from execution.broker.faults import simulated_faults_set
from execution.engine.models import EngineWorker
from execution.orders.accept import order_place, position_close
from execution.orders.models import Operation, OperationAttempt
from execution.safety.pause import PauseState
from execution.safety.speed import Priority, Start
from tests.execution.orders.mp_support import Cluster, broker_positions, open_positions, wait_until
from tests.factories import connected_simulated_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.service("redis")]

MAX_IN_FLIGHT = 5
MIN_GAP = 0.2
ATTEMPT_GAP_TOLERANCE = 0.1  # see the module docstring
SLOT_GAP_EPSILON = 1e-9  # speed control's own float slack


@pytest.fixture
def cluster(transactional_db, tmp_path, monkeypatch):
    with Cluster(tmp_path, monkeypatch) as cluster:
        yield cluster


@pytest.fixture
def account(organization):
    # BTCUSD trades around the clock: these tests do not depend on the day they run
    return connected_simulated_account(organization, server="SimBroker-Demo")


def start_workers(cluster: Cluster, *, count: int = 2, threads: int) -> None:
    workers = [cluster.start_dramatiq(f"w{n}", threads=threads) for n in range(count)]
    for worker in workers:  # booting in parallel
        worker.wait_ready()


def wait_finished(cluster: Cluster, operations, *, timeout: float) -> list[Operation]:
    ids = [operation.pk for operation in operations]
    wait_until(
        lambda: Operation.objects.filter(pk__in=ids, state__in=Operation.TERMINAL).count() == len(ids),
        timeout=timeout,
        what=f"{len(ids)} operations to finish\n{cluster.logs()}",
    )
    return list(Operation.objects.filter(pk__in=ids).order_by("pk"))


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of intervals open at one instant (one ending as another starts: not both)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in events:  # at equal times -1 sorts first
        running += step
        peak = max(peak, running)
    return peak


def test_a_burst_across_worker_processes_keeps_at_most_5_in_flight_and_200_ms_between_starts(
    cluster, account
):
    # Each call takes 3 s: without the limit, starts 200 ms apart would have all 12 in flight at once
    # (the engine's waits hold no thread). 3 s rather than less so that a loaded machine, starting
    # sends up to 600 ms apart, still reaches the limit before the first call ends.
    simulated_faults_set(account=account, latency_seconds=3.0, applies_to="trading")
    start_workers(cluster, threads=4)

    burst = [order_place(account=account, symbol="BTCUSD", side="buy", type="market") for _ in range(12)]
    operations = wait_finished(cluster, burst, timeout=60)

    assert [op.state for op in operations] == ["done"] * len(burst), [op.reason for op in operations]
    attempts = list(OperationAttempt.objects.filter(operation__in=operations).order_by("started_at"))
    assert [a.category for a in attempts] == ["success"] * len(burst)  # one attempt each
    assert len(broker_positions(account)) == len(burst)

    in_flight = max_overlap([(a.started_at, a.finished_at) for a in attempts])
    assert in_flight <= MAX_IN_FLIGHT
    assert in_flight == MAX_IN_FLIGHT  # the limit was reached (so it was what held the others back)
    slots = cluster.slot_starts()  # first the slots as speed control decided them, exactly
    assert sorted(op_id for op_id, _ in slots) == sorted(op.pk for op in operations)  # one slot each
    slot_gaps = [b - a for (_, a), (_, b) in zip(slots, slots[1:])]
    assert min(slot_gaps) >= MIN_GAP - SLOT_GAP_EPSILON, slot_gaps
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in zip(attempts, attempts[1:])]
    assert min(gaps) >= MIN_GAP - ATTEMPT_GAP_TOLERANCE, (gaps, slot_gaps)
    # one home: whichever process received an operation's message, the account's home ran it
    assert len({op.held_by for op in operations}) == 1, [op.held_by for op in operations]
    assert EngineWorker.objects.filter(pk=operations[0].held_by).exists()
    assert EngineWorker.objects.count() == 2  # both processes were serving


def test_with_the_account_saturated_waiting_closes_start_before_waiting_orders(cluster, account):
    """What speed control guarantees: among operations already waiting for a slot (holding a ticket),
    high priority (closes) starts first, before normal (new orders) that waited longer."""
    positions = open_positions(account, 3)
    start_workers(cluster, threads=4)
    account_key = str(account.pk)

    # Saturate the account: 5 operations in flight (held here, as another worker process would).
    held = [f"held-{n}" for n in range(MAX_IN_FLIGHT)]
    for op_id in held:
        cluster.speed.enqueue(account_key, op_id, Priority.NORMAL)
        wait_until(
            lambda op_id=op_id: isinstance(cluster.speed.try_start(account_key, op_id), Start),
            timeout=5,
            what=f"slot for {op_id}",
        )
    assert cluster.speed.in_flight(account_key) == MAX_IN_FLIGHT

    # First the orders, then the closes: the orders are first in the broker queue and take the
    # first tickets; first come, first served would start them first.
    orders = [order_place(account=account, symbol="BTCUSD", side="buy", type="market") for _ in range(3)]
    wait_until(
        lambda: cluster.speed.queue_depth(account_key)[Priority.NORMAL] == 3,
        timeout=15,
        what=f"the orders to wait in speed control\n{cluster.logs()}",
    )
    closes = [position_close(account=account, position_id=position_id) for position_id in positions]
    all_six = {Priority.HIGH: 3, Priority.NORMAL: 3, Priority.LOW: 0}
    wait_until(
        lambda: cluster.speed.queue_depth(account_key) == all_six,
        timeout=15,
        what=f"the closes to wait in speed control\n{cluster.logs()}",
    )
    assert not OperationAttempt.objects.exists()  # nothing could start

    for op_id in held:
        cluster.speed.finish(account_key, op_id)
    finished = wait_finished(cluster, orders + closes, timeout=60)

    assert [op.state for op in finished] == ["done"] * 6, [op.reason for op in finished]
    started = {op.pk: op.attempts.get().started_at for op in finished}
    last_close = max(started[op.pk] for op in closes)
    first_order = min(started[op.pk] for op in orders)
    assert last_close < first_order, started
    slots = dict(cluster.slot_starts())  # as speed control decided them
    assert max(slots[op.pk] for op in closes) < min(slots[op.pk] for op in orders), slots
    assert len(broker_positions(account)) == 3  # 3 closed, 3 opened


def test_while_the_pause_tests_only_one_operation_across_processes_is_the_test(cluster, account):
    """Tripped by injected permanent errors, then past its cooldown, the account's pause is testing:
    one operation at a time is sent as the test; the others wait (in order, keeping their place)
    until 2 test successes resume trading. The pause's state is shared by the processes; the
    account's operations all run in its home, whichever process received their messages."""
    positions = open_positions(account, 4)
    start_workers(cluster, threads=1)
    account_key = str(account.pk)

    # Two permanent errors in a row ("no money") pause the account.
    simulated_faults_set(account=account, scripted_errors=[10019, 10019], applies_to="trading")
    tripping = [order_place(account=account, symbol="BTCUSD", side="buy", type="market") for _ in range(2)]
    assert [op.state for op in wait_finished(cluster, tripping, timeout=30)] == ["failed", "failed"]
    assert cluster.pause.status(account_key).state == PauseState.PAUSED

    # Time passes: the cooldown (30 s in the workers' settings) ends now. The pause computes its
    # state from ``paused_until`` in the shared document, as it would 30 s later.
    def end_cooldown(doc):
        return {**doc, "paused_until": time.time()}, None

    cluster.backend.transact(f"pause:{account_key}", end_cooldown)
    simulated_faults_set(account=account, latency_seconds=2.0, applies_to="trading")  # a test takes 2 s

    closes = [position_close(account=account, position_id=position_id) for position_id in positions]
    finished = wait_finished(cluster, closes, timeout=60)

    assert [op.state for op in finished] == ["done"] * len(closes), [op.reason for op in finished]
    assert broker_positions(account) == []
    moves = [(t.from_state, t.to_state, t.at) for t in cluster.pause.transitions(account_key)]
    assert [f"{a}->{b}" for a, b, _ in moves] == ["trading->paused", "paused->testing", "testing->trading"]
    testing_since, resumed_at = moves[1][2], moves[2][2]

    attempts = list(OperationAttempt.objects.filter(operation__in=closes).order_by("started_at"))
    assert [a.category for a in attempts] == ["success"] * len(closes)  # one attempt each
    # the attempts sent while testing: exactly the 2 tests that resumed trading, one after the other
    tests = [a for a in attempts if a.started_at.timestamp() < resumed_at]
    assert len(tests) == 2, [(a.operation_id, a.started_at, a.finished_at) for a in attempts]
    assert max_overlap([(a.started_at, a.finished_at) for a in tests]) == 1
    assert tests[0].started_at.timestamp() >= testing_since

    # While the first test was in flight, the other closes waited: none was sent before it ended.
    assert all(a.started_at >= tests[0].finished_at for a in attempts[1:])
    assert len({op.held_by for op in finished}) == 1  # the account's home ran them all
