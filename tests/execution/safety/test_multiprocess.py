"""Several worker processes with the real clock share one account through Redis."""

import json
import multiprocessing
import time

from execution.safety.clock import SystemClock
from execution.safety.errors import Category
from execution.safety.pause import PauseConfig, PauseState, SafetyPause
from execution.safety.state import RedisStateBackend
from tests.execution.safety import workers

PROCESSES = 4


def start_all(target, args_for) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    processes = [context.Process(target=target, args=(*args_for(i), barrier)) for i in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=90)
    assert [p.exitcode for p in processes] == [0] * PROCESSES


def test_speed_control_holds_across_processes(redis_namespace):
    client, url, prefix = redis_namespace
    threads, ops, duration = 2, 2, 1.5  # 16 operations, each long enough for a 6th to want in
    start_all(workers.run_operations, lambda i: (url, prefix, "acct-mp", i, threads, ops, duration))

    events = [json.loads(raw) for raw in client.lrange(prefix + "events", 0, -1)]
    assert len(events) == PROCESSES * threads * ops
    starts = sorted(e["started_at"] for e in events)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.2 - 1e-6, gaps

    # Running from the grant to the moment before finish() is called: never more than 5 at once.
    edges = sorted([(e["started_at"], 1) for e in events] + [(e["finished_at"], -1) for e in events])
    running, peak = 0, 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    assert peak == 5  # reached (so the limit was exercised) and never exceeded


def test_exactly_one_process_gets_the_single_test_permit(redis_namespace):
    client, url, prefix = redis_namespace
    pause = SafetyPause(RedisStateBackend(client, prefix), SystemClock(), PauseConfig(cooldown=0.05))
    for _ in range(2):
        permit = pause.acquire("acct-mp")
        pause.record(permit, Category.PERMANENT)
    time.sleep(0.1)
    assert pause.status("acct-mp").state is PauseState.TESTING

    start_all(workers.ask_for_test_permit, lambda i: (url, prefix, "acct-mp", i))

    answers = [json.loads(raw) for raw in client.lrange(prefix + "permits", 0, -1)]
    assert len(answers) == PROCESSES
    assert sum(a["granted"] for a in answers) == 1, answers
    assert pause.status("acct-mp").tests_in_flight == 1
