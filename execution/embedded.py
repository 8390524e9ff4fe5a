"""The embedded default's in-process workers: one Dramatiq worker over the in-process broker (its
boot starts this process's engine, which runs every operation and streams every account:
``execution.engine``), and as threads the housekeeping and the player of the recorded signal
sources."""

import logging
import threading
import time

import dramatiq
from django.conf import settings
from dramatiq import Worker

import execution.actors  # noqa: F401  (actors bind to the broker at import)
from execution.housekeeping import housekeeping
from execution.signals.sources.recorded import play_forever

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
        threading.Thread(target=play_forever, name="ttmt-recordings", daemon=True).start()
    return _worker


def _sweep_forever(every: float = 10.0) -> None:
    while True:
        time.sleep(every)
        try:
            housekeeping()
        except Exception:  # keep sweeping: one failed pass (e.g. a locked database) is not fatal
            logger.exception("operation sweep failed")
