"""``/health/live`` and ``/health/ready``: no login, no database for liveness, each readiness check
named with its state, 503 naming what fails, nothing secret in the body."""

import socket
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker

from execution.engine.models import EngineWorker
from observability import readiness
from tests.services import rabbitmq_url, redis_url


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free now: nothing listens there


@pytest.fixture
def rabbitmq_broker(monkeypatch):
    broker = RabbitmqBroker(url=rabbitmq_url(), middleware=[])
    monkeypatch.setattr(readiness.dramatiq, "get_broker", lambda: broker)
    yield broker
    broker.close()


def test_live_is_200_without_the_database_or_a_login(client):
    response = client.get("/health/live")  # no django_db mark: a query would raise
    assert response.status_code == 200
    assert response.json() == {"status": "live"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_ready_in_the_embedded_default_with_a_heartbeating_worker(client, alive_worker):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {
            "database": {"state": "up"},
            "redis": {"state": "not_configured"},
            "broker": {"state": "up", "broker": "in-process"},
            "workers": {"state": "up", "alive": 1},
        },
    }


@pytest.mark.django_db
@pytest.mark.service("redis")
@pytest.mark.service("rabbitmq")
def test_ready_with_every_service_up(client, settings, alive_worker, rabbitmq_broker):
    settings.REDIS_URL = redis_url()
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {
        "database": {"state": "up"},
        "redis": {"state": "up"},
        "broker": {"state": "up", "broker": "rabbitmq"},
        "workers": {"state": "up", "alive": 1},
    }


@pytest.mark.django_db
def test_503_names_redis_down_and_shows_no_url_or_password(client, settings, alive_worker):
    settings.REDIS_URL = f"redis://:hunter2secret@127.0.0.1:{closed_port()}/0"
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert body["checks"]["redis"] == {"state": "down", "error": "ConnectionError"}
    assert body["checks"]["database"] == {"state": "up"}
    assert "hunter2secret" not in response.content.decode()
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_503_when_no_worker_heartbeats(client):
    EngineWorker.objects.create(
        id="gone", hostname="h", pid=2, alive_until=timezone.now() - timedelta(seconds=1)
    )
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == {"state": "down", "alive": 0}


@pytest.mark.django_db
def test_503_when_the_database_does_not_answer(client, monkeypatch):
    def refused():
        raise OperationalError("connection to server at 127.0.0.1 failed: password=...")

    monkeypatch.setattr(readiness, "alive_workers", refused)
    response = client.get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"state": "down", "error": "OperationalError"}
    assert checks["workers"] == {"state": "unknown"}
    assert "password" not in response.content.decode()


@pytest.mark.django_db
def test_503_when_rabbitmq_is_unreachable(client, monkeypatch, alive_worker):
    broker = RabbitmqBroker(url=f"amqp://guest:hunter2secret@127.0.0.1:{closed_port()}/%2F", middleware=[])
    monkeypatch.setattr(readiness.dramatiq, "get_broker", lambda: broker)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "state": "down",
        "broker": "rabbitmq",
        "error": "AMQPConnectionError",
    }
    assert "hunter2secret" not in response.content.decode()


@pytest.mark.service("rabbitmq")
def test_the_rabbitmq_check_reuses_the_connection_and_replaces_a_lost_one(rabbitmq_broker):
    assert readiness.broker_check(rabbitmq_broker).state == "up"
    first = rabbitmq_broker.connection
    assert readiness.broker_check(rabbitmq_broker).state == "up"
    assert rabbitmq_broker.connection is first  # a probe opens no connection of its own
    first.close()  # lost
    assert readiness.broker_check(rabbitmq_broker).state == "up"
    assert rabbitmq_broker.connection is not first


@pytest.mark.service("redis")
def test_the_redis_broker_is_checked_by_a_ping():
    broker = RedisBroker(url=redis_url(), middleware=[])
    try:
        assert readiness.broker_check(broker).as_json() == {"state": "up", "broker": "redis"}
    finally:
        broker.close()
    down = RedisBroker(url=f"redis://127.0.0.1:{closed_port()}/0", middleware=[])
    assert readiness.broker_check(down).as_json() == {
        "state": "down",
        "broker": "redis",
        "error": "ConnectionError",
    }


@pytest.mark.django_db
def test_health_answers_every_request_of_a_burst(client, alive_worker):
    """Not behind any throttle: probes every second from several places are all answered."""
    statuses = {client.get(path).status_code for path in ["/health/live", "/health/ready"] * 40}
    assert statuses == {200}
