"""Boots this process's engine in every Dramatiq worker that consumes the execution queue (and
stops it, leaving its accounts to the other workers, when the worker shuts down)."""

import dramatiq

from execution.queues import EXECUTION_QUEUE


def _engine():
    # imported when a worker boots: the broker (and this middleware) is built before models load
    from execution.engine.engine import engine

    return engine()


class EngineBoot(dramatiq.Middleware):
    def after_worker_boot(self, broker, worker) -> None:
        queues = worker.consumer_whitelist
        if queues is None or EXECUTION_QUEUE in queues:
            _engine().start()

    def before_worker_shutdown(self, broker, worker) -> None:
        _engine().stop()
