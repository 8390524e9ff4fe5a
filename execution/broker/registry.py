"""Which connector serves an account: one per platform ``api``, the one table that says so."""

from collections.abc import Mapping
from types import MappingProxyType

from execution.accounts.models import TradingAccount
from execution.broker.connector import Connector
from execution.broker.gateways.base import BrokerGateway
from execution.broker.metaapi import MetaApiConnector
from execution.broker.simulator import SimulatedConnector
from platforms.models import TradePlatform

CONNECTORS: Mapping[str, Connector] = MappingProxyType(
    {connector.api: connector for connector in (SimulatedConnector(), MetaApiConnector())}
)


def connector_for(platform: TradePlatform) -> Connector:
    try:
        return CONNECTORS[platform.api]
    except KeyError:
        raise ValueError(f"no connector for api {platform.api!r}") from None


def gateway_for(account: TradingAccount) -> BrokerGateway:
    """A new gateway for the account (not connected yet: use it as ``async with``)."""
    return connector_for(account.platform).gateway(account)
