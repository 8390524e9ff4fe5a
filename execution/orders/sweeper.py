"""Nothing lost: re-enqueue operations whose message went missing.

An operation is accepted in the database and enqueued after commit; a process can die between the
two, a delayed message can be lost with its broker, a worker can die holding the lease. The
sweeper finds such operations by their durable state and enqueues them again; the pipeline's claim
makes a duplicate message harmless.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from execution.orders.actors import enqueue
from execution.orders.models import Operation
from execution.safety.speed import Priority

STUCK_AFTER = timedelta(seconds=30)


def sweep() -> list[int]:
    """Enqueue every stuck operation again; returns their ids."""
    now = timezone.now()
    stuck = Operation.objects.filter(
        Q(state=Operation.ACCEPTED, updated_at__lt=now - STUCK_AFTER) & Operation.due_at(now)
        | Q(state=Operation.WAITING, not_before__lt=now - STUCK_AFTER)
        | Q(state=Operation.RUNNING, lease_until__lt=now)
    ).values_list("pk", "priority")
    found = list(stuck[:1000])
    for operation_id, priority in found:
        enqueue(operation_id, priority=Priority(priority))
    return [operation_id for operation_id, _ in found]
