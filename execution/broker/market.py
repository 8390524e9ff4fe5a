"""Scripted market prices on a venue that has them (the simulated broker), per trade platform.

A platform's path for an instrument (a feed instrument such as BTCUSD or XAUUSD, the same on every
server) prices it for every account of the platform, and for the product's checks of those
accounts; other platforms keep the usual prices.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from core.errors import ServiceError
from execution.broker.connector import MarketScripting
from execution.broker.gateways.simulated.paths import MAX_MOVE_SECONDS, MAX_POINTS, PricePath
from execution.broker.registry import connector_for
from platforms.models import TradePlatform


def _scripting(platform: TradePlatform) -> MarketScripting:
    market = connector_for(platform).market
    if market is None:
        raise ServiceError("Market prices can be scripted on simulated platforms only.", code="not_simulated")
    return market


def simulated_market(*, platform: TradePlatform) -> dict[str, PricePath]:
    return _scripting(platform).get(platform=platform)


def simulated_market_set(
    *,
    platform: TradePlatform,
    instrument: str,
    points: Sequence[tuple[datetime | int, Decimal | float]] | None = None,
    move_to: Decimal | float | None = None,
    over_seconds: int | None = None,
) -> PricePath:
    """Replace the platform's path for ``instrument``: ``points`` (time, mid), or ``move_to`` from
    the current price over ``over_seconds`` (0: at once), then held."""
    return _scripting(platform).set(
        platform=platform, instrument=instrument, points=points, move_to=move_to, over_seconds=over_seconds
    )


def simulated_market_clear(*, platform: TradePlatform, instrument: str | None = None) -> None:
    """Back to the usual prices for ``instrument`` (None: every instrument) on the platform."""
    _scripting(platform).clear(platform=platform, instrument=instrument)


def describe_paths(paths: dict[str, PricePath]) -> list[dict]:
    """Paths as rows ``{"instrument", "points": [{"at": datetime, "price": float}]}``, by instrument."""
    return [
        {
            "instrument": instrument,
            "points": [
                {"at": datetime.fromtimestamp(second, UTC), "price": price} for second, price in path.points
            ],
        }
        for instrument, path in sorted(paths.items())
    ]


__all__ = [
    "MAX_MOVE_SECONDS",
    "MAX_POINTS",
    "describe_paths",
    "simulated_market",
    "simulated_market_clear",
    "simulated_market_set",
]
