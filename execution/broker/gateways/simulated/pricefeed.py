"""Deterministic prices: ``mid = f(seed, instrument, second)``, no shared state.

:class:`DeterministicFeed` sums hashed *value noise* over 22 octaves (periods of 1 s, 2 s, 4 s ... ~24 days).
Octave ``k`` has a random node value every ``2**k`` seconds (blake2b of seed, instrument, k, node index),
smoothly interpolated between nodes, with amplitude ``sqrt(2**k)``: the sum behaves like a random walk at
one-second granularity (variance grows linearly with the horizon up to ~24 days) but stays anchored to the
instrument's reference price in the long run. The noise is scaled so that one-day log returns have the
instrument's ``daily_volatility`` as standard deviation. Any process with the same seed computes the same
price for the same second without talking to anyone: the price at ``t`` is the price at ``floor(t)``.

The spread of a quote varies deterministically between 1x and 1.5x the symbol's typical spread.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from functools import lru_cache
from typing import Protocol

from execution.broker.gateways.simulated.catalog import INSTRUMENTS

OCTAVES = 22
_AMPLITUDES = [math.sqrt(2**k) for k in range(OCTAVES)]
#: Standard deviation of noise(t + 1 day) - noise(t), measured over many samples (see tests).
DAILY_NOISE_STD = 365.0


class PriceSource(Protocol):
    def mid(self, instrument: str, second: int) -> float:
        """Mid price of ``instrument`` at unix ``second``."""

    def spread_factor(self, instrument: str, second: int) -> float:
        """Multiplier (>= 1) of the typical spread at unix ``second``."""


@lru_cache(maxsize=200_000)
def _node(seed: str, instrument: str, octave: int, index: int) -> float:
    digest = hashlib.blake2b(f"{seed}|{instrument}|{octave}|{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0  # uniform in [-1, 1)


def noise(seed: str, instrument: str, second: int) -> float:
    total = _node(seed, instrument, 0, second)
    for octave in range(1, OCTAVES):
        period = 1 << octave
        index, offset = divmod(second, period)
        frac = offset / period
        weight = frac * frac * (3 - 2 * frac)  # smoothstep
        a = _node(seed, instrument, octave, index)
        b = _node(seed, instrument, octave, index + 1)
        total += _AMPLITUDES[octave] * (a + (b - a) * weight)
    return total


class DeterministicFeed:
    """The default price source; two instances with the same seed agree on every price."""

    cacheable = True  # immutable: quotes may be cached

    def __init__(self, seed: int | str = 0) -> None:
        self.seed = str(seed)

    def __eq__(self, other: object) -> bool:
        return type(other) is DeterministicFeed and other.seed == self.seed

    def __hash__(self) -> int:
        return hash(("DeterministicFeed", self.seed))

    def mid(self, instrument: str, second: int) -> float:
        spec = INSTRUMENTS[instrument]
        drift = spec.daily_volatility * noise(self.seed, instrument, second) / DAILY_NOISE_STD
        return spec.reference_price * math.exp(drift)

    def spread_factor(self, instrument: str, second: int) -> float:
        u = (_node(self.seed, f"{instrument}#spread", 0, second) + 1) / 2  # [0, 1)
        return 1.0 + 0.5 * u * u  # mostly near the typical spread, sometimes wider


class ScriptedPriceSource:
    """Prices set by hand (tests, demos), step-wise in time; unknown instruments use ``fallback``.

    ``set('EURUSD', 1.1)`` pins the mid from the beginning of time; ``set('EURUSD', 1.2, at=second)`` from
    that unix second on (earlier seconds keep the earlier value).
    """

    cacheable = False  # changes with set(): never cache its quotes

    def __init__(self, fallback: PriceSource | None = None, spread_factor: float = 1.0) -> None:
        self.fallback = fallback or DeterministicFeed(0)
        self._factor = spread_factor
        self._points: dict[str, tuple[list[int], list[float]]] = {}

    def set(self, instrument: str, mid: float, at: int | None = None) -> None:
        seconds, mids = self._points.setdefault(instrument, ([], []))
        at = -(2**62) if at is None else int(at)
        position = bisect.bisect_left(seconds, at)
        if position < len(seconds) and seconds[position] == at:
            mids[position] = float(mid)
        else:
            seconds.insert(position, at)
            mids.insert(position, float(mid))

    def mid(self, instrument: str, second: int) -> float:
        points = self._points.get(instrument)
        if points:
            position = bisect.bisect_right(points[0], second) - 1
            if position >= 0:
                return points[1][position]
        return self.fallback.mid(instrument, second)

    def spread_factor(self, instrument: str, second: int) -> float:
        if instrument in self._points:
            return self._factor
        return self.fallback.spread_factor(instrument, second)
