"""The gateway contract, run on the simulated gateway (several servers, both platforms, both stores)."""

import asyncio

import pytest

from execution.broker.gateways.simulated import JsonFileStateStore, SimulatedEngine, SimulatedGateway
from tests.execution.broker.gateways.conftest import RecordingSleep
from tests.execution.broker.gateways.contract import GatewayContract


class TestSimBrokerDemoContract(GatewayContract):
    symbol = "EURUSD"

    @pytest.fixture
    async def gateway(self, make_gateway):
        return make_gateway("contract-demo", server="SimBroker-Demo")


class TestSimMarketsGoldContract(GatewayContract):
    """Renamed symbol, a real thread for the engine (the default run_sync)."""

    symbol = "GOLD"
    distance_points = 300

    @pytest.fixture
    async def gateway(self, engine):
        return SimulatedGateway(
            engine,
            "contract-markets",
            server="SimMarkets-Live",
            initial_balance=50000,
            sleep=RecordingSleep(),
        )


class TestSimTradeProMt4IndexContract(GatewayContract):
    """MT4 codes, a suffixed index with a stops level, a JSON file store."""

    symbol = "US30.cash"

    @pytest.fixture
    async def gateway(self, tmp_path, clock):
        engine = SimulatedEngine(JsonFileStateStore(tmp_path / "sim"), clock=clock, seed=7)
        return SimulatedGateway(
            engine,
            "contract-pro",
            server="SimTrade-Pro",
            platform="mt4",
            initial_balance=100000,
            run_sync=asyncio.to_thread,
            sleep=RecordingSleep(),
        )


class TestSimBrokerCryptoOnSaturdayContract(GatewayContract):
    """Crypto trades at the weekend."""

    symbol = "BTCUSD"
    distance_points = 10000

    @pytest.fixture
    async def gateway(self, make_gateway, clock):
        clock.advance(days=3)  # Saturday
        return make_gateway("contract-crypto", server="SimBroker-Demo", initial_balance=100000)
