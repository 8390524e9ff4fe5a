"""The setup path: create, deploy, connect, narrow a token; the master token stays inside it."""

import asyncio
import dataclasses
import importlib.metadata
import inspect
import logging
import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from execution.broker.gateways.base import GatewayError, OrderKind, OrderRequest, Side
from execution.broker.gateways.metaapi import MetaApiGateway, adapter, events, provisioning
from execution.broker.gateways.metaapi.adapter import token_is_unrestricted
from execution.broker.gateways.metaapi.provisioning import (
    TOKEN_APPLICATIONS,
    TOKEN_ROLES,
    ProvisioningError,
    narrow_down_payload,
    provision_account,
    refresh_token,
)
from execution.broker.gateways.metaapi.sdk import TooManyRequestsException, ValidationException
from tests.execution.broker.gateways.metaapi.fakes import MASTER_TOKEN, token_rules

PASSWORD = "Mt-Pa55word!"


@pytest.fixture
def provision(cloud, clock):
    async def run(**options):
        arguments = {
            "login": "5012345",
            "password": PASSWORD,
            "server": "SimBroker-Demo",
            "platform": "mt5",
            "name": "Alice demo",
            "magic": 20240605,
            "validity_hours": 24,
            "api_factory": cloud.factory,
            "clock": clock,
        }
        arguments.update(options)
        return await provision_account(MASTER_TOKEN, **arguments)

    return run


def all_log_text(caplog) -> str:
    return "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''} {getattr(r, '__dict__', {})!r}"
        for r in caplog.records
    )


async def test_happy_path_creates_deploys_connects_and_narrows(provision, cloud, clock, caplog):
    caplog.set_level(logging.DEBUG)
    result = await provision()

    record = cloud.accounts[result.account_id]
    assert (record.state, record.connection_status) == ("DEPLOYED", "CONNECTED")
    (created,) = cloud.created
    assert created == {
        "name": "Alice demo",
        "login": "5012345",
        "password": PASSWORD,
        "server": "SimBroker-Demo",
        "platform": "mt5",
        "magic": 20240605,
    }
    (payload, validity) = cloud.narrowed[0]
    assert validity == 24
    assert payload == {
        "applications": [
            "trading-account-management-api",
            "metaapi-rpc-api",
            "metaapi-real-time-streaming-api",
            "metaapi-rest-api",
        ],
        "roles": ["reader", "writer"],
        "resources": [{"entity": "account", "id": result.account_id}],
    }
    assert cloud.tokens[result.token] == result.account_id  # the token reaches that account only
    assert result.expires_at == clock() + timedelta(hours=24)
    assert (result.platform, result.state, result.connection_status) == ("mt5", "DEPLOYED", "CONNECTED")
    assert cloud.closed_apis == 1

    # the master token and the password are nowhere in the result or the logs
    for secret in (MASTER_TOKEN, PASSWORD):
        assert secret not in repr(result)
        assert all(secret not in str(value) for value in dataclasses.asdict(result).values())
        assert secret not in all_log_text(caplog)
    assert result.token not in repr(result)
    assert result.token not in all_log_text(caplog)

    # the execution path works with the narrowed token alone
    gateway = MetaApiGateway(result.token, result.account_id, api_factory=cloud.factory, clock=clock)
    await gateway.connect()
    assert (await gateway.account_information()).balance == Decimal(10000)
    await gateway.disconnect()
    assert cloud.tokens_seen == [MASTER_TOKEN, result.token]
    assert MASTER_TOKEN not in all_log_text(caplog)


async def test_extra_account_fields_never_override_the_credentials(provision, cloud):
    await provision(
        account_fields={"type": "cloud-g2", "reliability": "high", "password": "other", "magic": 1}
    )
    (created,) = cloud.created
    assert (created["type"], created["reliability"]) == ("cloud-g2", "high")
    assert (created["password"], created["magic"]) == (PASSWORD, 20240605)


async def test_a_deploy_that_never_connects_is_a_clear_error(provision, cloud, caplog):
    caplog.set_level(logging.DEBUG)
    cloud.new_accounts_connect = False
    with pytest.raises(ProvisioningError) as caught:
        await provision(connect_timeout=0.05)
    error = caught.value
    assert error.stage == "connect"
    assert error.account_id in cloud.accounts  # created: the caller can retry or remove it
    assert "not connected within 0.05 s" in str(error)
    assert "check login, password and server" in str(error)
    assert (error.error.source, error.error.string_code) == ("transport", "timeout")
    assert cloud.closed_apis == 1
    for secret in (MASTER_TOKEN, PASSWORD):
        assert secret not in str(error) and secret not in repr(error.error)
        assert secret not in all_log_text(caplog)
    assert cloud.narrowed == []


async def test_the_connect_wait_is_bounded_even_if_the_sdk_hangs(provision, cloud):
    cloud.new_accounts_hang = True
    started = time.monotonic()
    with pytest.raises(ProvisioningError) as caught:
        await provision(connect_timeout=0.05)
    assert time.monotonic() - started < 2
    assert caught.value.stage == "connect" and caught.value.error.string_code == "timeout"


async def test_a_rejected_creation_does_not_leak_the_password(provision, cloud, caplog):
    caplog.set_level(logging.DEBUG)
    cloud.create_error = ValidationException(f"password {PASSWORD} is too weak", [{"parameter": "password"}])
    with pytest.raises(ProvisioningError) as caught:
        await provision()
    error = caught.value
    assert (error.stage, error.account_id) == ("create", None)
    assert error.error.string_code == "validation"
    assert PASSWORD not in str(error) and PASSWORD not in error.error.message
    assert error.__cause__ is None and error.__suppress_context__
    assert PASSWORD not in all_log_text(caplog)


async def test_a_failed_token_narrowing_names_the_created_account(provision, cloud, clock):
    cloud.narrow_error = TooManyRequestsException(
        "slow down", {"recommendedRetryTime": clock() + timedelta(seconds=20)}
    )
    with pytest.raises(ProvisioningError) as caught:
        await provision()
    assert caught.value.stage == "token" and caught.value.account_id in cloud.accounts
    assert caught.value.error.string_code == "http_429"


async def test_refresh_token_narrows_a_fresh_token_to_the_same_account(provision, cloud, clock, caplog):
    caplog.set_level(logging.DEBUG)
    first = await provision()
    clock.advance(hours=20)
    fresh = await refresh_token(MASTER_TOKEN, first.account_id, 48, api_factory=cloud.factory, clock=clock)
    assert fresh.account_id == first.account_id and fresh.token != first.token
    assert cloud.tokens[fresh.token] == first.account_id
    assert fresh.expires_at == clock() + timedelta(hours=48)
    assert cloud.narrowed[-1] == (narrow_down_payload(first.account_id), 48)
    assert MASTER_TOKEN not in repr(fresh) and MASTER_TOKEN not in all_log_text(caplog)
    assert cloud.closed_apis == 2


async def test_refresh_token_errors(cloud, clock):
    cloud.narrow_error = ValidationException("no such account", [])
    with pytest.raises(ProvisioningError) as caught:
        await refresh_token(MASTER_TOKEN, "acc-x", api_factory=cloud.factory, clock=clock)
    assert (caught.value.stage, caught.value.account_id) == ("token", "acc-x")
    with pytest.raises(ValueError):
        await refresh_token(MASTER_TOKEN, "acc-x", 0, api_factory=cloud.factory)


@pytest.mark.parametrize(
    "changes",
    [{"platform": "mt6"}, {"password": ""}, {"login": " "}, {"validity_hours": 0}],
)
async def test_bad_arguments_are_refused_before_anything_is_created(provision, cloud, changes):
    with pytest.raises(ValueError):
        await provision(**changes)
    assert cloud.apis == []


def test_the_payload_narrows_to_exactly_one_account():
    payload = narrow_down_payload("3860c395-6842-43d9-9b6a-9f9841bb2c8a")
    assert payload["resources"] == [{"entity": "account", "id": "3860c395-6842-43d9-9b6a-9f9841bb2c8a"}]
    assert set(payload) == {"applications", "roles", "resources"}
    with pytest.raises(ValueError):
        narrow_down_payload("")


@pytest.mark.parametrize("module", [provisioning, adapter, events])
def test_no_module_reads_a_token_from_settings_or_the_environment(module):
    source = inspect.getsource(module)
    for needle in ("os.environ", "getenv", "django.conf", "settings."):
        assert needle not in source, (module.__name__, needle)


# -- the narrowed token: what trading through RPC needs ----------------------------------------------


def sdk_readme_applications() -> set[str]:
    """The application ids the installed SDK's README gives for an account access token."""
    readme = importlib.metadata.metadata("metaapi-cloud-sdk").get_payload()
    listed = re.search(r"'applications': \[([^\]]*)\]", readme)
    assert listed, "the SDK README no longer shows its account access token example"
    return set(re.findall(r"'([a-z-]+)'", listed.group(1)))


def test_the_token_applications_are_names_the_sdk_knows():
    known = sdk_readme_applications()
    assert "metaapi-rpc-api" in known and "metaapi-api" not in known
    assert set(TOKEN_APPLICATIONS) <= known
    assert {"metaapi-rpc-api", "trading-account-management-api"} <= set(TOKEN_APPLICATIONS)
    assert "writer" in TOKEN_ROLES  # the README's example is read-only ('reader'): no trading


async def test_the_narrowed_token_grants_exactly_the_payload_and_trades_through_rpc(provision, cloud, clock):
    result = await provision()
    assert token_rules(result.token) == {app: {"reader", "writer"} for app in TOKEN_APPLICATIONS}
    assert not token_is_unrestricted(result.token)
    gateway = MetaApiGateway(result.token, result.account_id, api_factory=cloud.factory, clock=clock)
    await gateway.connect()
    placed = await gateway.place_order(OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, Decimal("0.01")))
    await gateway.subscribe_prices(["EURUSD"])  # the dashboard streamer's streaming connection
    await gateway.close_position(placed.position_id)
    await gateway.disconnect()


@pytest.mark.parametrize(
    ("applications", "roles", "fails_at"),
    [
        # what the setup narrowed before: 'metaapi-api' is no MetaApi application, so no RPC at all
        (("metaapi-api", "trading-account-management-api"), ("reader", "writer"), "query"),
        (("trading-account-management-api", "metaapi-rpc-api"), ("reader",), "trade"),  # read-only
        (("metaapi-rpc-api",), ("reader", "writer"), "connect"),  # cannot read its account
    ],
)
async def test_a_token_without_what_trading_needs_cannot_trade(cloud, clock, applications, roles, fails_at):
    record = await cloud.add_account()
    api = cloud.factory(MASTER_TOKEN, {})
    token = await api.token_management_api.narrow_down_token(
        {
            "applications": list(applications),
            "roles": list(roles),
            "resources": [{"entity": "account", "id": record.id}],
        },
        24,
    )
    api.close()
    gateway = MetaApiGateway(token, record.id, api_factory=cloud.factory, clock=clock)
    steps = {
        "connect": gateway.connect,
        "query": gateway.account_information,
        "trade": lambda: gateway.place_order(
            OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, Decimal("0.01"))
        ),
    }
    for step, call in steps.items():
        if step == fails_at:
            with pytest.raises(GatewayError) as caught:
                await call()
            assert (caught.value.source, caught.value.string_code) == ("transport", "forbidden")
            break
        await call()
    await gateway.disconnect()
    assert await record.sim.positions() == []


async def test_the_setup_leaves_no_task_of_the_sdk_behind(provision, cloud, clock):
    """The setup runs in a short-lived loop (async_to_sync): the SDK's scheduled close must run in it, and
    the jobs MetaApi starts must be stopped there."""
    before = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
    result = await provision()
    await refresh_token(MASTER_TOKEN, result.account_id, 24, api_factory=cloud.factory, clock=clock)
    left = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()} - before
    assert left == set()
    assert all(api._websocket_client.closed for api in cloud.apis)
