"""Global broker health monitor, with a FakeClock, on the memory and the Redis backend."""

import pytest

from execution.safety.errors import Category
from execution.safety.health import BrokerHealthMonitor, HealthConfig, HealthState
from execution.safety.state import Transition

T, P, MC, RL, C, S, U = (
    Category.TRANSIENT,
    Category.PERMANENT,
    Category.MARKET_CLOSED,
    Category.RATE_LIMITED,
    Category.CONNECTION,
    Category.SUCCESS,
    Category.UNKNOWN,
)


@pytest.fixture
def seen() -> list[Transition]:
    return []


@pytest.fixture
def health(backend, clock, seen) -> BrokerHealthMonitor:
    return BrokerHealthMonitor(backend, clock, on_transition=seen.append)


# (seconds since the previous failure, account, category) -> paused after the last one?
@pytest.mark.parametrize(
    ("failures", "paused", "recent"),
    [
        ([(0, "a", T), (1, "b", C)], False, 2),
        ([(0, "a", T), (1, "b", C), (1, "c", RL)], True, 0),
        ([(0, "a", T), (0, "a", T), (0, "a", U)], True, 0),  # the same account counts too
        ([(0, "a", T), (5, "b", T), (5, "c", T)], True, 0),  # 10 s window, inclusive
        ([(0, "a", T), (5, "b", T), (5.5, "c", T)], False, 2),  # the first one left the window
        ([(0, "a", P), (1, "b", P), (1, "c", P)], False, 0),  # request-specific rejects do not count
        ([(0, "a", MC), (1, "b", MC), (1, "c", MC)], False, 0),
        ([(0, "a", S), (1, "b", S), (1, "c", S)], False, 0),
        ([(0, "a", T), (1, "b", P), (1, "c", T)], False, 2),
    ],
)
def test_three_failures_within_the_window_pause_the_platform(health, clock, failures, paused, recent):
    for delay, account, category in failures:
        clock.advance(delay)
        health.record("mt5-broker-x", account, category)
    status = health.status("mt5-broker-x")
    assert status.paused is paused
    assert status.recent_failures == recent
    assert status.seconds_remaining == (60 if paused else None)


def test_pause_lasts_sixty_seconds_and_only_on_that_platform(health, clock, seen):
    for account in ("a", "b"):
        assert health.record("broker-x", account, T) == ()
    (trip,) = health.record("broker-x", "c", C)
    assert (trip.subject, trip.at, trip.from_state, trip.to_state) == (
        "broker-x",
        clock.now(),
        "healthy",
        "paused",
    )
    assert "accounts: a, b, c" in trip.cause
    tripped_at = clock.now()

    assert health.status("broker-y").state is HealthState.HEALTHY
    clock.advance(59.9)
    status = health.status("broker-x")
    assert status.paused and status.paused_until == tripped_at + 60
    assert status.seconds_remaining == pytest.approx(0.1)

    clock.advance(0.1)
    assert health.status("broker-x").state is HealthState.HEALTHY
    assert [(t.from_state, t.to_state, t.at) for t in health.transitions("broker-x")] == [
        ("healthy", "paused", tripped_at),
        ("paused", "healthy", tripped_at + 60),
    ]
    assert seen == health.transitions("broker-x")


def test_failures_during_the_pause_and_before_it_do_not_count_afterwards(health, clock):
    for account in ("a", "b", "c"):
        health.record("broker-x", account, T)
    clock.advance(10)
    health.record("broker-x", "d", T)  # while paused: ignored
    clock.advance(50)
    health.record("broker-x", "e", T)
    health.record("broker-x", "f", T)
    status = health.status("broker-x")
    assert (status.state, status.recent_failures) == (HealthState.HEALTHY, 2)
    health.record("broker-x", "g", T)
    assert health.status("broker-x").paused


def test_other_platforms_keep_their_own_count(health):
    health.record("broker-x", "a", T)
    health.record("broker-x", "b", T)
    health.record("broker-y", "c", T)
    assert not health.status("broker-x").paused
    assert not health.status("broker-y").paused


def test_configurable(backend, clock):
    health = BrokerHealthMonitor(
        backend, clock, HealthConfig(failure_threshold=2, window=1, pause_duration=5)
    )
    health.record("p", "a", T)
    clock.advance(1.5)
    health.record("p", "a", T)
    assert not health.status("p").paused
    clock.advance(0.5)
    health.record("p", "b", T)
    assert health.status("p").seconds_remaining == 5
