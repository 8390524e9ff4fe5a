"""The one broker-error classification table.

Promise: every broker or transport error is turned into a :class:`Classification` here and only
here, keyed by ``(source, code)`` because MT4 and MT5 numbers mean different things. Codes that
are not in the table classify as UNKNOWN and are logged for investigation.

INVALID_INPUT is the broker refusing the request itself (its stops, its volume, its price): final
like PERMANENT, but it says nothing about the broker or the account, so it neither trips the
safety pause nor counts towards the broker health monitor. It refines the seed's PERMANENT for
invalid stops and volumes and its TRANSIENT for an MT5 invalid price (sending the same price again
cannot succeed); MT4's invalid price (129) stays TRANSIENT: it is MT4's answer to a market order
sent at a stale quote, which a retry at a fresh one fixes.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from execution.broker.gateways.base import GatewayError

logger = logging.getLogger(__name__)

Source = Literal["mt5", "mt4", "metaapi", "transport"]
SOURCES: tuple[Source, ...] = ("mt5", "mt4", "metaapi", "transport")


class Category(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    INVALID_INPUT = "invalid_input"  # the request's own levels or volume: not a broker fault
    MARKET_CLOSED = "market_closed"
    RATE_LIMITED = "rate_limited"
    CONNECTION = "connection"
    SUCCESS = "success"
    UNKNOWN = "unknown"


class PauseEffect(StrEnum):
    """How an outcome feeds the per-account safety pause (see :mod:`execution.safety.pause`)."""

    RESET = "reset"  # a success: clears the consecutive failure counts
    NONE = "none"  # not a broker fault (a closed market, an invalid request): neither counts nor resets
    TRANSIENT = "transient"  # counts towards the consecutive-failure threshold
    PERMANENT = "permanent"  # counts towards both thresholds


RETRYABLE: frozenset[Category] = frozenset(
    {Category.TRANSIENT, Category.RATE_LIMITED, Category.CONNECTION, Category.UNKNOWN}
)

PAUSE_EFFECT: Mapping[Category, PauseEffect] = {
    Category.SUCCESS: PauseEffect.RESET,
    Category.MARKET_CLOSED: PauseEffect.NONE,
    Category.INVALID_INPUT: PauseEffect.NONE,
    Category.TRANSIENT: PauseEffect.TRANSIENT,
    Category.RATE_LIMITED: PauseEffect.TRANSIENT,
    Category.CONNECTION: PauseEffect.TRANSIENT,
    Category.UNKNOWN: PauseEffect.TRANSIENT,
    Category.PERMANENT: PauseEffect.PERMANENT,
}


@dataclass(frozen=True)
class Classification:
    source: Source
    code: int | str
    category: Category
    label: str
    unknown: bool = False

    @property
    def retryable(self) -> bool:
        return self.category in RETRYABLE

    @property
    def pause_effect(self) -> PauseEffect:
        return PAUSE_EFFECT[self.category]

    @property
    def trips_pause(self) -> bool:
        """True when this outcome counts towards tripping the safety pause."""
        return self.pause_effect in (PauseEffect.TRANSIENT, PauseEffect.PERMANENT)


_T, _P, _I, _MC, _RL, _C, _S = (
    Category.TRANSIENT,
    Category.PERMANENT,
    Category.INVALID_INPUT,
    Category.MARKET_CLOSED,
    Category.RATE_LIMITED,
    Category.CONNECTION,
    Category.SUCCESS,
)

# MT5 trade server return codes (MqlTradeResult.retcode) and the MQL5 runtime errors brokers send back.
# (code, MetaApi stringCode, category, label)
_MT5: tuple[tuple[int, str | None, Category, str], ...] = (
    (10004, "TRADE_RETCODE_REQUOTE", _T, "requote"),
    (10006, "TRADE_RETCODE_REJECT", _P, "request rejected"),
    (10007, "TRADE_RETCODE_CANCEL", _P, "request cancelled by trader"),
    (10008, "TRADE_RETCODE_PLACED", _S, "order placed"),
    (10009, "TRADE_RETCODE_DONE", _S, "request completed"),
    (10010, "TRADE_RETCODE_DONE_PARTIAL", _S, "request partially completed"),
    (10011, "TRADE_RETCODE_ERROR", _T, "request processing error"),
    (10012, "TRADE_RETCODE_TIMEOUT", _T, "request cancelled by timeout"),
    (10013, "TRADE_RETCODE_INVALID", _P, "invalid request"),
    (10014, "TRADE_RETCODE_INVALID_VOLUME", _I, "invalid volume"),
    (10015, "TRADE_RETCODE_INVALID_PRICE", _I, "invalid price"),
    (10016, "TRADE_RETCODE_INVALID_STOPS", _I, "invalid stops"),
    (10017, "TRADE_RETCODE_TRADE_DISABLED", _P, "trade disabled"),
    (10018, "TRADE_RETCODE_MARKET_CLOSED", _MC, "market closed"),
    (10019, "TRADE_RETCODE_NO_MONEY", _P, "not enough money"),
    (10020, "TRADE_RETCODE_PRICE_CHANGED", _T, "price changed"),
    (10021, "TRADE_RETCODE_PRICE_OFF", _T, "off quotes"),
    (10022, "TRADE_RETCODE_INVALID_EXPIRATION", _P, "invalid order expiration"),
    (10023, "TRADE_RETCODE_ORDER_CHANGED", _T, "order state changed"),
    (10024, "TRADE_RETCODE_TOO_MANY_REQUESTS", _RL, "too many requests"),
    (10025, "TRADE_RETCODE_NO_CHANGES", _S, "no changes (requested state already holds)"),
    (10026, "TRADE_RETCODE_SERVER_DISABLES_AT", _P, "autotrading disabled by server"),
    (10027, "TRADE_RETCODE_CLIENT_DISABLES_AT", _P, "autotrading disabled by client terminal"),
    (10028, "TRADE_RETCODE_LOCKED", _T, "request locked for processing"),
    (10029, "TRADE_RETCODE_FROZEN", _T, "order or position frozen (inside freeze level)"),
    (10030, "TRADE_RETCODE_INVALID_FILL", _P, "invalid fill type / order already filled"),
    (10031, "TRADE_RETCODE_CONNECTION", _C, "no connection with the trade server"),
    (10032, "TRADE_RETCODE_ONLY_REAL", _P, "operation allowed only for live accounts"),
    (10033, "TRADE_RETCODE_LIMIT_ORDERS", _P, "pending orders limit reached"),
    (10034, "TRADE_RETCODE_LIMIT_VOLUME", _P, "volume limit for the symbol reached"),
    (10035, "TRADE_RETCODE_INVALID_ORDER", _P, "incorrect or prohibited order type"),
    (10036, "TRADE_RETCODE_POSITION_CLOSED", _P, "position already closed"),
    (10038, "TRADE_RETCODE_INVALID_CLOSE_VOLUME", _I, "close volume exceeds position volume"),
    (10039, "TRADE_RETCODE_CLOSE_ORDER_EXIST", _P, "a close order already exists for the position"),
    (10040, "TRADE_RETCODE_LIMIT_POSITIONS", _P, "open positions limit reached"),
    (10041, "TRADE_RETCODE_REJECT_CANCEL", _P, "pending order activation rejected, order cancelled"),
    (10042, "TRADE_RETCODE_LONG_ONLY", _P, "only long positions allowed"),
    (10043, "TRADE_RETCODE_SHORT_ONLY", _P, "only short positions allowed"),
    (10044, "TRADE_RETCODE_CLOSE_ONLY", _P, "only position closing allowed"),
    (10045, "TRADE_RETCODE_FIFO_CLOSE", _P, "position closing allowed only by FIFO rule"),
    (10046, "TRADE_RETCODE_HEDGE_PROHIBITED", _P, "opposite positions prohibited (hedging)"),
    (-2, None, _P, "position not found"),
    (4301, "ERR_MARKET_UNKNOWN_SYMBOL", _P, "unknown symbol"),
    (4302, "ERR_MARKET_NOT_SELECTED", _P, "symbol not selected in Market Watch"),
    (4752, "ERR_TRADE_DISABLED", _P, "trading by expert advisors prohibited"),
    (4753, "ERR_TRADE_POSITION_NOT_FOUND", _P, "position not found"),
    (4754, "ERR_TRADE_ORDER_NOT_FOUND", _P, "order not found"),
    (4755, "ERR_TRADE_DEAL_NOT_FOUND", _P, "deal not found"),
    (4756, "ERR_TRADE_SEND_FAILED", _T, "trade request sending failed"),
)

# MT4 trade server error codes (GetLastError after OrderSend/OrderModify/OrderClose).
_MT4: tuple[tuple[int, str, Category, str], ...] = (
    (0, "ERR_NO_ERROR", _S, "no error"),
    (1, "ERR_NO_RESULT", _S, "no error, nothing changed (unchanged modification)"),
    (2, "ERR_COMMON_ERROR", _P, "common error"),
    (3, "ERR_INVALID_TRADE_PARAMETERS", _P, "invalid trade parameters"),
    (4, "ERR_SERVER_BUSY", _T, "trade server busy"),
    (5, "ERR_OLD_VERSION", _P, "old client terminal version"),
    (6, "ERR_NO_CONNECTION", _C, "no connection with the trade server"),
    (7, "ERR_NOT_ENOUGH_RIGHTS", _P, "not enough rights"),
    (8, "ERR_TOO_FREQUENT_REQUESTS", _RL, "too frequent requests"),
    (9, "ERR_MALFUNCTIONAL_TRADE", _P, "malfunctional trade operation"),
    (64, "ERR_ACCOUNT_DISABLED", _P, "account disabled"),
    (65, "ERR_INVALID_ACCOUNT", _P, "invalid account"),
    (128, "ERR_TRADE_TIMEOUT", _T, "trade timeout"),
    (129, "ERR_INVALID_PRICE", _T, "invalid price"),
    (130, "ERR_INVALID_STOPS", _I, "invalid stops"),
    (131, "ERR_INVALID_TRADE_VOLUME", _I, "invalid trade volume"),
    (132, "ERR_MARKET_CLOSED", _MC, "market closed"),
    (133, "ERR_TRADE_DISABLED", _P, "trade disabled"),
    (134, "ERR_NOT_ENOUGH_MONEY", _P, "not enough money"),
    (135, "ERR_PRICE_CHANGED", _T, "price changed"),
    (136, "ERR_OFF_QUOTES", _T, "off quotes"),
    (137, "ERR_BROKER_BUSY", _T, "broker busy"),
    (138, "ERR_REQUOTE", _T, "requote"),
    (139, "ERR_ORDER_LOCKED", _T, "order locked"),
    (140, "ERR_LONG_POSITIONS_ONLY_ALLOWED", _P, "only long positions allowed"),
    (141, "ERR_TOO_MANY_REQUESTS", _RL, "too many requests"),
    (145, "ERR_TRADE_MODIFY_DENIED", _T, "modification denied: too close to market"),
    (146, "ERR_TRADE_CONTEXT_BUSY", _T, "trade context busy"),
    (147, "ERR_TRADE_EXPIRATION_DENIED", _P, "expirations denied by broker"),
    (148, "ERR_TRADE_TOO_MANY_ORDERS", _P, "too many open and pending orders"),
    (149, "ERR_TRADE_HEDGE_PROHIBITED", _P, "hedging prohibited"),
    (150, "ERR_TRADE_PROHIBITED_BY_FIFO", _P, "closing prohibited by FIFO rule"),
)

# Transport-level failure kinds reported by the MetaApi adapter (exceptions, HTTP statuses).
_TRANSPORT: tuple[tuple[str, Category, str], ...] = (
    ("timeout", _T, "request timed out"),
    ("connection_lost", _C, "connection to the broker terminal lost"),
    ("not_connected", _C, "terminal not connected to the broker"),
    ("not_synchronized", _C, "terminal not synchronized yet"),
    ("network_error", _C, "network failure reaching the broker API (no HTTP answer)"),
    ("http_429", _RL, "HTTP 429 too many requests"),
    ("http_5xx", _T, "HTTP 5xx server error"),
    ("unauthorized", _P, "credentials rejected (HTTP 401)"),
    ("forbidden", _P, "method access denied (HTTP 403)"),
    ("validation", _P, "request failed validation (HTTP 400)"),
    ("not_found", _P, "resource not found (HTTP 404)"),
)


def _build_table() -> dict[tuple[Source, int | str], tuple[Category, str]]:
    table: dict[tuple[Source, int | str], tuple[Category, str]] = {}

    def put(source: Source, code: int | str, category: Category, label: str) -> None:
        previous = table.get((source, code))
        if previous is not None and previous[0] is not category:
            raise ValueError(f"{source} code {code!r} classified both {previous[0]} and {category}")
        table.setdefault((source, code), (category, label))

    for number, name, category, label in _MT5:
        put("mt5", number, category, label)
        if name is not None:
            put("metaapi", name, category, label)
    for number, name, category, label in _MT4:
        put("mt4", number, category, label)
        put("metaapi", name, category, label)
    for kind, category, label in _TRANSPORT:
        put("transport", kind, category, label)
    return table


TABLE: Mapping[tuple[Source, int | str], tuple[Category, str]] = _build_table()


def _normalise(source: Source, code: int | str) -> int | str:
    if source in ("mt5", "mt4") and isinstance(code, str):
        try:
            return int(code.strip())
        except ValueError:
            return code
    return code


def classify(*, source: Source, code: int | str) -> Classification:
    """Classify one broker/transport code; unknown codes are UNKNOWN and logged for investigation."""
    if source not in SOURCES:
        raise ValueError(f"unknown error source {source!r}; expected one of {SOURCES}")
    key = _normalise(source, code)
    entry = TABLE.get((source, key))
    if entry is None:
        logger.warning(
            "Unclassified %s error code %r: treated as UNKNOWN (cautious retry), logged for investigation",
            source,
            code,
            extra={"error_source": source, "error_code": code},
        )
        return Classification(source, key, Category.UNKNOWN, f"unrecognised {source} code {code!r}", True)
    category, label = entry
    return Classification(source, key, category, label)


def classify_gateway_error(error: "GatewayError") -> Classification:
    """Classify what a gateway raised: its numeric code when it has one, else its string code."""
    code = error.code if error.code is not None else (error.string_code or "")
    return classify(source=error.source, code=code)
