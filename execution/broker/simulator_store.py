"""The simulated broker's state in the database, shared by every process: one locked read and one
write per engine call.

``transaction(account)`` reads the account's row under a row lock (``SELECT ... FOR UPDATE``; on
SQLite the write lock that an IMMEDIATE transaction takes at BEGIN, plus a thread lock) in the
same statement as its platform's fault settings; ``load`` and ``load_faults`` inside it answer from
that read, and ``save`` writes the account back with a new random stamp. Each process keeps the
last state it read or wrote of every account with its stamp: while the row still has it (an
account's home worker is nearly always its only writer), the locked read skips the document, so
it is neither sent nor decoded. (A random stamp, not a counter: a row deleted and created again
never matches a state kept from before.) A transaction that ends without a save, or on an error, forgets
the kept state (the engine may have changed it half-way).

Outside a transaction, reads are plain reads of the committed document. Fault settings and market
paths of a platform are read, locked and written through the base class's primitives.
"""

import contextlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction

from execution.broker.gateways.simulated import FaultSettings, SimAccountState, SimStateStore
from execution.broker.gateways.simulated.store import ACCOUNT_PREFIX, FAULTS_PREFIX
from execution.broker.models import SimulatorDocument

TABLE = connection.ops.quote_name(SimulatorDocument._meta.db_table)


def _decoded(document: str) -> SimAccountState | None:
    return SimAccountState.from_json(document) if document else None  # empty: not opened yet


def new_stamp() -> int:
    return secrets.randbits(62) + 1  # never 0, the stamp of a row created empty


@dataclass
class _Held:
    """What a transaction read under its lock."""

    key: str
    stamp: int
    state: SimAccountState | None
    fault_scope: str | None  # the platform fault settings read with it (None: not read)
    faults: str | None
    saved: bool = False


class DatabaseStateStore(SimStateStore):
    def __init__(self) -> None:
        self._thread_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._kept: dict[str, tuple[int, SimAccountState]] = {}  # account key -> (row stamp, state)
        self._local = threading.local()

    # -- primitives (fault settings, market paths) ------------------------------------------------
    def read(self, key: str) -> str | None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT document FROM {TABLE} WHERE key = %s", [key])  # noqa: S608
            row = cursor.fetchone()
        return (row[0] or None) if row else None

    def write(self, key: str, document: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (key, document, stamp, updated_at) "  # noqa: S608
                "VALUES (%s, %s, %s, CURRENT_TIMESTAMP) ON CONFLICT (key) DO UPDATE SET "
                "document = EXCLUDED.document, stamp = EXCLUDED.stamp, updated_at = EXCLUDED.updated_at",
                [key, document, new_stamp()],
            )

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        with self._thread_lock(key), transaction.atomic():
            self._lock_row(key)
            yield

    def _thread_lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def _lock_row(self, key: str, *, kept_stamp: int = -1, fault_scope: str | None = None) -> tuple:
        """(stamp, document unless it has ``kept_stamp``, the fault settings of ``fault_scope``)
        of the row, locked; the row is created empty first when missing."""
        of = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
        sql = (
            "SELECT a.stamp, CASE WHEN a.stamp = %s THEN NULL ELSE a.document END, "  # noqa: S608
            f"(SELECT f.document FROM {TABLE} f WHERE f.key = %s) FROM {TABLE} a WHERE a.key = %s{of}"
        )
        params = [kept_stamp, FAULTS_PREFIX + fault_scope if fault_scope else "", key]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row is None:
                cursor.execute(
                    f"INSERT INTO {TABLE} (key, document, stamp, updated_at) "  # noqa: S608
                    "VALUES (%s, '', 0, CURRENT_TIMESTAMP) ON CONFLICT (key) DO NOTHING",
                    [key],
                )
                cursor.execute(sql, params)
                row = cursor.fetchone()
        return row

    # -- accounts ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self, account_key: str) -> Iterator[None]:
        key = ACCOUNT_PREFIX + account_key
        with self._thread_lock(key), transaction.atomic():
            kept = self._kept.get(key)
            scope = kept[1].fault_scope if kept else None
            stamp, document, faults = self._lock_row(
                key, kept_stamp=kept[0] if kept else -1, fault_scope=scope
            )
            state = kept[1] if document is None else _decoded(document)  # None: the kept state's stamp
            held = _Held(key, stamp, state, scope, faults)
            outer, self._local.held = getattr(self._local, "held", None), held
            try:
                yield
            except BaseException:
                self._kept.pop(key, None)
                raise
            finally:
                self._local.held = outer
            if not held.saved:
                self._kept.pop(key, None)

    def _holding(self, key: str) -> _Held | None:
        held = getattr(self._local, "held", None)
        return held if held is not None and held.key == key else None

    def load(self, account_key: str) -> SimAccountState | None:
        held = self._holding(ACCOUNT_PREFIX + account_key)
        if held is not None:
            return held.state
        return super().load(account_key)

    def save(self, account_key: str, state: SimAccountState) -> None:
        key = ACCOUNT_PREFIX + account_key
        held = self._holding(key)
        if held is None:
            raise RuntimeError("save an account inside its transaction")
        state.version += 1
        stamp = new_stamp()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {TABLE} SET document = %s, stamp = %s, updated_at = CURRENT_TIMESTAMP "  # noqa: S608
                "WHERE key = %s",
                [state.to_json(), stamp, key],
            )
        held.stamp, held.state, held.saved = stamp, state, True
        self._kept[key] = (stamp, state)

    def faults_transaction(self, scope: str) -> contextlib.AbstractContextManager[None]:
        held = getattr(self._local, "held", None)
        if held is not None and held.fault_scope == scope:
            held.fault_scope = None  # under the faults' own lock, read them afresh
        return super().faults_transaction(scope)

    def load_faults(self, scope: str) -> FaultSettings | None:
        held = getattr(self._local, "held", None)
        if held is not None and held.fault_scope == scope:
            return FaultSettings.from_json(held.faults) if held.faults else None
        return super().load_faults(scope)
