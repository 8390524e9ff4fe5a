"""The engine on the embedded default (an in-process worker and the engine's loop): priority from
acceptance to the broker, orders that wait out a pause, cancelling them, and fairness between
accounts (waiting on a slow broker holds no worker thread)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from execution.accounts.models import TradingAccount
from execution.broker.faults import simulated_faults_set
from execution.engine.engine import engine
from execution.engine.models import AccountHome
from execution.orders.accept import operation_cancel, order_place, position_close, submit
from execution.orders.models import Operation
from execution.safety.pause import PauseState
from execution.safety.runtime import safety
from execution.safety.speed import Start
from tests.execution.orders.mp_support import broker_find_by_client_tag, broker_positions, open_positions
from tests.factories import UserFactory, connected_simulated_account, organization_with_admin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(organization):
    # BTCUSD trades around the clock: these tests do not depend on the day they run
    return connected_simulated_account(organization, server="SimBroker-Demo")


@pytest.fixture
def speed_log(monkeypatch):
    """(event, operation id, monotonic time) of every ticket taken and slot granted by speed control."""
    speed, log = safety().speed, []
    enqueue, try_start = speed.enqueue, speed.try_start

    def logged_enqueue(account_id, op_id, priority, **kwargs):
        log.append(("ticket", int(op_id), time.monotonic()))
        return enqueue(account_id, op_id, priority, **kwargs)

    def logged_try_start(account_id, op_id):
        decision = try_start(account_id, op_id)
        if isinstance(decision, Start):
            log.append(("slot", int(op_id), time.monotonic()))
        return decision

    monkeypatch.setattr(speed, "enqueue", logged_enqueue)
    monkeypatch.setattr(speed, "try_start", logged_try_start)
    return log


def first(log, event, op_id) -> float:
    return min(at for kind, op, at in log if kind == event and op == op_id)


def wait_until(predicate, timeout=20.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def finished(operations, timeout=60.0) -> list[Operation]:
    ids = [op.pk for op in operations]
    wait_until(
        lambda: Operation.objects.filter(pk__in=ids, state__in=Operation.TERMINAL).count() == len(ids),
        timeout,
        f"{len(ids)} operations to finish",
    )
    return list(Operation.objects.filter(pk__in=ids).order_by("pk"))


def attempt_start(operation):
    return operation.attempts.order_by("number").first().started_at


# -- priority, end to end -------------------------------------------------------------------------


def test_a_close_accepted_after_50_waiting_orders_is_sent_before_every_order_not_started(
    account, worker, speed_log
):
    (position_id,) = open_positions(account, 1)
    simulated_faults_set(account=account, latency_seconds=0.3, applies_to="trading")
    orders = [order_place(account=account, symbol="BTCUSD", side="buy", type="market") for _ in range(50)]
    wait_until(lambda: Operation.objects.filter(attempts__isnull=False).count() >= 3, what="orders to start")

    close = position_close(account=account, position_id=position_id)
    done = finished([*orders, close])

    assert [op.state for op in done] == ["done"] * 51, [op.reason for op in done if op.state != "done"]
    close_ticket, close_slot = first(speed_log, "ticket", close.pk), first(speed_log, "slot", close.pk)
    # the next slot speed control granted after the close asked for one was the close's
    granted_after = [op for kind, op, at in speed_log if kind == "slot" and close_ticket <= at]
    assert granted_after[0] == close.pk
    # so every order not started by then reached the broker after the close
    later = [op for op in orders if first(speed_log, "slot", op.pk) > close_ticket]
    assert len(later) >= 40  # it really was accepted behind waiting orders
    assert close_slot < min(first(speed_log, "slot", op.pk) for op in later)
    # and sent after it: the attempt rows (written just before each send, on the engine's database
    # pool) of orders whose slot came a second or more after the close's
    clearly_later = [op for op in later if first(speed_log, "slot", op.pk) >= close_slot + 1.0]
    assert clearly_later and all(attempt_start(op) > attempt_start(close) for op in clearly_later)
    assert len(broker_positions(account)) == 50  # 50 opened, the one closed


def test_low_priority_queries_never_delay_normal_operations(account, worker, speed_log):
    simulated_faults_set(account=account, latency_seconds=0.3, applies_to="all")
    queries = [submit(account=account, kind="query", params={}) for _ in range(12)]
    wait_until(lambda: Operation.objects.filter(attempts__isnull=False).exists(), what="queries to start")
    orders = [order_place(account=account, symbol="BTCUSD", side="buy", type="market") for _ in range(3)]

    done = finished([*queries, *orders])

    assert all(op.state == "done" for op in done), [op.reason for op in done]
    last_order_ticket = max(first(speed_log, "ticket", op.pk) for op in orders)
    waiting_queries = [q for q in queries if first(speed_log, "slot", q.pk) > last_order_ticket]
    assert waiting_queries  # queries were still waiting when the orders came
    last_order_slot = max(first(speed_log, "slot", op.pk) for op in orders)
    assert all(first(speed_log, "slot", q.pk) > last_order_slot for q in waiting_queries)


# -- waiting out a pause -----------------------------------------------------------------------------


@pytest.fixture
def quick_pause(settings):
    """A 1 s cooldown: the pause tests again 1 s after it tripped."""
    pause = {**settings.TTMT_SAFETY["pause"], "cooldown": 1.0}
    settings.TTMT_SAFETY = {**settings.TTMT_SAFETY, "pause": pause}
    safety.cache_clear()


def trip_the_pause(account) -> None:
    simulated_faults_set(account=account, scripted_errors=[10019, 10019], applies_to="trading")  # no money
    tripping = [order_place(account=account, symbol="BTCUSD", side="buy", type="market") for _ in range(2)]
    assert [op.state for op in finished(tripping)] == ["failed", "failed"]
    assert safety().pause.status(str(account.pk)).state == PauseState.PAUSED


def test_orders_accepted_while_paused_wait_and_run_in_order_after_the_recovery_test(
    account, quick_pause, worker
):
    trip_the_pause(account)
    waiting = [order_place(account=account, symbol="BTCUSD", side="buy", type="market") for _ in range(5)]
    stale = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    Operation.objects.filter(pk=stale.pk).update(deadline=timezone.now() + timedelta(milliseconds=300))
    fast = order_place(account=account, symbol="BTCUSD", side="buy", type="market", fail_if_paused=True)

    (fast,) = finished([fast], timeout=5)
    assert fast.state == "failed" and "fail fast" in fast.reason and "safety pause is paused" in fast.reason
    assert safety().pause.status(str(account.pk)).state == PauseState.PAUSED  # it failed while paused

    done = finished([*waiting, stale], timeout=30)

    *orders, stale = done
    assert [op.state for op in orders] == ["done"] * 5, [op.reason for op in orders]
    starts = [attempt_start(op) for op in orders]
    assert starts == sorted(starts)  # in the order they were accepted
    assert all(op.attempts.count() == 1 for op in orders)
    assert stale.state == "failed" and stale.reason.startswith("Deadline passed")
    assert "safety pause" in stale.reason and stale.attempts.count() == 0
    assert fast.attempts.count() == 0
    assert safety().pause.status(str(account.pk)).state == PauseState.TRADING
    assert len(broker_positions(account)) == 5


def test_a_waiting_order_cancelled_through_the_api_is_never_sent(
    api, admin_user, account, quick_pause, worker
):
    trip_the_pause(account)
    keep = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    cancel = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    wait_until(
        lambda: Operation.objects.filter(pk=cancel.pk, state="waiting").exists(), what="the order to wait"
    )
    api.force_authenticate(admin_user)
    url = f"/api/v1/orgs/{account.organization.slug}/accounts/{account.pk}/operations/{cancel.pk}/cancel/"

    response = api.post(url)

    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "cancelled"
    keep, cancel = finished([keep, cancel], timeout=30)
    assert keep.state == "done" and cancel.state == "cancelled"
    assert cancel.attempts.count() == 0
    assert not broker_find_by_client_tag(account, cancel.client_tag).found
    again = api.post(url)  # it ended: nothing to cancel
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_cancellable"


def test_another_organization_cannot_cancel_an_operation(api, account, quick_pause, worker):
    trip_the_pause(account)
    waiting = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    stranger = UserFactory()
    other = organization_with_admin(stranger, name="Other Desk")
    api.force_authenticate(stranger)

    theirs = f"/api/v1/orgs/{other.slug}/accounts/{account.pk}/operations/{waiting.pk}/cancel/"
    ours = f"/api/v1/orgs/{account.organization.slug}/accounts/{account.pk}/operations/{waiting.pk}/cancel/"
    assert api.post(theirs).status_code == 404
    assert api.post(ours).status_code == 404
    waiting.refresh_from_db()
    assert waiting.state != "cancelled"


def test_an_operation_being_sent_cannot_be_cancelled(account):
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    Operation.objects.filter(pk=operation.pk).update(state=Operation.RUNNING)
    with pytest.raises(Exception) as refused:
        operation_cancel(operation=operation, requested_by="someone")
    assert getattr(refused.value, "code", None) == "not_cancellable"
    operation.refresh_from_db()
    assert operation.state == Operation.RUNNING


# -- fairness ---------------------------------------------------------------------------------------


def test_a_stalled_broker_of_one_organization_does_not_hold_up_another(organization, worker):
    slow = connected_simulated_account(organization, login="7001")
    simulated_faults_set(account=slow, latency_seconds=60, applies_to="trading")
    for _ in range(20):
        order_place(account=slow, symbol="BTCUSD", side="buy", type="market")
    wait_until(
        lambda: Operation.objects.filter(account=slow, attempts__isnull=False).count() == 5,
        what="the slow account's 5 slots to fill",
    )
    other = organization_with_admin(UserFactory(), name="Other Desk")
    elsewhere = connected_simulated_account(other, login="8001")

    order = order_place(account=elsewhere, symbol="BTCUSD", side="buy", type="market")
    (quick,) = finished([order], timeout=10)

    assert quick.state == "done", quick.reason
    assert not Operation.objects.filter(account=slow, state__in=Operation.TERMINAL).exists()
    assert Operation.objects.filter(account=slow, attempts__isnull=True).count() == 15  # still waiting
    assert engine().started


# -- streaming in the home ----------------------------------------------------------------------------


def test_the_engine_streams_each_account_in_its_home_on_the_session_its_operations_use(account, worker):
    streamed_before = account.figures_at
    wait_until(
        lambda: TradingAccount.objects.get(pk=account.pk).figures_at != streamed_before,
        what="the account's figures to be streamed",
    )
    # an account with no operation yet got a home, to be streamed there
    assert AccountHome.objects.get(account=account).worker_id == engine().worker_id

    (operation,) = finished([order_place(account=account, symbol="BTCUSD", side="buy", type="market")])

    assert operation.state == "done" and operation.held_by == engine().worker_id
    assert engine().sessions.opened == 1  # one broker session for the stream and the order
