import dramatiq
import pytest
from dramatiq import Worker

from execution.simulator import engine


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


@pytest.fixture
def run_queued(stub_broker, worker):
    """Wait until every queued message has been processed (and fail on a dead-lettered one)."""

    def run():
        for queue in list(stub_broker.queues):
            if not queue.endswith(".DQ") and not queue.endswith(".XQ"):
                stub_broker.join(queue, fail_fast=True)
        worker.join()

    return run


@pytest.fixture(autouse=True)
def _fresh_engine():
    engine.cache_clear()
    yield
    engine.cache_clear()
