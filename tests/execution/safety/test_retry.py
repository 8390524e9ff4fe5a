import pytest

from execution.safety.errors import Category
from execution.safety.retry import (
    DEFAULT_PROFILES,
    RetryProfile,
    load_profiles,
    next_delay,
)

# The spec's seven profiles, and the full wait schedule each one yields for a TRANSIENT failure.
SCHEDULES = {
    "breakeven": (0.2, 2.0, 5, [0.2, 0.4, 0.8, 1.6, 2.0]),
    "tp_modification": (0.5, 5.0, 3, [0.5, 1.0, 2.0]),
    "order_placement": (1.0, 10.0, 3, [1.0, 2.0, 4.0]),
    "position_close": (0.5, 5.0, 4, [0.5, 1.0, 2.0, 4.0]),
    "order_cancel": (0.5, 5.0, 3, [0.5, 1.0, 2.0]),
    "query": (1.0, 30.0, 5, [1.0, 2.0, 4.0, 8.0, 16.0]),
    "connection": (2.0, 60.0, 10, [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0, 60.0]),
}


def schedule(profile: RetryProfile, category: Category, retry_after: float | None = None) -> list[float]:
    delays = []
    attempt = 1
    while (delay := next_delay(profile, attempt, category, retry_after)) is not None:
        delays.append(delay)
        attempt += 1
        assert attempt < 100
    return delays


def test_exactly_the_seven_profiles_of_the_spec():
    assert set(DEFAULT_PROFILES) == set(SCHEDULES)


@pytest.mark.parametrize(("name", "expected"), sorted(SCHEDULES.items()))
def test_profile_values_and_schedule(name, expected):
    initial, maximum, retries, delays = expected
    profile = DEFAULT_PROFILES[name]
    assert (profile.initial_delay, profile.max_delay, profile.max_retries) == (initial, maximum, retries)
    assert schedule(profile, Category.TRANSIENT) == pytest.approx(delays)
    assert schedule(profile, Category.CONNECTION) == pytest.approx(delays)
    assert schedule(profile, Category.RATE_LIMITED) == pytest.approx(delays)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("category", [Category.PERMANENT, Category.MARKET_CLOSED, Category.SUCCESS])
def test_never_retried(name, category):
    assert next_delay(DEFAULT_PROFILES[name], 1, category) is None
    assert next_delay(DEFAULT_PROFILES[name], 1, category, recommended_retry_after=1.0) is None


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_unknown_is_retried_at_most_twice(name):
    profile = DEFAULT_PROFILES[name]
    assert schedule(profile, Category.UNKNOWN) == pytest.approx(SCHEDULES[name][3][:2])


def test_unknown_respects_a_profile_allowing_fewer_retries():
    profile = load_profiles({"breakeven": {"max_retries": 1}})["breakeven"]
    assert schedule(profile, Category.UNKNOWN) == pytest.approx([0.2])


def test_rate_limited_waits_at_least_the_recommended_time():
    profile = DEFAULT_PROFILES["tp_modification"]
    assert next_delay(profile, 1, Category.RATE_LIMITED, recommended_retry_after=7.5) == 7.5
    assert next_delay(profile, 3, Category.RATE_LIMITED, recommended_retry_after=0.1) == 2.0
    assert next_delay(profile, 4, Category.RATE_LIMITED, recommended_retry_after=7.5) is None


def test_overrides_apply_and_leave_the_defaults_alone():
    profiles = load_profiles({"breakeven": {"initial_delay": 0.1, "max_delay": 0.3, "max_retries": 3}})
    assert schedule(profiles["breakeven"], Category.TRANSIENT) == pytest.approx([0.1, 0.2, 0.3])
    assert DEFAULT_PROFILES["breakeven"].initial_delay == 0.2
    assert profiles["query"] == DEFAULT_PROFILES["query"]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"nope": {"max_retries": 1}}, "unknown retry profile"),
        ({"query": {"name": "x"}}, "unknown retry profile fields"),
        ({"query": {"initial_delay": 0}}, "initial_delay"),
        ({"query": {"max_delay": 0.5}}, "max_delay"),
        ({"query": {"max_retries": -1}}, "max_retries"),
    ],
)
def test_bad_overrides_are_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_profiles(overrides)


def test_attempt_is_one_based():
    with pytest.raises(ValueError, match="1-based"):
        next_delay(DEFAULT_PROFILES["query"], 0, Category.TRANSIENT)
