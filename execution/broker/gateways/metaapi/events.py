"""Streaming: SDK synchronization callbacks -> the interface's events, on per-subscriber asyncio queues.

MetaApi streams each account from (usually) two redundant instances, so every update can arrive twice
and one instance can lag behind the other; a (re)synchronization replays the account's history through
the same callbacks. :class:`MetaApiEventListener` therefore

* deduplicates deals and history orders by id and drops stale position updates (older ``updateTime``,
  or updates of positions already closed);
* treats deals and history orders replayed by a synchronization as history when they are older than
  the connection (minus ``history_slack``), and everything else as news;
* turns an opening deal (``DEAL_ENTRY_IN``) into :class:`OrderFilled` and shows the new position as
  :class:`PositionOpened` right after it. MetaApi sends the position update before the deal, so a new
  position waits up to ``open_grace`` seconds for its deal before it is published alone;
* turns a closing deal into :class:`PositionClosed` (open price, side and tag from the last known state
  of the position), a cancelled / rejected / expired pending history order into :class:`OrderCancelled`,
  SL/TP changes (and netting volume increases) into :class:`PositionModified`, account information and
  the equity figures of price packets into :class:`AccountFigures` (when they change), prices into
  :class:`PriceTick` (when bid/ask change), and the instances' link state into ConnectionUp/Down
  (up while at least one instance is connected to MetaApi and its terminal to the broker).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from execution.broker.gateways.base import (
    AccountFigures,
    AccountInfo,
    CloseReason,
    ConnectionDown,
    ConnectionUp,
    DealEntry,
    GatewayEvent,
    HistoryDeal,
    OrderCancelled,
    OrderFilled,
    Position,
    PositionClosed,
    PositionModified,
    PositionOpened,
    PriceTick,
)
from execution.broker.gateways.metaapi import convert
from execution.broker.gateways.metaapi.sdk import SynchronizationListener
from execution.broker.gateways.streams import EventStream

logger = logging.getLogger(__name__)

ZERO = Decimal(0)


# --------------------------------------------------------------------------------------------------
# Subscriptions
# --------------------------------------------------------------------------------------------------


class EventHub:
    """The gateway's open subscriptions."""

    def __init__(self, max_queue: int = 10000) -> None:
        self.max_queue = max_queue
        self.streams: set[EventStream] = set()

    def open(self, *, active: bool) -> EventStream:
        stream = EventStream(self.max_queue, on_close=self.streams.discard)
        if active:
            self.streams.add(stream)
        else:
            stream.finish()
        return stream

    def publish(self, event: GatewayEvent) -> None:
        for stream in list(self.streams):
            stream.put(event)

    def finish_all(self) -> None:
        for stream in list(self.streams):
            stream.finish()
        self.streams.clear()


# --------------------------------------------------------------------------------------------------
# The listener
# --------------------------------------------------------------------------------------------------


class _Lru(OrderedDict):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: str, value: Any = True) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


@dataclass
class _PendingOpen:
    position: Position
    handle: asyncio.TimerHandle | None


def _guarded(method):
    """A callback never raises into the SDK and does nothing once the listener is closed."""

    @functools.wraps(method)
    async def wrapper(self: MetaApiEventListener, *args: Any, **kwargs: Any) -> None:
        if self.closed:
            return
        try:
            method(self, *args, **kwargs)
        except Exception:
            logger.exception("MetaApi event %s could not be translated", method.__name__)

    return wrapper


class MetaApiEventListener(SynchronizationListener):
    """Translates one account's synchronization callbacks into gateway events for ``publish``."""

    def __init__(
        self,
        publish: Callable[[GatewayEvent], None],
        *,
        clock: Callable[[], datetime],
        since: datetime,
        open_grace: float = 1.0,
        history_slack: timedelta = timedelta(minutes=5),
        memory: int = 5000,
    ) -> None:
        self._publish = publish
        self._clock = clock
        self._since = since - history_slack
        self._open_grace = open_grace
        self.closed = False
        self._seeded = False
        self._link: dict[str, bool] = {}
        self._broker: dict[str, bool] = {}
        self._up = False
        self._syncing_deals: set[str] = set()
        self._syncing_orders: set[str] = set()
        self._positions: dict[str, Mapping[str, Any]] = {}
        self._closed_positions = _Lru(memory)
        self._entries = _Lru(memory)  # position id -> its opening HistoryDeal
        self._filled = _Lru(memory)  # positions whose opening deal came before the position
        self._pending_open: dict[str, _PendingOpen] = {}
        self._seen_deals = _Lru(memory * 4)
        self._seen_orders = _Lru(memory * 4)
        self._account: AccountInfo | None = None
        self._figures: AccountInfo | None = None
        self._ticks: dict[str, tuple[Decimal, Decimal]] = {}

    # -- lifecycle --------------------------------------------------------------------------------

    def seed_positions(self, positions: Iterable[Mapping[str, Any]]) -> None:
        """The positions open at connection time (no events); later changes are news."""
        for raw in positions:
            position_id = convert.ident(raw.get("id"))
            if position_id is not None:
                self._positions[position_id] = raw
        self._seeded = True

    def close(self) -> None:
        self.closed = True
        for pending in self._pending_open.values():
            if pending.handle is not None:
                pending.handle.cancel()
        self._pending_open.clear()

    @property
    def history_start(self) -> datetime:
        """The oldest moment whose deals and orders can be news: where a synchronization may start."""
        return self._since

    @property
    def link_up(self) -> bool:
        return self._up

    def _emit(self, event: GatewayEvent) -> None:
        if not self.closed:
            self._publish(event)

    def _now(self) -> datetime:
        return self._clock()

    # -- connection -------------------------------------------------------------------------------

    def _update_link(self, reason: str) -> None:
        up = any(connected and self._broker.get(index, True) for index, connected in self._link.items())
        if up == self._up:
            return
        self._up = up
        self._emit(ConnectionUp(time=self._now()) if up else ConnectionDown(time=self._now(), reason=reason))

    @_guarded
    def on_connected(self, instance_index: str, replicas: int) -> None:
        self._link[str(instance_index)] = True
        self._update_link("connected")

    @_guarded
    def on_disconnected(self, instance_index: str) -> None:
        self._link[str(instance_index)] = False
        self._update_link("disconnected")

    @_guarded
    def on_stream_closed(self, instance_index: str) -> None:
        self._link[str(instance_index)] = False
        self._update_link("stream_closed")

    @_guarded
    def on_broker_connection_status_changed(self, instance_index: str, connected: bool) -> None:
        self._broker[str(instance_index)] = bool(connected)
        self._update_link("broker_disconnected")

    @_guarded
    def on_synchronization_started(
        self,
        instance_index: str,
        specifications_hash: str = None,
        positions_hash: str = None,
        orders_hash: str = None,
        synchronization_id: str = None,
    ) -> None:
        self._syncing_deals.add(str(instance_index))
        self._syncing_orders.add(str(instance_index))

    @_guarded
    def on_deals_synchronized(self, instance_index: str, synchronization_id: str) -> None:
        self._syncing_deals.discard(str(instance_index))

    @_guarded
    def on_history_orders_synchronized(self, instance_index: str, synchronization_id: str) -> None:
        self._syncing_orders.discard(str(instance_index))

    # -- account and prices -----------------------------------------------------------------------

    def _figures_changed(self, info: AccountInfo) -> None:
        self._account = info
        if info != self._figures:
            self._figures = info
            self._emit(AccountFigures(time=self._now(), info=info))

    @_guarded
    def on_account_information_updated(
        self, instance_index: str, account_information: Mapping[str, Any]
    ) -> None:
        self._figures_changed(convert.account_info(account_information))

    @_guarded
    def on_symbol_prices_updated(
        self,
        instance_index: str,
        prices: list,
        equity: float = None,
        margin: float = None,
        free_margin: float = None,
        margin_level: float = None,
        account_currency_exchange_rate: float = None,
    ) -> None:
        if equity is None or self._account is None:
            return
        new_equity = convert.dec(equity)
        new_margin = convert.dec(margin) if margin is not None else self._account.margin
        new_free = convert.dec(free_margin) if free_margin is not None else new_equity - new_margin
        info = dataclasses.replace(self._account, equity=new_equity, margin=new_margin, free_margin=new_free)
        self._figures_changed(info)

    @_guarded
    def on_symbol_price_updated(self, instance_index: str, price: Mapping[str, Any]) -> None:
        quote = convert.price(price)
        key = (quote.bid, quote.ask)
        if self._ticks.get(quote.symbol) == key:
            return
        self._ticks[quote.symbol] = key
        self._emit(PriceTick(time=quote.time, price=quote))

    # -- positions --------------------------------------------------------------------------------

    @staticmethod
    def _update_time(raw: Mapping[str, Any]) -> datetime | None:
        value = raw.get("updateTime")
        try:
            return convert.utc(value) if value is not None else None
        except convert.MalformedData:
            return None

    def _is_stale(self, raw: Mapping[str, Any], previous: Mapping[str, Any]) -> bool:
        new, old = self._update_time(raw), self._update_time(previous)
        return new is not None and old is not None and new < old

    def _apply_position(self, raw: Mapping[str, Any]) -> None:
        position_id = convert.ident(raw.get("id"))
        if position_id is None or position_id in self._closed_positions:
            return
        previous = self._positions.get(position_id)
        if previous is not None and self._is_stale(raw, previous):
            return
        self._positions[position_id] = raw
        if not self._seeded:
            return
        current = convert.position(raw)
        if previous is None:
            if position_id in self._filled:
                del self._filled[position_id]
                self._emit(PositionOpened(time=current.opened_at, position=current))
            elif position_id not in self._pending_open:
                self._defer_open(current)
            return
        before = convert.position(previous)
        if (before.sl, before.tp) != (current.sl, current.tp) or current.volume > before.volume:
            pending = self._pending_open.get(position_id)
            if pending is not None:  # not published yet: publish the newest state when it is
                pending.position = current
                return
            moment = self._update_time(raw) or self._now()
            self._emit(PositionModified(time=moment, position=current))

    def _defer_open(self, position: Position) -> None:
        handle = None
        try:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(self._open_grace, self._flush_open, position.id)
        except RuntimeError:  # no loop (never in the SDK): publish at once
            self._emit(PositionOpened(time=position.opened_at, position=position))
            return
        self._pending_open[position.id] = _PendingOpen(position, handle)

    def _flush_open(self, position_id: str) -> None:
        pending = self._pending_open.pop(position_id, None)
        if pending is None:
            return
        if pending.handle is not None:
            pending.handle.cancel()
        self._emit(PositionOpened(time=pending.position.opened_at, position=pending.position))

    def _forget_position(self, position_id: str) -> None:
        raw = self._positions.pop(position_id, None)
        if raw is not None:
            self._closed_positions.remember(position_id, raw)
        self._flush_open(position_id)

    @_guarded
    def on_position_updated(self, instance_index: str, position: Mapping[str, Any]) -> None:
        self._apply_position(position)

    @_guarded
    def on_position_removed(self, instance_index: str, position_id: str) -> None:
        self._forget_position(str(position_id))

    @_guarded
    def on_positions_replaced(self, instance_index: str, positions: list) -> None:
        # A (re)synchronization snapshot: new and changed positions are applied. Positions missing from it
        # are not dropped here (a lagging instance's snapshot can be older): their closing deals do it.
        for raw in positions or ():
            self._apply_position(raw)

    # -- deals and history orders -----------------------------------------------------------------

    def _is_history(self, instance_index: str, syncing: set[str], moment: datetime) -> bool:
        return str(instance_index) in syncing and moment < self._since

    @_guarded
    def on_deal_added(self, instance_index: str, deal: Mapping[str, Any]) -> None:
        deal_id = convert.ident(deal.get("id"))
        if deal_id is None or deal_id in self._seen_deals:
            return
        self._seen_deals.remember(deal_id)
        item = convert.deal(deal)
        if item is None:
            return
        if item.entry is DealEntry.IN and item.position_id:
            self._entries.remember(item.position_id, item)
        if self._is_history(instance_index, self._syncing_deals, item.time):
            return
        if item.entry is DealEntry.IN:
            self._on_fill(item)
        else:
            self._on_close(item)

    def _tag_of(self, position_id: str | None) -> str | None:
        if not position_id:
            return None
        raw = self._positions.get(position_id) or self._closed_positions.get(position_id)
        if raw is not None and raw.get("clientId"):
            return str(raw["clientId"])
        entry = self._entries.get(position_id)
        return entry.client_tag if entry is not None else None

    def _on_fill(self, item: HistoryDeal) -> None:
        position_id = item.position_id or ""
        self._emit(
            OrderFilled(
                time=item.time,
                order_id=item.order_id or "",
                position_id=position_id,
                symbol=item.symbol,
                side=item.side,
                volume=item.volume,
                price=item.price,
                client_tag=item.client_tag or self._tag_of(position_id),
            )
        )
        if position_id in self._pending_open:
            self._flush_open(position_id)
        elif position_id and position_id not in self._positions:
            self._filled.remember(position_id)

    def _on_close(self, item: HistoryDeal) -> None:
        position_id = item.position_id or ""
        self._flush_open(position_id)
        raw = self._positions.get(position_id)
        known = raw if raw is not None else self._closed_positions.get(position_id)
        entry = self._entries.get(position_id)
        if known is not None:
            side = convert.position(known).side
            open_price = convert.req_dec(known, "openPrice")
        elif entry is not None:
            side, open_price = entry.side, entry.price
        else:
            logger.info("closing deal %s of unknown position %s: open price unknown", item.id, position_id)
            side, open_price = item.side.opposite, item.price
        remaining = ZERO
        if raw is not None:
            remaining = convert.req_dec(raw, "volume")
            updated = self._update_time(raw)
            if updated is None or updated < item.time:  # the position update has not come yet
                remaining = max(remaining - item.volume, ZERO)
            if remaining == 0:
                self._forget_position(position_id)
        self._emit(
            PositionClosed(
                time=item.time,
                position_id=position_id,
                symbol=item.symbol,
                side=side,
                volume=item.volume,
                open_price=open_price,
                close_price=item.price,
                profit=item.profit,
                reason=item.reason or CloseReason.CLIENT,
                remaining_volume=remaining,
                client_tag=item.client_tag or self._tag_of(position_id),
            )
        )

    @_guarded
    def on_history_order_added(self, instance_index: str, history_order: Mapping[str, Any]) -> None:
        order_id = convert.ident(history_order.get("id"))
        if order_id is None or order_id in self._seen_orders:
            return
        self._seen_orders.remember(order_id)
        reason = convert.UNFILLED_ORDER_STATES.get(history_order.get("state"))  # type: ignore[arg-type]
        if reason is None or history_order.get("type") not in convert.PENDING_TYPES:
            return
        done = history_order.get("doneTime") or history_order.get("time")
        moment = convert.utc(done) if done is not None else self._now()
        if self._is_history(instance_index, self._syncing_orders, moment):
            return
        self._emit(
            OrderCancelled(
                time=moment,
                order_id=order_id,
                symbol=str(history_order.get("symbol") or ""),
                reason=reason,
                client_tag=convert.tag(history_order),
            )
        )


__all__ = ["EventHub", "EventStream", "MetaApiEventListener"]
