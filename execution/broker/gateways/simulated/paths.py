"""Scripted market paths: an instrument's mid price set by hand, laid over the feed.

A :class:`PricePath` is a list of (unix second, mid) points: linear between two points, the last
value held after the end. Before its first point a path does not apply: the feed prices as usual.
:class:`PathSource` is a feed with paths laid over some of its instruments (never cached: a path
can be replaced at any time). The engine keeps paths per group of accounts (one trade platform).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from execution.broker.gateways.simulated.pricefeed import PriceSource

MAX_POINTS = 1000
MAX_MOVE_SECONDS = 86400  # a move lasts at most one day


@dataclass(frozen=True)
class PricePath:
    points: tuple[tuple[int, float], ...]

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("a price path needs at least one point")
        if len(self.points) > MAX_POINTS:
            raise ValueError(f"a price path has at most {MAX_POINTS} points, got {len(self.points)}")
        previous = None
        for second, price in self.points:
            if not isinstance(second, int) or isinstance(second, bool):
                raise ValueError(f"the time of a point must be a unix second, got {second!r}")
            if not isinstance(price, float) or not math.isfinite(price) or price <= 0:
                raise ValueError(f"the price of a point must be a number above 0, got {price!r}")
            if previous is not None and second <= previous:
                raise ValueError(f"the times of the points must increase strictly: {second} after {previous}")
            previous = second

    @classmethod
    def of(cls, points: Iterable[tuple[int, float]]) -> PricePath:
        """A path from (unix second, mid) pairs, e.g. ``[(1764669600, 65000), (1764669630, 65200)]``."""
        try:
            converted = tuple((int(second), float(price)) for second, price in points)
        except (TypeError, ValueError, OverflowError):
            raise ValueError("a point is a pair (unix second, price), both numbers") from None
        return cls(converted)

    @classmethod
    def move(cls, *, start: int, from_price: float, to_price: float, over_seconds: int) -> PricePath:
        """From ``from_price`` at ``start`` to ``to_price`` in ``over_seconds`` (0: at once), then held."""
        if not 0 <= over_seconds <= MAX_MOVE_SECONDS:
            raise ValueError(f"a move lasts 0 to {MAX_MOVE_SECONDS} seconds, got {over_seconds}")
        if over_seconds == 0:
            return cls.of([(start, to_price)])
        return cls.of([(start, from_price), (start + over_seconds, to_price)])

    @property
    def start(self) -> int:
        return self.points[0][0]

    def mid(self, second: int) -> float | None:
        """The mid at ``second``; None before the first point (the path does not apply yet)."""
        position = bisect.bisect_right(self.points, (second, math.inf))
        if position == 0:
            return None
        if position == len(self.points):
            return self.points[-1][1]
        (t0, p0), (t1, p1) = self.points[position - 1], self.points[position]
        return p0 + (p1 - p0) * (second - t0) / (t1 - t0)

    def to_list(self) -> list[list[int | float]]:
        return [[second, price] for second, price in self.points]


class PathSource:
    """``paths`` (instrument -> path) over ``fallback``, which prices everything else."""

    cacheable = False  # paths change: never cache its quotes

    def __init__(self, fallback: PriceSource, paths: Mapping[str, PricePath]) -> None:
        self.fallback = fallback
        self.paths = paths

    def mid(self, instrument: str, second: int) -> float:
        path = self.paths.get(instrument)
        value = path.mid(second) if path is not None else None
        return self.fallback.mid(instrument, second) if value is None else value

    def spread_factor(self, instrument: str, second: int) -> float:
        return self.fallback.spread_factor(instrument, second)
