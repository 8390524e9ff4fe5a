"""What the product's processes count as it happens, for ``/metrics``: an operation's end (its
latency from acceptance, by kind and end state), an attempt's outcome (by category), a live
dashboard socket opened or closed.

Promise: each call is an in-memory change (``observability.store``), safe from any thread and from
the event loop, and counted once wherever it happens (any worker or web process, any host).
"""

from execution.orders.models import Operation, OperationAttempt
from observability import store

LATENCY = "operation_latency"
ATTEMPTS = "operation_attempts"
WEBSOCKETS = "websockets"
# upper bounds (seconds) of the latency buckets: a market order takes well under a second; a close
# may wait out a safety pause (30 s, then a test) or a broker pause (60 s), up to its 1 h deadline
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, float("inf"))


def _bucket(seconds: float) -> float:
    return next(bound for bound in LATENCY_BUCKETS if seconds <= bound)


def operation_changed(operation: Operation) -> None:
    """After an operation's state was saved: once it has ended, count its latency (created_at to
    finished_at) under its kind and end state."""
    if operation.state not in Operation.TERMINAL or operation.finished_at is None:
        return
    seconds = max(0.0, (operation.finished_at - operation.created_at).total_seconds())
    labels = f"{operation.kind}|{operation.state}"
    store.add(LATENCY, f"{labels}|{_bucket(seconds):g}")
    store.add(LATENCY, f"{labels}|sum", seconds)


def attempt_finished(attempt: OperationAttempt) -> None:
    """After an attempt's outcome was recorded: count it under its category."""
    store.add(ATTEMPTS, attempt.category or "unknown")


def websocket_opened() -> None:
    store.change_gauge(WEBSOCKETS, 1)


def websocket_closed() -> None:
    store.change_gauge(WEBSOCKETS, -1)
