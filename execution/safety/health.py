"""The global broker health monitor: a platform-wide pause shared by all worker processes.

Promise: when ``failure_threshold`` (3) failures happen on one platform (any mix of its accounts)
within ``window`` (10 s), every account on that platform is paused for ``pause_duration`` (60 s);
other platforms are unaffected. The pause ends lazily from the clock (no timers) and the failure
window starts empty afterwards. Only failures that say something about the broker count: those
whose pause effect is transient (TRANSIENT, CONNECTION, RATE_LIMITED, UNKNOWN). PERMANENT rejects
(an unknown symbol, no money) are account- or request-specific and must not let one tenant pause a
whole broker; MARKET_CLOSED and INVALID_INPUT (the request's own stops, price or volume) are not
faults. Transitions are logged, returned and passed to the optional ``on_transition`` listener,
like :mod:`execution.safety.pause`.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TypeVar

from execution.safety.clock import Clock
from execution.safety.errors import PAUSE_EFFECT, Category, PauseEffect
from execution.safety.state import Doc, StateBackend, Transition, append_log

R = TypeVar("R")


class HealthState(StrEnum):
    HEALTHY = "healthy"
    PAUSED = "paused"


@dataclass(frozen=True)
class HealthConfig:
    failure_threshold: int = 3
    window: float = 10.0
    pause_duration: float = 60.0
    log_size: int = 50


@dataclass(frozen=True)
class HealthStatus:
    platform: str
    state: HealthState
    paused_until: float | None
    seconds_remaining: float | None
    recent_failures: int

    @property
    def paused(self) -> bool:
        return self.state is HealthState.PAUSED


@dataclass
class _Doc:
    state: str = HealthState.HEALTHY
    paused_until: float | None = None
    failures: list[tuple[float, str]] = field(default_factory=list)  # (time, account id)
    log: list[Doc] = field(default_factory=list)


class BrokerHealthMonitor:
    def __init__(
        self,
        backend: StateBackend,
        clock: Clock,
        config: HealthConfig | None = None,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._config = config or HealthConfig()
        self._on_transition = on_transition

    def record(self, platform: str, account_id: str, category: Category) -> tuple[Transition, ...]:
        """Count a failure of ``account_id`` on ``platform``; returns the transitions made by this call."""
        cfg = self._config

        def step(doc: _Doc, now: float, made: list[Transition]) -> None:
            if PAUSE_EFFECT[category] is not PauseEffect.TRANSIENT or doc.state == HealthState.PAUSED:
                return
            doc.failures.append((now, account_id))
            if len(doc.failures) < cfg.failure_threshold:
                return
            accounts = ", ".join(sorted({account for _, account in doc.failures}))
            count = len(doc.failures)
            cause = f"{count} failures within {cfg.window:g}s (last: {category}; accounts: {accounts})"
            made.append(Transition(platform, now, str(doc.state), str(HealthState.PAUSED), cause))
            doc.state, doc.paused_until, doc.failures = HealthState.PAUSED, now + cfg.pause_duration, []

        return tuple(self._run(platform, step)[1])

    def status(self, platform: str) -> HealthStatus:
        def step(doc: _Doc, now: float, made: list[Transition]) -> HealthStatus:
            until = doc.paused_until if doc.state == HealthState.PAUSED else None
            return HealthStatus(
                platform=platform,
                state=HealthState(doc.state),
                paused_until=until,
                seconds_remaining=None if until is None else max(0.0, until - now),
                recent_failures=len(doc.failures),
            )

        return self._run(platform, step)[0]

    def transitions(self, platform: str) -> list[Transition]:
        log = self._run(platform, lambda doc, now, made: list(doc.log))[0]
        return [Transition.from_json(entry) for entry in log]

    def _run(
        self, platform: str, step: Callable[[_Doc, float, list[Transition]], R]
    ) -> tuple[R, list[Transition]]:
        now = self._clock.now()
        cfg = self._config

        def update(raw: Doc | None) -> tuple[Doc, tuple[R, list[Transition]]]:
            doc = _Doc(**raw) if raw else _Doc()
            made: list[Transition] = []
            if doc.state == HealthState.PAUSED and doc.paused_until is not None and now >= doc.paused_until:
                made.append(
                    Transition(
                        platform, doc.paused_until, str(doc.state), str(HealthState.HEALTHY), "pause elapsed"
                    )
                )
                doc.state, doc.paused_until = HealthState.HEALTHY, None
            doc.failures = [(at, account) for at, account in doc.failures if now - at <= cfg.window]
            result = step(doc, now, made)
            doc.log = append_log(doc.log, made, cfg.log_size)
            return asdict(doc), (result, made)

        result, made = self._backend.transact(f"health:{platform}", update)
        if self._on_transition is not None:
            for transition in made:
                self._on_transition(transition)
        return result, made
