"""The execution actors: take operation ids and hand them to this process's engine, which runs each
in its account's home worker (``execution.engine``). Safe to run twice: the engine runs an operation
once at a time, and the pipeline's claim makes a redelivered message do nothing. Operations accepted
together (a signal's fan-out) travel :data:`BATCH` to a message, so that a fan-out to 1000 accounts
is 20 messages spread over the workers, not 1000 publishes."""

import dramatiq
from django.db import transaction

from execution.engine.engine import engine
from execution.queues import EXECUTION_QUEUE
from execution.safety.speed import Priority

# RabbitMQ delivers a higher number first (``x-max-priority``; ignored by the other brokers)
BROKER_PRIORITY = {Priority.HIGH: 2, Priority.NORMAL: 1, Priority.LOW: 0}
MAX_BROKER_PRIORITY = max(BROKER_PRIORITY.values())


@dramatiq.actor(queue_name=EXECUTION_QUEUE, max_retries=0)
def execute_operation(operation_id: int) -> None:
    """Hand the operation to the engine (it returns at once: waiting on a broker holds no worker
    thread)."""
    engine().offer(operation_id)


@dramatiq.actor(queue_name=EXECUTION_QUEUE, max_retries=0)
def execute_operations(operation_ids: list[int]) -> None:
    """Hand each operation to the engine, as :func:`execute_operation` hands one."""
    for operation_id in operation_ids:
        engine().offer(operation_id)


BATCH = 50


def enqueue_many(operations) -> None:
    """Send ``operations`` (accepted in the current transaction) to the execution workers after it
    commits, :data:`BATCH` of one priority to a message."""
    by_priority: dict[Priority, list[int]] = {}
    for operation in operations:
        by_priority.setdefault(Priority(operation.priority), []).append(operation.pk)
    for priority, ids in by_priority.items():
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            transaction.on_commit(
                lambda chunk=chunk, priority=priority: execute_operations.send_with_options(
                    args=(chunk,), broker_priority=BROKER_PRIORITY[priority]
                )
            )


def enqueue(operation_id: int, *, priority: Priority = Priority.NORMAL) -> None:
    """Send the operation to the execution workers after the current transaction commits (its
    durable row is what the engines and the sweeper find again if this message is ever lost)."""
    transaction.on_commit(
        lambda: execute_operation.send_with_options(
            args=(operation_id,), broker_priority=BROKER_PRIORITY[priority]
        )
    )
