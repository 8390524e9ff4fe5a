"""``SimulatedGateway``: the :class:`BrokerGateway` of one simulated account, over a SimulatedEngine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from execution.broker.gateways.base import (
    AccountFigures,
    AccountInfo,
    BrokerGateway,
    ClientTagMatch,
    ConnectionDown,
    ConnectionUp,
    GatewayError,
    GatewayEvent,
    HistoryDeal,
    OrderRequest,
    PendingOrder,
    Platform,
    Position,
    Price,
    PriceTick,
    SymbolSpec,
    TradeResult,
)
from execution.broker.gateways.simulated.engine import (
    CallOutcome,
    Operation,
    SimulatedEngine,
    not_connected_error,
)
from execution.broker.gateways.streams import EventStream

logger = logging.getLogger(__name__)

T = TypeVar("T")
RunSync = Callable[[Callable[[], Any]], Awaitable[Any]]
Sleep = Callable[[float], Awaitable[Any]]


async def run_inline(function: Callable[[], T]) -> T:
    return function()


class SimulatedGateway(BrokerGateway):
    """One account (``account_key``) on a simulated server.

    ``connect()`` creates the account in the engine's store if it does not exist (``initial_balance``,
    ``leverage``, ``currency``, ``platform``) and otherwise reuses it unchanged.

    ``run_sync`` runs the synchronous engine (default ``asyncio.to_thread``; pass ``sync_to_async`` for a
    Django ORM store, or :func:`run_inline`). ``sleep`` applies fault latency (tests pass a recorder).
    Latency is added after the server has processed the call (the answer is late), so a caller's timeout
    leaves an unknown outcome exactly as with a slow real broker. ``latency_log`` records (operation, s).
    """

    def __init__(
        self,
        engine: SimulatedEngine,
        account_key: str,
        *,
        server: str = "SimBroker-Demo",
        initial_balance: Decimal | int | str = Decimal(10000),
        leverage: int = 100,
        currency: str = "USD",
        platform: Platform = "mt5",
        run_sync: RunSync | None = None,
        sleep: Sleep = asyncio.sleep,
        max_queue: int = 10000,
    ) -> None:
        self.engine = engine
        self.account_key = account_key
        self.server = server
        self.initial_balance = Decimal(initial_balance)
        self.leverage = leverage
        self.currency = currency
        self._platform = platform
        self._run_sync: RunSync = run_sync or asyncio.to_thread
        self._sleep = sleep
        self._max_queue = max_queue
        self._connected = False
        self._link_up = False
        self._cursor: int | None = None
        self._streams: set[EventStream] = set()
        self._subscribed: set[str] = set()
        self._last_ticks: dict[str, tuple[Decimal, Decimal]] = {}
        self._last_figures: AccountInfo | None = None
        self.latency_log: list[tuple[str, float]] = []

    @property
    def platform(self) -> Platform:
        return self._platform

    @property
    def connected(self) -> bool:
        return self._connected and self._link_up

    # -- plumbing ---------------------------------------------------------------------------------

    def _publish(self, event: GatewayEvent) -> None:
        for stream in list(self._streams):
            stream.put(event)

    async def _engine(self, function: Callable[[], T]) -> T:
        try:
            return await self._run_sync(function)
        except GatewayError:
            raise
        except Exception as exc:  # a bug or a store failure must still leave as GatewayError
            logger.exception("simulated engine failure")
            raise GatewayError(
                f"simulator failure: {type(exc).__name__}: {exc}", source="transport", string_code="internal"
            ) from exc

    async def _call(self, name: str, kind: str, operation: Operation) -> Any:
        if not self._connected:
            raise not_connected_error("gateway is not connected (call connect() first)")
        outcome: CallOutcome = await self._engine(
            lambda: self.engine.call(self.account_key, kind, operation, event_cursor=self._cursor)
        )
        self._after(outcome)
        if outcome.latency > 0:
            self.latency_log.append((name, outcome.latency))
            await self._sleep(outcome.latency)
        return outcome.unwrap()

    def _after(self, outcome: CallOutcome) -> None:
        moment = outcome.now or self.engine.clock()
        error = outcome.error
        link_down = error is not None and error.source == "transport" and error.string_code == "not_connected"
        if link_down and self._link_up:
            self._link_up = False
            self._publish(ConnectionDown(time=moment, reason="not_connected"))
        elif not link_down and not self._link_up and outcome.now is not None:
            self._link_up = True
            self._publish(ConnectionUp(time=moment))
        for _seq, event in outcome.events:
            self._publish(event)
        if outcome.now is not None:
            self._cursor = outcome.last_seq

    # -- connection -------------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._connected and self._link_up:
            return
        await self._engine(
            lambda: self.engine.open_account(
                self.account_key,
                server=self.server,
                balance=self.initial_balance,
                leverage=self.leverage,
                currency=self.currency,
                platform=self._platform,
            )
        )
        if self._cursor is None:
            _events, self._cursor = await self._engine(
                lambda: self.engine.events_since(self.account_key, 2**62)
            )
        outcome = await self._engine(
            lambda: self.engine.call(
                self.account_key, "connect", lambda s, n: None, event_cursor=self._cursor
            )
        )
        if outcome.error is not None:
            raise outcome.error
        self._connected = True
        self._after(outcome)

    async def disconnect(self) -> None:
        if not self._connected:
            return
        self._connected = False
        if self._link_up:
            self._link_up = False
            self._publish(ConnectionDown(time=self.engine.clock(), reason="client"))
        for stream in list(self._streams):
            stream.finish()
        self._streams.clear()

    # -- queries ----------------------------------------------------------------------------------

    async def account_information(self) -> AccountInfo:
        return await self._call("account_information", "queries", self.engine.op_account_information)

    async def positions(self) -> list[Position]:
        return await self._call("positions", "queries", self.engine.op_positions)

    async def orders(self) -> list[PendingOrder]:
        return await self._call("orders", "queries", self.engine.op_orders)

    async def symbols(self) -> list[str]:
        return await self._call("symbols", "queries", self.engine.op_symbols)

    async def symbol_spec(self, symbol: str) -> SymbolSpec:
        return await self._call(
            "symbol_spec", "queries", lambda s, n: self.engine.op_symbol_spec(s, n, symbol)
        )

    async def price(self, symbol: str) -> Price:
        return await self._call("price", "queries", lambda s, n: self.engine.op_price(s, n, symbol))

    async def history_deals(self, since: datetime, until: datetime | None = None) -> list[HistoryDeal]:
        return await self._call(
            "history_deals", "queries", lambda s, n: self.engine.op_history_deals(s, n, since, until)
        )

    async def find_by_client_tag(self, tag: str, *, history_since: datetime | None = None) -> ClientTagMatch:
        return await self._call(
            "find_by_client_tag",
            "queries",
            lambda s, n: self.engine.op_find_by_client_tag(s, n, tag, history_since),
        )

    # -- trading ----------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> TradeResult:
        return await self._call(
            "place_order", "trading", lambda s, n: self.engine.op_place_order(s, n, request)
        )

    async def modify_position(self, position_id: str, sl: Decimal | None, tp: Decimal | None) -> TradeResult:
        return await self._call(
            "modify_position",
            "trading",
            lambda s, n: self.engine.op_modify_position(s, n, position_id, sl, tp),
        )

    async def modify_order(
        self, order_id: str, price: Decimal, sl: Decimal | None, tp: Decimal | None
    ) -> TradeResult:
        return await self._call(
            "modify_order", "trading", lambda s, n: self.engine.op_modify_order(s, n, order_id, price, sl, tp)
        )

    async def cancel_order(self, order_id: str) -> TradeResult:
        return await self._call(
            "cancel_order", "trading", lambda s, n: self.engine.op_cancel_order(s, n, order_id)
        )

    async def close_position(self, position_id: str, volume: Decimal | None = None) -> TradeResult:
        return await self._call(
            "close_position", "trading", lambda s, n: self.engine.op_close_position(s, n, position_id, volume)
        )

    # -- streaming --------------------------------------------------------------------------------

    async def subscribe_prices(self, symbols: Sequence[str]) -> None:
        symbols = list(symbols)

        def check(state, now):
            for symbol in symbols:
                self.engine.op_symbol_spec(state, now, symbol)  # raises for unknown symbols

        await self._call("subscribe_prices", "queries", check)
        self._subscribed.update(symbols)

    def events(self) -> EventStream:
        stream = EventStream(self._max_queue, on_close=self._streams.discard)
        if not self._connected:
            stream.finish()
        else:
            self._streams.add(stream)
        return stream

    async def pump(self) -> list[GatewayEvent]:
        """One streaming step: evaluate the account now and publish its events, price ticks (subscribed
        symbols and symbols with positions/orders, when the quote changed) and account figures (when they
        changed). Only the disconnect fault applies. Returns what it published."""
        if not self._connected:
            raise not_connected_error("gateway is not connected (call connect() first)")
        published: list[GatewayEvent] = []

        def snapshot(state, now):
            symbols = (
                self._subscribed | {p.symbol for p in state.positions} | {o.symbol for o in state.orders}
            )
            prices = [self.engine.op_price(state, now, symbol) for symbol in sorted(symbols)]
            return prices, self.engine.op_account_information(state, now)

        outcome = await self._engine(
            lambda: self.engine.call(self.account_key, "stream", snapshot, event_cursor=self._cursor)
        )
        self._after(outcome)
        published.extend(event for _seq, event in outcome.events)
        if outcome.error is not None:
            raise outcome.error
        prices, figures = outcome.value
        for price in prices:
            if self._last_ticks.get(price.symbol) != (price.bid, price.ask):
                self._last_ticks[price.symbol] = (price.bid, price.ask)
                tick = PriceTick(time=outcome.now, price=price)
                self._publish(tick)
                published.append(tick)
        if figures != self._last_figures:
            self._last_figures = figures
            event = AccountFigures(time=outcome.now, info=figures)
            self._publish(event)
            published.append(event)
        return published

    async def run(self, interval: float = 1.0, stop: asyncio.Event | None = None) -> None:
        """Pump forever (or until ``stop`` is set); transport errors only mark the link down."""
        while self._connected and not (stop is not None and stop.is_set()):
            try:
                await self.pump()
            except GatewayError as error:
                logger.debug("simulated stream: %s", error)
            await self._sleep(interval)
