"""The shared gateway contract, run on MetaApiGateway over SDK stand-ins (backed by the simulated broker)."""

import pytest

from tests.execution.broker.gateways.contract import GatewayContract


class TestMetaApiMt5Contract(GatewayContract):
    symbol = "EURUSD"

    @pytest.fixture
    async def gateway(self, make_metaapi):
        gateway, _record = await make_metaapi(server="SimBroker-Demo", platform="mt5")
        return gateway


class TestMetaApiMt4IndexContract(GatewayContract):
    """MT4 codes, a suffixed index with a stops level."""

    symbol = "US30.cash"

    @pytest.fixture
    async def gateway(self, make_metaapi):
        gateway, _record = await make_metaapi(server="SimTrade-Pro", platform="mt4", balance=100000)
        return gateway


class TestMetaApiRenamedGoldContract(GatewayContract):
    symbol = "GOLD"
    distance_points = 300

    @pytest.fixture
    async def gateway(self, make_metaapi):
        gateway, _record = await make_metaapi(server="SimMarkets-Live", balance=50000)
        return gateway
