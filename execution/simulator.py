"""The simulated broker as the product runs it: its state in the database, one engine per process.

Several worker processes share an account through :class:`DatabaseStateStore` (row lock per key);
prices need no sharing (the feed is a function of seed, symbol and second).
"""

import contextlib
import threading
from collections.abc import Iterator
from functools import cache

from django.conf import settings
from django.db import transaction

from execution.gateways.simulated import CATALOGS, SimStateStore, SimulatedEngine
from execution.models import SimulatorDocument

SIMULATED_SERVERS = tuple(sorted(CATALOGS))


class DatabaseStateStore(SimStateStore):
    """Documents in ``SimulatorDocument`` rows; ``lock`` holds SELECT ... FOR UPDATE on the row
    inside a transaction (and a thread lock, for SQLite where FOR UPDATE is a no-op)."""

    def __init__(self) -> None:
        self._thread_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def read(self, key: str) -> str | None:
        document = SimulatorDocument.objects.filter(key=key).values_list("document", flat=True).first()
        return document or None

    def write(self, key: str, document: str) -> None:
        SimulatorDocument.objects.update_or_create(key=key, defaults={"document": document})

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        with self._guard:
            thread_lock = self._thread_locks.setdefault(key, threading.Lock())
        with thread_lock, transaction.atomic():
            SimulatorDocument.objects.get_or_create(key=key, defaults={"document": ""})
            SimulatorDocument.objects.select_for_update().filter(key=key).exists()
            yield


@cache
def engine() -> SimulatedEngine:
    """This process's engine over the shared database state."""
    return SimulatedEngine(DatabaseStateStore(), seed=settings.TTMT_SIMULATOR_SEED)


def account_key(account_id: int) -> str:
    return f"account-{account_id}"
