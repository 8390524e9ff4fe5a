"""Fixtures: a FakeClock, and every state backend (memory and real Redis) under a unique key prefix."""

import uuid
from collections.abc import Iterator

import pytest
import redis

from execution.safety.clock import FakeClock
from execution.safety.state import MemoryStateBackend, RedisStateBackend, StateBackend
from tests.services import redis_url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redis_namespace() -> Iterator[tuple[redis.Redis, str, str]]:
    """(client, url, prefix): a unique key prefix, every key under it deleted afterwards."""
    url = redis_url()
    client = redis.Redis.from_url(url)
    prefix = f"test:ttmt-safety:{uuid.uuid4().hex}:"
    yield client, url, prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> StateBackend:
    if request.param == "memory":
        return MemoryStateBackend()
    client, _, prefix = request.getfixturevalue("redis_namespace")
    return RedisStateBackend(client, prefix)
