"""SDK exception -> GatewayError, and what the one classification table makes of it."""

import inspect
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from metaapi_cloud_sdk.clients.http_client import HttpClient
from metaapi_cloud_sdk.clients.metaapi import metaapi_websocket_client
from metaapi_cloud_sdk.metaapi import metaapi_connection_instance, rpc_metaapi_connection_instance
from socketio.exceptions import ConnectionError as SocketIOConnectionError

from execution.broker.gateways.base import GatewayError, OrderKind, OrderRequest, Side
from execution.broker.gateways.metaapi import platform_code, retry_after_seconds, translate_exception
from execution.broker.gateways.metaapi.sdk import (
    ApiException,
    ConflictException,
    ForbiddenException,
    InternalException,
    MethodAccessException,
    NotConnectedException,
    NotFoundException,
    NotSynchronizedException,
    TimeoutException,
    TooManyRequestsException,
    TradeException,
    UnauthorizedException,
    ValidationException,
)
from execution.safety.errors import Category, classify

NOW = datetime(2024, 6, 5, 12, 0, tzinfo=UTC)
ACCOUNT_URL = "https://mt-provisioning-api-v1.agiliumtrade.agiliumtrade.ai/users/current/accounts/acc-1"
# the SDK's own texts (metaapi_connection_instance.py:_check_is_connection_active, websocket client)
CLOSED_CONNECTION = "This connection has been closed, please create a new connection"
UNOPENED_CONNECTION = "This connection has not been initialized yet, please invoke await connection.connect()"
NO_SOCKET = (
    "MetaApi websocket client request of account acc-1 timed out because socket client failed to connect "
    "to the server."
)
T, P, IN, MC, RL, C, U = (
    Category.TRANSIENT,
    Category.PERMANENT,
    Category.INVALID_INPUT,
    Category.MARKET_CLOSED,
    Category.RATE_LIMITED,
    Category.CONNECTION,
    Category.UNKNOWN,
)


def category(error: GatewayError) -> Category:
    """How a consumer classifies a GatewayError: its source and its code (or, without one, its name)."""
    return classify(
        source=error.source, code=error.code if error.code is not None else error.string_code
    ).category


def trade(code, name, message="rejected"):
    return TradeException(message, code, name)


def too_many(when):
    return TooManyRequestsException(
        "Too many requests",
        {"periodInMinutes": 1, "requestsPerPeriodAllowed": 10, "recommendedRetryTime": when, "type": "LIMIT"},
    )


# (exception, account platform) -> (source, code, string_code), category
TABLE = [
    # broker rejections in the account platform's table
    (trade(10014, "TRADE_RETCODE_INVALID_VOLUME"), "mt5", ("mt5", 10014, "TRADE_RETCODE_INVALID_VOLUME"), IN),
    (trade(10018, "TRADE_RETCODE_MARKET_CLOSED"), "mt5", ("mt5", 10018, "TRADE_RETCODE_MARKET_CLOSED"), MC),
    (trade(10004, "TRADE_RETCODE_REQUOTE"), "mt5", ("mt5", 10004, "TRADE_RETCODE_REQUOTE"), T),
    (
        trade(10024, "TRADE_RETCODE_TOO_MANY_REQUESTS"),
        "mt5",
        ("mt5", 10024, "TRADE_RETCODE_TOO_MANY_REQUESTS"),
        RL,
    ),
    (trade(10031, "TRADE_RETCODE_CONNECTION"), "mt5", ("mt5", 10031, "TRADE_RETCODE_CONNECTION"), C),
    (trade(10019, "TRADE_RETCODE_NO_MONEY"), "mt5", ("mt5", 10019, "TRADE_RETCODE_NO_MONEY"), P),
    (trade(4753, "ERR_TRADE_POSITION_NOT_FOUND"), "mt5", ("mt5", 4753, "ERR_TRADE_POSITION_NOT_FOUND"), P),
    (trade(131, "ERR_INVALID_TRADE_VOLUME"), "mt4", ("mt4", 131, "ERR_INVALID_TRADE_VOLUME"), IN),
    (trade(132, "ERR_MARKET_CLOSED"), "mt4", ("mt4", 132, "ERR_MARKET_CLOSED"), MC),
    # MT4 4108 (what an MT4 server answers for an unknown ticket) is not in the classification table yet:
    # it classifies UNKNOWN until execution/safety/errors.py gets it (reported)
    (trade(4108, "ERR_INVALID_TICKET"), "mt4", ("mt4", 4108, "ERR_INVALID_TICKET"), U),
    # MT5-style codes on an MT4 account are reported in the MT4 table ...
    (trade(10014, "TRADE_RETCODE_INVALID_VOLUME"), "mt4", ("mt4", 131, "ERR_INVALID_TRADE_VOLUME"), IN),
    (trade(10018, "TRADE_RETCODE_MARKET_CLOSED"), "mt4", ("mt4", 132, "ERR_MARKET_CLOSED"), MC),
    (trade(4753, "ERR_TRADE_POSITION_NOT_FOUND"), "mt4", ("mt4", 4108, "ERR_INVALID_TICKET"), U),
    # ... and codes without a counterpart keep their MetaApi name (the table classifies names too)
    (trade(10030, "TRADE_RETCODE_INVALID_FILL"), "mt4", ("metaapi", None, "TRADE_RETCODE_INVALID_FILL"), P),
    (trade(131, "ERR_INVALID_TRADE_VOLUME"), "mt5", ("metaapi", None, "ERR_INVALID_TRADE_VOLUME"), IN),
    # MetaApi's own link codes
    (trade(-11, "TRADE_RETCODE_DISCONNECTED_DURING_TRADE"), "mt5", ("transport", None, "connection_lost"), C),
    (trade(-10, "TRADE_RETCODE_DISCONNECTED_BEFORE_TRADE"), "mt5", ("transport", None, "not_connected"), C),
    (trade(-7, "ERR_TRADE_TIMED_OUT"), "mt4", ("transport", None, "timeout"), T),
    (trade(-5, "ERR_NOT_SYNCHRONIZED"), "mt5", ("transport", None, "not_synchronized"), C),
    # a MetaApi code the table does not know yet: reported as is, classified UNKNOWN (and logged there)
    (trade(-8, "ERR_INVESTOR"), "mt5", ("mt5", -8, "ERR_INVESTOR"), U),
    # transport
    (NotConnectedException("terminal not connected"), "mt5", ("transport", None, "not_connected"), C),
    (NotSynchronizedException("not synchronized"), "mt5", ("transport", None, "not_synchronized"), C),
    (TimeoutException("request timed out"), "mt5", ("transport", None, "timeout"), T),
    (TimeoutError(), "mt5", ("transport", None, "timeout"), T),
    (ConnectionResetError("reset by peer"), "mt5", ("transport", None, "connection_lost"), C),
    (SocketIOConnectionError("socket closed"), "mt5", ("transport", None, "connection_lost"), C),
    (httpx.ConnectTimeout("connect timeout"), "mt5", ("transport", None, "timeout"), T),
    (httpx.ConnectError("no route"), "mt5", ("transport", None, "connection_lost"), C),
    (
        ValidationException("bad request", [{"parameter": "volume"}]),
        "mt5",
        ("transport", None, "validation"),
        P,
    ),
    (NotFoundException("no such account"), "mt5", ("transport", None, "not_found"), P),
    (UnauthorizedException("token expired"), "mt5", ("transport", None, "unauthorized"), P),
    (ForbiddenException("no access"), "mt5", ("transport", None, "forbidden"), P),
    (MethodAccessException("get_account"), "mt5", ("transport", None, "forbidden"), P),
    (InternalException("server error"), "mt5", ("transport", None, "http_5xx"), T),
    (ApiException("bad gateway", 502), "mt5", ("transport", None, "http_5xx"), T),
    (ApiException("slow down", 429), "mt5", ("transport", None, "http_429"), RL),
    (ConflictException("conflict"), "mt5", ("transport", None, "http_409"), U),
    # what HttpClient._convert_error makes of an httpx network error (no response): no status
    (ApiException(None, None, ACCOUNT_URL), "mt5", ("transport", None, "network_error"), C),
    # the SDK's plain Exceptions about its connection objects (raised before anything is sent) ...
    (Exception(CLOSED_CONNECTION), "mt5", ("transport", None, "not_connected"), C),
    (Exception(UNOPENED_CONNECTION), "mt5", ("transport", None, "not_connected"), C),
    # ... rpc_request giving up before sending, for want of a socket ...
    (TimeoutException(NO_SOCKET), "mt5", ("transport", None, "not_connected"), C),
    # ... and MetaApiWebsocketClient.close() failing the requests still waiting for an answer
    (Exception("MetaApi connection closed"), "mt5", ("transport", None, "connection_lost"), C),
    (Exception("something else"), "mt5", ("transport", None, "internal"), U),
    (RuntimeError("a bug"), "mt5", ("transport", None, "internal"), U),
]


@pytest.mark.parametrize(("exc", "platform", "expected", "expected_category"), TABLE)
def test_translation_and_classification(exc, platform, expected, expected_category):
    error = translate_exception(exc, platform=platform, now=NOW)
    assert isinstance(error, GatewayError)
    assert (error.source, error.code, error.string_code) == expected
    assert category(error) is expected_category
    assert error.message


def test_a_gateway_error_passes_unchanged():
    error = GatewayError("x", source="transport", string_code="timeout")
    assert translate_exception(error, platform="mt5") is error


def test_translated_errors_survive_pickling():
    import pickle

    error = translate_exception(trade(10018, "TRADE_RETCODE_MARKET_CLOSED"), platform="mt5")
    again = pickle.loads(pickle.dumps(error))
    assert (again.source, again.code, again.string_code) == ("mt5", 10018, "TRADE_RETCODE_MARKET_CLOSED")


@pytest.mark.parametrize(
    ("when", "seconds"),
    [
        ("2024-06-05T12:00:30.000Z", 30.0),  # ISO string (HTTP client)
        (NOW + timedelta(seconds=90), 90.0),  # datetime (the websocket client converts *Time fields)
        (NOW.timestamp() + 5, 5.0),  # epoch seconds
        ("2024-06-05T11:59:00Z", 0.0),  # already past: retry now
    ],
)
def test_too_many_requests_is_rate_limited_with_retry_after(when, seconds):
    error = translate_exception(too_many(when), platform="mt5", now=NOW)
    assert (error.source, error.string_code) == ("transport", "http_429")
    assert error.retry_after == pytest.approx(seconds)
    assert category(error) is RL


@pytest.mark.parametrize("metadata", [None, {}, {"recommendedRetryTime": "soon"}])
def test_too_many_requests_without_a_usable_retry_time(metadata):
    error = translate_exception(TooManyRequestsException("slow down", metadata), platform="mt5", now=NOW)
    assert error.retry_after is None
    assert category(error) is RL
    assert retry_after_seconds(metadata, NOW) is None


@pytest.mark.parametrize(
    ("platform", "numeric", "name", "expected"),
    [
        ("mt5", 10009, "TRADE_RETCODE_DONE", ("mt5", 10009, "TRADE_RETCODE_DONE")),
        ("mt5", 10008, "TRADE_RETCODE_PLACED", ("mt5", 10008, "TRADE_RETCODE_PLACED")),
        ("mt4", 0, "ERR_NO_ERROR", ("mt4", 0, "ERR_NO_ERROR")),
        ("mt4", 10009, "TRADE_RETCODE_DONE", ("mt4", 0, "ERR_NO_ERROR")),
        ("mt4", 10010, "TRADE_RETCODE_DONE_PARTIAL", ("mt4", 0, "ERR_NO_ERROR")),
        ("mt5", "10014", "TRADE_RETCODE_INVALID_VOLUME", ("mt5", 10014, "TRADE_RETCODE_INVALID_VOLUME")),
    ],
)
def test_platform_codes(platform, numeric, name, expected):
    assert platform_code(platform, numeric, name) == expected


# -- through the gateway: nothing but GatewayError leaves it ----------------------------------------


GATEWAY_CASES = [
    ("get_account_information", NotConnectedException("x"), ("transport", None, "not_connected"), C),
    ("get_account_information", NotSynchronizedException("x"), ("transport", None, "not_synchronized"), C),
    ("get_account_information", TimeoutException("x"), ("transport", None, "timeout"), T),
    ("get_account_information", UnauthorizedException("x"), ("transport", None, "unauthorized"), P),
    ("get_account_information", InternalException("x"), ("transport", None, "http_5xx"), T),
    ("get_account_information", KeyError("positions"), ("transport", None, "internal"), U),
]


@pytest.mark.parametrize(("method", "exc", "expected", "expected_category"), GATEWAY_CASES)
async def test_sdk_exceptions_leave_the_gateway_as_gateway_errors(
    make_metaapi, method, exc, expected, expected_category
):
    gateway, record = await make_metaapi()
    await gateway.connect()
    record.fail_next(method, exc)
    with pytest.raises(GatewayError) as caught:
        await gateway.account_information()
    error = caught.value
    assert (error.source, error.code, error.string_code) == expected
    assert category(error) is expected_category
    await gateway.disconnect()


async def test_rate_limit_through_the_gateway_uses_the_gateway_clock(make_metaapi, clock):
    gateway, record = await make_metaapi()
    await gateway.connect()
    record.fail_next("create_market_buy_order", too_many(clock() + timedelta(seconds=42)))
    with pytest.raises(GatewayError) as caught:
        await gateway.place_order(OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, Decimal("0.01")))
    assert caught.value.retry_after == pytest.approx(42)
    assert category(caught.value) is RL
    assert await gateway.positions() == []
    await gateway.disconnect()


async def test_market_closed_through_the_gateway(make_metaapi):
    gateway, record = await make_metaapi()
    await gateway.connect()
    record.fail_next("create_market_sell_order", trade(10018, "TRADE_RETCODE_MARKET_CLOSED", "Market closed"))
    with pytest.raises(GatewayError) as caught:
        await gateway.place_order(OrderRequest("EURUSD", Side.SELL, OrderKind.MARKET, Decimal("0.01")))
    assert (caught.value.source, caught.value.code) == ("mt5", 10018)
    assert category(caught.value) is MC
    await gateway.disconnect()


async def test_a_synchronous_sdk_failure_is_translated_too(make_metaapi):
    """The SDK checks its connection synchronously (plain Exception) before returning the coroutine."""
    gateway, _record = await make_metaapi()
    await gateway.connect()
    await gateway._rpc.close()  # closed underneath the gateway
    with pytest.raises(GatewayError) as caught:
        await gateway.positions()
    assert (caught.value.source, caught.value.string_code) == ("transport", "not_connected")
    await gateway.disconnect()


# -- REST network failures, through the SDK's own HTTP client -----------------------------------------


@pytest.mark.parametrize(
    "network_error", [httpx.ConnectError("no route to host"), httpx.ReadError("connection reset")]
)
async def test_a_rest_network_failure_is_a_lost_connection(network_error):
    """HttpClient retries httpx errors itself, then raises ApiException with no status: CONNECTION."""
    client = HttpClient(5, {"retries": 0})
    request = httpx.Request("GET", ACCOUNT_URL)
    network_error.request = request

    async def make_request(options):
        raise network_error

    client._make_request = make_request
    with pytest.raises(ApiException) as raised:
        await client.request({"url": ACCOUNT_URL, "method": "GET"}, "get_account")
    assert type(raised.value) is ApiException and raised.value.status_code is None
    error = translate_exception(raised.value, platform="mt5", now=NOW)
    assert (error.source, error.string_code) == ("transport", "network_error")
    assert category(error) is C


def test_the_sdk_texts_matched_here_are_the_sdks():
    sources = {
        module: inspect.getsource(module)
        for module in (metaapi_connection_instance, metaapi_websocket_client, rpc_metaapi_connection_instance)
    }
    everything = "\n".join(sources.values())
    for text in (CLOSED_CONNECTION, UNOPENED_CONNECTION, "MetaApi connection closed"):
        assert text in everything
    assert "socket client failed to connect to the server." in sources[metaapi_websocket_client]
