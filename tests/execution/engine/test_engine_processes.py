"""The engine across real worker processes: priority on RabbitMQ (production's broker) with two
worker processes, and a worker killed while it is home to accounts.

The workers are started as in production (see ``tests.execution.orders.mp_support``); the test
reads what the product recorded: operations, attempts, account homes, engine workers, the simulated
broker, and (``mp_probe``) when each operation took its speed-control ticket and slot.
"""

import signal
from datetime import timedelta

import psutil
import pytest

from execution.broker.faults import simulated_faults_set
from execution.engine.models import AccountHome, EngineWorker
from execution.orders.accept import order_place, position_close
from execution.orders.models import Operation
from tests.execution.orders.mp_support import (
    Cluster,
    broker_find_by_client_tag,
    broker_positions,
    open_positions,
    wait_until,
)
from tests.factories import connected_simulated_account
from tests.services import rabbitmq_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.service("redis")]


@pytest.fixture
def account(organization):
    # BTCUSD trades around the clock: these tests do not depend on the day they run
    return connected_simulated_account(organization, server="SimBroker-Demo")


def wait_finished(cluster: Cluster, operations, *, timeout: float) -> list[Operation]:
    ids = [operation.pk for operation in operations]
    wait_until(
        lambda: Operation.objects.filter(pk__in=ids, state__in=Operation.TERMINAL).count() == len(ids),
        timeout=timeout,
        what=f"{len(ids)} operations to finish\n{cluster.logs()}",
    )
    return list(Operation.objects.filter(pk__in=ids).order_by("pk"))


@pytest.mark.service("rabbitmq")
def test_on_rabbitmq_with_two_worker_processes_a_close_is_sent_before_the_orders_waiting_ahead_of_it(
    transactional_db, tmp_path, monkeypatch, account
):
    with Cluster(tmp_path, monkeypatch, rabbitmq_url=rabbitmq_url()) as cluster:
        (position_id,) = open_positions(account, 1)
        simulated_faults_set(account=account, latency_seconds=0.3, applies_to="trading")
        workers = [cluster.start_dramatiq(f"w{n}", threads=2) for n in range(2)]
        for worker in workers:
            worker.wait_ready()
        orders = [order_place(account=account, symbol="BTCUSD", side="buy", type="market") for _ in range(50)]
        wait_until(
            lambda: Operation.objects.filter(attempts__isnull=False).count() >= 3,
            timeout=30,
            what=f"orders to start\n{cluster.logs()}",
        )

        close = position_close(account=account, position_id=position_id)
        done = wait_finished(cluster, [*orders, close], timeout=120)

        assert [op.state for op in done] == ["done"] * 51, [op.reason for op in done if op.state != "done"]
        tickets, slots = cluster.first_tickets(), dict(cluster.slot_starts())
        # the first slot granted once the close asked for one was the close's ...
        granted_after = sorted((at, op_id) for op_id, at in slots.items() if at >= tickets[close.pk])
        assert granted_after[0][1] == close.pk
        # ... so every order not started by then reached the broker after it
        later = [op for op in orders if slots[op.pk] > tickets[close.pk]]
        assert len(later) >= 40  # it was accepted behind waiting orders
        assert all(slots[op.pk] > slots[close.pk] for op in later)
        # and sent after it: the attempt rows (written just before each send, on the workers' database
        # pools) of orders whose slot came a second or more after the close's
        close_sent = close.attempts.get().started_at
        clearly_later = [op for op in later if slots[op.pk] >= slots[close.pk] + 1.0]
        assert clearly_later and all(op.attempts.get().started_at > close_sent for op in clearly_later)
        assert len({op.held_by for op in done}) == 1  # one home ran the account, whoever got the message
        assert EngineWorker.objects.count() == 2
        assert len(broker_positions(account)) == 50


def test_a_worker_killed_while_home_to_accounts_is_taken_over_and_nothing_is_doubled(
    transactional_db, tmp_path, monkeypatch, organization
):
    accounts = [connected_simulated_account(organization, login=str(6000 + n)) for n in range(2)]
    with Cluster(tmp_path, monkeypatch) as cluster:
        for account in accounts:
            simulated_faults_set(account=account, latency_seconds=0.5, applies_to="trading")
        workers = [cluster.start_rundramatiq(f"w{n}", threads=2) for n in range(2)]
        for worker in workers:
            worker.wait_ready()
        orders = [
            order_place(account=account, symbol="BTCUSD", side="buy", type="market")
            for _ in range(5)
            for account in accounts
        ]
        homes = wait_until(
            lambda: (rows := list(AccountHome.objects.all())) and len(rows) == len(accounts) and rows,
            timeout=15,
            what=f"the accounts to get a home\n{cluster.logs()}",
        )

        # kill (no cleanup at all) the worker process that is home to the first account
        home_pid = EngineWorker.objects.get(pk=homes[0].worker_id).pid
        victim = next(w for w in workers if w.pid in (home_pid, psutil.Process(home_pid).ppid()))
        victim._signal(signal.SIGKILL)
        victim.wait_exit(timeout=10)
        survivor = next(w for w in workers if w is not victim)

        done = wait_finished(cluster, orders, timeout=50)

        assert [op.state for op in done] == ["done"] * len(orders), [op.reason for op in done]
        by_pk = {account.pk: account for account in accounts}
        for op in done:
            assert op.finished_at < op.deadline - timedelta(seconds=20)  # long before its deadline
            match = broker_find_by_client_tag(by_pk[op.account_id], op.client_tag)
            assert len(match.positions) == 1  # none doubled
        for account in accounts:
            assert len(broker_positions(account)) == 5
        survivor_ids = set(EngineWorker.objects.values_list("pk", flat=True)) - {homes[0].worker_id}
        assert set(AccountHome.objects.values_list("worker_id", flat=True)) <= survivor_ids
        assert survivor.proc.poll() is None
