"""Two engines (as two worker processes would run them, here on two loops of one process) sharing
the database and Redis: an operation offered to the engine that is not its account's home is run by
the home, woken through Redis at once, not at its next search for unserved work."""

import time
import uuid

import pytest

from execution.engine.engine import Engine
from execution.engine.loop import EngineLoop
from execution.orders.accept import order_place
from execution.orders.models import Operation
from execution.safety.runtime import safety
from tests.factories import connected_simulated_account
from tests.services import redis_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.service("redis")]


@pytest.fixture
def two_engines(settings):
    settings.REDIS_URL = redis_url()
    settings.TTMT_SAFETY_PREFIX = f"test:wake:{uuid.uuid4().hex}:"
    settings.TTMT_ENGINE = {**settings.TTMT_ENGINE, "scan_every": 600.0}  # only a wake-up can be quick
    safety.cache_clear()
    engines = [Engine(EngineLoop(db_threads=2)) for _ in range(2)]
    for engine in engines:
        engine.start()
    yield engines
    for engine in engines:
        engine.stop()
    safety.cache_clear()


def test_the_engine_that_is_not_home_wakes_the_home_which_runs_it(organization, two_engines):
    home, other = two_engines
    account = connected_simulated_account(organization, server="SimBroker-Demo")
    first = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    home.offer(first.pk)  # the account had no home: this engine takes it
    home.join()
    first.refresh_from_db()
    assert first.state == "done" and first.held_by == home.worker_id

    second = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    other.offer(second.pk)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not Operation.objects.filter(pk=second.pk, state="done").exists():
        time.sleep(0.02)
    second.refresh_from_db()
    assert second.state == "done", second.reason
    assert second.held_by == home.worker_id  # run by the home, not by the engine it was offered to
    assert other.sessions.opened == 0 and home.sessions.opened == 1  # one broker session for both
