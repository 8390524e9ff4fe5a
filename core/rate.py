"""Fixed-window counters in the cache: one window per key, starting at its first hit.

With ``REDIS_URL`` set the cache is Redis, so every process counts into the same window.
"""

from django.core.cache import cache


def count_hit(key: str, *, window: int) -> int:
    """Count one hit on ``key``; returns the hits in its current window, this one included."""
    if cache.add(key, 1, window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between the two calls: this hit opens the next one
        cache.add(key, 1, window)
        return 1
