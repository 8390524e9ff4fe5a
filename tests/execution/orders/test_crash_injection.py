"""Crash injection: a real worker process dies at each crash point, and the operation still ends
exactly once: never a second order (or close) at the broker, never an operation left unfinished.

Each test accepts one operation (enqueued on a real Redis broker), starts ``manage.py rundramatiq``
with ``TTMT_CRASH_AT`` set, and waits for that worker to exit with code 70 (``os._exit``: no cleanup,
no acknowledgement). It then lets the time pass that production would wait (the dead worker's lease,
60 s, is moved into the past in the database) and recovers the operation by one of two routes:

* ``sweeper``: the message is lost with the dead worker; the sweeper (run in the test process)
  re-enqueues the operation by its durable state;
* ``redelivery``: the broker hands the dead worker's unacknowledged message out again, as Dramatiq's
  Redis broker does once the dead worker's heartbeat times out (simulated at once, see
  ``Cluster.redeliver_unacked``).

A fresh worker process (no crash point) then consumes whatever is queued, and the test checks the
operation's state, the attempts recorded, and the broker.
"""

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

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
    # the message died with the worker, unacknowledged
    assert len(cluster.unacked_by_gone_workers()) == 1
    operation.refresh_from_db()
    return operation


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


@pytest.mark.parametrize("recovery", ["sweeper", "redelivery"])
@pytest.mark.parametrize("crash_at", ["before_send", "after_send", "before_ack"])
def test_a_worker_killed_at_a_crash_point_leaves_no_duplicate_order_and_no_lost_operation(
    cluster, account, crash_at, recovery
):
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    assert cluster.unfinished_messages() == 1  # enqueued on the Redis broker after commit
    # Recovered within its deadline here (the recovery after the deadline is its own test below).
    Operation.objects.filter(pk=operation.pk).update(deadline=timezone.now() + timedelta(minutes=10))

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

    # -- recovery -------------------------------------------------------------------------------
    assert sweep() == []  # while the lease runs nothing takes the operation over (it may be slow)
    let_time_pass(operation, LEASE + timedelta(seconds=1))
    if recovery == "sweeper":
        cluster.drop_unacked()  # the message is gone for good
        assert sweep() == ([] if crash_at == "before_ack" else [operation.pk])
    else:
        cluster.redeliver_unacked()
    expected_messages = 0 if (recovery == "sweeper" and crash_at == "before_ack") else 1
    assert cluster.unfinished_messages() == expected_messages

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
        # the redelivered message found the operation finished and did nothing
        assert attempts_of(operation) == [(1, True, False, "success")]
        assert "found_by_client_tag" not in operation.result
    assert operation.attempt_count == len(attempts)


@pytest.mark.parametrize("crash_at", ["before_send", "after_send"])
def test_a_close_whose_worker_died_is_done_once_after_the_lease(cluster, account, crash_at):
    """A close is protective: its deadline (1 h) outlasts the lease, so after a crash it is finished
    for real: closed once, and never "closed" a second time (which the broker would refuse)."""
    (position_id,) = open_positions(account, 1)
    operation = position_close(account=account, position_id=position_id)

    operation = crash(cluster, operation, crash_at)
    closed_by_the_crashed_run = crash_at == "after_send"
    assert [p.id for p in broker_positions(account)] == ([] if closed_by_the_crashed_run else [position_id])
    assert attempts_of(operation) == [(1, False, False, "")]

    let_time_pass(operation, LEASE + timedelta(seconds=1))
    cluster.drop_unacked()
    assert sweep() == [operation.pk]
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
    assert operation.deadline <= operation.lease_until  # orders: 60 s from acceptance, lease: 60 s from claim

    let_time_pass(operation, LEASE + timedelta(seconds=1))  # the lease expires, and so does the deadline
    cluster.drop_unacked()
    assert sweep() == [operation.pk]
    operation = recover_with_a_fresh_worker(cluster, operation)

    match = broker_find_by_client_tag(account, operation.client_tag)
    assert len(match.positions) == 1  # no duplicate either way
    assert operation.state == Operation.DONE, operation.reason  # looked up before failing on the deadline
    assert operation.result["found_by_client_tag"] is True
    assert attempts_of(operation) == [(1, True, True, "")]
