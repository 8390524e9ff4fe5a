"""Injectable time source: every safety policy reads time through a :class:`Clock`.

Promise: policies never call ``time`` directly, so tests drive them with :class:`FakeClock` and
never sleep. The system clock is wall-clock time (seconds since the epoch) because timestamps are
shared through Redis between worker processes; those hosts must keep their clocks NTP-synchronised.
"""

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current time in seconds."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now
