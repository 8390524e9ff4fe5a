"""The execution pipeline end to end: API -> operation -> actor -> safety -> simulated broker."""

import time
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from execution.accounts.models import RiskSettings
from execution.broker.faults import simulated_faults_set
from execution.broker.gateways.base import OrderKind, OrderRequest, Side
from execution.broker.models import SimulatorDocument
from execution.broker.registry import gateway_for
from execution.engine.engine import engine
from execution.orders.accept import order_place, position_close, position_modify, submit
from execution.orders.actors import enqueue
from execution.orders.models import Operation, OperationAttempt
from execution.safety.models import SafetyEvent
from execution.safety.runtime import safety
from tests.factories import connected_simulated_account

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(organization):
    # BTCUSD trades around the clock: these tests do not depend on the day they run
    return connected_simulated_account(organization, server="SimBroker-Demo")


def orders_url(account):
    return f"/api/v1/orgs/{account.organization.slug}/accounts/{account.pk}/"


def broker_positions(account):
    async def read():
        gateway = gateway_for(account)
        await gateway.connect()
        return await gateway.positions()

    return async_to_sync(read)()


def place(api, account, **body):
    body = {"symbol": "btc", "side": "buy", **body}
    return api.post(orders_url(account) + "orders/", body, format="json")


def test_an_order_goes_through_the_pipeline_with_the_volume_from_risk_settings(
    api, admin_user, account, run_queued
):
    RiskSettings.objects.create(account=account, mode="fixed", fixed_lots="0.05")
    api.force_authenticate(admin_user)

    response = place(api, account, volume="50")  # a proposed volume is ignored
    assert response.status_code == 202, response.json()
    assert response.json()["state"] == "accepted"
    run_queued()

    operation = Operation.objects.get()
    assert operation.state == "done", operation.reason
    assert operation.params["symbol"] == "BTCUSD"
    (position,) = broker_positions(account)
    assert (position.symbol, position.volume, position.client_tag) == (
        "BTCUSD",
        Decimal("0.05"),
        operation.client_tag,
    )
    assert [a.category for a in operation.attempts.all()] == ["success"]


def test_the_same_idempotency_key_never_doubles_an_order(api, admin_user, account, run_queued):
    api.force_authenticate(admin_user)
    first = api.post(
        orders_url(account) + "orders/",
        {"symbol": "BTCUSD", "side": "buy"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    again = api.post(
        orders_url(account) + "orders/",
        {"symbol": "BTCUSD", "side": "buy"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    other = api.post(
        orders_url(account) + "orders/",
        {"symbol": "BTCUSD", "side": "sell"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    run_queued()
    assert Operation.objects.count() == 1
    assert len(broker_positions(account)) == 1


def test_a_transient_error_is_retried_by_the_profile(account, run_queued):
    simulated_faults_set(account=account, scripted_errors=[10004, 10004])  # requotes
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()

    operation.refresh_from_db()
    assert operation.state == "done", operation.reason
    attempts = list(operation.attempts.values_list("category", "code"))
    assert attempts == [("transient", 10004), ("transient", 10004), ("success", 10009)]
    assert len(broker_positions(account)) == 1


def test_a_permanent_error_fails_at_once_and_two_in_a_row_pause_the_account(account, run_queued):
    simulated_faults_set(account=account, scripted_errors=[10019, 10019])  # no money
    first = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()
    second = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()

    for operation in (first, second):
        operation.refresh_from_db()
        assert operation.state == "failed"
        assert operation.attempts.count() == 1
        assert "permanent" in operation.reason
    assert str(safety().pause.status(str(account.pk)).state) == "paused"
    event = SafetyEvent.objects.get(account=account)
    assert (event.from_state, event.to_state) == ("trading", "paused")
    assert "2 consecutive permanent failures" in event.cause

    # a new order waits out the pause (not sent meanwhile); one that asks to fail fast fails at once
    third = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    third = wait_for_state(third, "waiting", "safety pause")
    assert "safety pause is paused" in third.reason and "Waiting for it to recover" in third.reason
    assert third.not_before is not None
    fast = order_place(account=account, symbol="BTCUSD", side="buy", type="market", fail_if_paused=True)
    fast = wait_for_state(fast, "failed")
    assert "safety pause is paused" in fast.reason and "fail fast" in fast.reason
    assert third.attempts.count() == 0 and fast.attempts.count() == 0  # never sent


def wait_for_state(operation, state, reason_part="", timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation.refresh_from_db()
        if operation.state == state and reason_part in operation.reason:
            return operation
        time.sleep(0.02)
    raise AssertionError(f"operation {operation.pk} is {operation.state} ({operation.reason}), not {state}")


def test_a_close_waits_for_a_paused_account_instead_of_being_dropped(account, run_queued):
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()
    (position,) = broker_positions(account)
    simulated_faults_set(account=account, scripted_errors=[10019, 10019])
    for _ in range(2):
        order_place(account=account, symbol="BTCUSD", side="buy", type="market")
        run_queued()
    assert str(safety().pause.status(str(account.pk)).state) == "paused"

    close = position_close(account=account, position_id=position.id)
    # the engine sets it waiting, for when the pause tests again (30 s later)
    close = wait_for_state(close, "waiting", "safety pause")
    assert "Waiting for it to recover" in close.reason
    assert close.not_before is not None
    assert operation.pk != close.pk


@pytest.mark.parametrize(
    "fault, category",
    [
        ("timeout_after", "transient"),  # the answer is lost
        ("connection_lost_after", "connection"),  # the connection drops before it (MetaApi: -11 and kin)
    ],
)
def test_an_unknown_outcome_is_looked_up_by_client_tag_before_sending_again(
    account, run_queued, fault, category
):
    # the order is executed, its answer lost (trading calls only: the price query before it answers)
    simulated_faults_set(account=account, scripted_errors=[fault], applies_to="trading")
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()

    operation.refresh_from_db()
    assert operation.state == "done", operation.reason
    assert operation.result["found_by_client_tag"] is True
    assert list(operation.attempts.values_list("category", "outcome_unknown")) == [(category, True)]
    assert len(broker_positions(account)) == 1  # not two


def test_a_worker_that_died_after_sending_causes_no_duplicate(account):  # no worker: only this run
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    # as if a worker had sent it and died before recording anything: an open attempt, an expired lease
    OperationAttempt.objects.create(operation=operation, number=1)
    Operation.objects.filter(pk=operation.pk).update(state="running", attempt_count=1)

    async def send():
        gateway = gateway_for(account)
        await gateway.connect()
        spec = await gateway.symbol_spec("BTCUSD")
        await gateway.place_order(
            OrderRequest(
                "BTCUSD", Side.BUY, OrderKind.MARKET, spec.volume_min, client_tag=operation.client_tag
            )
        )

    async_to_sync(send)()
    Operation.objects.filter(pk=operation.pk).update(lease_until="2000-01-01T00:00:00Z")
    engine().run_now(operation.pk)

    operation.refresh_from_db()
    assert operation.state == "done"
    assert operation.result["found_by_client_tag"] is True
    assert len(broker_positions(account)) == 1
    assert operation.attempts.get().outcome_unknown is True


def test_a_redelivered_message_for_a_finished_operation_does_nothing(account, run_queued):
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()
    engine().run_now(operation.pk)
    enqueue(operation.pk)
    run_queued()
    assert Operation.objects.get().attempts.count() == 1
    assert len(broker_positions(account)) == 1


def test_a_volume_below_the_symbol_minimum_is_rejected_with_the_reason(account, run_queued):
    RiskSettings.objects.create(account=account, mode="risk_percent", risk_percent="0.01")
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market", sl="1")
    run_queued()
    operation.refresh_from_db()
    assert operation.state == "failed"
    assert operation.reason.startswith("Volume rejected")
    assert broker_positions(account) == []
    assert str(safety().pause.status(str(account.pk)).state) == "trading"  # not a broker fault


def test_three_failures_on_a_platform_pause_all_its_accounts_but_not_other_platforms(
    organization, run_queued, settings
):
    retry = settings.TTMT_SAFETY["retry"]
    settings.TTMT_SAFETY = {**settings.TTMT_SAFETY, "retry": {**retry, "order_placement": {"max_retries": 0}}}
    safety.cache_clear()  # one attempt per operation: the failures below come one by one
    first = connected_simulated_account(organization, login="1")
    second = connected_simulated_account(organization, login="2", platform=first.platform)
    elsewhere = connected_simulated_account(organization, login="3")
    # broker-wide trouble: the trading calls on this platform fail (connection), whichever the account
    simulated_faults_set(platform=first.platform, scripted_errors=[10031] * 10, applies_to="trading")

    failures = []
    for account in (first, second, first):
        failures.append(order_place(account=account, symbol="BTCUSD", side="buy", type="market"))
        run_queued()
    assert [op.attempts.get().code for op in failures] == [10031, 10031, 10031]
    assert safety().health.status(str(first.platform_id)).paused
    assert not safety().health.status(str(elsewhere.platform_id)).paused
    assert str(safety().pause.status(str(first.pk)).state) == "trading"  # 2 failures: not the account's pause
    event = SafetyEvent.objects.get(platform=first.platform)
    assert (event.monitor, event.to_state) == ("health", "paused")

    later = order_place(account=elsewhere, symbol="BTCUSD", side="buy", type="market")
    blocked = order_place(account=second, symbol="BTCUSD", side="buy", type="market")
    later = wait_for_state(later, "done")
    blocked = wait_for_state(blocked, "waiting", "broker health monitor")  # waits out the platform's pause
    assert blocked.attempts.count() == 0


def test_operations_and_safety_are_visible_in_the_api(api, admin_user, account, run_queued):
    simulated_faults_set(account=account, scripted_errors=[10004])
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()
    api.force_authenticate(admin_user)

    body = api.get(orders_url(account) + f"operations/{operation.pk}/").json()
    assert body["state"] == "done"
    assert [(a["number"], a["category"], a["code"]) for a in body["attempts"]] == [
        (1, "transient", 10004),
        (2, "success", 10009),
    ]
    status = api.get(orders_url(account) + "safety/").json()
    assert status == status | {"pause_state": "trading", "broker_health": "healthy", "in_flight": 0}
    assert set(status["queue_depth"]) == {"high", "normal", "low"}


def test_the_sweeper_re_enqueues_an_operation_whose_message_was_lost(account, run_queued):
    from datetime import timedelta

    from django.utils import timezone

    from execution.orders.sweeper import sweep

    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()  # done: nothing to sweep
    lost = Operation.objects.create(
        organization=account.organization,
        account=account,
        kind="place_order",
        params=operation.params,
        priority=1,
        client_tag="ttmt-lost-message",
        deadline=timezone.now() + timedelta(minutes=5),
    )
    Operation.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(minutes=1))

    assert sweep() == [lost.pk]
    run_queued()
    lost.refresh_from_db()
    assert lost.state == "done", lost.reason
    assert sweep() == []
    assert len(broker_positions(account)) == 2


def test_the_account_page_shows_the_safety_state_and_operations(client, admin_user, account, run_queued):
    simulated_faults_set(account=account, scripted_errors=[10019, 10019])
    for _ in range(2):
        order_place(account=account, symbol="BTCUSD", side="buy", type="market")
        run_queued()
    client.force_login(admin_user)

    page = client.get(f"/orgs/{account.organization.slug}/accounts/{account.pk}/").content.decode()

    assert 'data-testid="pause-state">paused' in page
    assert "2 consecutive permanent failures" in page
    assert page.count("<td>failed</td>") == 2  # both orders, in the recent operations


def broker_orders(account):
    async def read():
        async with gateway_for(account) as gateway:
            return await gateway.orders()

    return async_to_sync(read)()


def broker_quote(account):
    async def read():
        async with gateway_for(account) as gateway:
            return await gateway.price("BTCUSD")

    return async_to_sync(read)()


def test_a_position_s_stop_loss_and_take_profit_are_modified_by_their_kinds(account, run_queued):
    order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()
    (position,) = broker_positions(account)
    sl = (position.open_price * Decimal("0.9")).quantize(Decimal("0.01"))
    tp = (position.open_price * Decimal("1.1")).quantize(Decimal("0.01"))

    stop = position_modify(account=account, position_id=position.id, sl=sl)
    run_queued()
    target = position_modify(account=account, position_id=position.id, tp=tp)
    run_queued()

    for operation, kind in ((stop, "modify_sl"), (target, "modify_tp")):
        operation.refresh_from_db()
        assert (operation.kind, operation.state) == (kind, "done"), operation.reason
    (position,) = broker_positions(account)
    assert (position.sl, position.tp) == (sl, tp)  # the stop loss was kept by the second


def test_a_stop_loss_change_retries_by_the_configured_breakeven_profile(account, run_queued):
    order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()
    (position,) = broker_positions(account)
    simulated_faults_set(account=account, scripted_errors=[10004], applies_to="trading")

    sl = (position.open_price * Decimal("0.9")).quantize(Decimal("0.01"))
    operation = position_modify(account=account, position_id=position.id, sl=sl)
    run_queued()

    operation.refresh_from_db()
    assert operation.state == "done", operation.reason
    # the tests' breakeven profile (tests/execution/conftest.py) waits 10 ms first
    assert list(operation.attempts.values_list("category", "retry_in_ms")) == [
        ("transient", 10),
        ("success", None),
    ]


def test_a_partial_close_remembers_the_volume_before_it(account, run_queued):
    RiskSettings.objects.create(account=account, mode="fixed", fixed_lots="0.03")
    order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()
    (position,) = broker_positions(account)

    operation = position_close(account=account, position_id=position.id, volume="0.01")
    run_queued()

    operation.refresh_from_db()
    assert operation.state == "done", operation.reason
    assert Decimal(operation.params["volume_before"]) == Decimal("0.03")
    (position,) = broker_positions(account)
    assert position.volume == Decimal("0.02")


def test_modify_order_moves_a_pending_order_and_keeps_what_it_does_not_give(account, run_queued):
    quote = broker_quote(account)
    cent = Decimal("0.01")
    price, sl = (quote.ask * Decimal("0.9")).quantize(cent), (quote.ask * Decimal("0.8")).quantize(cent)
    placed = order_place(account=account, symbol="BTCUSD", side="buy", type="limit", price=price, sl=sl)
    run_queued()
    placed.refresh_from_db()
    assert placed.state == "done", placed.reason
    (order,) = broker_orders(account)
    moved = (quote.ask * Decimal("0.85")).quantize(cent)

    operation = submit(
        account=account, kind="modify_order", params={"order_id": order.id, "price": str(moved)}
    )
    run_queued()

    operation.refresh_from_db()
    assert operation.state == "done", operation.reason
    assert (operation.priority, operation.result["order_id"]) == (1, order.id)
    (order,) = broker_orders(account)
    assert (order.price, order.sl, order.tp) == (moved, sl, None)


def test_query_reads_the_account_s_figures(account, run_queued):
    operation = submit(account=account, kind="query", params={})
    run_queued()

    async def read():
        async with gateway_for(account) as gateway:
            return await gateway.account_information()

    info = async_to_sync(read)()
    operation.refresh_from_db()
    assert operation.state == "done", operation.reason
    assert operation.priority == 2
    assert operation.result == {
        "balance": str(info.balance),
        "equity": str(info.equity),
        "margin": str(info.margin),
        "free_margin": str(info.free_margin),
        "currency": info.currency,
        "leverage": str(info.leverage),
    }
    assert [a.category for a in operation.attempts.all()] == ["success"]


def test_a_session_that_cannot_be_opened_is_retried_by_the_connection_profile(account, run_queued):
    simulated_faults_set(account=account, disconnected=True)
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    first = wait_until_attempt_finished(operation)
    simulated_faults_set(account=account, disconnected=False)
    run_queued()

    operation.refresh_from_db()
    assert operation.state == "done", operation.reason
    assert list(operation.attempts.values_list("category", flat=True)) == ["connection", "success"]
    # the Connection profile's first delay (2 s), not the order profile's (10 ms in these tests)
    assert first.retry_in_ms == int(safety().profiles["connection"].initial_delay * 1000)
    assert first.outcome_unknown is False  # nothing was sent: no look-up needed


def wait_until_attempt_finished(operation, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attempt = operation.attempts.filter(finished_at__isnull=False).first()
        if attempt is not None:
            return attempt
        time.sleep(0.02)
    raise AssertionError(f"no attempt of operation {operation.pk} finished")


def test_an_order_on_an_open_session_costs_a_bounded_number_of_queries(account, monkeypatch):
    """Once the account's session is open (its second order): the claim, the attempt recorded and
    closed, the volume, the outcome, and one locked read and one write per simulated broker call."""
    from django.db.backends.utils import CursorWrapper

    first, second = (order_place(account=account, symbol="BTCUSD", side="buy", type="market") for _ in "12")
    engine().run_now(first.pk)
    sent: list[str] = []  # from every thread: the engine's database work runs on its pool
    original = CursorWrapper.execute

    def counting(self, sql, params=None):
        sent.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", counting)
    engine().run_now(second.pk)
    monkeypatch.undo()

    assert Operation.objects.get(pk=second.pk).state == "done"
    broker = [sql for sql in sent if SimulatorDocument._meta.db_table in sql]
    assert len(broker) == 4, broker  # price and place_order: a locked read and a write each
    # claim (update, read), lease renewed, attempt counted and recorded, symbol with risk settings,
    # volume recorded, attempt closed, operation done
    assert len(sent) - len(broker) <= 9, "\n".join(sent)
