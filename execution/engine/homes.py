"""A home per account: the one live worker process that runs the account's operations.

Why leases in the database (and not, say, RabbitMQ single-active-consumer queue shards): a home
must move when its worker dies, and the operations are already durable rows there, so one query
finds the work of dead or missing homes; any number of worker processes and hosts share the load
(single-active-consumer would send every shard to the first process that subscribed); and the
embedded default (SQLite, one process) runs the same code.

A worker is alive while its heartbeat keeps ``EngineWorker.alive_until`` in the future. A home
belongs to a live worker or to nobody: :func:`claim` takes it when free or when its worker is dead.
Duplicates are prevented by the operation's own claim (``execution.orders.pipeline``), so two
workers briefly believing they are home cost speed, never a second order.
"""

import os
import socket
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from execution.accounts.models import TradingAccount
from execution.engine.models import AccountHome, EngineWorker
from execution.orders.models import Operation


def alive_workers(now: datetime) -> QuerySet:
    return EngineWorker.objects.filter(alive_until__gt=now).values("pk")


def heartbeat(worker_id: str, *, ttl: float) -> set[int]:
    """Keep the worker alive for ``ttl`` seconds more; the accounts it is home to."""
    now = timezone.now()
    updated = EngineWorker.objects.filter(pk=worker_id).update(alive_until=now + timedelta(seconds=ttl))
    if not updated:
        EngineWorker.objects.update_or_create(
            pk=worker_id,
            defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "alive_until": now + timedelta(seconds=ttl),
            },
        )
    return set(AccountHome.objects.filter(worker_id=worker_id).values_list("account_id", flat=True))


def claim(account_id: int, worker_id: str) -> str:
    """Make ``worker_id`` the account's home if it has none or its worker is dead; the home's
    worker id afterwards (``worker_id`` if taken or already held)."""
    now = timezone.now()
    taken = (
        AccountHome.objects.filter(account_id=account_id)
        .filter(~Q(worker_id__in=alive_workers(now)) | Q(worker_id=worker_id))
        .update(worker_id=worker_id, since=now)
    )
    if taken:
        return worker_id
    try:
        with transaction.atomic():
            AccountHome.objects.create(account_id=account_id, worker_id=worker_id, since=now)
        return worker_id
    except IntegrityError:  # another worker holds it (or just took it)
        holder = AccountHome.objects.filter(account_id=account_id).values_list("worker_id", flat=True).first()
        return holder if holder is not None else claim(account_id, worker_id)


def leave(worker_id: str) -> None:
    """A worker stopping cleanly: its homes are free at once, and it is no longer alive."""
    AccountHome.objects.filter(worker_id=worker_id).delete()
    EngineWorker.objects.filter(pk=worker_id).delete()


def due_work(worker_id: str, *, limit: int = 500) -> list[tuple[int, int]]:
    """(operation id, account id) of operations that should run now and that this worker may take:
    due ones of its own accounts, of accounts without a home or whose home's worker is dead, and
    running ones whose worker died or whose lease ran out."""
    now = timezone.now()
    alive = alive_workers(now)
    # a dead worker's claims end now, not when their leases would have
    Operation.objects.filter(state=Operation.RUNNING, lease_until__gte=now).exclude(held_by__in=alive).update(
        lease_until=now
    )
    due = Q(state__in=Operation.PENDING) & Operation.due_at(now)
    abandoned = Q(state=Operation.RUNNING, lease_until__lte=now)
    ours = (
        Q(account__home__worker_id=worker_id)
        | Q(account__home__isnull=True)
        | ~Q(account__home__worker_id__in=alive)
    )
    rows = Operation.objects.filter(due | abandoned).filter(ours).order_by("priority", "pk")
    return list(rows.values_list("pk", "account_id")[:limit])


def streams_to_take(worker_id: str) -> list[int]:
    """Set-up accounts without a live home that this worker should take, so that they are streamed
    (figures, book, prices) even with no operation: up to its fair share of all set-up accounts
    among the live workers."""
    now = timezone.now()
    alive = alive_workers(now)
    streamable = TradingAccount.objects.filter(connection_state__in=TradingAccount.SET_UP_STATES)
    workers = max(EngineWorker.objects.filter(alive_until__gt=now).count(), 1)
    room = -(-streamable.count() // workers) - AccountHome.objects.filter(worker_id=worker_id).count()
    if room <= 0:
        return []
    homeless = streamable.filter(Q(home__isnull=True) | ~Q(home__worker_id__in=alive))
    return list(homeless.order_by("pk").values_list("pk", flat=True)[:room])


def forget_dead_workers(older_than: timedelta = timedelta(days=1)) -> int:
    """Housekeeping: delete worker rows dead for long (their homes were taken over already)."""
    deleted, _ = EngineWorker.objects.filter(alive_until__lt=timezone.now() - older_than).delete()
    return deleted
