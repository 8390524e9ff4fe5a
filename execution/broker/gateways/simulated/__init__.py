"""The simulated MetaTrader broker: catalogs, deterministic prices, market paths, a trade engine, faults,
stores."""

from execution.broker.gateways.simulated.catalog import (
    CATALOGS,
    INSTRUMENTS,
    CatalogEntry,
    Instrument,
    ServerCatalog,
)
from execution.broker.gateways.simulated.clock import Clock, ManualClock, system_clock
from execution.broker.gateways.simulated.engine import CallOutcome, SimulatedEngine
from execution.broker.gateways.simulated.gateway import EventStream, SimulatedGateway, run_inline
from execution.broker.gateways.simulated.paths import PathSource, PricePath
from execution.broker.gateways.simulated.pricefeed import DeterministicFeed, PriceSource, ScriptedPriceSource
from execution.broker.gateways.simulated.state import FaultSettings, SimAccountState
from execution.broker.gateways.simulated.store import (
    InMemoryStateStore,
    JsonFileStateStore,
    SimStateStore,
    account_scope,
    platform_scope,
)

__all__ = [
    "CATALOGS",
    "INSTRUMENTS",
    "CallOutcome",
    "CatalogEntry",
    "Clock",
    "DeterministicFeed",
    "EventStream",
    "FaultSettings",
    "InMemoryStateStore",
    "Instrument",
    "JsonFileStateStore",
    "ManualClock",
    "PathSource",
    "PricePath",
    "PriceSource",
    "ScriptedPriceSource",
    "ServerCatalog",
    "SimAccountState",
    "SimStateStore",
    "SimulatedEngine",
    "SimulatedGateway",
    "account_scope",
    "platform_scope",
    "run_inline",
    "system_clock",
]
