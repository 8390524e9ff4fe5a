"""The execution actor: takes an operation id, reloads, and is safe to run twice (the pipeline's
claim makes a redelivered message do nothing)."""

import dramatiq
from django.db import transaction

from execution.orders import pipeline
from execution.orders.crashpoints import crash_point
from execution.queues import EXECUTION_QUEUE


@dramatiq.actor(queue_name=EXECUTION_QUEUE, max_retries=0, time_limit=2 * 3600_000)
def execute_operation(operation_id: int) -> None:
    """Run an operation through the pipeline (short retries happen inside; an operation left
    waiting is sent again for when it is due)."""
    run_again_in = pipeline.run_operation(operation_id)
    if run_again_in is not None:
        enqueue(operation_id, delay=run_again_in)
    crash_point("before_ack")


def enqueue(operation_id: int, *, delay: float | None = None) -> None:
    """Send the operation to the execution workers after the current transaction commits (its
    durable row is what the sweeper re-enqueues if this message is ever lost)."""
    options = {"delay": int(delay * 1000)} if delay else {}
    transaction.on_commit(lambda: execute_operation.send_with_options(args=(operation_id,), **options))
