"""SDK exception -> :class:`GatewayError`: the one translation table of the MetaApi gateway.

Translation only (no retry decision): each SDK exception becomes a GatewayError whose ``(source, code)`` or
``(source, string_code)`` is a key of :data:`execution.safety.errors.TABLE`, which classifies it:

=================================  ===========================================================================
SDK exception                      GatewayError
=================================  ===========================================================================
TradeException (broker retcode)    source = the account's platform ('mt5' | 'mt4'), code = numericCode,
                                   string_code = stringCode. An MT5-style code on an MT4 account is put into
                                   the MT4 table (10014 -> 131); a code of the other platform's table with no
                                   counterpart keeps its name: source 'metaapi', code None, string_code.
TradeException (MetaApi codes)     -11 DISCONNECTED_DURING_TRADE -> transport 'connection_lost',
                                   -10 DISCONNECTED_BEFORE_TRADE -> 'not_connected',
                                   -7 ERR_TRADE_TIMED_OUT -> 'timeout', -5 ERR_NOT_SYNCHRONIZED ->
                                   'not_synchronized'; other MetaApi codes keep source = platform.
TooManyRequestsException           transport 'http_429', retry_after = recommendedRetryTime - now (>= 0)
NotConnectedException              transport 'not_connected'
NotSynchronizedException           transport 'not_synchronized'
TimeoutException 'socket client    transport 'not_connected': raised by rpc_request before anything is sent
failed to connect to the server'
TimeoutException, TimeoutError     transport 'timeout' (asyncio.TimeoutError is TimeoutError)
ConnectionError, socket.io / httpx transport 'connection_lost' (httpx timeouts: 'timeout')
Exception('This connection has     transport 'not_connected': the SDK's synchronous check of a connection
been closed...' / '... not been    object (MetaApiConnectionInstance._check_is_connection_active): nothing
initialized yet...')               was sent
Exception('MetaApi connection      transport 'connection_lost': MetaApiWebsocketClient.close() fails the
closed')                           requests still waiting for their answer (they may have been delivered)
ValidationException (400)          transport 'validation'
UnauthorizedException (401)        transport 'unauthorized'
ForbiddenException (403)           transport 'forbidden'
MethodAccessException              transport 'forbidden'
NotFoundException (404)            transport 'not_found'
InternalException (500), 5xx       transport 'http_5xx'
ApiException without a status     transport 'network_error': HttpClient._convert_error turns an httpx
                                   network error (no response) into ApiException(status None) after its
                                   own retries
other ApiException                 transport 'http_<status>' (unclassified -> UNKNOWN, logged by the table)
anything else                      transport 'internal' (unclassified -> UNKNOWN)
=================================  ===========================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from execution.broker.gateways import codes
from execution.broker.gateways.base import GatewayError, Platform
from execution.broker.gateways.metaapi import sdk

logger = logging.getLogger(__name__)

try:  # the SDK's websocket client uses python-socketio
    from socketio.exceptions import ConnectionError as _SocketIOConnectionError
except ImportError:  # pragma: no cover - socketio is a dependency of the SDK
    _SocketIOConnectionError = ConnectionError

#: MetaApi's own (negative) trade codes that describe the link, not the broker's answer.
METAAPI_TRANSPORT_CODES: Mapping[str, str] = {
    "TRADE_RETCODE_DISCONNECTED_DURING_TRADE": "connection_lost",  # -11: delivered, outcome unknown
    "TRADE_RETCODE_DISCONNECTED_BEFORE_TRADE": "not_connected",  # -10: never reached the broker
    "ERR_TRADE_TIMED_OUT": "timeout",  # -7
    "ERR_NOT_SYNCHRONIZED": "not_synchronized",  # -5
}
METAAPI_TRANSPORT_NUMBERS: Mapping[int, str] = {
    -11: "connection_lost",
    -10: "not_connected",
    -7: "timeout",
    -5: "not_synchronized",
}

#: Texts of the SDK's plain ``Exception`` s that describe the connection (see the module table).
_SDK_NOT_CONNECTED_TEXTS = (
    "This connection has been closed, please create a new connection",
    "This connection has not been initialized yet",
)
_SDK_CLOSED_TEXT = "MetaApi connection closed"
#: rpc_request's TimeoutException when no socket could be opened: the request never left.
_SDK_NO_SOCKET_TEXT = "socket client failed to connect to the server"

#: MT5 runtime errors (MQL5 ERR_*) brokers send back for trade requests.
_MT5_RUNTIME = {4301, 4302, 4752, 4753, 4754, 4755, 4756}
_MT5_RUNTIME_NAMES = {
    "ERR_MARKET_UNKNOWN_SYMBOL",
    "ERR_MARKET_NOT_SELECTED",
    "ERR_TRADE_POSITION_NOT_FOUND",
    "ERR_TRADE_ORDER_NOT_FOUND",
    "ERR_TRADE_DEAL_NOT_FOUND",
    "ERR_TRADE_SEND_FAILED",
}
_MT4_NAMES = frozenset(codes.MT4_NAMES.values()) - {"ERR_NO_ERROR"}
#: MT5 success codes as an MT4 account reports them (MT4 has no partial fill code).
_MT5_SUCCESS_ON_MT4 = {
    codes.MT5_DONE: 0,
    codes.MT5_PLACED: 0,
    codes.MT5_DONE_PARTIAL: 0,
    codes.MT5_NO_CHANGES: 0,
}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _family(number: int | None, name: str) -> str | None:
    """Which MetaTrader table a trade code belongs to ('mt5' | 'mt4'), None when it cannot be told."""
    if name.startswith("TRADE_RETCODE_") or (number is not None and number >= 10000):
        return "mt5"
    if number in _MT5_RUNTIME or name in _MT5_RUNTIME_NAMES:
        return "mt5"
    if name in _MT4_NAMES:
        return "mt4"
    return None


def platform_code(platform: Platform, numeric_code: Any, string_code: Any) -> tuple[str, int | None, str]:
    """``(source, code, string_code)`` of a MetaApi trade code on a ``platform`` account.

    Codes are reported in the account platform's table (the interface's promise); a code that only
    exists in the other table keeps its MetaApi name under source 'metaapi' (the classifier knows names).
    """
    number = _as_int(numeric_code)
    name = str(string_code or "")
    family = _family(number, name) or platform
    if family == platform:
        return platform, number, name or (codes.code_name(platform, number) or "")
    if platform == "mt4" and number is not None:
        mapped = _MT5_SUCCESS_ON_MT4.get(number, codes.MT5_TO_MT4.get(number))
        if mapped is not None:
            return "mt4", mapped, codes.code_name("mt4", mapped) or name
    return "metaapi", None, name


def _parse_moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None


def retry_after_seconds(metadata: Any, now: datetime) -> float | None:
    """Seconds until MetaApi's ``recommendedRetryTime`` (ISO string, datetime or epoch), never negative."""
    if not isinstance(metadata, Mapping):
        return None
    moment = _parse_moment(metadata.get("recommendedRetryTime"))
    if moment is None:
        return None
    return max(0.0, (moment - now).total_seconds())


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _transport(exc: BaseException, kind: str, *, retry_after: float | None = None) -> GatewayError:
    return GatewayError(_describe(exc), source="transport", string_code=kind, retry_after=retry_after)


def translate_trade_exception(exc: Any, platform: Platform) -> GatewayError:
    number = _as_int(getattr(exc, "numericCode", None))
    name = str(getattr(exc, "stringCode", None) or "")
    kind = METAAPI_TRANSPORT_CODES.get(name) or (
        METAAPI_TRANSPORT_NUMBERS.get(number) if number is not None and number < 0 else None
    )
    if kind is not None:
        return GatewayError(f"{_describe(exc)} [{number} {name}]", source="transport", string_code=kind)
    source, code, string_code = platform_code(platform, number, name)
    message = _describe(exc)
    if (source, code, string_code) != (platform, number, name):
        message = f"{message} [MetaApi {number} {name}]"
    return GatewayError(message, source=source, code=code, string_code=string_code)  # type: ignore[arg-type]


def translate_exception(
    exc: BaseException, *, platform: Platform, now: datetime | None = None
) -> GatewayError:
    """The GatewayError for any exception raised at the SDK boundary (see the module table)."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, sdk.TradeException):
        return translate_trade_exception(exc, platform)
    if isinstance(exc, sdk.TooManyRequestsException):
        moment = now or datetime.now(UTC)
        return _transport(
            exc, "http_429", retry_after=retry_after_seconds(getattr(exc, "metadata", None), moment)
        )
    if isinstance(exc, sdk.NotConnectedException):
        return _transport(exc, "not_connected")
    if isinstance(exc, sdk.NotSynchronizedException):
        return _transport(exc, "not_synchronized")
    if isinstance(exc, sdk.TimeoutException) and _SDK_NO_SOCKET_TEXT in str(exc):
        return _transport(exc, "not_connected")
    if isinstance(exc, sdk.TimeoutException | TimeoutError | httpx.TimeoutException):
        return _transport(exc, "timeout")
    if isinstance(exc, ConnectionError | _SocketIOConnectionError | httpx.TransportError):
        return _transport(exc, "connection_lost")
    if isinstance(exc, sdk.MethodAccessException):
        return _transport(exc, "forbidden")
    if isinstance(exc, sdk.ApiException):
        return _transport(exc, _api_kind(exc))
    if type(exc) is Exception:
        text = str(exc)
        if any(text.startswith(known) for known in _SDK_NOT_CONNECTED_TEXTS):
            return _transport(exc, "not_connected")
        if text == _SDK_CLOSED_TEXT:
            return _transport(exc, "connection_lost")
    logger.warning("unexpected %s at the MetaApi boundary", type(exc).__name__)
    return _transport(exc, "internal")


def _api_kind(exc: Any) -> str:
    if isinstance(exc, sdk.ValidationException):
        return "validation"
    if isinstance(exc, sdk.UnauthorizedException):
        return "unauthorized"
    if isinstance(exc, sdk.ForbiddenException):
        return "forbidden"
    if isinstance(exc, sdk.NotFoundException):
        return "not_found"
    if isinstance(exc, sdk.InternalException):
        return "http_5xx"
    status = _as_int(getattr(exc, "status_code", None))
    if status is None:  # no response at all: the network failed (after the SDK's own retries)
        return "network_error"
    if status == 429:
        return "http_429"
    if status >= 500:
        return "http_5xx"
    return {400: "validation", 401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(
        status, f"http_{status}"
    )


__all__ = [
    "METAAPI_TRANSPORT_CODES",
    "platform_code",
    "retry_after_seconds",
    "translate_exception",
    "translate_trade_exception",
]
