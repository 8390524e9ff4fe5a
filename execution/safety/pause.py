"""The automatic safety pause: a per-account circuit breaker shared by all worker processes.

Promise: an account trades until 5 consecutive failures or 2 consecutive permanent failures; it is
then PAUSED for 30 s, after which it is TESTING (computed lazily from the clock: no timers). While
testing, at most ``test_slots`` operations (default 1, across all processes) hold a leased test
permit; 2 consecutive test successes resume TRADING and any test failure pauses again for 30 s.
Every transition is appended to a bounded log in the backend, returned by :meth:`SafetyPause.record`
and passed to the optional ``on_transition`` listener so the app can persist and broadcast it.

Which outcomes count (``errors.PAUSE_EFFECT``, the single source):

* TRANSIENT, CONNECTION, RATE_LIMITED and UNKNOWN are transient failures: they add to the
  consecutive-failure count (threshold 5) and break a permanent streak;
* PERMANENT adds to both the consecutive-failure and the consecutive-permanent count (threshold 2),
  so any 5 failures in a row trip, whatever their mix;
* SUCCESS resets both counts;
* MARKET_CLOSED and INVALID_INPUT neither count nor reset: a closed market, or the broker refusing
  the request's own stops, price or volume, is not a broker fault and says nothing about the
  broker's health.

Outcomes of permits granted before the latest transition (another epoch), or of a test permit whose
lease expired, are ignored: the breaker already reacted to the period they belong to.
"""

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TypeVar

from execution.safety.clock import Clock
from execution.safety.errors import PAUSE_EFFECT, Category, PauseEffect
from execution.safety.state import Doc, StateBackend, Transition, append_log

R = TypeVar("R")


class PauseState(StrEnum):
    TRADING = "trading"
    PAUSED = "paused"
    TESTING = "testing"


@dataclass(frozen=True)
class PauseConfig:
    failure_threshold: int = 5
    permanent_threshold: int = 2
    cooldown: float = 30.0
    successes_to_resume: int = 2
    test_slots: int = 1
    test_lease: float = 60.0  # a crashed test holder frees its slot after this long
    log_size: int = 50


@dataclass(frozen=True)
class Permit:
    """Leave to run one operation; hand it back with :meth:`SafetyPause.record`."""

    account_id: str
    epoch: int
    slot: str | None = None  # set when this is the leased permit of a test operation

    @property
    def testing(self) -> bool:
        return self.slot is not None


@dataclass(frozen=True)
class Denied:
    account_id: str
    state: PauseState
    retry_after: float | None  # seconds until testing starts; None while a test operation is in flight


@dataclass(frozen=True)
class PauseStatus:
    account_id: str
    state: PauseState
    consecutive_failures: int
    consecutive_permanent: int
    paused_until: float | None
    seconds_to_test: float | None
    test_successes: int
    tests_in_flight: int


@dataclass
class _Doc:
    state: str = PauseState.TRADING
    epoch: int = 0
    failures: int = 0
    permanent: int = 0
    paused_until: float | None = None
    test_successes: int = 0
    slots: dict[str, float] = field(default_factory=dict)
    log: list[Doc] = field(default_factory=list)


class SafetyPause:
    def __init__(
        self,
        backend: StateBackend,
        clock: Clock,
        config: PauseConfig | None = None,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._config = config or PauseConfig()
        self._on_transition = on_transition

    def acquire(self, account_id: str) -> Permit | Denied:
        def step(doc: _Doc, now: float, made: list[Transition]) -> Permit | Denied:
            if doc.state == PauseState.TRADING:
                return Permit(account_id, doc.epoch)
            if doc.state == PauseState.PAUSED:
                return Denied(account_id, PauseState.PAUSED, (doc.paused_until or now) - now)
            if len(doc.slots) >= self._config.test_slots:
                return Denied(account_id, PauseState.TESTING, None)
            slot = uuid.uuid4().hex
            doc.slots[slot] = now + self._config.test_lease
            return Permit(account_id, doc.epoch, slot)

        return self._run(account_id, step)[0]

    def record(self, permit: Permit, category: Category) -> tuple[Transition, ...]:
        """Feed back the outcome of a permitted operation; returns the transitions made by this call."""
        effect = PAUSE_EFFECT[category]
        cfg = self._config

        def step(doc: _Doc, now: float, made: list[Transition]) -> None:
            if permit.epoch != doc.epoch:
                return
            if permit.slot is not None:
                if doc.slots.pop(permit.slot, None) is None:
                    return
                if effect is PauseEffect.RESET:
                    doc.test_successes += 1
                    if doc.test_successes >= cfg.successes_to_resume:
                        cause = f"{doc.test_successes} consecutive test successes"
                        self._move(doc, permit.account_id, PauseState.TRADING, now, made, cause)
                elif effect is not PauseEffect.NONE:
                    cause = f"test operation failed ({category})"
                    self._move(doc, permit.account_id, PauseState.PAUSED, now, made, cause)
                return
            if effect is PauseEffect.RESET:
                doc.failures = doc.permanent = 0
            elif effect is PauseEffect.TRANSIENT:
                doc.failures, doc.permanent = doc.failures + 1, 0
            elif effect is PauseEffect.PERMANENT:
                doc.failures, doc.permanent = doc.failures + 1, doc.permanent + 1
            if doc.permanent >= cfg.permanent_threshold:
                cause = f"{doc.permanent} consecutive permanent failures (last: {category})"
            elif doc.failures >= cfg.failure_threshold:
                cause = f"{doc.failures} consecutive failures (last: {category})"
            else:
                return
            self._move(doc, permit.account_id, PauseState.PAUSED, now, made, cause)

        return tuple(self._run(permit.account_id, step)[1])

    def release(self, permit: Permit) -> None:
        """Hand a permit back unused (the operation never reached the broker): nothing is counted."""
        if permit.slot is None:
            return

        def step(doc: _Doc, now: float, made: list[Transition]) -> None:
            doc.slots.pop(permit.slot, None)

        self._run(permit.account_id, step)

    def status(self, account_id: str) -> PauseStatus:
        def step(doc: _Doc, now: float, made: list[Transition]) -> PauseStatus:
            until = doc.paused_until if doc.state == PauseState.PAUSED else None
            return PauseStatus(
                account_id=account_id,
                state=PauseState(doc.state),
                consecutive_failures=doc.failures,
                consecutive_permanent=doc.permanent,
                paused_until=doc.paused_until,
                seconds_to_test=None if until is None else max(0.0, until - now),
                test_successes=doc.test_successes,
                tests_in_flight=len(doc.slots),
            )

        return self._run(account_id, step)[0]

    def transitions(self, account_id: str) -> list[Transition]:
        """The bounded transition log of the account, oldest first."""
        log = self._run(account_id, lambda doc, now, made: list(doc.log))[0]
        return [Transition.from_json(entry) for entry in log]

    def _run(
        self, account_id: str, step: Callable[[_Doc, float, list[Transition]], R]
    ) -> tuple[R, list[Transition]]:
        now = self._clock.now()

        def update(raw: Doc | None) -> tuple[Doc, tuple[R, list[Transition]]]:
            doc = _Doc(**raw) if raw else _Doc()
            made: list[Transition] = []
            if doc.state == PauseState.PAUSED and doc.paused_until is not None and now >= doc.paused_until:
                self._move(doc, account_id, PauseState.TESTING, doc.paused_until, made, "cooldown elapsed")
            doc.slots = {slot: until for slot, until in doc.slots.items() if until > now}
            result = step(doc, now, made)
            doc.log = append_log(doc.log, made, self._config.log_size)
            return asdict(doc), (result, made)

        result, made = self._backend.transact(f"pause:{account_id}", update)
        if self._on_transition is not None:
            for transition in made:
                self._on_transition(transition)
        return result, made

    def _move(
        self, doc: _Doc, account_id: str, to: PauseState, at: float, made: list[Transition], cause: str
    ) -> None:
        made.append(Transition(account_id, at, str(doc.state), str(to), cause))
        doc.state = to
        doc.epoch += 1
        doc.failures = doc.permanent = doc.test_successes = 0
        doc.slots = {}
        doc.paused_until = at + self._config.cooldown if to == PauseState.PAUSED else None
