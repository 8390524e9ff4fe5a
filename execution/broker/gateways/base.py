"""The broker gateway interface every MetaTrader gateway implements (simulated, MetaApi, ...).

Conventions (binding for every implementation):

* Everything that talks to the broker is a coroutine. ``events()`` is a plain method returning an async
  iterator (the subscription starts when ``events()`` is called, not at the first ``__anext__``).
* Prices, volumes (lots) and money are :class:`~decimal.Decimal`. Times are timezone-aware UTC datetimes.
* Ids (orders, positions, deals) are strings, as MetaApi reports them.
* A failure leaves a gateway ONLY as :class:`GatewayError` (never an SDK exception, ``KeyError``, ...).
  Broker rejections carry the platform's numeric ``code`` (MT5 ``TRADE_RETCODE_*`` e.g. 10014, or MT4 codes
  for MT4 accounts) and its name in ``string_code``; transport problems have ``source='transport'`` and a
  ``string_code`` such as ``'not_connected'`` or ``'timeout'``.
* Trade calls return a :class:`TradeResult` on success (code 10009 DONE, or 10008 PLACED for pending orders).
* ``modify_position``/``modify_order`` set SL/TP to exactly the given values: ``None`` removes the level.
* Client tags (MetaApi ``clientId``) are at most :data:`MAX_CLIENT_TAG_LENGTH` characters. Brokers do not
  deduplicate: after an unknown outcome call :meth:`BrokerGateway.find_by_client_tag` before sending again.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

Platform = Literal["mt4", "mt5"]
ErrorSource = Literal["mt5", "mt4", "metaapi", "transport"]

#: MetaApi: comment + clientId share 26 characters; keep tags within that.
MAX_CLIENT_TAG_LENGTH = 26


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderKind(enum.StrEnum):
    """Kind of an :class:`OrderRequest`."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class PendingOrderType(enum.StrEnum):
    BUY_LIMIT = "buy_limit"
    SELL_LIMIT = "sell_limit"
    BUY_STOP = "buy_stop"
    SELL_STOP = "sell_stop"

    @property
    def side(self) -> Side:
        return Side.BUY if self.value.startswith("buy") else Side.SELL

    @property
    def kind(self) -> OrderKind:
        return OrderKind.LIMIT if self.value.endswith("limit") else OrderKind.STOP

    @classmethod
    def of(cls, side: Side, kind: OrderKind) -> PendingOrderType:
        if kind is OrderKind.MARKET:
            raise ValueError("a market order is not a pending order")
        return cls(f"{side.value}_{kind.value}")


class CloseReason(enum.StrEnum):
    CLIENT = "client"  # closed by a request (close_position)
    SL = "sl"
    TP = "tp"
    STOP_OUT = "stop_out"


class DealEntry(enum.StrEnum):
    IN = "in"
    OUT = "out"


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountInfo:
    balance: Decimal
    equity: Decimal
    margin: Decimal
    free_margin: Decimal
    currency: str
    leverage: int

    @property
    def margin_level(self) -> Decimal | None:
        """Equity / margin in percent, ``None`` without used margin."""
        if not self.margin:
            return None
        return (self.equity / self.margin * 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Position:
    id: str
    symbol: str
    side: Side
    volume: Decimal
    open_price: Decimal
    current_price: Decimal
    sl: Decimal | None
    tp: Decimal | None
    profit: Decimal  # floating profit in account currency
    client_tag: str | None
    opened_at: datetime


@dataclass(frozen=True)
class PendingOrder:
    id: str
    symbol: str
    type: PendingOrderType
    volume: Decimal
    price: Decimal
    sl: Decimal | None
    tp: Decimal | None
    client_tag: str | None
    created_at: datetime

    @property
    def side(self) -> Side:
        return self.type.side


@dataclass(frozen=True)
class TradingSession:
    """One trading window on a weekday, in UTC: ``weekday`` 0 = Monday .. 6 = Sunday,
    ``start``/``end`` are minutes after midnight (0..1440; ``end=1440`` means until midnight)."""

    weekday: int
    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.weekday <= 6 and 0 <= self.start < self.end <= 1440):
            raise ValueError(f"invalid trading session {self!r}")

    def contains(self, moment: datetime) -> bool:
        minute = moment.hour * 60 + moment.minute + moment.second / 60
        return moment.weekday() == self.weekday and self.start <= minute < self.end


def is_session_open(sessions: Sequence[TradingSession], moment: datetime) -> bool:
    """True if ``moment`` (aware, UTC) falls inside one of the weekly ``sessions``."""
    return any(session.contains(moment) for session in sessions)


@dataclass(frozen=True)
class SymbolSpec:
    name: str
    description: str
    digits: int
    contract_size: Decimal
    tick_size: Decimal
    tick_value: Decimal  # value of one tick for one lot, in account currency
    volume_min: Decimal
    volume_max: Decimal
    volume_step: Decimal
    trading_allowed: bool
    sessions: tuple[TradingSession, ...]  # weekly trading sessions (UTC)
    stops_level: int = 0  # minimal SL/TP/pending distance from the market, in points
    freeze_level: int = 0  # within this distance (points) of its SL/TP/price, no change is accepted
    base_currency: str = ""
    profit_currency: str = ""
    margin_currency: str = ""

    @property
    def point(self) -> Decimal:
        return Decimal(1).scaleb(-self.digits)

    def is_open(self, moment: datetime) -> bool:
        return is_session_open(self.sessions, moment)


@dataclass(frozen=True)
class Price:
    symbol: str
    bid: Decimal
    ask: Decimal
    time: datetime

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    type: OrderKind
    volume: Decimal
    price: Decimal | None = None  # required for LIMIT/STOP, ignored for MARKET
    sl: Decimal | None = None
    tp: Decimal | None = None
    client_tag: str | None = None

    @property
    def pending_type(self) -> PendingOrderType | None:
        return None if self.type is OrderKind.MARKET else PendingOrderType.of(self.side, self.type)


@dataclass(frozen=True)
class TradeResult:
    order_id: str | None
    position_id: str | None
    price: Decimal | None
    volume: Decimal | None
    code: int
    string_code: str
    message: str = ""


@dataclass(frozen=True)
class HistoryDeal:
    """A deal (fill) in the account history; ``entry`` IN opens, OUT closes (part of) a position."""

    id: str
    order_id: str | None
    position_id: str | None
    symbol: str
    side: Side
    entry: DealEntry
    volume: Decimal
    price: Decimal
    profit: Decimal
    client_tag: str | None
    time: datetime
    reason: CloseReason | None = None  # for OUT deals


@dataclass(frozen=True)
class ClientTagMatch:
    """Everything carrying a client tag: open orders, open positions and recent history deals."""

    tag: str
    orders: tuple[PendingOrder, ...] = ()
    positions: tuple[Position, ...] = ()
    deals: tuple[HistoryDeal, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.orders or self.positions or self.deals)

    def __bool__(self) -> bool:
        return self.found


# --------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GatewayEvent:
    time: datetime


@dataclass(frozen=True, kw_only=True)
class OrderFilled(GatewayEvent):
    """A market order or a triggered pending order was filled."""

    order_id: str
    position_id: str
    symbol: str
    side: Side
    volume: Decimal
    price: Decimal
    client_tag: str | None = None


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(GatewayEvent):
    """A pending order went away without a fill (cancel request, or rejected at trigger, e.g. no money)."""

    order_id: str
    symbol: str
    reason: str
    client_tag: str | None = None


@dataclass(frozen=True, kw_only=True)
class PositionOpened(GatewayEvent):
    position: Position


@dataclass(frozen=True, kw_only=True)
class PositionModified(GatewayEvent):
    position: Position


@dataclass(frozen=True, kw_only=True)
class PositionClosed(GatewayEvent):
    """(Part of) a position was closed. ``remaining_volume`` > 0 for a partial close."""

    position_id: str
    symbol: str
    side: Side
    volume: Decimal
    open_price: Decimal
    close_price: Decimal
    profit: Decimal
    reason: CloseReason
    remaining_volume: Decimal
    client_tag: str | None = None


@dataclass(frozen=True, kw_only=True)
class PriceTick(GatewayEvent):
    price: Price


@dataclass(frozen=True, kw_only=True)
class AccountFigures(GatewayEvent):
    info: AccountInfo


@dataclass(frozen=True, kw_only=True)
class ConnectionUp(GatewayEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ConnectionDown(GatewayEvent):
    reason: str = ""


# --------------------------------------------------------------------------------------------------
# Error
# --------------------------------------------------------------------------------------------------


class GatewayError(Exception):
    """The only exception a gateway raises.

    ``source``: who produced it ('mt5' | 'mt4' trade server codes, 'metaapi' API errors, 'transport').
    ``code``: numeric code (MT5 10014, MT4 131, -2, 4753, ...) or None; ``string_code``: its name
    (``TRADE_RETCODE_INVALID_VOLUME``, ``not_connected``, ...); ``retry_after``: seconds to wait, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: ErrorSource,
        code: int | None = None,
        string_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.code = code
        self.string_code = string_code
        self.retry_after = retry_after

    def __reduce__(self):  # keep it picklable across processes (workers, queues)
        args = (self.message, self.source, self.code, self.string_code, self.retry_after)
        return (_rebuild_gateway_error, args)

    def __repr__(self) -> str:
        return (
            f"GatewayError({self.message!r}, source={self.source!r}, code={self.code!r}, "
            f"string_code={self.string_code!r}, retry_after={self.retry_after!r})"
        )

    def __str__(self) -> str:
        parts = (self.source, self.code, self.string_code)
        details = " ".join(str(part) for part in parts if part is not None)
        return f"{self.message} ({details})"

    def to_dict(self) -> dict:
        return {
            "message": self.message,
            "source": self.source,
            "code": self.code,
            "string_code": self.string_code,
            "retry_after": self.retry_after,
        }


def _rebuild_gateway_error(message, source, code, string_code, retry_after) -> GatewayError:
    return GatewayError(message, source=source, code=code, string_code=string_code, retry_after=retry_after)


# --------------------------------------------------------------------------------------------------
# Interface
# --------------------------------------------------------------------------------------------------


class BrokerGateway(abc.ABC):
    """One MetaTrader account at one broker. Methods mirror MetaApi's RPC connection."""

    @property
    @abc.abstractmethod
    def platform(self) -> Platform:
        """'mt4' or 'mt5': which code table broker rejections use."""

    # -- connection -------------------------------------------------------------------------------
    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection (idempotent). Raises GatewayError(source='transport') if it cannot."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Close the connection (idempotent); open ``events()`` iterators end after a ConnectionDown."""

    # -- queries ----------------------------------------------------------------------------------
    @abc.abstractmethod
    async def account_information(self) -> AccountInfo: ...

    @abc.abstractmethod
    async def positions(self) -> list[Position]: ...

    @abc.abstractmethod
    async def orders(self) -> list[PendingOrder]: ...

    @abc.abstractmethod
    async def symbols(self) -> list[str]:
        """Broker symbol names (as this broker spells them: 'EURUSD.m', 'GOLD', ...)."""

    @abc.abstractmethod
    async def symbol_spec(self, symbol: str) -> SymbolSpec: ...

    @abc.abstractmethod
    async def price(self, symbol: str) -> Price: ...

    @abc.abstractmethod
    async def history_deals(self, since: datetime, until: datetime | None = None) -> list[HistoryDeal]:
        """Deals with ``since <= time < until`` (``until`` None = now), oldest first."""

    @abc.abstractmethod
    async def find_by_client_tag(self, tag: str, *, history_since: datetime | None = None) -> ClientTagMatch:
        """Open orders, open positions and history deals (since ``history_since``; None = the
        implementation's recent window, at least 24 hours) carrying ``tag``."""

    # -- trading ----------------------------------------------------------------------------------
    @abc.abstractmethod
    async def place_order(self, request: OrderRequest) -> TradeResult: ...

    @abc.abstractmethod
    async def modify_position(
        self, position_id: str, sl: Decimal | None, tp: Decimal | None
    ) -> TradeResult: ...

    @abc.abstractmethod
    async def modify_order(
        self, order_id: str, price: Decimal, sl: Decimal | None, tp: Decimal | None
    ) -> TradeResult: ...

    @abc.abstractmethod
    async def cancel_order(self, order_id: str) -> TradeResult: ...

    @abc.abstractmethod
    async def close_position(self, position_id: str, volume: Decimal | None = None) -> TradeResult:
        """Close fully (``volume`` None) or partially."""

    # -- streaming --------------------------------------------------------------------------------
    @abc.abstractmethod
    async def subscribe_prices(self, symbols: Sequence[str]) -> None:
        """Ask for PriceTick events of ``symbols`` (positions/orders symbols may tick anyway)."""

    @abc.abstractmethod
    def events(self) -> AsyncIterator[GatewayEvent]:
        """A new subscription to this account's events, starting now. Not a coroutine."""

    # -- conveniences -----------------------------------------------------------------------------
    async def __aenter__(self) -> BrokerGateway:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.disconnect()


__all__ = [
    "MAX_CLIENT_TAG_LENGTH",
    "AccountFigures",
    "AccountInfo",
    "BrokerGateway",
    "ClientTagMatch",
    "CloseReason",
    "ConnectionDown",
    "ConnectionUp",
    "DealEntry",
    "ErrorSource",
    "GatewayError",
    "GatewayEvent",
    "HistoryDeal",
    "OrderCancelled",
    "OrderFilled",
    "OrderKind",
    "OrderRequest",
    "PendingOrder",
    "PendingOrderType",
    "Platform",
    "Position",
    "PositionClosed",
    "PositionModified",
    "PositionOpened",
    "Price",
    "PriceTick",
    "Side",
    "SymbolSpec",
    "TradeResult",
    "TradingSession",
    "is_session_open",
]
