"""Retry profiles and the retry decision.

Promise: :func:`next_delay` says how long to wait before retrying a failed broker operation, or
``None`` when it must not be retried: PERMANENT, MARKET_CLOSED and SUCCESS never are, UNKNOWN at most
twice, the others up to the profile's max retries with a delay doubling from the initial one and
capped at the max; a broker's recommended retry time is always waited at least.
Profiles default to the spec's seven; :func:`load_profiles` applies settings-like overrides.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

from execution.safety.errors import RETRYABLE, Category

UNKNOWN_MAX_RETRIES = 2


@dataclass(frozen=True)
class RetryProfile:
    name: str
    initial_delay: float
    max_delay: float
    max_retries: int
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.initial_delay <= 0 or self.max_delay < self.initial_delay:
            raise ValueError(f"{self.name}: need 0 < initial_delay <= max_delay")
        if self.max_retries < 0 or self.multiplier < 1:
            raise ValueError(f"{self.name}: need max_retries >= 0 and multiplier >= 1")


DEFAULT_PROFILES: Mapping[str, RetryProfile] = MappingProxyType(
    {
        p.name: p
        for p in (
            RetryProfile("breakeven", 0.2, 2.0, 5),
            RetryProfile("tp_modification", 0.5, 5.0, 3),
            RetryProfile("order_placement", 1.0, 10.0, 3),
            RetryProfile("position_close", 0.5, 5.0, 4),
            RetryProfile("order_cancel", 0.5, 5.0, 3),
            RetryProfile("query", 1.0, 30.0, 5),
            RetryProfile("connection", 2.0, 60.0, 10),
        )
    }
)

_TUNABLE = {f.name for f in fields(RetryProfile)} - {"name"}


def load_profiles(overrides: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, RetryProfile]:
    """Default profiles with overrides applied, e.g. ``{"breakeven": {"initial_delay": 0.1}}``."""
    profiles = dict(DEFAULT_PROFILES)
    for name, changes in (overrides or {}).items():
        if name not in profiles:
            raise ValueError(f"unknown retry profile {name!r}; expected one of {sorted(profiles)}")
        unknown = set(changes) - _TUNABLE
        if unknown:
            raise ValueError(f"unknown retry profile fields {sorted(unknown)} for {name!r}")
        profiles[name] = replace(profiles[name], **changes)
    return profiles


def next_delay(
    profile: RetryProfile,
    attempt: int,
    category: Category,
    recommended_retry_after: float | None = None,
) -> float | None:
    """Seconds to wait before the next try after failed attempt number ``attempt`` (1-based), or None.

    ``recommended_retry_after`` (seconds, e.g. MetaApi's recommendedRetryTime minus now) is a floor.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based: the number of the attempt that just failed")
    if category not in RETRYABLE:
        return None
    limit = profile.max_retries
    if category is Category.UNKNOWN:
        limit = min(limit, UNKNOWN_MAX_RETRIES)
    if attempt > limit:
        return None
    delay = min(profile.initial_delay * profile.multiplier ** (attempt - 1), profile.max_delay)
    if recommended_retry_after is not None:
        delay = max(delay, recommended_retry_after)
    return delay
