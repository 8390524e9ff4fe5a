"""Crash injection: a real worker process dies at each crash point, and the operation still ends
exactly once: never a second order (or close) at the broker, never an operation left unfinished.

Each test accepts one operation (enqueued on a real Redis broker), starts ``manage.py rundramatiq``
with ``TTMT_CRASH_AT`` set, and waits for that worker to exit with code 70 (``os._exit``: no cleanup).
The execution actor hands the operation to the worker's engine and returns, so its message may be
acknowledged before the crash or not; the test then recovers the operation by one of two routes:

* ``takeover``: whatever message is left is lost too; a fresh worker's engine finds the operation by
  its durable state once the dead worker's heartbeat has lapsed (seconds, not a lease as long as the
  deadline), takes the account's home over and runs it;
* ``redelivery``: the broker hands an unacknowledged message out again, as Dramatiq's Redis broker
  does once the dead worker's heartbeat times out (simulated at once, see
  ``Cluster.redeliver_unacked``); the fresh worker's engine takes it from there.

The fresh worker runs with the operation's normal deadline: recovering it must not wait it out.
"""

from datetime import timedelta

import pytest
from django.db.models import F

from execution.orders.accept import order_place, position_close
from execution.orders.models import Operation
from execution.orders.sweeper import sweep
from tests.execution.orders.mp_support import (
    Cluster,
    broker_find_by_client_tag,
    broker_positions,
    open_positions,
    wait_until,
)
from tests.factories import connected_simulated_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.service("redis")]

CRASH_EXIT_CODE = 70
LEASE = timedelta(seconds=60)  # execution.orders.pipeline.LEASE
STOPPED = "The worker stopped before the outcome was recorded."


@pytest.fixture
def cluster(transactional_db, tmp_path, monkeypatch):
    with Cluster(tmp_path, monkeypatch) as cluster:
        yield cluster


@pytest.fixture
def account(organization):
    # BTCUSD trades around the clock: these tests do not depend on the day they run
    return connected_simulated_account(organization, server="SimBroker-Demo")


def attempts_of(operation) -> list[tuple]:
    return [
        (a.number, a.finished_at is not None, a.outcome_unknown, a.category)
        for a in operation.attempts.order_by("number")
    ]


def crash(cluster: Cluster, operation, crash_at: str) -> Operation:
    crashing = cluster.start_rundramatiq(f"crash-{crash_at}", crash_at=crash_at)
    assert crashing.wait_exit(timeout=30) == CRASH_EXIT_CODE, crashing.log()
    operation.refresh_from_db()
    return operation


def recover(cluster: Cluster, route: str) -> None:
    if route == "takeover":
        cluster.drop_unacked()  # any message left is gone for good
    else:
        cluster.redeliver_unacked()


def let_time_pass(operation, duration: timedelta) -> None:
    """As if ``duration`` had passed: every time stored on the operation moves back by it."""
    Operation.objects.filter(pk=operation.pk).update(
        created_at=F("created_at") - duration,
        deadline=F("deadline") - duration,
        lease_until=F("lease_until") - duration,
    )


def recover_with_a_fresh_worker(cluster: Cluster, operation) -> Operation:
    cluster.start_rundramatiq("fresh")
    wait_until(
        lambda: (
            cluster.unfinished_messages() == 0
            and Operation.objects.filter(pk=operation.pk, state__in=Operation.TERMINAL).exists()
        ),
        timeout=30,
        what=f"the fresh worker to finish the operation\n{cluster.logs()}",
    )
    assert all(w.proc.poll() is None for w in cluster.workers if w.name == "fresh"), cluster.logs()
    assert cluster.dead_lettered() == 0, cluster.logs()
    operation.refresh_from_db()
    return operation


@pytest.mark.parametrize("recovery", ["takeover", "redelivery"])
@pytest.mark.parametrize("crash_at", ["before_send", "after_send", "after_done"])
def test_a_worker_killed_at_a_crash_point_leaves_no_duplicate_order_and_no_lost_operation(
    cluster, account, crash_at, recovery
):
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    assert cluster.unfinished_messages() == 1  # enqueued on the Redis broker after commit

    operation = crash(cluster, operation, crash_at)

    # -- what the crash left behind --------------------------------------------------------------
    positions = broker_positions(account)
    if crash_at == "before_send":
        assert operation.state == Operation.RUNNING
        assert attempts_of(operation) == [(1, False, False, "")]  # recorded before the call
        assert positions == []  # never sent
    elif crash_at == "after_send":
        assert operation.state == Operation.RUNNING
        assert attempts_of(operation) == [(1, False, False, "")]  # sent, outcome not recorded
        assert [p.client_tag for p in positions] == [operation.client_tag]  # the broker did it
    else:
        assert operation.state == Operation.DONE
        assert attempts_of(operation) == [(1, True, False, "success")]
        assert [p.client_tag for p in positions] == [operation.client_tag]

    # -- recovery: within the operation's own deadline ---------------------------------------------
    assert sweep() == []  # the sweeper takes nothing over while the lease runs: the engines do
    recover(cluster, recovery)
    operation = recover_with_a_fresh_worker(cluster, operation)

    # -- exactly once -----------------------------------------------------------------------------
    assert operation.state == Operation.DONE, operation.reason
    match = broker_find_by_client_tag(account, operation.client_tag)
    assert len(match.positions) == 1 and not match.orders
    assert [p.id for p in broker_positions(account)] == [match.positions[0].id]  # no other order either
    assert {deal.position_id for deal in match.deals} <= {match.positions[0].id}
    assert operation.result["position_id"] == match.positions[0].id
    attempts = list(operation.attempts.order_by("number"))
    if crash_at == "before_send":
        # the open attempt made the next run look the tag up first: not found, so it sent once more
        assert attempts_of(operation) == [(1, True, True, ""), (2, True, False, "success")]
        assert attempts[0].message == STOPPED
        assert "found_by_client_tag" not in operation.result
    elif crash_at == "after_send":
        # the look-up by client tag found the order: nothing sent again
        assert attempts_of(operation) == [(1, True, True, "")]
        assert attempts[0].message == STOPPED
        assert operation.result["found_by_client_tag"] is True
    else:
        # a redelivered message, or the takeover, found the operation finished and did nothing
        assert attempts_of(operation) == [(1, True, False, "success")]
        assert "found_by_client_tag" not in operation.result
    assert operation.attempt_count == len(attempts)


@pytest.mark.parametrize("crash_at", ["before_send", "after_send"])
def test_a_close_whose_worker_died_is_done_once_by_the_worker_taking_over(cluster, account, crash_at):
    """A close is protective: after a crash it is finished for real by the next worker: closed once,
    and never "closed" a second time (which the broker would refuse)."""
    (position_id,) = open_positions(account, 1)
    operation = position_close(account=account, position_id=position_id)
    operation = crash(cluster, operation, crash_at)
    closed_by_the_crashed_run = crash_at == "after_send"
    assert [p.id for p in broker_positions(account)] == ([] if closed_by_the_crashed_run else [position_id])
    assert attempts_of(operation) == [(1, False, False, "")]

    recover(cluster, "takeover")
    operation = recover_with_a_fresh_worker(cluster, operation)

    assert operation.state == Operation.DONE, operation.reason
    assert broker_positions(account) == []
    if crash_at == "before_send":
        # looked up first: still open, so closed now
        assert attempts_of(operation) == [(1, True, True, ""), (2, True, False, "success")]
    else:
        # looked up first: already closed, so nothing sent again
        assert attempts_of(operation) == [(1, True, True, "")]
        assert operation.result == {"position_id": position_id, "closed": True, "found_by_lookup": True}


def test_an_order_sent_before_its_worker_died_is_done_though_recovered_after_its_deadline(cluster, account):
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    operation = crash(cluster, operation, "after_send")
    let_time_pass(operation, LEASE + timedelta(seconds=1))  # the lease expires, and so does the deadline
    recover(cluster, "takeover")
    operation = recover_with_a_fresh_worker(cluster, operation)
    match = broker_find_by_client_tag(account, operation.client_tag)
    assert len(match.positions) == 1  # no duplicate either way
    assert operation.state == Operation.DONE, operation.reason  # looked up before failing on the deadline
    assert operation.result["found_by_client_tag"] is True
    assert attempts_of(operation) == [(1, True, True, "")]
