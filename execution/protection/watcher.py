"""The protection watcher: follows one account's stream and asks for the moves protection owes.

Promise: on the account's broker session (the one its stream and operations use: no connection of
its own), for the open trades protection has work on (``selectors.watched_trades``, held in memory
and re-read every ``refresh_every`` seconds or after a change, so a tick costs no query):

* a leg's position closed at its TP, or the price through a TP level -> ``services.level_reached``
  (the breakeven when that is the trigger level);
* every ``check_every`` seconds, the background check: the account's deals since the oldest watched
  trade (a TP fill the stream missed), and every remaining position whose stop loss is not at
  breakeven although the trigger level was reached (a move that waited for the stop level, failed,
  or was never sent) -> the level recorded, the breakeven asked again; a trade with nothing left at
  the broker is no longer followed;
* a tick with trailing on: the trailing stop's next level -> ``services.request_trailing``.

Asking twice is harmless (the services send at most one move of each kind per trade at a time).
"""

import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from core.blocking import run_blocking
from execution.broker.gateways.base import (
    BrokerGateway,
    CloseReason,
    DealEntry,
    GatewayError,
    GatewayEvent,
    Position,
    PositionClosed,
    PriceTick,
)
from execution.protection import rules, selectors, services

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class WatchConfig:
    refresh_every: float = 5.0
    check_every: float = 15.0
    trail_again_after: float = 1.0  # a trade's trailing asked at most this often


class TradeWatcher:
    """One account's watcher; ``now`` is the stream's monotonic clock."""

    def __init__(self, account_id: int, now: Callable[[], float], config: WatchConfig | None = None) -> None:
        self.account_id = account_id
        self.config = config or WatchConfig()
        self.now = now
        self.watched: dict[int, selectors.Watched] = {}
        self.positions: list[Position] = []
        self.refreshed_at: float | None = None
        self.checked_at: float | None = None
        self.trailed_at: dict[int, float] = {}
        self.quotes: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> the last (bid, ask)

    # -- what the stream calls --------------------------------------------------------------------
    async def on_event(self, event: GatewayEvent, gateway: BrokerGateway) -> None:
        if isinstance(event, PositionClosed) and event.reason is CloseReason.TP:
            await self._leg_closed_at_tp(event.client_tag, f"position {event.position_id} closed at its TP")
        elif isinstance(event, PriceTick):
            await self._tick(event.price.symbol, event.price.bid, event.price.ask)

    def on_book(self, positions: list[Position]) -> None:
        self.positions = positions

    async def on_idle(self, gateway: BrokerGateway) -> None:
        """Between events: re-read the trades when due, and run the background check when due."""
        now = self.now()
        if self.refreshed_at is None or now - self.refreshed_at >= self.config.refresh_every:
            await self.refresh()
        if self.watched and (self.checked_at is None or now - self.checked_at >= self.config.check_every):
            self.checked_at = now
            try:
                await self.check(gateway)
            except GatewayError as error:
                logger.info("protection check of account %s: %s", self.account_id, error)

    # -- the work -----------------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Read the trades again, and judge them at the last quotes (a quiet market sends no tick)."""
        self.refreshed_at = self.now()
        found = await run_blocking(selectors.watched_trades, account_id=self.account_id)
        self.watched = {watched.trade_id: watched for watched in found}
        for symbol, (bid, ask) in list(self.quotes.items()):
            await self._tick(symbol, bid, ask)

    async def _reached(self, watched: selectors.Watched, level: int, cause: str) -> None:
        self.watched[watched.trade_id] = dataclasses.replace(watched, reached=level)
        await run_blocking(services.level_reached, trade_id=watched.trade_id, level=level, cause=cause)

    async def _leg_closed_at_tp(self, client_tag: str | None, cause: str) -> None:
        if self.refreshed_at is None:
            await self.refresh()
        for watched in list(self.watched.values()):
            level = watched.leg_levels.get(client_tag, 0)
            if level > watched.reached:
                await self._reached(watched, level, cause)

    async def _tick(self, symbol: str, bid: Decimal, ask: Decimal) -> None:
        self.quotes[symbol] = (bid, ask)
        for watched in [w for w in self.watched.values() if w.symbol == symbol]:
            level = rules.reached_level(side=watched.side, tps=watched.tps, bid=bid, ask=ask)
            if level > watched.reached:
                price = bid if watched.side == "buy" else ask
                await self._reached(watched, level, f"the price {price} went through TP{level}")
            if watched.trailing is not None:
                await self._trail(watched, bid, ask)

    async def _trail(self, watched: selectors.Watched, bid: Decimal, ask: Decimal) -> None:
        last = self.trailed_at.get(watched.trade_id)
        if last is not None and self.now() - last < self.config.trail_again_after:
            return
        for position in watched.legs(self.positions):
            sl = rules.trail_sl(
                side=watched.side,
                open_price=position.open_price,
                current_sl=position.sl,
                bid=bid,
                ask=ask,
                trailing=watched.trailing,
            )
            if sl is not None:
                self.trailed_at[watched.trade_id] = self.now()
                await run_blocking(services.request_trailing, trade_id=watched.trade_id, sl=sl)
                return

    async def check(self, gateway: BrokerGateway) -> None:
        """The background check (see the module's docstring)."""
        since = min(watched.opened_at for watched in self.watched.values())
        deals = await gateway.history_deals(since, datetime.now(UTC))
        positions = await gateway.positions()
        orders = await gateway.orders()
        for watched in list(self.watched.values()):
            closed_at_tp = [
                watched.leg_levels.get(deal.client_tag, 0)
                for deal in deals
                if deal.entry is DealEntry.OUT and deal.reason is CloseReason.TP
            ]
            level = max(closed_at_tp, default=0)
            if level > watched.reached:
                await self._reached(watched, level, "the background check found a position closed at its TP")
                watched = self.watched[watched.trade_id]
            legs = watched.legs(positions)
            if not legs and not watched.legs(orders):
                if watched.opening_ended:
                    await run_blocking(services.trade_over, trade_id=watched.trade_id)
                    del self.watched[watched.trade_id]
                continue
            if watched.breakeven_at and watched.reached >= watched.breakeven_at:
                short = ", ".join(p.id for p in legs if not _at_breakeven(p, watched.buffer))
                if short:
                    cause = f"background check: the stop loss of {short} is not at breakeven yet"
                    await run_blocking(services.request_breakeven, trade_id=watched.trade_id, cause=cause)


def _at_breakeven(position: Position, buffer: Decimal) -> bool:
    target = rules.breakeven_sl(side=position.side.value, open_price=position.open_price, buffer=buffer)
    return position.sl is not None and (position.sl - target) * position.side.sign >= 0
