"""Speed control per account across all worker processes: a prioritised ticket queue in the backend.

Promise: for one account, at most ``max_in_flight`` (5) operations run at once, no two start less
than ``min_gap`` (200 ms) apart, and waiting operations start by priority (HIGH, NORMAL, LOW), first
come first served within a priority. Usage: :meth:`SpeedControl.enqueue`, then poll
:meth:`SpeedControl.try_start` (sleeping the returned :class:`Wait`) until it returns :class:`Start`,
run the operation, and always :meth:`SpeedControl.finish`. A running slot is a lease (``lease``, about
the operation timeout) and a queued ticket expires when its waiter stops polling for ``ticket_ttl``,
so a crashed process blocks nothing for long.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import TypeVar

from execution.safety.clock import Clock
from execution.safety.state import Doc, StateBackend

R = TypeVar("R")
_EPSILON = 1e-9  # float slack when comparing the gap


class Priority(IntEnum):
    HIGH = 0
    NORMAL = 1
    LOW = 2

    @property
    def label(self) -> str:
        """The name in lower case ("high", "normal", "low"): how deadline settings and events say it."""
        return self.name.lower()


@dataclass(frozen=True)
class SpeedConfig:
    max_in_flight: int = 5
    min_gap: float = 0.2
    lease: float = 30.0
    ticket_ttl: float = 10.0
    poll_interval: float = 0.05


@dataclass(frozen=True)
class Start:
    op_id: str
    started_at: float
    lease_until: float


@dataclass(frozen=True)
class Wait:
    seconds: float
    reason: str
    behind_others: bool = False  # queued behind another operation or the in-flight limit (not the gap)


class UnknownTicket(LookupError):
    """try_start for an operation that was never enqueued, finished, or whose ticket expired."""


@dataclass
class _Doc:
    seq: int = 0
    last_start: float | None = None
    queue: dict[str, tuple[int, int, float]] = field(default_factory=dict)  # op -> (priority, seq, seen)
    running: dict[str, tuple[float, float]] = field(default_factory=dict)  # op -> (started_at, lease_until)


class SpeedControl:
    def __init__(self, backend: StateBackend, clock: Clock, config: SpeedConfig | None = None) -> None:
        self._backend = backend
        self._clock = clock
        self._config = config or SpeedConfig()

    @property
    def config(self) -> SpeedConfig:
        return self._config

    def enqueue(self, account_id: str, op_id: str, priority: Priority, *, order: int | None = None) -> None:
        """Take a ticket; idempotent for an operation already queued or running. Within a priority,
        tickets start by ``order`` (e.g. the operation's id: its place survives a re-enqueue after a
        retry), or first come first served without one."""

        def step(doc: _Doc, now: float) -> None:
            if op_id not in doc.queue and op_id not in doc.running:
                doc.seq += 1
                doc.queue[op_id] = (int(priority), doc.seq if order is None else order, now)

        self._run(account_id, step)

    def step_back(self, account_id: str, op_id: str, priority: Priority, *, order: int) -> None:
        """A started operation that may not run yet (its account is paused) gives its slot back and
        keeps its place at the front: nothing behind it starts before it (poll :meth:`try_start`,
        at least every ``ticket_ttl / 4``, to keep the ticket)."""

        def step(doc: _Doc, now: float) -> None:
            doc.running.pop(op_id, None)
            doc.queue[op_id] = (int(priority), order, now)

        self._run(account_id, step)

    def keep(self, account_id: str, op_id: str) -> None:
        """Keep a queued ticket alive without trying to start it (a waiter that is not polling)."""

        def step(doc: _Doc, now: float) -> None:
            if op_id in doc.queue:
                priority, order, _ = doc.queue[op_id]
                doc.queue[op_id] = (priority, order, now)

        self._run(account_id, step)

    def try_start(self, account_id: str, op_id: str) -> Start | Wait:
        cfg = self._config

        def step(doc: _Doc, now: float) -> Start | Wait:
            if op_id in doc.running:
                started_at, lease_until = doc.running[op_id]
                return Start(op_id, started_at, lease_until)
            if op_id not in doc.queue:
                raise UnknownTicket(f"operation {op_id!r} has no ticket for account {account_id!r}")
            priority, seq, seen = doc.queue[op_id]
            if now - seen >= cfg.ticket_ttl / 4:
                doc.queue[op_id] = (priority, seq, now)
            head = min(doc.queue, key=lambda op: doc.queue[op][:2])
            if head != op_id:
                return Wait(cfg.poll_interval, f"queued behind {head}", behind_others=True)
            if len(doc.running) >= cfg.max_in_flight:
                return Wait(cfg.poll_interval, f"{len(doc.running)} operations in flight", behind_others=True)
            if doc.last_start is not None and now - doc.last_start < cfg.min_gap - _EPSILON:
                return Wait(doc.last_start + cfg.min_gap - now, "minimum gap between operations")
            del doc.queue[op_id]
            doc.running[op_id] = (now, now + cfg.lease)
            doc.last_start = now
            return Start(op_id, now, now + cfg.lease)

        return self._run(account_id, step)

    def finish(self, account_id: str, op_id: str) -> bool:
        """Release the slot (or drop the ticket) of ``op_id``; True if it was running."""

        def step(doc: _Doc, now: float) -> bool:
            doc.queue.pop(op_id, None)
            return doc.running.pop(op_id, None) is not None

        return self._run(account_id, step)

    def queue_depth(self, account_id: str) -> dict[Priority, int]:
        def step(doc: _Doc, now: float) -> dict[Priority, int]:
            depth = dict.fromkeys(Priority, 0)
            for priority, _, _ in doc.queue.values():
                depth[Priority(priority)] += 1
            return depth

        return self._run(account_id, step)

    def in_flight(self, account_id: str) -> int:
        return self._run(account_id, lambda doc, now: len(doc.running))

    def _run(self, account_id: str, step: Callable[[_Doc, float], R]) -> R:
        ttl = self._config.ticket_ttl

        def update(raw: Doc | None) -> tuple[Doc, R]:
            # The clock is read after the document, on every (re)try of the transaction: a start
            # decided with a time read before another process's start committed would record a
            # ``last_start`` earlier than that start, and let the next one in less than the gap after it.
            now = self._clock.now()
            doc = _Doc(**raw) if raw else _Doc()
            queue = doc.queue.items()
            doc.queue = {op: (int(p), int(n), seen) for op, (p, n, seen) in queue if now - seen <= ttl}
            doc.running = {op: (start, until) for op, (start, until) in doc.running.items() if until > now}
            result = step(doc, now)
            return asdict(doc), result

        return self._backend.transact(f"speed:{account_id}", update)
