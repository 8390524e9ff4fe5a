"""The contract every :class:`BrokerGateway` must pass.

Use it by subclassing :class:`GatewayContract` in a ``test_*.py`` module and providing a ``gateway``
fixture that returns a fresh, NOT yet connected gateway whose account starts flat (no positions, no orders)
with enough money, at a moment when ``symbol``'s market is open and prices do not move during a test::

    class TestMyGatewayContract(GatewayContract):
        symbol = "EURUSD"

        @pytest.fixture
        async def gateway(self):
            return MyGateway(...)

Class attributes tune the suite to a broker (symbol, codes); the defaults describe MetaTrader 5 as MetaApi
reports it. Nothing here depends on the simulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from execution.broker.gateways.base import (
    AccountInfo,
    BrokerGateway,
    ClientTagMatch,
    ConnectionDown,
    DealEntry,
    GatewayError,
    GatewayEvent,
    HistoryDeal,
    OrderFilled,
    OrderKind,
    OrderRequest,
    PendingOrder,
    PendingOrderType,
    Position,
    PositionClosed,
    PositionOpened,
    Price,
    Side,
    SymbolSpec,
    TradeResult,
)

SUCCESS_CODES = {"mt5": {10008, 10009, 10010, 10025}, "mt4": {0}}
INVALID_VOLUME = {"mt5": {10014}, "mt4": {131}}
INVALID_PRICE = {"mt5": {10015}, "mt4": {129}}
INVALID_STOPS = {"mt5": {10016}, "mt4": {130}}
NOT_FOUND = {"mt5": {-2, 4753, 4754, 10013}, "mt4": {4108}}


class GatewayContract:
    #: symbol traded by the suite (as the broker spells it); its market must be open during the tests
    symbol: str = "EURUSD"
    #: how far (in points, on top of the stops level) pending orders and SL/TP are put from the market
    distance_points: int = 500
    #: accepted difference between the quoted price and a market fill, in points
    fill_tolerance_points: int = 0
    #: how long to wait for an event
    event_timeout: float = 5.0

    # -- fixtures ---------------------------------------------------------------------------------

    @pytest.fixture
    async def gateway(self) -> BrokerGateway:  # pragma: no cover - provided by subclasses
        raise NotImplementedError("a GatewayContract subclass must provide the 'gateway' fixture")

    @pytest.fixture
    async def gw(self, gateway: BrokerGateway) -> AsyncIterator[BrokerGateway]:
        await gateway.connect()
        try:
            yield gateway
        finally:
            await gateway.disconnect()

    @pytest.fixture
    async def spec(self, gw: BrokerGateway) -> SymbolSpec:
        return await gw.symbol_spec(self.symbol)

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def codes(table: dict[str, set[int]], gw: BrokerGateway) -> set[int]:
        return table[gw.platform]

    def assert_success(self, result: TradeResult, gw: BrokerGateway) -> None:
        assert isinstance(result, TradeResult)
        assert result.code in self.codes(SUCCESS_CODES, gw), result

    def assert_rejected(self, error: GatewayError, table: dict[str, set[int]], gw: BrokerGateway) -> None:
        assert error.source == gw.platform, error
        assert error.code in self.codes(table, gw), error
        assert error.string_code, error

    def distance(self, spec: SymbolSpec) -> Decimal:
        return spec.point * (spec.stops_level + self.distance_points)

    @staticmethod
    def lots(spec: SymbolSpec, steps_of_min: int = 1) -> Decimal:
        return spec.volume_min * steps_of_min

    async def market(
        self,
        gw: BrokerGateway,
        spec: SymbolSpec,
        side: Side,
        *,
        volume: Decimal | None = None,
        tag: str | None = None,
    ) -> tuple[TradeResult, Position]:
        result = await gw.place_order(
            OrderRequest(self.symbol, side, OrderKind.MARKET, volume or self.lots(spec, 2), client_tag=tag)
        )
        self.assert_success(result, gw)
        assert result.position_id
        positions = {p.id: p for p in await gw.positions()}
        assert result.position_id in positions, (result, positions)
        return result, positions[result.position_id]

    async def pending(
        self, gw: BrokerGateway, spec: SymbolSpec, kind: PendingOrderType, *, tag: str | None = None
    ) -> tuple[TradeResult, Decimal]:
        quote = await gw.price(self.symbol)
        d = self.distance(spec)
        price = {
            PendingOrderType.BUY_LIMIT: quote.bid - d,
            PendingOrderType.SELL_LIMIT: quote.ask + d,
            PendingOrderType.BUY_STOP: quote.ask + d,
            PendingOrderType.SELL_STOP: quote.bid - d,
        }[kind]
        request = OrderRequest(
            self.symbol, kind.side, kind.kind, self.lots(spec), price=price, client_tag=tag
        )
        result = await gw.place_order(request)
        self.assert_success(result, gw)
        assert result.order_id
        return result, price

    async def next_event(self, stream, kind: type[GatewayEvent]) -> GatewayEvent:
        async def find():
            async for event in stream:
                if isinstance(event, kind):
                    return event
            raise AssertionError(f"stream ended before a {kind.__name__}")

        return await asyncio.wait_for(find(), self.event_timeout)

    # -- account ----------------------------------------------------------------------------------

    async def test_account_information_shape_and_invariants(self, gw):
        info = await gw.account_information()
        assert isinstance(info, AccountInfo)
        for value in (info.balance, info.equity, info.margin, info.free_margin):
            assert isinstance(value, Decimal)
        assert len(info.currency) == 3 and info.currency.isupper()
        assert isinstance(info.leverage, int) and info.leverage > 0
        assert info.balance > 0
        assert info.margin >= 0
        assert info.free_margin == info.equity - info.margin

    async def test_equity_is_balance_plus_floating_profit(self, gw, spec):
        await self.market(gw, spec, Side.BUY)
        await self.market(gw, spec, Side.SELL)
        info = await gw.account_information()
        floating = sum((p.profit for p in await gw.positions()), Decimal(0))
        assert abs(info.equity - (info.balance + floating)) <= Decimal("0.02")
        assert info.margin > 0
        assert info.free_margin == info.equity - info.margin

    # -- symbols and prices -----------------------------------------------------------------------

    async def test_symbols_include_the_traded_symbol(self, gw):
        symbols = await gw.symbols()
        assert symbols and all(isinstance(s, str) and s for s in symbols)
        assert self.symbol in symbols
        assert len(set(symbols)) == len(symbols)

    async def test_symbol_spec_is_consistent(self, gw):
        for name in [self.symbol, *(await gw.symbols())[:5]]:
            spec = await gw.symbol_spec(name)
            assert isinstance(spec, SymbolSpec)
            assert spec.name == name
            assert spec.digits >= 0
            assert spec.contract_size > 0 and spec.tick_size > 0 and spec.tick_value > 0
            assert 0 < spec.volume_min <= spec.volume_max
            assert spec.volume_step > 0
            assert spec.stops_level >= 0
            assert spec.sessions, f"{name} has no trading sessions"
            assert all(0 <= s.weekday <= 6 and 0 <= s.start < s.end <= 1440 for s in spec.sessions)

    async def test_unknown_symbol_raises_gateway_error(self, gw):
        with pytest.raises(GatewayError):
            await gw.symbol_spec("NO_SUCH_SYMBOL_X")
        with pytest.raises(GatewayError):
            await gw.price("NO_SUCH_SYMBOL_X")

    async def test_price_has_bid_below_ask(self, gw, spec):
        price = await gw.price(self.symbol)
        assert isinstance(price, Price)
        assert price.symbol == self.symbol
        assert isinstance(price.bid, Decimal) and isinstance(price.ask, Decimal)
        assert 0 < price.bid < price.ask
        assert price.time.tzinfo is not None
        assert price.bid == price.bid.quantize(spec.point)

    # -- market orders ----------------------------------------------------------------------------

    async def test_market_buy_fills_at_ask(self, gw, spec):
        quote = await gw.price(self.symbol)
        result, position = await self.market(gw, spec, Side.BUY, tag="contract-buy")
        tolerance = spec.point * self.fill_tolerance_points
        assert abs(result.price - quote.ask) <= tolerance
        assert result.volume == self.lots(spec, 2)
        assert position.side is Side.BUY
        assert position.symbol == self.symbol
        assert position.volume == self.lots(spec, 2)
        assert position.open_price == result.price
        assert position.client_tag == "contract-buy"
        assert position.sl is None and position.tp is None
        assert isinstance(position.profit, Decimal)
        assert position.opened_at.tzinfo is not None

    async def test_market_sell_fills_at_bid(self, gw, spec):
        quote = await gw.price(self.symbol)
        result, position = await self.market(gw, spec, Side.SELL)
        assert abs(result.price - quote.bid) <= spec.point * self.fill_tolerance_points
        assert position.side is Side.SELL
        assert position.open_price == result.price

    async def test_market_order_with_sl_and_tp(self, gw, spec):
        quote = await gw.price(self.symbol)
        d = self.distance(spec)
        request = OrderRequest(
            self.symbol, Side.SELL, OrderKind.MARKET, self.lots(spec), sl=quote.ask + d, tp=quote.bid - d
        )
        result = await gw.place_order(request)
        self.assert_success(result, gw)
        position = next(p for p in await gw.positions() if p.id == result.position_id)
        assert (position.sl, position.tp) == (quote.ask + d, quote.bid - d)

    # -- pending orders ---------------------------------------------------------------------------

    @pytest.mark.parametrize("kind", list(PendingOrderType))
    async def test_pending_order_is_placed_and_listed(self, gw, spec, kind):
        result, price = await self.pending(gw, spec, kind, tag=f"contract-{kind.value}")
        orders = {o.id: o for o in await gw.orders()}
        assert result.order_id in orders
        order = orders[result.order_id]
        assert isinstance(order, PendingOrder)
        assert order.type is kind
        assert order.side is kind.side
        assert order.price == price
        assert order.volume == self.lots(spec)
        assert order.client_tag == f"contract-{kind.value}"
        assert order.created_at.tzinfo is not None
        assert result.order_id not in {p.id for p in await gw.positions()}

    async def test_modify_pending_order(self, gw, spec):
        result, price = await self.pending(gw, spec, PendingOrderType.BUY_LIMIT)
        d = self.distance(spec)
        new_price = price - spec.point * 10
        self.assert_success(
            await gw.modify_order(result.order_id, new_price, new_price - d, new_price + d), gw
        )
        order = next(o for o in await gw.orders() if o.id == result.order_id)
        assert (order.price, order.sl, order.tp) == (new_price, new_price - d, new_price + d)

    async def test_cancel_pending_order(self, gw, spec):
        result, _price = await self.pending(gw, spec, PendingOrderType.SELL_LIMIT)
        self.assert_success(await gw.cancel_order(result.order_id), gw)
        assert result.order_id not in {o.id for o in await gw.orders()}

    # -- positions --------------------------------------------------------------------------------

    async def test_modify_position_sl_and_tp(self, gw, spec):
        result, _ = await self.market(gw, spec, Side.BUY)
        quote = await gw.price(self.symbol)
        d = self.distance(spec)
        self.assert_success(await gw.modify_position(result.position_id, quote.bid - d, quote.bid + d), gw)
        position = next(p for p in await gw.positions() if p.id == result.position_id)
        assert (position.sl, position.tp) == (quote.bid - d, quote.bid + d)
        self.assert_success(await gw.modify_position(result.position_id, None, quote.bid + d), gw)
        position = next(p for p in await gw.positions() if p.id == result.position_id)
        assert (position.sl, position.tp) == (None, quote.bid + d)

    async def test_partial_then_full_close(self, gw, spec):
        result, _ = await self.market(gw, spec, Side.BUY, volume=self.lots(spec, 3))
        partial = await gw.close_position(result.position_id, self.lots(spec))
        self.assert_success(partial, gw)
        assert partial.volume == self.lots(spec)
        position = next(p for p in await gw.positions() if p.id == result.position_id)
        assert position.volume == self.lots(spec, 2)
        full = await gw.close_position(result.position_id)
        self.assert_success(full, gw)
        assert full.volume == self.lots(spec, 2)
        assert result.position_id not in {p.id for p in await gw.positions()}

    async def test_close_books_realized_profit_into_balance(self, gw, spec):
        since = datetime.now(UTC) - timedelta(days=3650)
        result, _ = await self.market(gw, spec, Side.SELL)
        before = await gw.account_information()
        await gw.close_position(result.position_id)
        after = await gw.account_information()
        outs = [
            d
            for d in await gw.history_deals(since)
            if d.position_id == result.position_id and d.entry is DealEntry.OUT
        ]
        assert len(outs) == 1 and isinstance(outs[0], HistoryDeal)
        assert after.balance - before.balance == outs[0].profit
        assert after.margin < before.margin or after.margin == 0

    # -- client tags ------------------------------------------------------------------------------

    async def test_find_by_client_tag_in_positions_orders_and_history(self, gw, spec):
        market, _ = await self.market(gw, spec, Side.BUY, tag="contract-tag-1")
        pending, _ = await self.pending(gw, spec, PendingOrderType.SELL_STOP, tag="contract-tag-2")

        match = await gw.find_by_client_tag("contract-tag-1")
        assert isinstance(match, ClientTagMatch) and match.found
        assert [p.id for p in match.positions] == [market.position_id]
        assert match.orders == ()

        match = await gw.find_by_client_tag("contract-tag-2")
        assert [o.id for o in match.orders] == [pending.order_id]
        assert match.positions == ()

        await gw.close_position(market.position_id)
        match = await gw.find_by_client_tag("contract-tag-1")
        assert match.positions == ()
        assert {d.entry for d in match.deals} == {DealEntry.IN, DealEntry.OUT}
        assert all(d.position_id == market.position_id for d in match.deals)

    async def test_find_by_unknown_client_tag_is_empty(self, gw, spec):
        await self.market(gw, spec, Side.BUY, tag="contract-known")
        match = await gw.find_by_client_tag("contract-unknown")
        assert not match and not match.found

    async def test_too_long_client_tag_is_rejected(self, gw, spec):
        with pytest.raises(GatewayError):
            await gw.place_order(
                OrderRequest(self.symbol, Side.BUY, OrderKind.MARKET, spec.volume_min, client_tag="x" * 40)
            )

    # -- rejections -------------------------------------------------------------------------------

    @pytest.mark.parametrize("case", ["zero", "below_min", "above_max", "off_step"])
    async def test_invalid_volume_is_rejected_with_invalid_volume_code(self, gw, spec, case):
        volume = {
            "zero": Decimal(0),
            "below_min": spec.volume_min / 2,
            "above_max": spec.volume_max + spec.volume_step,
            "off_step": spec.volume_min + spec.volume_step / 2,
        }[case]
        with pytest.raises(GatewayError) as caught:
            await gw.place_order(OrderRequest(self.symbol, Side.BUY, OrderKind.MARKET, volume))
        self.assert_rejected(caught.value, INVALID_VOLUME, gw)
        assert await gw.positions() == []

    async def test_stop_loss_on_the_wrong_side_is_rejected(self, gw, spec):
        quote = await gw.price(self.symbol)
        with pytest.raises(GatewayError) as caught:
            await gw.place_order(
                OrderRequest(
                    self.symbol,
                    Side.BUY,
                    OrderKind.MARKET,
                    spec.volume_min,
                    sl=quote.ask + self.distance(spec),
                )
            )
        self.assert_rejected(caught.value, INVALID_STOPS, gw)

    async def test_limit_on_the_wrong_side_is_rejected(self, gw, spec):
        quote = await gw.price(self.symbol)
        with pytest.raises(GatewayError) as caught:
            await gw.place_order(
                OrderRequest(
                    self.symbol,
                    Side.BUY,
                    OrderKind.LIMIT,
                    spec.volume_min,
                    price=quote.ask + self.distance(spec),
                )
            )
        self.assert_rejected(caught.value, INVALID_PRICE, gw)
        assert await gw.orders() == []

    async def test_unknown_tickets_are_rejected(self, gw, spec):
        for call in (
            gw.modify_position("999999999", None, None),
            gw.close_position("999999999"),
            gw.cancel_order("999999999"),
            gw.modify_order("999999999", (await gw.price(self.symbol)).bid - self.distance(spec), None, None),
        ):
            with pytest.raises(GatewayError) as caught:
                await call
            self.assert_rejected(caught.value, NOT_FOUND, gw)

    # -- events and connection --------------------------------------------------------------------

    async def test_events_report_fill_open_and_close(self, gw, spec):
        stream = gw.events()
        result, _ = await self.market(gw, spec, Side.BUY, tag="contract-events")
        filled = await self.next_event(stream, OrderFilled)
        assert (filled.position_id, filled.side, filled.client_tag) == (
            result.position_id,
            Side.BUY,
            "contract-events",
        )
        opened = await self.next_event(stream, PositionOpened)
        assert opened.position.id == result.position_id
        await gw.close_position(result.position_id)
        closed = await self.next_event(stream, PositionClosed)
        assert closed.position_id == result.position_id
        assert closed.remaining_volume == 0

    async def test_disconnect_stops_calls_and_ends_streams_then_reconnect(self, gw):
        stream = gw.events()
        await gw.disconnect()
        with pytest.raises(GatewayError) as caught:
            await gw.account_information()
        assert caught.value.source == "transport"
        seen = await asyncio.wait_for(self._collect(stream), self.event_timeout)
        assert any(isinstance(e, ConnectionDown) for e in seen)
        await gw.connect()
        assert isinstance(await gw.account_information(), AccountInfo)

    @staticmethod
    async def _collect(stream) -> list[GatewayEvent]:
        return [event async for event in stream]
