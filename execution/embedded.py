"""The embedded default's in-process workers: one Dramatiq worker over the in-process broker (its
boot starts this process's engine, which runs every operation: ``execution.engine``), the
housekeeping as a thread, and the accounts' streaming (live dashboard) as a thread."""

import asyncio
import logging
import threading
import time

import dramatiq
from django.conf import settings
from dramatiq import Worker

import execution.actors  # noqa: F401  (actors bind to the broker at import)
from execution.housekeeping import housekeeping
from execution.live.streaming import serve

logger = logging.getLogger(__name__)
_worker: Worker | None = None


def start_embedded_workers() -> Worker:
    global _worker
    if _worker is None:
        broker = dramatiq.get_broker()
        for queue in broker.get_declared_queues():
            logger.info("embedded worker consumes queue %s", queue)
        _worker = Worker(broker, worker_threads=settings.TTMT_EMBEDDED_WORKER_THREADS)
        _worker.start()
        threading.Thread(target=_sweep_forever, name="ttmt-sweeper", daemon=True).start()
    return _worker


def _sweep_forever(every: float = 10.0) -> None:
    while True:
        time.sleep(every)
        try:
            housekeeping()
        except Exception:  # keep sweeping: one failed pass (e.g. a locked database) is not fatal
            logger.exception("operation sweep failed")


_streaming: threading.Thread | None = None


def start_embedded_streaming() -> threading.Thread:
    """The accounts' event streams (``manage.py stream_accounts`` in production), in a thread with
    its own event loop."""
    global _streaming
    if _streaming is None:

        def stream_forever() -> None:
            while True:
                try:
                    asyncio.run(serve())
                except Exception:  # keep streaming: the dashboard depends on it
                    logger.exception("account streaming stopped; restarting")
                time.sleep(5)

        _streaming = threading.Thread(target=stream_forever, name="ttmt-streaming", daemon=True)
        _streaming.start()
    return _streaming
