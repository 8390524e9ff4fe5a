"""The SDK stand-ins have the SDK's names and signatures (so the adapter cannot rely on a kinder API)."""

import inspect

import pytest
from metaapi_cloud_sdk import MetaApi
from metaapi_cloud_sdk.metaapi.metatrader_account import MetatraderAccount
from metaapi_cloud_sdk.metaapi.metatrader_account_api import MetatraderAccountApi
from metaapi_cloud_sdk.metaapi.rpc_metaapi_connection import RpcMetaApiConnection
from metaapi_cloud_sdk.metaapi.rpc_metaapi_connection_instance import RpcMetaApiConnectionInstance
from metaapi_cloud_sdk.metaapi.streaming_metaapi_connection_instance import StreamingMetaApiConnectionInstance
from metaapi_cloud_sdk.metaapi.token_management_api import TokenManagementApi

from execution.broker.gateways.metaapi.sdk import HistoryStorage, RecentHistoryStorage
from tests.execution.broker.gateways.metaapi import fakes

PAIRS = [
    (fakes.FakeMetaApi, MetaApi),
    (fakes.FakeAccountApi, MetatraderAccountApi),
    (fakes.FakeTokenManagementApi, TokenManagementApi),
    (fakes.FakeAccount, MetatraderAccount),
    (fakes.FakeRpcConnection, RpcMetaApiConnectionInstance),
    (fakes.FakeRpcMetaApiConnection, RpcMetaApiConnection),
    (fakes.FakeStreamingConnection, StreamingMetaApiConnectionInstance),
    (RecentHistoryStorage, HistoryStorage),  # ours, in the SDK's place
]
MISSING = object()


def shape(function) -> list[tuple]:
    return [
        (p.name, p.kind, None if p.default is inspect.Parameter.empty else repr(p.default))
        for p in inspect.signature(function).parameters.values()
    ]


def public_names(cls) -> list[str]:
    hooks = getattr(cls, "TEST_HOOKS", frozenset())
    return [
        name
        for name, _value in inspect.getmembers(cls)
        if not name.startswith("_") and name not in hooks and name != "TEST_HOOKS"
    ]


@pytest.mark.parametrize(("fake", "real"), PAIRS, ids=[fake.__name__ for fake, _ in PAIRS])
def test_each_stand_in_has_the_sdks_names_and_signatures(fake, real):
    names = public_names(fake)
    assert names
    for name in names:
        mine = inspect.getattr_static(fake, name)
        theirs = inspect.getattr_static(real, name, MISSING)
        assert theirs is not MISSING, f"the SDK's {real.__name__} has no {name}"
        if isinstance(theirs, property) or isinstance(mine, property):
            assert isinstance(mine, property) and isinstance(theirs, property), name
            continue
        assert shape(getattr(fake, name)) == shape(getattr(real, name)), name
        assert inspect.iscoroutinefunction(getattr(fake, name)) == inspect.iscoroutinefunction(
            getattr(real, name)
        ), f"{name}: one returns a coroutine from a plain function, the other is async"


def test_the_rpc_methods_the_adapter_calls_are_all_on_the_stand_in_and_the_sdk():
    from execution.broker.gateways.metaapi.adapter import TRADE_METHODS

    queries = {
        "get_account_information",
        "get_positions",
        "get_position",
        "get_orders",
        "get_symbols",
        "get_symbol_specification",
        "get_symbol_price",
        "get_server_time",
        "get_deals_by_time_range",
        "get_deals_by_position",
    }
    for name in TRADE_METHODS | queries | {"connect", "close", "wait_synchronized"}:
        assert hasattr(RpcMetaApiConnectionInstance, name) and hasattr(fakes.FakeRpcConnection, name), name


def test_the_history_storage_is_complete():
    assert not inspect.isabstract(RecentHistoryStorage)
