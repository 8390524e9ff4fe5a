"""The execution actor: takes an operation id and hands it to this process's engine, which runs it
in the account's home worker (``execution.engine``). Safe to run twice: the engine runs an operation
once at a time, and the pipeline's claim makes a redelivered message do nothing."""

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


def enqueue(operation_id: int, *, priority: Priority = Priority.NORMAL) -> None:
    """Send the operation to the execution workers after the current transaction commits (its
    durable row is what the engines and the sweeper find again if this message is ever lost)."""
    transaction.on_commit(
        lambda: execute_operation.send_with_options(
            args=(operation_id,), broker_priority=BROKER_PRIORITY[priority]
        )
    )
