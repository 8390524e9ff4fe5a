from datetime import UTC, datetime

import pytest

from execution.broker.gateways.simulated import (
    InMemoryStateStore,
    ManualClock,
    ScriptedPriceSource,
    SimulatedEngine,
    SimulatedGateway,
    run_inline,
)

#: A Wednesday at noon UTC: forex, metals, US and German indices, oil and crypto are all open.
WEDNESDAY_NOON = datetime(2024, 6, 5, 12, 0, 0, tzinfo=UTC)


class RecordingSleep:
    """Stands in for asyncio.sleep: records the delays, never waits."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(WEDNESDAY_NOON)


@pytest.fixture
def store() -> InMemoryStateStore:
    return InMemoryStateStore()


@pytest.fixture
def engine(store, clock) -> SimulatedEngine:
    return SimulatedEngine(store, clock=clock, seed=20240605)


@pytest.fixture
def scripted() -> ScriptedPriceSource:
    return ScriptedPriceSource()


@pytest.fixture
def scripted_engine(store, clock, scripted) -> SimulatedEngine:
    """An engine whose prices the test sets by hand."""
    return SimulatedEngine(store, clock=clock, feed=scripted)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_gateway(engine, sleep):
    def make(account_key="acc-1", *, engine_=None, **kwargs) -> SimulatedGateway:
        kwargs.setdefault("run_sync", run_inline)
        kwargs.setdefault("sleep", sleep)
        return SimulatedGateway(engine_ or engine, account_key, **kwargs)

    return make
