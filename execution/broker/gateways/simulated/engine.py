"""The simulated trade server: a synchronous engine over a :class:`SimStateStore`.

Every call runs ``with store.transaction(account): load -> apply faults -> evaluate(now) -> operation ->
save``. ``evaluate`` replays the deterministic price path second by second from the last evaluation up to
``now`` (in at most ``max_scan_steps`` steps) and, wherever the symbol's market is open, triggers pending
orders, SL/TP and stop-out. The engine never reads the wall clock itself (``clock`` is injected) and keeps
no account state in memory, so several processes can serve the same accounts through a shared store.

An account is priced by the feed or, where its group (one trade platform) has a scripted market path for
the instrument, by that path (``paths.py``): paths live in the store, each engine re-reads them at most
once per ``market_refresh`` of its clock. ``quote`` without a group is the feed's.

Conventions of the simulated server: hedging accounts (each fill opens its own position; the position id is
the id of the order that opened it), UTC trading sessions, quotes frozen at the last open second while a
market is closed, limit orders fill at their price or better, stop orders and SL/TP at the market price of
the trigger second (gaps slip), margin from the open price (forex: in the base currency without the price),
profit converted to the account currency through the USD pairs, stop-out at 50 % margin level.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, TypeVar

from execution.broker.gateways import base, codes
from execution.broker.gateways.base import (
    AccountInfo,
    ClientTagMatch,
    CloseReason,
    DealEntry,
    GatewayError,
    GatewayEvent,
    HistoryDeal,
    OrderKind,
    OrderRequest,
    PendingOrder,
    PendingOrderType,
    Position,
    Price,
    Side,
    SymbolSpec,
    TradeResult,
    TradingSession,
)
from execution.broker.gateways.simulated.catalog import (
    CATALOGS,
    CRYPTO_SESSIONS,
    FOREX_SESSIONS,
    INSTRUMENTS,
    METAL_SESSIONS,
    US_FUTURES_SESSIONS,
    USD_PAIRS,
    CatalogEntry,
    ServerCatalog,
)
from execution.broker.gateways.simulated.clock import Clock, ensure_utc, system_clock
from execution.broker.gateways.simulated.paths import PathSource, PricePath
from execution.broker.gateways.simulated.pricefeed import DeterministicFeed, PriceSource
from execution.broker.gateways.simulated.state import (
    FaultSettings,
    SimAccountState,
    SimOrder,
    SimPosition,
    event_to_record,
    record_to_event,
)
from execution.broker.gateways.simulated.store import InMemoryStateStore, SimStateStore

T = TypeVar("T")
CENT = Decimal("0.01")
ZERO = Decimal(0)

#: Call kinds: which faults apply. 'trading' / 'queries' get every fault, 'connect' and 'stream' only
#: the disconnect.
KINDS = ("trading", "queries", "connect", "stream")
TRANSPORT_STRING_CODES = {"timeout", "timeout_after", "not_connected"}


def not_connected_error(message: str = "not connected to the trade server") -> GatewayError:
    return GatewayError(message, source="transport", string_code="not_connected")


def timeout_error(message: str = "no answer from the trade server in time") -> GatewayError:
    return GatewayError(message, source="transport", string_code="timeout")


def connection_lost_error(
    message: str = "connection to the trade server lost during the call",
) -> GatewayError:
    return GatewayError(message, source="transport", string_code="connection_lost")


# scripted faults of calls the server executes before the answer is lost: the error the caller sees
LOST_AFTER_EXECUTION = {"timeout_after": timeout_error, "connection_lost_after": connection_lost_error}


# --------------------------------------------------------------------------------------------------
# Sessions and quotes
# --------------------------------------------------------------------------------------------------


def last_open_second(sessions: tuple[TradingSession, ...], second: int) -> int:
    """``second`` if the market is open then, else the last second of the latest session before it."""
    if not sessions:
        return second
    day = datetime.fromtimestamp(second, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(8):
        current = day - timedelta(days=back)
        day_start = int(current.timestamp())
        windows = sorted((s for s in sessions if s.weekday == current.weekday()), key=lambda s: -s.end)
        for window in windows:
            if day_start + window.start * 60 <= second:
                return min(second, day_start + window.end * 60 - 1)
    return second


def _quote(feed: PriceSource, entry: CatalogEntry, second: int) -> tuple[Decimal, Decimal, int]:
    if getattr(feed, "cacheable", False):
        return _cached_quote(feed, entry, second)
    return _compute_quote(feed, entry, second)


@lru_cache(maxsize=65536)
def _cached_quote(feed: PriceSource, entry: CatalogEntry, second: int) -> tuple[Decimal, Decimal, int]:
    return _compute_quote(feed, entry, second)


def _compute_quote(feed: PriceSource, entry: CatalogEntry, second: int) -> tuple[Decimal, Decimal, int]:
    quoted = last_open_second(entry.sessions, second)
    mid = feed.mid(entry.instrument, quoted)
    spread = max(1, round(entry.spread_points * feed.spread_factor(entry.instrument, quoted)))
    point = entry.point
    tick = entry.tick_size
    raw_bid = Decimal(repr(mid)) - point * spread / 2
    bid = (raw_bid / tick).quantize(Decimal(1), ROUND_HALF_EVEN) * tick
    ask = bid + max(point * spread, tick)
    return bid.quantize(point), ask.quantize(point), quoted


_RATE_SESSIONS = {
    "forex": FOREX_SESSIONS,
    "metal": METAL_SESSIONS,
    "index": US_FUTURES_SESSIONS,
    "energy": US_FUTURES_SESSIONS,
    "crypto": CRYPTO_SESSIONS,
}


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    return step > 0 and (value / step) == (value / step).to_integral_value()


# --------------------------------------------------------------------------------------------------
# Call outcome
# --------------------------------------------------------------------------------------------------


@dataclass
class CallOutcome:
    value: Any = None
    error: GatewayError | None = None
    events: list[tuple[int, GatewayEvent]] = field(default_factory=list)
    last_seq: int = 0
    latency: float = 0.0
    now: datetime | None = None

    def unwrap(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


Operation = Callable[[SimAccountState, datetime], Any]


class SimulatedEngine:
    def __init__(
        self,
        store: SimStateStore | None = None,
        *,
        feed: PriceSource | None = None,
        clock: Clock = system_clock,
        catalogs: dict[str, ServerCatalog] | None = None,
        seed: int | str = 0,
        max_scan_steps: int = 3600,
        history_limit: int = 2000,
        event_log_limit: int = 500,
        stop_out_level: Decimal = Decimal(50),
        history_window: timedelta = timedelta(days=7),
        market_refresh: timedelta = timedelta(seconds=1),
    ) -> None:
        self.store = store if store is not None else InMemoryStateStore()
        self.feed = feed if feed is not None else DeterministicFeed(seed)
        self.clock = clock
        self.catalogs = catalogs if catalogs is not None else CATALOGS
        self.max_scan_steps = max_scan_steps
        self.history_limit = history_limit
        self.event_log_limit = event_log_limit
        self.stop_out_level = stop_out_level
        self.history_window = history_window
        self.market_refresh = market_refresh
        self._markets: dict[str, tuple[datetime, dict[str, PricePath]]] = {}  # group -> (read at, paths)

    # ==============================================================================================
    # Accounts and faults
    # ==============================================================================================

    def open_account(
        self,
        account_key: str,
        *,
        server: str,
        balance: Decimal | int | str = Decimal(10000),
        leverage: int = 100,
        currency: str = "USD",
        platform: str = "mt5",
        fault_group: str = "",
    ) -> SimAccountState:
        """Create the account if it does not exist yet (an existing account is returned unchanged).
        ``fault_group`` names the platform-wide fault settings that apply ('platform:<group>'; default:
        the platform type)."""
        if server not in self.catalogs:
            raise ValueError(f"unknown simulated server {server!r}; known: {sorted(self.catalogs)}")
        if platform not in ("mt4", "mt5"):
            raise ValueError("platform must be 'mt4' or 'mt5'")
        if currency != "USD" and currency not in USD_PAIRS:
            raise ValueError(f"unsupported account currency {currency!r}")
        with self.store.transaction(account_key):
            state = self.store.load(account_key)
            if state is None:
                state = SimAccountState(
                    account_key=account_key,
                    server=server,
                    platform=platform,
                    fault_group=fault_group,
                    currency=currency,
                    leverage=int(leverage),
                    balance=Decimal(balance).quantize(CENT),
                    last_evaluated=ensure_utc(self.clock()),
                )
                self.store.save(account_key, state)
            return state

    def load_account(self, account_key: str) -> SimAccountState | None:
        return self.store.load(account_key)

    def deposit(self, account_key: str, amount: Decimal) -> Decimal:
        """Add (or with a negative amount withdraw) money; returns the new balance."""

        def op(state: SimAccountState, now: datetime) -> Decimal:
            state.balance = (state.balance + Decimal(amount)).quantize(CENT)
            return state.balance

        return self.call(account_key, "stream", op).unwrap()

    def get_faults(self, scope: str) -> FaultSettings:
        """``scope``: 'platform:<fault group>' (by default the platform type: 'platform:mt5') or
        'account:<key>'."""
        if scope.startswith("account:"):
            state = self.store.load(scope.removeprefix("account:"))
            if state is None:
                raise KeyError(scope)
            return state.faults
        return self.store.load_faults(scope) or FaultSettings()

    def set_faults(self, scope: str, faults: FaultSettings) -> None:
        if scope.startswith("account:"):
            key = scope.removeprefix("account:")
            with self.store.transaction(key):
                state = self.store.load(key)
                if state is None:
                    raise KeyError(scope)
                state.faults = faults
                self.store.save(key, state)
            return
        if not scope.startswith("platform:"):
            raise ValueError("fault scope must be 'platform:<mt4|mt5>' or 'account:<key>'")
        with self.store.faults_transaction(scope):
            self.store.save_faults(scope, faults)

    def update_faults(self, scope: str, **changes: Any) -> FaultSettings:
        """Change some fault settings of ``scope`` (e.g. ``disconnected=True``), keep the others."""
        faults = dataclasses.replace(self.get_faults(scope), **changes)
        self.set_faults(scope, faults)
        return faults

    def latency_for(self, account_key: str, kind: str = "trading") -> float:
        state = self.store.load(account_key)
        if state is None:
            return 0.0
        return self._latency(state, kind)

    def _latency(self, state: SimAccountState, kind: str) -> float:
        total = state.faults.latency_seconds if state.faults.applies(kind) else 0.0
        platform = self.store.load_faults(state.fault_scope)
        if platform is not None and platform.applies(kind):
            total += platform.latency_seconds
        return total

    # ==============================================================================================
    # Market data (no account)
    # ==============================================================================================

    def catalog(self, server: str) -> ServerCatalog:
        return self.catalogs[server]

    def quote(self, server: str, symbol: str, at: datetime | None = None, *, group: str = "") -> Price:
        """The quote of ``symbol`` on ``server``: the feed's, or under ``group``'s market paths."""
        entry = self.catalog(server).get(symbol)
        if entry is None:
            raise KeyError(symbol)
        return self._price(entry, self._second(at or self.clock()), group)

    def is_market_open(self, server: str, symbol: str, at: datetime | None = None) -> bool:
        entry = self.catalog(server).entries[symbol]
        return base.is_session_open(entry.sessions, ensure_utc(at or self.clock()))

    @staticmethod
    def _second(moment: datetime) -> int:
        return math.floor(ensure_utc(moment).timestamp())

    def _bid_ask(self, state: SimAccountState, entry: CatalogEntry, second: int) -> tuple[Decimal, Decimal]:
        bid, ask, _ = _quote(self._source(state.group, entry.instrument), entry, second)
        return bid, ask

    def _price(self, entry: CatalogEntry, second: int, group: str) -> Price:
        bid, ask, quoted = _quote(self._source(group, entry.instrument), entry, second)
        return Price(entry.name, bid, ask, datetime.fromtimestamp(quoted, UTC))

    def _usd_value(self, currency: str, second: int, group: str) -> Decimal:
        if currency == "USD":
            return Decimal(1)
        instrument, is_base = USD_PAIRS[currency]
        sessions = _RATE_SESSIONS[INSTRUMENTS[instrument].asset_class]
        source = self._source(group, instrument)
        mid = Decimal(repr(source.mid(instrument, last_open_second(sessions, second))))
        return mid if is_base else 1 / mid

    def rate(self, from_currency: str, to_currency: str, second: int, group: str = "") -> Decimal:
        """How much ``to_currency`` one unit of ``from_currency`` is worth at ``second`` (mid prices,
        under ``group``'s market paths)."""
        if from_currency == to_currency:
            return Decimal(1)
        return self._usd_value(from_currency, second, group) / self._usd_value(to_currency, second, group)

    # ==============================================================================================
    # Market paths: prices scripted per group of accounts, shared through the store
    # ==============================================================================================

    def paths(self, group: str) -> dict[str, PricePath]:
        """The group's market paths (instrument -> path)."""
        return dict(self._paths(group))

    def set_path(self, group: str, instrument: str, path: PricePath) -> None:
        """Price ``instrument`` by ``path`` for the accounts of ``group`` (replacing its path)."""
        if instrument not in INSTRUMENTS:
            raise ValueError(f"unknown instrument {instrument!r}; known: {', '.join(sorted(INSTRUMENTS))}")
        self._change_paths(group, lambda paths: paths.update({instrument: path}))

    def clear_path(self, group: str, instrument: str | None = None) -> None:
        """Back to the feed for ``instrument`` (None: every instrument) in ``group``."""

        def change(paths: dict[str, PricePath]) -> None:
            if instrument is None:
                paths.clear()
            else:
                paths.pop(instrument, None)

        self._change_paths(group, change)

    def market_mid(self, group: str, instrument: str, at: datetime | None = None) -> float:
        """The mid of ``instrument`` (an instrument, not a broker symbol) for ``group`` at ``at`` (now)."""
        return self._source(group, instrument).mid(instrument, self._second(at or self.clock()))

    def _change_paths(self, group: str, change: Callable[[dict[str, PricePath]], Any]) -> None:
        if not group:
            raise ValueError("market paths are set per group of accounts: name one")
        with self.store.market_transaction(group):
            paths = self.store.load_market(group)
            change(paths)
            self.store.save_market(group, paths)
        self._markets[group] = (ensure_utc(self.clock()), paths)

    def _paths(self, group: str) -> dict[str, PricePath]:
        """Read from the store at most once per ``market_refresh`` of the clock: another process's change
        shows within that time, this engine's own at once."""
        now = ensure_utc(self.clock())
        cached = self._markets.get(group)
        if cached is None or not cached[0] <= now < cached[0] + self.market_refresh:
            cached = (now, self.store.load_market(group))
            self._markets[group] = cached
        return cached[1]

    def _source(self, group: str, instrument: str) -> PriceSource:
        """The feed, or the feed under the group's path when it has one for ``instrument``."""
        paths = self._paths(group) if group else {}
        return PathSource(self.feed, paths) if instrument in paths else self.feed

    # ==============================================================================================
    # The call pipeline
    # ==============================================================================================

    def call(
        self,
        account_key: str,
        kind: str,
        operation: Operation,
        *,
        event_cursor: int | None = None,
        now: datetime | None = None,
    ) -> CallOutcome:
        """Run ``operation(state, now)`` for one account inside a store transaction.

        Never raises GatewayError: the outcome carries it (with the events logged since ``event_cursor``,
        and the latency the caller should add), so that callers can publish events of failed calls too.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown call kind {kind!r}")
        outcome = CallOutcome()
        with self.store.transaction(account_key):
            state = self.store.load(account_key)
            if state is None:
                outcome.error = GatewayError(
                    f"simulated account {account_key!r} does not exist",
                    source="transport",
                    string_code="account_not_found",
                )
                return outcome
            moment = ensure_utc(now or self.clock())
            outcome.now = moment
            outcome.latency = self._latency(state, kind)
            fault = self._consume_faults(state, kind)
            self.evaluate_state(state, moment)
            if isinstance(fault, GatewayError):
                outcome.error = fault
            else:
                try:
                    outcome.value = operation(state, moment)
                except GatewayError as error:
                    outcome.error = error
                if fault in LOST_AFTER_EXECUTION:  # executed, but the answer is lost
                    outcome.value = None
                    outcome.error = LOST_AFTER_EXECUTION[fault]()
            self._trim(state)
            self.store.save(account_key, state)
            cursor = state.event_seq if event_cursor is None else event_cursor
            outcome.events = [(r.seq, record_to_event(r)) for r in state.events if r.seq > cursor]
            outcome.last_seq = state.event_seq
        return outcome

    def _run(self, account_key: str, kind: str, operation: Operation) -> Any:
        return self.call(account_key, kind, operation).unwrap()

    def events_since(self, account_key: str, cursor: int) -> tuple[list[tuple[int, GatewayEvent]], int]:
        state = self.store.load(account_key)
        if state is None:
            return [], cursor
        return [(r.seq, record_to_event(r)) for r in state.events if r.seq > cursor], state.event_seq

    # -- faults -----------------------------------------------------------------------------------

    def _consume_faults(self, state: SimAccountState, kind: str) -> GatewayError | str | None:
        scope = state.fault_scope
        platform = self.store.load_faults(scope)
        if platform is not None and platform.disconnected:
            return self._draw_fault(platform, state.platform, kind)
        # Only drawing a scripted code or a random failure changes the platform's settings: only then
        # lock them (a latency-only fault must not serialize every call on the platform).
        if platform is not None and (platform.scripted_errors or platform.error_rate):
            with self.store.faults_transaction(scope):
                platform = self.store.load_faults(scope) or FaultSettings()
                before = platform.to_json()
                fault = self._draw_fault(platform, state.platform, kind)
                if platform.to_json() != before:
                    self.store.save_faults(scope, platform)
            if fault is not None:
                return fault
        return self._draw_fault(state.faults, state.platform, kind)

    def _draw_fault(self, faults: FaultSettings, platform: str, kind: str) -> GatewayError | str | None:
        if faults.disconnected:
            return not_connected_error()
        if kind not in ("trading", "queries") or not faults.applies(kind):
            return None
        if faults.scripted_errors:
            scripted = faults.scripted_errors.pop(0)
            return self._fault_error(scripted, faults, platform)
        if faults.error_rate > 0:
            draw = f"{faults.error_seed}|{faults.error_draws}".encode()
            faults.error_draws += 1
            u = int.from_bytes(hashlib.blake2b(draw, digest_size=8).digest(), "big") / 2**64
            if u < faults.error_rate:
                return self._fault_error(faults.error_rate_code, faults, platform)
        return None

    @staticmethod
    def _fault_error(code: int | str, faults: FaultSettings, platform: str) -> GatewayError | str:
        if isinstance(code, str):
            if code in LOST_AFTER_EXECUTION:
                return code
            if code == "timeout":
                return timeout_error()
            if code == "not_connected":
                return not_connected_error()
            raise ValueError(f"unknown scripted fault {code!r}")
        number = codes.for_platform(platform, int(code)) if int(code) >= 10000 else int(code)
        retry_after = None
        if number in (codes.MT5_TOO_MANY_REQUESTS, 141, 8):
            retry_after = faults.retry_after_seconds
        return GatewayError(
            f"injected fault {number}",
            source="mt4" if platform == "mt4" else "mt5",
            code=number,
            string_code=codes.code_name(platform, number),
            retry_after=retry_after,
        )

    # -- events -----------------------------------------------------------------------------------

    def _emit(self, state: SimAccountState, event: GatewayEvent) -> None:
        state.event_seq += 1
        state.events.append(event_to_record(state.event_seq, event))

    def _trim(self, state: SimAccountState) -> None:
        if len(state.events) > self.event_log_limit:
            del state.events[: len(state.events) - self.event_log_limit]
        if len(state.history) > self.history_limit:
            del state.history[: len(state.history) - self.history_limit]

    # ==============================================================================================
    # Evaluation: pending orders, SL/TP, stop-out
    # ==============================================================================================

    def evaluate(self, account_key: str, now: datetime | None = None) -> list[GatewayEvent]:
        """Bring the account up to ``now`` (default: the clock); returns the events it produced."""
        before = self.store.load(account_key)
        cursor = before.event_seq if before is not None else 0
        outcome = self.call(account_key, "stream", lambda state, moment: None, event_cursor=cursor, now=now)
        outcome.unwrap()
        return [event for _seq, event in outcome.events]

    def evaluate_state(self, state: SimAccountState, now: datetime) -> None:
        start = state.last_evaluated
        if start is None or now <= start:
            state.last_evaluated = max(start, now) if start is not None else now
            return
        state.last_evaluated = now
        if not state.orders and not state.positions:
            return
        first = self._second(start) + 1
        last = self._second(now)
        if last < first:
            return
        stride = max(1, math.ceil((last - first + 1) / self.max_scan_steps))
        catalog = self.catalog(state.server)
        second = first
        while True:
            self._step(state, catalog, second)
            if second == last or not (state.orders or state.positions):
                break
            second = min(second + stride, last)

    def _step(self, state: SimAccountState, catalog: ServerCatalog, second: int) -> None:
        moment = datetime.fromtimestamp(second, UTC)
        for order in list(state.orders):
            entry = catalog.entries[order.symbol]
            if not base.is_session_open(entry.sessions, moment):
                continue
            bid, ask = self._bid_ask(state, entry, second)
            if self._triggered(order, bid, ask):
                self._fill_pending(state, order, entry, second, bid, ask)
        for position in list(state.positions):
            entry = catalog.entries[position.symbol]
            if not base.is_session_open(entry.sessions, moment):
                continue
            bid, ask = self._bid_ask(state, entry, second)
            market = bid if position.side is Side.BUY else ask
            reason = None
            if position.sl is not None and (market - position.sl) * position.side.sign <= 0:
                reason = CloseReason.SL
            elif position.tp is not None and (position.tp - market) * position.side.sign <= 0:
                reason = CloseReason.TP
            if reason is not None:
                self._close(state, position, entry, position.volume, market, second, reason)
        self._stop_out(state, catalog, second)

    @staticmethod
    def _triggered(order: SimOrder, bid: Decimal, ask: Decimal) -> bool:
        match order.type:
            case PendingOrderType.BUY_LIMIT:
                return ask <= order.price
            case PendingOrderType.SELL_LIMIT:
                return bid >= order.price
            case PendingOrderType.BUY_STOP:
                return ask >= order.price
            case PendingOrderType.SELL_STOP:
                return bid <= order.price
        return False

    def _fill_pending(
        self,
        state: SimAccountState,
        order: SimOrder,
        entry: CatalogEntry,
        second: int,
        bid: Decimal,
        ask: Decimal,
    ) -> None:
        moment = datetime.fromtimestamp(second, UTC)
        match order.type:
            case PendingOrderType.BUY_LIMIT:
                fill = min(ask, order.price)
            case PendingOrderType.SELL_LIMIT:
                fill = max(bid, order.price)
            case PendingOrderType.BUY_STOP:
                fill = ask
            case _:
                fill = bid
        state.orders.remove(order)
        side = order.type.side
        required = self._margin_of(state, entry, side, order.volume, fill, second)
        figures = self._figures(state, second)
        if required > figures.free_margin:
            event = base.OrderCancelled(
                time=moment,
                order_id=order.id,
                symbol=order.symbol,
                reason="no_money",
                client_tag=order.client_tag,
            )
            self._emit(state, event)
            return
        self._open_position(
            state, entry, order.id, side, order.volume, fill, order.sl, order.tp, order.client_tag, second
        )

    def _stop_out(self, state: SimAccountState, catalog: ServerCatalog, second: int) -> None:
        while state.positions:
            figures = self._figures(state, second)
            if figures.margin <= 0 or figures.equity * 100 > figures.margin * self.stop_out_level:
                return
            worst = min(state.positions, key=lambda p: self._profit(state, p, second))
            entry = catalog.entries[worst.symbol]
            bid, ask = self._bid_ask(state, entry, second)
            market = bid if worst.side is Side.BUY else ask
            self._close(state, worst, entry, worst.volume, market, second, CloseReason.STOP_OUT)

    # ==============================================================================================
    # Money
    # ==============================================================================================

    def _profit_at(
        self, state: SimAccountState, entry: CatalogEntry, side: Side, volume: Decimal, open_price: Decimal,
        close_price: Decimal, second: int,
    ) -> Decimal:  # fmt: skip
        raw = (close_price - open_price) * side.sign * volume * entry.contract_size
        rate = self.rate(entry.spec_instrument.profit_currency, state.currency, second, state.group)
        return (raw * rate).quantize(CENT, ROUND_HALF_UP)

    def _profit(self, state: SimAccountState, position: SimPosition, second: int) -> Decimal:
        entry = self.catalog(state.server).entries[position.symbol]
        bid, ask = self._bid_ask(state, entry, second)
        market = bid if position.side is Side.BUY else ask
        return self._profit_at(
            state, entry, position.side, position.volume, position.open_price, market, second
        )

    def _margin_of(
        self,
        state: SimAccountState,
        entry: CatalogEntry,
        side: Side,
        volume: Decimal,
        price: Decimal,
        second: int,
    ) -> Decimal:
        leverage = state.leverage if entry.max_leverage is None else min(state.leverage, entry.max_leverage)
        instrument = entry.spec_instrument
        if instrument.forex_margin:
            amount = volume * entry.contract_size / leverage
            rate = self.rate(instrument.base_currency, state.currency, second, state.group)
        else:
            amount = volume * entry.contract_size * price / leverage
            rate = self.rate(instrument.profit_currency, state.currency, second, state.group)
        return (amount * rate).quantize(CENT, ROUND_HALF_UP)

    def _figures(self, state: SimAccountState, second: int) -> AccountInfo:
        catalog = self.catalog(state.server)
        floating = ZERO
        margin = ZERO
        for position in state.positions:
            entry = catalog.entries[position.symbol]
            floating += self._profit(state, position, second)
            margin += self._margin_of(
                state, entry, position.side, position.volume, position.open_price, second
            )
        equity = (state.balance + floating).quantize(CENT)
        margin = margin.quantize(CENT)
        return AccountInfo(
            balance=state.balance.quantize(CENT),
            equity=equity,
            margin=margin,
            free_margin=equity - margin,
            currency=state.currency,
            leverage=state.leverage,
        )

    # ==============================================================================================
    # Position bookkeeping
    # ==============================================================================================

    def _public_position(self, state: SimAccountState, position: SimPosition, second: int) -> Position:
        entry = self.catalog(state.server).entries[position.symbol]
        bid, ask = self._bid_ask(state, entry, second)
        market = bid if position.side is Side.BUY else ask
        return Position(
            id=position.id,
            symbol=position.symbol,
            side=position.side,
            volume=position.volume,
            open_price=position.open_price,
            current_price=market,
            sl=position.sl,
            tp=position.tp,
            profit=self._profit_at(
                state, entry, position.side, position.volume, position.open_price, market, second
            ),
            client_tag=position.client_tag,
            opened_at=position.opened_at,
        )

    @staticmethod
    def _public_order(order: SimOrder) -> PendingOrder:
        return PendingOrder(
            id=order.id,
            symbol=order.symbol,
            type=order.type,
            volume=order.volume,
            price=order.price,
            sl=order.sl,
            tp=order.tp,
            client_tag=order.client_tag,
            created_at=order.created_at,
        )

    def _open_position(
        self, state: SimAccountState, entry: CatalogEntry, order_id: str, side: Side, volume: Decimal,
        price: Decimal, sl: Decimal | None, tp: Decimal | None, tag: str | None, second: int,
    ) -> SimPosition:  # fmt: skip
        moment = datetime.fromtimestamp(second, UTC)
        position = SimPosition(
            id=order_id,
            symbol=entry.name,
            side=side,
            volume=volume,
            open_price=price,
            sl=sl,
            tp=tp,
            client_tag=tag,
            opened_at=moment,
            order_id=order_id,
        )
        state.positions.append(position)
        deal = HistoryDeal(
            id=state.ticket(),
            order_id=order_id,
            position_id=position.id,
            symbol=entry.name,
            side=side,
            entry=DealEntry.IN,
            volume=volume,
            price=price,
            profit=CENT * 0,
            client_tag=tag,
            time=moment,
        )
        state.history.append(deal)
        self._emit(
            state,
            base.OrderFilled(
                time=moment,
                order_id=order_id,
                position_id=position.id,
                symbol=entry.name,
                side=side,
                volume=volume,
                price=price,
                client_tag=tag,
            ),
        )
        self._emit(
            state, base.PositionOpened(time=moment, position=self._public_position(state, position, second))
        )
        return position

    def _close(
        self, state: SimAccountState, position: SimPosition, entry: CatalogEntry, volume: Decimal,
        price: Decimal, second: int, reason: CloseReason,
    ) -> tuple[str, Decimal]:  # fmt: skip
        moment = datetime.fromtimestamp(second, UTC)
        profit = self._profit_at(state, entry, position.side, volume, position.open_price, price, second)
        state.balance = (state.balance + profit).quantize(CENT)
        order_id = state.ticket()
        remaining = position.volume - volume
        state.history.append(
            HistoryDeal(
                id=state.ticket(),
                order_id=order_id,
                position_id=position.id,
                symbol=position.symbol,
                side=position.side.opposite,
                entry=DealEntry.OUT,
                volume=volume,
                price=price,
                profit=profit,
                client_tag=position.client_tag,
                time=moment,
                reason=reason,
            )
        )
        if remaining > 0:
            position.volume = remaining
        else:
            state.positions.remove(position)
        self._emit(
            state,
            base.PositionClosed(
                time=moment,
                position_id=position.id,
                symbol=position.symbol,
                side=position.side,
                volume=volume,
                open_price=position.open_price,
                close_price=price,
                profit=profit,
                reason=reason,
                remaining_volume=max(remaining, ZERO),
                client_tag=position.client_tag,
            ),
        )
        return order_id, profit

    # ==============================================================================================
    # Validation
    # ==============================================================================================

    @staticmethod
    def reject(state: SimAccountState, mt5_code: int, message: str) -> GatewayError:
        code = codes.for_platform(state.platform, mt5_code)
        return GatewayError(
            message,
            source="mt4" if state.platform == "mt4" else "mt5",
            code=code,
            string_code=codes.code_name(state.platform, code),
        )

    def _result(
        self,
        state: SimAccountState,
        mt5_code: int,
        *,
        order_id=None,
        position_id=None,
        price=None,
        volume=None,
    ) -> TradeResult:
        code = codes.for_platform(state.platform, mt5_code)
        return TradeResult(
            order_id=order_id,
            position_id=position_id,
            price=price,
            volume=volume,
            code=code,
            string_code=codes.code_name(state.platform, code) or "",
        )

    def _entry(self, state: SimAccountState, symbol: str) -> CatalogEntry:
        entry = self.catalog(state.server).get(symbol)
        if entry is None:
            raise self.reject(state, codes.MT5_UNKNOWN_SYMBOL, f"unknown symbol {symbol!r} on {state.server}")
        return entry

    def _check_tradable(self, state: SimAccountState, entry: CatalogEntry, now: datetime) -> None:
        if not entry.trading_allowed:
            raise self.reject(state, codes.MT5_TRADE_DISABLED, f"trading is disabled for {entry.name}")
        if not base.is_session_open(entry.sessions, now):
            raise self.reject(state, codes.MT5_MARKET_CLOSED, f"market closed for {entry.name}")

    def _check_volume(self, state: SimAccountState, entry: CatalogEntry, volume: Any) -> Decimal:
        if not isinstance(volume, Decimal | int) or isinstance(volume, bool):
            raise self.reject(state, codes.MT5_INVALID_VOLUME, f"volume must be a Decimal, got {volume!r}")
        volume = Decimal(volume)
        if not volume.is_finite() or volume <= 0:
            raise self.reject(state, codes.MT5_INVALID_VOLUME, f"invalid volume {volume}")
        if volume < entry.volume_min:
            raise self.reject(
                state, codes.MT5_INVALID_VOLUME, f"volume {volume} below minimum {entry.volume_min}"
            )
        if volume > entry.volume_max:
            raise self.reject(
                state, codes.MT5_INVALID_VOLUME, f"volume {volume} above maximum {entry.volume_max}"
            )
        if not _is_multiple(volume, entry.volume_step):
            raise self.reject(
                state, codes.MT5_INVALID_VOLUME, f"volume {volume} is not a multiple of {entry.volume_step}"
            )
        return volume

    def _check_price_value(
        self, state: SimAccountState, entry: CatalogEntry, price: Any, code: int, what: str
    ):
        if price is None:
            return None
        if not isinstance(price, Decimal | int) or isinstance(price, bool):
            raise self.reject(state, code, f"{what} must be a Decimal, got {price!r}")
        price = Decimal(price)
        if not price.is_finite() or price <= 0 or not _is_multiple(price, entry.tick_size):
            raise self.reject(state, code, f"invalid {what} {price} (tick size {entry.tick_size})")
        return price

    def _check_stops(
        self, state: SimAccountState, entry: CatalogEntry, side: Side, reference: Decimal, sl: Any, tp: Any
    ) -> tuple[Decimal | None, Decimal | None]:
        sl = self._check_price_value(state, entry, sl, codes.MT5_INVALID_STOPS, "stop loss")
        tp = self._check_price_value(state, entry, tp, codes.MT5_INVALID_STOPS, "take profit")
        distance = entry.point * entry.stops_level
        if sl is not None and not ((reference - sl) * side.sign >= distance and sl != reference):
            raise self.reject(
                state,
                codes.MT5_INVALID_STOPS,
                f"stop loss {sl} on the wrong side of or too close to {reference}",
            )
        if tp is not None and not ((tp - reference) * side.sign >= distance and tp != reference):
            raise self.reject(
                state,
                codes.MT5_INVALID_STOPS,
                f"take profit {tp} on the wrong side of or too close to {reference}",
            )
        return sl, tp

    def _check_pending_price(
        self, state: SimAccountState, entry: CatalogEntry, kind: PendingOrderType, price: Any, bid, ask
    ) -> Decimal:
        if price is None:
            raise self.reject(state, codes.MT5_INVALID_PRICE, "a pending order needs a price")
        price = self._check_price_value(state, entry, price, codes.MT5_INVALID_PRICE, "price")
        distance = self._pending_distance(kind, price, bid, ask)
        if not (distance > 0 and distance >= entry.point * entry.stops_level):
            raise self.reject(
                state, codes.MT5_INVALID_PRICE, f"{kind.value} at {price} is on the wrong side of {bid}/{ask}"
            )
        return price

    @staticmethod
    def _pending_distance(kind: PendingOrderType, price: Decimal, bid: Decimal, ask: Decimal) -> Decimal:
        """How far the market is from triggering a pending order (negative: past its price)."""
        match kind:
            case PendingOrderType.BUY_LIMIT:
                return ask - price
            case PendingOrderType.SELL_LIMIT:
                return price - bid
            case PendingOrderType.BUY_STOP:
                return price - ask
            case _:
                return bid - price

    def _check_not_frozen(
        self, state: SimAccountState, entry: CatalogEntry, what: str, distances: dict[str, Decimal | None]
    ) -> None:
        """Refuse (10029) to change ``what`` while the market is within the symbol's freeze level of one
        of its current levels (``distances``: level name -> distance of the market from it)."""
        freeze = entry.point * entry.freeze_level
        for level, distance in distances.items():
            if freeze > 0 and distance is not None and distance < freeze:
                raise self.reject(
                    state,
                    codes.MT5_FROZEN,
                    f"{what} is frozen: the market is {distance} from its {level}, inside the freeze "
                    f"level of {entry.freeze_level} points",
                )

    def _check_tag(self, state: SimAccountState, tag: Any) -> None:
        if tag is None:
            return
        if not isinstance(tag, str) or not tag or len(tag) > base.MAX_CLIENT_TAG_LENGTH:
            raise self.reject(
                state, codes.MT5_INVALID, f"client tag must be 1..{base.MAX_CLIENT_TAG_LENGTH} characters"
            )

    @staticmethod
    def _find(items: list[T], item_id: str) -> T | None:
        return next((item for item in items if item.id == str(item_id)), None)

    # ==============================================================================================
    # Operations (state, now) -> result; used by the public methods and by the gateway
    # ==============================================================================================

    def op_account_information(self, state: SimAccountState, now: datetime) -> AccountInfo:
        return self._figures(state, self._second(now))

    def op_positions(self, state: SimAccountState, now: datetime) -> list[Position]:
        second = self._second(now)
        return [self._public_position(state, p, second) for p in state.positions]

    def op_orders(self, state: SimAccountState, now: datetime) -> list[PendingOrder]:
        return [self._public_order(o) for o in state.orders]

    def op_symbols(self, state: SimAccountState, now: datetime) -> list[str]:
        return self.catalog(state.server).names()

    def op_symbol_spec(self, state: SimAccountState, now: datetime, symbol: str) -> SymbolSpec:
        entry = self._entry(state, symbol)
        instrument = entry.spec_instrument
        rate = self.rate(instrument.profit_currency, state.currency, self._second(now), state.group)
        return SymbolSpec(
            name=entry.name,
            description=instrument.description,
            digits=entry.digits,
            contract_size=entry.contract_size,
            tick_size=entry.tick_size,
            tick_value=(entry.tick_size * entry.contract_size * rate).quantize(Decimal("0.00001")),
            volume_min=entry.volume_min,
            volume_max=entry.volume_max,
            volume_step=entry.volume_step,
            trading_allowed=entry.trading_allowed,
            sessions=entry.sessions,
            stops_level=entry.stops_level,
            freeze_level=entry.freeze_level,
            base_currency=instrument.base_currency,
            profit_currency=instrument.profit_currency,
            margin_currency=instrument.base_currency
            if instrument.forex_margin
            else instrument.profit_currency,
        )

    def op_price(self, state: SimAccountState, now: datetime, symbol: str) -> Price:
        return self._price(self._entry(state, symbol), self._second(now), state.group)

    def op_history_deals(
        self, state: SimAccountState, now: datetime, since: datetime, until: datetime | None = None
    ) -> list[HistoryDeal]:
        since = ensure_utc(since)
        until = ensure_utc(until) if until is not None else None
        return [d for d in state.history if d.time >= since and (until is None or d.time < until)]

    def op_find_by_client_tag(
        self, state: SimAccountState, now: datetime, tag: str, history_since: datetime | None = None
    ) -> ClientTagMatch:
        since = ensure_utc(history_since) if history_since is not None else now - self.history_window
        second = self._second(now)
        return ClientTagMatch(
            tag=tag,
            orders=tuple(self._public_order(o) for o in state.orders if o.client_tag == tag),
            positions=tuple(
                self._public_position(state, p, second) for p in state.positions if p.client_tag == tag
            ),
            deals=tuple(d for d in state.history if d.client_tag == tag and d.time >= since),
        )

    def op_place_order(self, state: SimAccountState, now: datetime, request: OrderRequest) -> TradeResult:
        if not isinstance(request, OrderRequest):
            raise self.reject(state, codes.MT5_INVALID, "place_order needs an OrderRequest")
        entry = self._entry(state, request.symbol)
        self._check_tag(state, request.client_tag)
        self._check_tradable(state, entry, now)
        volume = self._check_volume(state, entry, request.volume)
        second = self._second(now)
        bid, ask = self._bid_ask(state, entry, second)
        side = Side(request.side)
        kind = OrderKind(request.type)
        if kind is OrderKind.MARKET:
            fill = ask if side is Side.BUY else bid
            sl, tp = self._check_stops(
                state, entry, side, bid if side is Side.BUY else ask, request.sl, request.tp
            )
            required = self._margin_of(state, entry, side, volume, fill, second)
            free = self._figures(state, second).free_margin
            if required > free:
                raise self.reject(
                    state, codes.MT5_NO_MONEY, f"not enough money: margin {required} > free margin {free}"
                )
            order_id = state.ticket()
            self._open_position(
                state, entry, order_id, side, volume, fill, sl, tp, request.client_tag, second
            )
            return self._result(
                state, codes.MT5_DONE, order_id=order_id, position_id=order_id, price=fill, volume=volume
            )
        pending_type = PendingOrderType.of(side, kind)
        price = self._check_pending_price(state, entry, pending_type, request.price, bid, ask)
        sl, tp = self._check_stops(state, entry, side, price, request.sl, request.tp)
        order = SimOrder(
            id=state.ticket(),
            symbol=entry.name,
            type=pending_type,
            volume=volume,
            price=price,
            sl=sl,
            tp=tp,
            client_tag=request.client_tag,
            created_at=now,
        )
        state.orders.append(order)
        return self._result(state, codes.MT5_PLACED, order_id=order.id, price=price, volume=volume)

    def op_modify_position(
        self, state: SimAccountState, now: datetime, position_id: str, sl: Any, tp: Any
    ) -> TradeResult:
        position = self._find(state.positions, position_id)
        if position is None:
            raise self.reject(state, codes.MT5_POSITION_NOT_FOUND, f"position {position_id} not found")
        entry = self._entry(state, position.symbol)
        self._check_tradable(state, entry, now)
        bid, ask = self._bid_ask(state, entry, self._second(now))
        market = bid if position.side is Side.BUY else ask
        self._check_not_frozen(
            state,
            entry,
            f"position {position.id}",
            {
                "stop loss": None if position.sl is None else (market - position.sl) * position.side.sign,
                "take profit": None if position.tp is None else (position.tp - market) * position.side.sign,
            },
        )
        sl, tp = self._check_stops(state, entry, position.side, market, sl, tp)
        if (sl, tp) == (position.sl, position.tp):
            return self._result(state, codes.MT5_NO_CHANGES, order_id=None, position_id=position.id)
        position.sl, position.tp = sl, tp
        self._emit(
            state,
            base.PositionModified(
                time=now, position=self._public_position(state, position, self._second(now))
            ),
        )
        return self._result(state, codes.MT5_DONE, position_id=position.id)

    def op_modify_order(
        self, state: SimAccountState, now: datetime, order_id: str, price: Any, sl: Any, tp: Any
    ) -> TradeResult:
        order = self._find(state.orders, order_id)
        if order is None:
            raise self.reject(state, codes.MT5_ORDER_NOT_FOUND, f"order {order_id} not found")
        entry = self._entry(state, order.symbol)
        self._check_tradable(state, entry, now)
        bid, ask = self._bid_ask(state, entry, self._second(now))
        self._check_not_frozen(
            state,
            entry,
            f"order {order.id}",
            {"price": self._pending_distance(order.type, order.price, bid, ask)},
        )
        price = self._check_pending_price(state, entry, order.type, price, bid, ask)
        sl, tp = self._check_stops(state, entry, order.type.side, price, sl, tp)
        if (price, sl, tp) == (order.price, order.sl, order.tp):
            return self._result(
                state, codes.MT5_NO_CHANGES, order_id=order.id, price=price, volume=order.volume
            )
        order.price, order.sl, order.tp = price, sl, tp
        return self._result(state, codes.MT5_DONE, order_id=order.id, price=price, volume=order.volume)

    def op_cancel_order(self, state: SimAccountState, now: datetime, order_id: str) -> TradeResult:
        order = self._find(state.orders, order_id)
        if order is None:
            raise self.reject(state, codes.MT5_ORDER_NOT_FOUND, f"order {order_id} not found")
        entry = self._entry(state, order.symbol)
        self._check_tradable(state, entry, now)
        state.orders.remove(order)
        self._emit(
            state,
            base.OrderCancelled(
                time=now,
                order_id=order.id,
                symbol=order.symbol,
                reason="cancelled",
                client_tag=order.client_tag,
            ),
        )
        return self._result(state, codes.MT5_DONE, order_id=order.id, volume=order.volume)

    def op_close_position(
        self, state: SimAccountState, now: datetime, position_id: str, volume: Any = None
    ) -> TradeResult:
        position = self._find(state.positions, position_id)
        if position is None:
            raise self.reject(state, codes.MT5_POSITION_NOT_FOUND, f"position {position_id} not found")
        entry = self._entry(state, position.symbol)
        self._check_tradable(state, entry, now)
        if volume is None:
            volume = position.volume
        else:
            volume = self._check_volume(state, entry, volume)
            remaining = position.volume - volume
            if remaining < 0 or (0 < remaining < entry.volume_min):
                raise self.reject(
                    state,
                    codes.MT5_INVALID_VOLUME,
                    f"cannot close {volume} of {position.volume} (minimum left {entry.volume_min})",
                )
        second = self._second(now)
        bid, ask = self._bid_ask(state, entry, second)
        market = bid if position.side is Side.BUY else ask
        order_id, _profit = self._close(state, position, entry, volume, market, second, CloseReason.CLIENT)
        return self._result(
            state, codes.MT5_DONE, order_id=order_id, position_id=position.id, price=market, volume=volume
        )

    # ==============================================================================================
    # Public synchronous API (one account key per call)
    # ==============================================================================================

    def account_information(self, key: str) -> AccountInfo:
        return self._run(key, "queries", self.op_account_information)

    def positions(self, key: str) -> list[Position]:
        return self._run(key, "queries", self.op_positions)

    def orders(self, key: str) -> list[PendingOrder]:
        return self._run(key, "queries", self.op_orders)

    def symbols(self, key: str) -> list[str]:
        return self._run(key, "queries", self.op_symbols)

    def symbol_spec(self, key: str, symbol: str) -> SymbolSpec:
        return self._run(key, "queries", lambda s, n: self.op_symbol_spec(s, n, symbol))

    def price(self, key: str, symbol: str) -> Price:
        return self._run(key, "queries", lambda s, n: self.op_price(s, n, symbol))

    def history_deals(self, key: str, since: datetime, until: datetime | None = None) -> list[HistoryDeal]:
        return self._run(key, "queries", lambda s, n: self.op_history_deals(s, n, since, until))

    def find_by_client_tag(self, key: str, tag: str, history_since: datetime | None = None) -> ClientTagMatch:
        return self._run(key, "queries", lambda s, n: self.op_find_by_client_tag(s, n, tag, history_since))

    def place_order(self, key: str, request: OrderRequest) -> TradeResult:
        return self._run(key, "trading", lambda s, n: self.op_place_order(s, n, request))

    def modify_position(self, key: str, position_id: str, sl: Any, tp: Any) -> TradeResult:
        return self._run(key, "trading", lambda s, n: self.op_modify_position(s, n, position_id, sl, tp))

    def modify_order(self, key: str, order_id: str, price: Any, sl: Any, tp: Any) -> TradeResult:
        return self._run(key, "trading", lambda s, n: self.op_modify_order(s, n, order_id, price, sl, tp))

    def cancel_order(self, key: str, order_id: str) -> TradeResult:
        return self._run(key, "trading", lambda s, n: self.op_cancel_order(s, n, order_id))

    def close_position(self, key: str, position_id: str, volume: Any = None) -> TradeResult:
        return self._run(key, "trading", lambda s, n: self.op_close_position(s, n, position_id, volume))


__all__ = ["CallOutcome", "SimulatedEngine", "last_open_second", "not_connected_error", "timeout_error"]
