import dramatiq
import pytest
from dramatiq import Worker

from execution.broker.simulator import engine as simulated_engine
from execution.engine.engine import engine


@pytest.fixture
def stub_broker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    return broker


@pytest.fixture
def worker(stub_broker):
    """A real Dramatiq worker on the in-process broker. Its threads use their own database
    connections: tests using it need ``django_db(transaction=True)``."""
    import execution.actors  # noqa: F401

    worker = Worker(stub_broker, worker_timeout=100, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()
    # A delayed message the worker was holding (e.g. an operation waiting out a pause) is dropped
    # with it but still counted as unfinished by its queue: reset, or the next test's join hangs.
    stub_broker.flush_all()
    for queue in stub_broker.queues.values():
        with queue.mutex:
            queue.unfinished_tasks = 0
            queue.all_tasks_done.notify_all()


@pytest.fixture
def run_queued(stub_broker, worker):
    """Wait until every queued message has been processed (and fail on a dead-lettered one)."""

    def run():
        for queue in list(stub_broker.queues):
            if not queue.endswith(".DQ") and not queue.endswith(".XQ"):
                stub_broker.join(queue, fail_fast=True)
        worker.join()
        engine().join()  # the actor hands operations to the engine, which runs them on its loop

    return run


@pytest.fixture(autouse=True)
def _fresh_engine():
    simulated_engine.cache_clear()
    yield
    simulated_engine.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_safety(settings):
    """Fresh in-memory safety state per test, with retry delays short enough not to slow tests."""
    from execution.safety.runtime import safety

    settings.TTMT_SAFETY = {
        **settings.TTMT_SAFETY,
        "retry": {
            "order_placement": {"initial_delay": 0.01, "max_delay": 0.05},
            "position_close": {"initial_delay": 0.01, "max_delay": 0.05},
            "breakeven": {"initial_delay": 0.01, "max_delay": 0.05},
            "tp_modification": {"initial_delay": 0.01, "max_delay": 0.05},
            "order_cancel": {"initial_delay": 0.01, "max_delay": 0.05},
        },
    }
    safety.cache_clear()
    yield
    safety.cache_clear()


@pytest.fixture
def market(settings):
    """The simulated broker's prices pinned: BTCUSD at 65000 (mid) until a test moves it
    (``market.set("BTCUSD", 65100.0, at=<unix second>)``); other instruments follow the usual feed."""
    from execution.broker.gateways.simulated.pricefeed import DeterministicFeed, ScriptedPriceSource

    feed = ScriptedPriceSource(fallback=DeterministicFeed(settings.TTMT_SIMULATOR_SEED))
    feed.set("BTCUSD", 65000.0)
    simulated_engine().feed = feed
    return feed
