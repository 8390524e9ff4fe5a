"""``/metrics``: the series and their values match what the deployment holds (rows, safety state,
what processes counted), whichever process answers; a fixed number of queries; the token."""

import json
import time
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.checks import run_checks
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from execution.engine.models import EngineWorker
from execution.orders.models import Operation, OperationAttempt
from execution.safety.errors import Category
from execution.safety.pause import PauseState
from execution.safety.runtime import safety
from observability import recording, store
from observability.metrics import exposition
from tests.factories import connected_simulated_account

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(response.content)


def samples(text: bytes) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def value(found: dict, name: str, **labels) -> float:
    return found[(name, frozenset(labels.items()))]


def operation(account, *, state: str, priority: int = 1, kind: str = "place_order", **fields) -> Operation:
    return Operation.objects.create(
        organization_id=account.organization_id,
        account=account,
        kind=kind,
        priority=priority,
        client_tag=uuid.uuid4().hex[:26],
        state=state,
        deadline=timezone.now() + timedelta(minutes=1),
        **fields,
    )


def ended(account, *, kind: str, state: str, seconds: float) -> Operation:
    created = timezone.now() - timedelta(seconds=seconds)
    return operation(
        account, kind=kind, state=state, created_at=created, finished_at=created + timedelta(seconds=seconds)
    )


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization)


def pause(account_id: int) -> None:
    policies = safety()
    for _ in range(2):  # two permanent failures in a row
        policies.pause.record(policies.pause.acquire(str(account_id)), Category.PERMANENT)


def pause_broker(platform_id: int, account_id: int) -> None:
    for _ in range(3):
        safety().health.record(str(platform_id), str(account_id), Category.TRANSIENT)


def test_queue_depth_counts_the_waiting_operations_by_priority(client, account):
    for _ in range(3):
        operation(account, state=Operation.WAITING, priority=0)
    operation(account, state=Operation.ACCEPTED, priority=1)
    operation(account, state=Operation.RUNNING, priority=0)  # being run: not waiting
    operation(account, state=Operation.DONE, priority=0)

    found = scrape(client)

    assert value(found, "ttmt_operation_queue_depth", priority="high", state="waiting") == 3
    assert value(found, "ttmt_operation_queue_depth", priority="normal", state="accepted") == 1
    assert value(found, "ttmt_operation_queue_depth", priority="high", state="accepted") == 0
    assert value(found, "ttmt_operation_queue_depth", priority="low", state="waiting") == 0


def test_workers_alive_counts_only_current_heartbeats(client, alive_worker):
    EngineWorker.objects.create(
        id="gone", hostname="h", pid=2, alive_until=timezone.now() - timedelta(seconds=1)
    )
    assert value(scrape(client), "ttmt_engine_workers_alive") == 1


def test_latency_histogram_and_attempts_count_what_ended(client, account):
    for seconds in (0.2, 0.3, 4.0):
        recording.operation_changed(ended(account, kind="place_order", state=Operation.DONE, seconds=seconds))
    recording.operation_changed(ended(account, kind="close_position", state=Operation.FAILED, seconds=70))
    recording.operation_changed(operation(account, state=Operation.WAITING))  # not ended: not counted
    attempt_of = operation(account, state=Operation.RUNNING)
    for number, category in enumerate(["transient", "transient", "success"], start=1):
        recording.attempt_finished(
            OperationAttempt(
                operation=attempt_of, number=number, category=category, finished_at=timezone.now()
            )
        )

    found = scrape(client)

    done = {"kind": "place_order", "state": "done"}
    assert value(found, "ttmt_operation_latency_seconds_bucket", le="0.1", **done) == 0
    assert value(found, "ttmt_operation_latency_seconds_bucket", le="0.25", **done) == 1
    assert value(found, "ttmt_operation_latency_seconds_bucket", le="0.5", **done) == 2
    assert value(found, "ttmt_operation_latency_seconds_bucket", le="5.0", **done) == 3
    assert value(found, "ttmt_operation_latency_seconds_bucket", le="+Inf", **done) == 3
    assert value(found, "ttmt_operation_latency_seconds_count", **done) == 3
    assert value(found, "ttmt_operation_latency_seconds_sum", **done) == pytest.approx(4.5)
    failed = {"kind": "close_position", "state": "failed"}
    assert value(found, "ttmt_operation_latency_seconds_bucket", le="60.0", **failed) == 0
    assert value(found, "ttmt_operation_latency_seconds_bucket", le="300.0", **failed) == 1
    assert value(found, "ttmt_operation_attempts_total", category="transient") == 2
    assert value(found, "ttmt_operation_attempts_total", category="success") == 1


def test_safety_states_one_gauge_per_account_and_platform(client, organization, account):
    other = connected_simulated_account(organization, login="5002")
    pause(account.pk)
    pause_broker(other.platform_id, other.pk)

    found = scrape(client)

    labels = {"organization": str(organization.pk)}
    assert (
        value(
            found,
            "ttmt_safety_pause_state",
            account=str(account.pk),
            platform=str(account.platform_id),
            **labels,
        )
        == 2
    )
    assert (
        value(
            found, "ttmt_safety_pause_state", account=str(other.pk), platform=str(other.platform_id), **labels
        )
        == 0
    )
    assert value(found, "ttmt_broker_health_state", platform=str(account.platform_id)) == 0
    assert value(found, "ttmt_broker_health_state", platform=str(other.platform_id)) == 1


@pytest.mark.service("redis")
def test_on_redis_safety_states_are_read_as_the_product_reads_them(
    client, shared_redis, organization, account
):
    other = connected_simulated_account(organization, login="5002")
    pause(account.pk)
    pause(other.pk)
    pause_broker(other.platform_id, other.pk)
    # the cooldown of the other account's pause is over: it is testing now (nobody has read it yet)
    from django.conf import settings

    key = f"{settings.TTMT_SAFETY_PREFIX}pause:{other.pk}"
    document = json.loads(shared_redis.get(key))
    shared_redis.set(key, json.dumps({**document, "paused_until": time.time() - 1}))

    found = scrape(client)

    def pause_state(acc) -> float:
        labels = {
            "account": str(acc.pk),
            "organization": str(organization.pk),
            "platform": str(acc.platform_id),
        }
        return value(found, "ttmt_safety_pause_state", **labels)

    assert pause_state(account) == 2
    assert pause_state(other) == 1
    assert value(found, "ttmt_broker_health_state", platform=str(other.platform_id)) == 1
    assert safety().pause.status(str(other.pk)).state is PauseState.TESTING  # as the product says


@pytest.mark.service("redis")
def test_on_redis_counters_of_every_process_add_up(client, shared_redis, account, monkeypatch):
    """Two processes (a worker and a web process, say) each count what they saw; any one answers."""
    recording.operation_changed(ended(account, kind="place_order", state=Operation.DONE, seconds=0.2))
    store.flush()
    monkeypatch.setattr(store, "_process", store._Process())  # another process
    recording.operation_changed(ended(account, kind="place_order", state=Operation.DONE, seconds=0.4))
    recording.attempt_finished(OperationAttempt(category="connection"))
    store.flush()
    monkeypatch.setattr(store, "_process", store._Process())  # the web process answering the scrape

    found = scrape(client)

    done = {"kind": "place_order", "state": "done"}
    assert value(found, "ttmt_operation_latency_seconds_count", **done) == 2
    assert value(found, "ttmt_operation_latency_seconds_sum", **done) == pytest.approx(0.6)
    assert value(found, "ttmt_operation_attempts_total", category="connection") == 1


@pytest.mark.service("redis")
def test_on_redis_a_counter_not_sent_while_redis_is_down_is_sent_later(shared_redis, settings):
    reachable = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    recording.attempt_finished(OperationAttempt(category="success"))
    with pytest.raises(Exception, match="Connection refused|connecting"):
        store.flush()
    settings.REDIS_URL = reachable
    store.flush()
    assert store.totals(recording.ATTEMPTS) == {"success": 1.0}


@pytest.mark.service("redis")
def test_on_redis_websockets_are_summed_over_live_processes(shared_redis, monkeypatch):
    for opened in (2, 3):
        monkeypatch.setattr(store, "_process", store._Process())
        for _ in range(opened):
            recording.websocket_opened()
        store.flush()
    recording.websocket_closed()
    store.flush()
    assert store.gauge_sum(recording.WEBSOCKETS) == 4

    monkeypatch.setattr(store, "GAUGE_TTL", -1.0)  # a process that stops sending: its share expires
    monkeypatch.setattr(store, "_process", store._Process())
    recording.websocket_opened()
    store.flush()
    assert store.gauge_sum(recording.WEBSOCKETS) == 4
    assert shared_redis.hlen(f"{store.settings.TTMT_METRICS_PREFIX}{recording.WEBSOCKETS}") == 2


@pytest.mark.django_db(transaction=True)
async def test_open_dashboard_sockets_are_counted(admin_user, organization):
    from tests.execution.web.test_live_consumer import open_socket

    sockets = []
    for _ in range(2):
        communicator, connected = await open_socket(organization.slug, admin_user)
        assert connected
        await communicator.receive_json_from(timeout=10)  # the snapshot: counted from then on
        sockets.append(communicator)
    refused, connected = await open_socket(organization.slug)  # no session: never counted
    assert not connected
    assert store.gauge_sum(recording.WEBSOCKETS) == 2
    await sockets[0].disconnect()
    assert store.gauge_sum(recording.WEBSOCKETS) == 1
    await sockets[1].disconnect()
    assert b"\nttmt_websockets_open 0.0\n" in await database_sync_to_async(exposition)()


def test_a_scrape_is_a_fixed_number_of_queries_whatever_the_accounts(
    client, organization, account, django_assert_max_num_queries
):
    def accounts_and_operations(first_login: int, count: int) -> None:
        for n in range(count):
            extra = connected_simulated_account(organization, login=str(first_login + n))
            operation(extra, state=Operation.WAITING, priority=n % 3)
            pause(extra.pk)

    accounts_and_operations(6000, 2)
    with django_assert_max_num_queries(3):
        scrape(client)
    accounts_and_operations(7000, 8)
    with django_assert_max_num_queries(3):
        found = scrape(client)
    paused = [v for (name, _), v in found.items() if name == "ttmt_safety_pause_state" and v == 2]
    assert len(paused) == 10


def test_with_a_token_metrics_need_it(client, settings):
    settings.TTMT_METRICS_TOKEN = "s3cret-metrics-token"
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong"},
        {"HTTP_AUTHORIZATION": "s3cret-metrics-token"},
    ):
        response = client.get("/metrics", **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "not_authenticated"
        assert set(response.json()["error"]) == {"status", "code", "message", "fields"}
    found = scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert value(found, "ttmt_engine_workers_alive") == 0


def test_the_deploy_check_warns_while_metrics_have_no_token(settings):
    settings.TTMT_METRICS_TOKEN = ""
    assert "observability.W001" in {message.id for message in run_checks(include_deployment_checks=True)}
    settings.TTMT_METRICS_TOKEN = "set"
    assert "observability.W001" not in {message.id for message in run_checks(include_deployment_checks=True)}


@pytest.mark.django_db(transaction=True)  # the engine runs it on its own threads and connections
def test_an_order_run_by_the_pipeline_is_counted_by_its_end_and_its_attempt(client, account):
    from execution.engine.engine import engine
    from execution.orders.accept import order_place

    placed = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    engine().run_now(placed.pk)

    found = scrape(client)
    assert Operation.objects.get(pk=placed.pk).state == Operation.DONE
    done = {"kind": "place_order", "state": "done"}
    assert value(found, "ttmt_operation_latency_seconds_count", **done) == 1
    assert value(found, "ttmt_operation_attempts_total", category="success") == 1
