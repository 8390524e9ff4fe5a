"""Speed control per account, with a FakeClock, on the memory and the Redis backend."""

import pytest

from execution.safety.speed import (
    Priority,
    SpeedConfig,
    SpeedControl,
    Start,
    UnknownTicket,
    Wait,
)

HIGH, NORMAL, LOW = Priority.HIGH, Priority.NORMAL, Priority.LOW
ACCOUNT = "acct-1"


@pytest.fixture
def speed(backend, clock) -> SpeedControl:
    return SpeedControl(backend, clock)


def drain(speed: SpeedControl, clock, waiting: list[str], finish: bool = True) -> list[str]:
    """Poll every waiting op like its worker would, advancing the clock by the waits; the start order."""
    started = []
    while waiting:
        waits = []
        for op in list(waiting):
            decision = speed.try_start(ACCOUNT, op)
            if isinstance(decision, Start):
                started.append(op)
                waiting.remove(op)
                if finish:
                    speed.finish(ACCOUNT, op)
            else:
                waits.append(decision.seconds)
        if waits and len(waits) == len(waiting):
            clock.advance(min(waits))
    return started


def test_minimum_gap_between_starts(speed, clock):
    for op in ("a", "b"):
        speed.enqueue(ACCOUNT, op, NORMAL)
    assert speed.try_start(ACCOUNT, "a") == Start("a", clock.now(), clock.now() + 30)
    wait = speed.try_start(ACCOUNT, "b")
    assert isinstance(wait, Wait) and wait.seconds == pytest.approx(0.2) and "gap" in wait.reason
    clock.advance(0.15)
    assert speed.try_start(ACCOUNT, "b").seconds == pytest.approx(0.05)
    clock.advance(0.05)
    assert isinstance(speed.try_start(ACCOUNT, "b"), Start)


def test_gap_applies_even_after_the_previous_operation_finished(speed, clock):
    speed.enqueue(ACCOUNT, "a", HIGH)
    speed.try_start(ACCOUNT, "a")
    speed.finish(ACCOUNT, "a")
    speed.enqueue(ACCOUNT, "b", HIGH)
    assert isinstance(speed.try_start(ACCOUNT, "b"), Wait)


def test_never_more_than_five_in_flight(speed, clock):
    ops = [f"op{i}" for i in range(7)]
    for op in ops:
        speed.enqueue(ACCOUNT, op, NORMAL)
    for op in ops[:5]:
        assert isinstance(speed.try_start(ACCOUNT, op), Start)
        clock.advance(0.2)
    assert speed.in_flight(ACCOUNT) == 5
    clock.advance(5)
    wait = speed.try_start(ACCOUNT, "op5")
    assert isinstance(wait, Wait) and "5 operations in flight" in wait.reason
    assert speed.finish(ACCOUNT, "op2") is True
    assert isinstance(speed.try_start(ACCOUNT, "op5"), Start)
    assert isinstance(speed.try_start(ACCOUNT, "op6"), Wait)
    assert speed.in_flight(ACCOUNT) == 5


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        ([("q1", LOW), ("n1", NORMAL), ("h1", HIGH)], ["h1", "n1", "q1"]),
        ([("n1", NORMAL), ("n2", NORMAL), ("n3", NORMAL)], ["n1", "n2", "n3"]),
        (
            [
                ("q1", LOW),
                ("n1", NORMAL),
                ("h1", HIGH),
                ("q2", LOW),
                ("h2", HIGH),
                ("n2", NORMAL),
                ("h3", HIGH),
            ],
            ["h1", "h2", "h3", "n1", "n2", "q1", "q2"],
        ),
    ],
)
def test_priority_then_first_come_first_served(speed, clock, arrivals, expected):
    speed.enqueue(ACCOUNT, "blocker", HIGH)
    speed.try_start(ACCOUNT, "blocker")  # everything below arrives while the gap is running
    for op, priority in arrivals:
        speed.enqueue(ACCOUNT, op, priority)
    waiting = [op for op, _ in reversed(arrivals)]  # poll in the worst order
    assert drain(speed, clock, waiting) == expected


def test_a_waiting_op_behind_the_head_is_told_to_wait(speed, clock):
    speed.enqueue(ACCOUNT, "low", LOW)
    speed.enqueue(ACCOUNT, "high", HIGH)
    wait = speed.try_start(ACCOUNT, "low")
    assert isinstance(wait, Wait) and "behind high" in wait.reason
    assert speed.queue_depth(ACCOUNT) == {HIGH: 1, NORMAL: 0, LOW: 1}


def test_a_crashed_holder_frees_its_slot_when_the_lease_ends(speed, clock):
    starts = []
    for i in range(5):  # five holders that will never finish
        speed.enqueue(ACCOUNT, f"op{i}", NORMAL)
        starts.append(speed.try_start(ACCOUNT, f"op{i}").started_at)
        clock.advance(0.2)
    speed.enqueue(ACCOUNT, "next", NORMAL)
    while clock.now() < starts[0] + 30:  # the waiter keeps polling
        assert isinstance(speed.try_start(ACCOUNT, "next"), Wait)
        assert speed.in_flight(ACCOUNT) == 5
        clock.advance(min(1.0, starts[0] + 30 - clock.now()))
    assert speed.in_flight(ACCOUNT) == 4
    assert speed.try_start(ACCOUNT, "next").started_at == starts[0] + 30
    clock.advance(starts[4] + 30 - clock.now())
    assert speed.in_flight(ACCOUNT) == 1


def test_a_crashed_waiter_stops_blocking_the_queue(speed, clock):
    speed.enqueue(ACCOUNT, "running", NORMAL)
    speed.try_start(ACCOUNT, "running")
    speed.enqueue(ACCOUNT, "crashed", HIGH)
    crashed_at = clock.now()
    speed.enqueue(ACCOUNT, "alive", NORMAL)
    speed.finish(ACCOUNT, "running")
    for _ in range(60):  # "alive" keeps polling, "crashed" never comes back
        clock.advance(0.25)
        decision = speed.try_start(ACCOUNT, "alive")
        if isinstance(decision, Start):
            break
    assert isinstance(decision, Start)
    assert decision.started_at == crashed_at + 10.25  # the first poll after its 10 s ticket TTL
    with pytest.raises(UnknownTicket):
        speed.try_start(ACCOUNT, "crashed")


def test_tickets_and_idempotence(speed, clock):
    with pytest.raises(UnknownTicket):
        speed.try_start(ACCOUNT, "never-enqueued")
    speed.enqueue(ACCOUNT, "a", NORMAL)
    speed.enqueue(ACCOUNT, "a", LOW)
    assert speed.queue_depth(ACCOUNT) == {HIGH: 0, NORMAL: 1, LOW: 0}
    first = speed.try_start(ACCOUNT, "a")
    speed.enqueue(ACCOUNT, "a", NORMAL)  # already running: no second ticket
    assert speed.queue_depth(ACCOUNT) == {HIGH: 0, NORMAL: 0, LOW: 0}
    clock.advance(1)
    assert speed.try_start(ACCOUNT, "a") == first  # a redelivered start is the same start
    assert speed.finish(ACCOUNT, "a") is True
    assert speed.finish(ACCOUNT, "a") is False
    with pytest.raises(UnknownTicket):
        speed.try_start(ACCOUNT, "a")


def test_finish_drops_a_waiting_ticket(speed):
    speed.enqueue(ACCOUNT, "a", HIGH)
    speed.enqueue(ACCOUNT, "b", LOW)
    assert speed.finish(ACCOUNT, "a") is False
    assert isinstance(speed.try_start(ACCOUNT, "b"), Start)


def test_accounts_are_independent(speed):
    speed.enqueue("x", "a", NORMAL)
    speed.enqueue("y", "b", NORMAL)
    assert isinstance(speed.try_start("x", "a"), Start)
    assert isinstance(speed.try_start("y", "b"), Start)
    assert (speed.in_flight("x"), speed.in_flight("y")) == (1, 1)


def test_configurable(backend, clock):
    speed = SpeedControl(backend, clock, SpeedConfig(max_in_flight=1, min_gap=0, lease=5))
    speed.enqueue(ACCOUNT, "a", NORMAL)
    speed.enqueue(ACCOUNT, "b", NORMAL)
    assert speed.try_start(ACCOUNT, "a").lease_until == clock.now() + 5
    assert isinstance(speed.try_start(ACCOUNT, "b"), Wait)
    speed.finish(ACCOUNT, "a")
    assert isinstance(speed.try_start(ACCOUNT, "b"), Start)


def test_priority_labels_name_the_deadline_classes():
    assert [priority.label for priority in Priority] == ["high", "normal", "low"]
