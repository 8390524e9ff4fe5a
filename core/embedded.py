"""The embedded default's in-process workers: one Dramatiq worker over the in-process broker."""

import logging

import dramatiq
from django.conf import settings
from dramatiq import Worker

logger = logging.getLogger(__name__)
_worker: Worker | None = None


def start_embedded_workers() -> Worker:
    global _worker
    if _worker is None:
        import execution.actors  # noqa: F401  (actors bind to the broker at import)

        broker = dramatiq.get_broker()
        for queue in broker.get_declared_queues():
            logger.info("embedded worker consumes queue %s", queue)
        _worker = Worker(broker, worker_threads=settings.TTMT_EMBEDDED_WORKER_THREADS)
        _worker.start()
    return _worker
