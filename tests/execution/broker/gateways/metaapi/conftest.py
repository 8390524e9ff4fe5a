import pytest

from execution.broker.gateways.metaapi import MetaApiGateway
from tests.execution.broker.gateways.metaapi.fakes import FakeCloud


@pytest.fixture
def cloud(engine, clock) -> FakeCloud:
    """MetaApi, played by stand-ins over the simulated broker (clock: a Wednesday noon, markets open)."""
    return FakeCloud(engine, clock=clock)


@pytest.fixture
def make_metaapi(cloud, clock):
    """``await make_metaapi(**account_options)`` -> (gateway, account record); the gateway holds a token
    narrowed to that account only."""

    async def make(*, gateway_options: dict | None = None, **account_options):
        record = await cloud.add_account(**account_options)
        options = {"clock": clock, "open_grace": 0.05, "connect_timeout": 5.0, "request_timeout": 5.0}
        options.update(gateway_options or {})
        gateway = MetaApiGateway(
            cloud.issue_token(record.id), record.id, api_factory=cloud.factory, **options
        )
        return gateway, record

    return make
