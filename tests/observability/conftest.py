import uuid
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from execution.engine.models import EngineWorker
from execution.safety.runtime import safety
from observability import store
from tests.services import redis_url


@pytest.fixture(autouse=True)
def _fresh_store(monkeypatch):
    """Each test is a process of its own: nothing counted, no safety state, from an earlier test."""
    monkeypatch.setattr(store, "_process", store._Process())
    safety.cache_clear()
    yield
    monkeypatch.setattr(store, "_process", store._Process())
    safety.cache_clear()


@pytest.fixture
def alive_worker(db):
    """An execution worker heartbeating now (as ``execution.engine.homes.heartbeat`` keeps it)."""
    return EngineWorker.objects.create(
        id="test-worker", hostname="test", pid=1, alive_until=timezone.now() + timedelta(seconds=6)
    )


@pytest.fixture
def shared_redis(settings):
    """As in production: REDIS_URL set (metrics and safety state in Redis), under key prefixes of
    this test's own, removed afterwards."""
    url = redis_url()
    prefix = f"test:obs:{uuid.uuid4().hex}:"
    settings.REDIS_URL = url
    settings.TTMT_METRICS_PREFIX = prefix + "metrics:"
    settings.TTMT_SAFETY_PREFIX = prefix + "safety:"
    safety.cache_clear()
    client = redis.Redis.from_url(url)
    yield client
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()
    safety.cache_clear()
