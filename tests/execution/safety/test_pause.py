"""State machine of the automatic safety pause, with a FakeClock, on the memory and the Redis backend."""

import pytest

from execution.safety.errors import Category
from execution.safety.pause import Denied, PauseConfig, PauseState, Permit, SafetyPause
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
TRADING, PAUSED, TESTING = PauseState.TRADING, PauseState.PAUSED, PauseState.TESTING
ACCOUNT = "acct-1"


@pytest.fixture
def seen() -> list[Transition]:
    return []


@pytest.fixture
def pause(backend, clock, seen) -> SafetyPause:
    return SafetyPause(backend, clock, on_transition=seen.append)


def run(pause: SafetyPause, category: Category, account: str = ACCOUNT) -> tuple[Transition, ...]:
    permit = pause.acquire(account)
    assert isinstance(permit, Permit), permit
    return pause.record(permit, category)


@pytest.mark.parametrize(
    ("outcomes", "state", "failures", "permanent"),
    [
        ([T] * 4, TRADING, 4, 0),
        ([T] * 5, PAUSED, 0, 0),
        ([C] * 5, PAUSED, 0, 0),
        ([RL] * 5, PAUSED, 0, 0),
        ([U] * 5, PAUSED, 0, 0),
        ([T, C, RL, U, T], PAUSED, 0, 0),
        ([P], TRADING, 1, 1),
        ([P, P], PAUSED, 0, 0),
        ([P, T, P], TRADING, 3, 1),  # a transient failure breaks the permanent streak
        ([T, P, T, P, T], PAUSED, 0, 0),  # but any 5 failures in a row trip
        ([T] * 4 + [S] + [T] * 4, TRADING, 4, 0),  # a success resets
        ([P, S, P], TRADING, 1, 1),
        ([MC] * 20, TRADING, 0, 0),  # a closed market is not a broker fault
        ([T] * 4 + [MC] + [T], PAUSED, 0, 0),  # ... and does not reset either
        ([P, MC, P], PAUSED, 0, 0),
        ([S] * 10, TRADING, 0, 0),
    ],
)
def test_trip_thresholds(pause, outcomes, state, failures, permanent):
    for category in outcomes:
        run(pause, category)
    status = pause.status(ACCOUNT)
    assert (status.state, status.consecutive_failures, status.consecutive_permanent) == (
        state,
        failures,
        permanent,
    )


def test_trip_is_recorded_returned_and_broadcast(pause, clock, seen):
    run(pause, P)
    clock.advance(1)
    (transition,) = run(pause, P)
    assert transition == Transition(ACCOUNT, clock.now(), "trading", "paused", transition.cause)
    assert "2 consecutive permanent failures" in transition.cause
    assert seen == [transition] == pause.transitions(ACCOUNT)


def test_cooldown_then_testing_then_resume(pause, clock, seen):
    for _ in range(5):
        run(pause, T)
    tripped_at = clock.now()
    status = pause.status(ACCOUNT)
    assert (status.state, status.paused_until, status.seconds_to_test) == (PAUSED, tripped_at + 30, 30)

    clock.advance(29.5)
    denied = pause.acquire(ACCOUNT)
    assert isinstance(denied, Denied) and denied.state is PAUSED
    assert denied.retry_after == pytest.approx(0.5)

    clock.advance(0.5)
    assert pause.status(ACCOUNT).state is TESTING
    first = pause.acquire(ACCOUNT)
    assert isinstance(first, Permit) and first.testing
    busy = pause.acquire(ACCOUNT)
    assert busy == Denied(ACCOUNT, TESTING, None)  # the single test slot is taken

    assert pause.record(first, S) == ()
    assert pause.status(ACCOUNT).test_successes == 1
    second = pause.acquire(ACCOUNT)
    assert isinstance(second, Permit) and second.testing
    (resumed,) = pause.record(second, S)
    assert (resumed.from_state, resumed.to_state) == ("testing", "trading")

    status = pause.status(ACCOUNT)
    assert (status.state, status.consecutive_failures, status.tests_in_flight) == (TRADING, 0, 0)
    assert [(t.from_state, t.to_state) for t in pause.transitions(ACCOUNT)] == [
        ("trading", "paused"),
        ("paused", "testing"),
        ("testing", "trading"),
    ]
    assert seen == pause.transitions(ACCOUNT)


def test_testing_starts_at_the_end_of_the_cooldown_even_when_observed_later(pause, clock):
    run(pause, P)
    run(pause, P)
    paused_until = pause.status(ACCOUNT).paused_until
    clock.advance(500)
    assert pause.status(ACCOUNT).state is TESTING
    assert pause.transitions(ACCOUNT)[-1].at == paused_until


@pytest.mark.parametrize("failure", [T, P, C, RL, U])
def test_any_failure_while_testing_pauses_again_for_the_cooldown(pause, clock, failure):
    run(pause, P)
    run(pause, P)
    clock.advance(30)
    run(pause, S)  # first test success
    clock.advance(3)
    permit = pause.acquire(ACCOUNT)
    (transition,) = pause.record(permit, failure)
    assert (transition.from_state, transition.to_state) == ("testing", "paused")
    status = pause.status(ACCOUNT)
    assert (status.state, status.paused_until, status.test_successes) == (PAUSED, clock.now() + 30, 0)
    clock.advance(30)
    assert pause.status(ACCOUNT).state is TESTING


def test_market_closed_during_a_test_frees_the_slot_without_counting(pause, clock):
    run(pause, P)
    run(pause, P)
    clock.advance(30)
    run(pause, S)
    run(pause, MC)
    status = pause.status(ACCOUNT)
    assert (status.state, status.test_successes, status.tests_in_flight) == (TESTING, 1, 0)
    run(pause, S)
    assert pause.status(ACCOUNT).state is TRADING


def test_a_crashed_test_holder_frees_the_slot_after_its_lease(pause, clock):
    run(pause, P)
    run(pause, P)
    clock.advance(30)
    lost = pause.acquire(ACCOUNT)
    assert isinstance(lost, Permit) and lost.testing
    clock.advance(59)
    assert isinstance(pause.acquire(ACCOUNT), Denied)
    clock.advance(1)
    fresh = pause.acquire(ACCOUNT)
    assert isinstance(fresh, Permit) and fresh.slot != lost.slot
    assert pause.record(lost, P) == ()  # the expired permit's outcome is ignored
    assert pause.status(ACCOUNT).state is TESTING


def test_outcomes_of_permits_from_an_earlier_epoch_are_ignored(pause, clock):
    late = pause.acquire(ACCOUNT)
    run(pause, P)
    run(pause, P)
    assert pause.record(late, S) == ()  # a success started before the trip does not resume trading
    assert pause.status(ACCOUNT).state is PAUSED
    clock.advance(30)
    pause.record(late, S)  # nor count as a test success
    status = pause.status(ACCOUNT)
    assert (status.state, status.test_successes) == (TESTING, 0)


def test_accounts_are_isolated(pause):
    run(pause, P, "demo")
    run(pause, P, "demo")
    assert pause.status("demo").state is PAUSED
    assert pause.status("live").state is TRADING
    assert isinstance(pause.acquire("live"), Permit)


def test_thresholds_are_configurable(backend, clock):
    pause = SafetyPause(
        backend,
        clock,
        PauseConfig(
            failure_threshold=2, permanent_threshold=3, cooldown=5, successes_to_resume=1, test_slots=2
        ),
    )
    run(pause, P)
    run(pause, T)
    assert pause.status(ACCOUNT).state is PAUSED
    clock.advance(5)
    first, second, third = (pause.acquire(ACCOUNT) for _ in range(3))
    assert isinstance(first, Permit) and isinstance(second, Permit) and isinstance(third, Denied)
    pause.record(first, S)
    assert pause.status(ACCOUNT).state is TRADING


def test_the_transition_log_is_bounded(backend, clock):
    pause = SafetyPause(backend, clock, PauseConfig(log_size=3))
    for _ in range(3):
        run(pause, P)
        run(pause, P)
        clock.advance(30)
        run(pause, S)
        run(pause, S)
    log = pause.transitions(ACCOUNT)
    assert [(t.from_state, t.to_state) for t in log] == [
        ("trading", "paused"),
        ("paused", "testing"),
        ("testing", "trading"),
    ]
    assert log[0].at == clock.now() - 30


def test_a_fresh_account_is_trading(pause):
    status = pause.status("new")
    assert (status.state, status.paused_until, status.seconds_to_test) == (TRADING, None, None)
    assert pause.transitions("new") == []
