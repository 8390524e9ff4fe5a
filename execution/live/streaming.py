"""Streaming: each connected account's broker events, turned into database updates and live pushes.

:class:`Streamer` runs one asyncio task per streamed account (connected, or disconnected but set
up) and re-lists the accounts every ``relist_every`` seconds: new accounts start, removed (or
errored, or reconnecting) ones stop, a crashed task restarts. Between re-lists it polls the safety
state of the streamed accounts and platforms every ``safety_every`` seconds: a pause moves to
*testing* lazily, when read, and that read records the transition, which is pushed.

An account task connects the account's gateway, pushes its figures, positions and orders, then
follows ``gateway.events()`` as the account's connector says (its ``StreamDriver``: the simulated
broker is pumped, which also fires its stop losses, take profits and pending orders; MetaApi
streams by itself):

* AccountFigures -> the account's figures saved, then pushed (``account``);
* position and order events -> positions and orders read again, pushed (``positions``/``orders``);
* PriceTick of a symbol the account trades -> ``tick``; positions (live profit) read again at most
  every ``positions_every`` seconds; the whole book is read at least every ``book_every`` seconds
  anyway (a new pending order has no event of its own);
* ConnectionDown / ConnectionUp -> ``link`` down / up (the account's ``connection_state``, which
  decides whether operations are accepted, is left to the setup and its reconnect);
* every event, every book read and every pass of the loop also go to the account's observers
  (:func:`observe_streams`: position protection watches the trades on the same session).

A failed connection, an ended stream, or a link down for ``relink_after`` seconds (the gateway did
not recover by itself) is retried after the Connection retry profile's delay
(``DEFAULT_PROFILES["connection"]`` + ``next_delay``; past its retries, its maximum delay, forever).
Each account task runs its database work on the engine's pool (or, off the engine, on a thread of its
own: ``ThreadSensitiveContext``). The
book is read through the driver (the simulated broker's as its stream sees it: faults injected for
operations are left to them). The latest book and link state are cached for the sockets' snapshots.

Where it runs: in the engine of each execution worker (``execution.engine``), for the accounts homed
there, on the account's broker session (the one its operations use, ``sessions``): an account's
operations and its stream live in one process. The engine gives every streamable account a home.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.db import connections
from django.utils import timezone

from core.blocking import on_a_pool, run_blocking
from execution.accounts.models import TradingAccount
from execution.broker.connector import StreamDriver
from execution.broker.gateways.base import (
    AccountFigures,
    BrokerGateway,
    ConnectionDown,
    ConnectionUp,
    GatewayError,
    GatewayEvent,
    OrderCancelled,
    OrderFilled,
    Position,
    PositionClosed,
    PositionModified,
    PositionOpened,
    PriceTick,
)
from execution.broker.registry import connector_for, gateway_for
from execution.broker.sessions import BrokerSessions
from execution.live.events import account_data, order_data, position_data
from execution.live.publishing import push
from execution.live.snapshot import MAX_BOOK, remember_book
from execution.safety.errors import Category
from execution.safety.retry import DEFAULT_PROFILES, RetryProfile, next_delay
from execution.safety.runtime import safety

logger = logging.getLogger(__name__)

BOOK_EVENTS = (PositionOpened, PositionModified, PositionClosed, OrderFilled, OrderCancelled)


class StreamObserver(Protocol):
    """Something that follows an account's stream besides the dashboard (position protection):
    made per account task by a factory registered with :func:`observe_streams`. Its failures are
    logged and never end the stream."""

    async def on_event(self, event: GatewayEvent, gateway: BrokerGateway) -> None: ...

    def on_book(self, positions: list[Position]) -> None: ...

    async def on_idle(self, gateway: BrokerGateway) -> None: ...


ObserverFactory = Callable[[int, Callable[[], float]], StreamObserver]  # (account id, monotonic clock)
_OBSERVERS: list[ObserverFactory] = []


def observe_streams(factory: ObserverFactory) -> None:
    """Have every account stream started from now on make an observer with ``factory``."""
    if factory not in _OBSERVERS:
        _OBSERVERS.append(factory)


@dataclass(frozen=True)
class StreamConfig:
    relist_every: float = 10.0
    safety_every: float = 1.0
    pump_every: float = 1.0  # the simulated broker's streaming step
    positions_every: float = 1.0  # live profit: positions read again at most this often
    book_every: float = 5.0  # positions and orders read again at least this often
    relink_after: float = 30.0  # a link down this long: disconnect, and connect again (retry profile)

    @classmethod
    def from_settings(cls) -> "StreamConfig":
        return replace(cls(), **getattr(settings, "TTMT_LIVE_STREAM", {}))


def _streamable_accounts() -> dict[int, tuple[int, int]]:
    """account id -> (organization id, platform id) of every account to stream."""
    rows = TradingAccount.objects.filter(connection_state__in=TradingAccount.SET_UP_STATES).values_list(
        "pk", "organization_id", "platform_id"
    )
    return {pk: (organization_id, platform_id) for pk, organization_id, platform_id in rows}


def _load(account_id: int) -> TradingAccount | None:
    return (
        TradingAccount.objects.filter(pk=account_id, connection_state__in=TradingAccount.SET_UP_STATES)
        .select_related("platform", "credential")
        .first()
    )


def _poll_safety(account_ids, platform_ids) -> None:
    policies = safety()
    for account_id in account_ids:
        policies.pause.status(str(account_id))  # a lazy transition is recorded (and pushed) here
    for platform_id in platform_ids:
        policies.health.status(str(platform_id))


def _save_figures(account_id: int, info) -> TradingAccount | None:
    TradingAccount.objects.filter(pk=account_id).update(
        balance=info.balance,
        equity=info.equity,
        margin=info.margin,
        free_margin=info.free_margin,
        currency=info.currency,
        leverage=info.leverage,
        figures_at=timezone.now(),
    )
    account = TradingAccount.objects.filter(pk=account_id).first()
    if account is not None:
        push(account.organization_id, {"type": "account", "account": account_data(account)})
    return account


class Streamer:
    """``sessions``: stream on these broker sessions (shared with the operations) instead of a gateway
    of its own from ``gateway_factory``; ``serves``: which streamable accounts are this streamer's
    (default: all)."""

    def __init__(
        self,
        config: StreamConfig | None = None,
        *,
        gateway_factory: Callable[[TradingAccount], BrokerGateway] = gateway_for,
        sessions: BrokerSessions | None = None,
        serves: Callable[[int], bool] = lambda account_id: True,
        sleep: Callable[[float], Awaitable] = asyncio.sleep,
        profile: RetryProfile | None = None,
    ) -> None:
        self.config = config or StreamConfig.from_settings()
        self.gateway_factory = gateway_factory
        self.sessions = sessions
        self.serves = serves
        self.sleep = sleep
        self.profile = profile or DEFAULT_PROFILES["connection"]
        self.tasks: dict[int, asyncio.Task] = {}
        self.accounts: dict[int, tuple[int, int]] = {}
        self._relisting = asyncio.Lock()

    # -- supervision ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                await self._guarded(self.relist)
                next_relist = loop.time() + self.config.relist_every
                while not stop.is_set() and loop.time() < next_relist:
                    await self._guarded(self.poll_safety)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.config.safety_every)
        finally:
            await self.stop_all()

    async def _guarded(self, step) -> None:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:  # a locked database or a lost Redis: try again next round
            logger.exception("streaming: %s failed", step.__name__)

    async def relist(self) -> None:
        async with self._relisting:
            await self._relist()

    async def _relist(self) -> None:
        streamable = await run_blocking(_streamable_accounts)
        self.accounts = {pk: where for pk, where in streamable.items() if self.serves(pk)}
        for account_id in [pk for pk in self.tasks if pk not in self.accounts]:
            await self._stop(account_id)
        for account_id in self.accounts:
            task = self.tasks.get(account_id)
            if task is not None and task.done():
                if not task.cancelled() and task.exception() is not None:
                    logger.error("streaming of account %s crashed: %r", account_id, task.exception())
                task = None
            if task is None:
                self.tasks[account_id] = asyncio.create_task(
                    self.stream_account(account_id), name=f"stream-account-{account_id}"
                )

    async def poll_safety(self) -> None:
        if self.accounts:
            platforms = {platform_id for _, platform_id in self.accounts.values()}
            await run_blocking(_poll_safety, list(self.accounts), sorted(platforms))

    async def _stop(self, account_id: int) -> None:
        task = self.tasks.pop(account_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def stop_all(self) -> None:
        for account_id in list(self.tasks):
            await self._stop(account_id)

    # -- one account ------------------------------------------------------------------------------
    async def stream_account(self, account_id: int) -> None:
        """Follow the account until cancelled (or until it is no longer streamable)."""
        if on_a_pool():  # the engine's loop: its pool does the database work
            await self._stream_account(account_id)
            return
        async with ThreadSensitiveContext():  # this account's sync work on a thread of its own
            try:
                await self._stream_account(account_id)
            finally:  # this thread's database connection goes with it
                await run_blocking(connections.close_all)

    async def _stream_account(self, account_id: int) -> None:
        failures = 0
        while True:
            account = await run_blocking(_load, account_id)
            if account is None:
                return
            follower = _AccountStream(self, account)
            broken = True
            try:
                await follower.connect()
                failures = 0
                await follower.follow()
                reason = "the event stream ended"
            except GatewayError as error:
                reason = error.message
            except asyncio.CancelledError:
                broken = False  # stopped: a shared session stays for the operations
                raise
            except Exception as error:
                logger.exception("streaming of account %s failed", account_id)
                reason = f"{type(error).__name__}: {error}"
            finally:
                await follower.close(broken=broken)
            failures += 1
            delay = next_delay(self.profile, failures, Category.CONNECTION) or self.profile.max_delay
            await follower.link("down", f"{reason}; reconnecting in {delay:g} s")
            logger.info("streaming of account %s: %s; retry in %g s", account_id, reason, delay)
            await self.sleep(delay)


class _AccountStream:
    def __init__(self, streamer: Streamer, account: TradingAccount) -> None:
        self.streamer = streamer
        self.config = streamer.config
        self.account_id = account.pk
        self.organization_id = account.organization_id
        self.account = account
        self.driver: StreamDriver = connector_for(account.platform).stream_driver(account)
        self.gateway: BrokerGateway | None = None
        self.runner: asyncio.Task | None = None
        self.symbols: set[str] = set()
        self.positions: list[dict] | None = None
        self.orders: list[dict] | None = None
        self.positions_read_at = 0.0
        self.book_read_at = 0.0
        self.down_since: float | None = None
        self.profit_stale = False
        self.observers = [factory(account.pk, self._now) for factory in _OBSERVERS]

    async def _observe(self, call: Callable[[StreamObserver], Awaitable | None]) -> None:
        for observer in self.observers:
            try:
                result = call(observer)
                if result is not None:
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("streaming of account %s: %r failed", self.account_id, observer)

    async def connect(self) -> None:
        sessions = self.streamer.sessions
        if sessions is not None:
            self.gateway = await sessions.gateway(self.account)
            return
        self.gateway = await run_blocking(self.streamer.gateway_factory, self.account)
        await self.gateway.connect()

    async def follow(self) -> None:
        gateway = self.gateway
        stream = gateway.events()  # subscribed before the first read: nothing falls in between
        try:
            self.runner = self.driver.start(gateway, interval=self.config.pump_every)
            if self.runner is not None:
                # the pump stopping (it should not) ends the stream, and the task reconnects
                self.runner.add_done_callback(lambda _: asyncio.ensure_future(stream.aclose()))
            await self.link("up", "")
            if not self.driver.sends_figures_first:
                await self._figures(await gateway.account_information())
            await self._read_book(positions=True, orders=True)
            if self.driver.subscribes_prices and self.symbols:
                with contextlib.suppress(GatewayError):
                    await gateway.subscribe_prices(sorted(self.symbols))
            events = aiter(stream)
            wait = min(self.config.book_every, self.config.relink_after)
            while True:
                try:
                    event = await asyncio.wait_for(anext(events), wait)
                except TimeoutError:  # nothing happened: read the book anyway (a new pending order
                    event = None  # has no event of its own)
                except StopAsyncIteration:
                    return
                if event is not None:
                    await self.handle(event)
                    await self._observe(lambda observer, event=event: observer.on_event(event, gateway))
                await self._observe(lambda observer: observer.on_idle(gateway))
                if self.down_since is not None and self._now() - self.down_since >= self.config.relink_after:
                    raise GatewayError(
                        f"the broker link has been down for {self.config.relink_after:g} s",
                        source="transport",
                        string_code="not_connected",
                    )
                if self._now() - self.book_read_at >= self.config.book_every:
                    await self._read_book(positions=True, orders=True)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def close(self, *, broken: bool) -> None:
        """Stop following; a gateway of its own is disconnected, a shared session only when
        ``broken`` (the stream failed: the next use opens a new one)."""
        if self.runner is not None:
            self.runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.runner
        sessions = self.streamer.sessions
        if sessions is not None:
            if broken:
                await sessions.drop(self.account_id)
        elif self.gateway is not None:
            with contextlib.suppress(Exception):
                await self.gateway.disconnect()

    async def handle(self, event: GatewayEvent) -> None:
        if isinstance(event, AccountFigures):
            await self._figures(event.info)
        elif isinstance(event, BOOK_EVENTS):
            await self._read_book(positions=True, orders=True)
        elif isinstance(event, PriceTick):
            await self._tick(event)
        elif isinstance(event, ConnectionDown):
            if event.reason != "client":
                self.down_since = self.down_since or self._now()
                await self.link("down", event.reason or "connection lost")
        elif isinstance(event, ConnectionUp):
            self.down_since = None
            await self.link("up", "")
            await self._read_book(positions=True, orders=True)

    async def link(self, state: str, reason: str) -> None:
        link = {"state": state, "reason": reason}
        await run_blocking(remember_book, self.account_id, link=link)
        push(self.organization_id, {"type": "link", "account_id": self.account_id, **link})

    async def _figures(self, info) -> None:
        await run_blocking(_save_figures, self.account_id, info)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def _tick(self, event: PriceTick) -> None:
        price = event.price
        if price.symbol not in self.symbols:
            # the simulated broker ticks the symbols of its positions and orders: a new one is in the book
            if self._now() - self.book_read_at >= self.config.positions_every:
                await self._read_book(positions=True, orders=True)
            return
        push(
            self.organization_id,
            {
                "type": "tick",
                "account_id": self.account_id,
                "symbol": price.symbol,
                "bid": str(price.bid),
                "ask": str(price.ask),
                "time": price.time.isoformat(),
            },
        )
        self.profit_stale = bool(self.positions)
        if self.profit_stale and self._now() - self.positions_read_at >= self.config.positions_every:
            await self._read_book(positions=True, orders=False)

    async def _read_book(self, *, positions: bool, orders: bool) -> None:
        try:
            found_positions, found_orders = await self.driver.read_book(
                self.gateway, positions=positions, orders=orders
            )
        except GatewayError as error:
            logger.debug("streaming: reading the book of account %s failed: %s", self.account_id, error)
            return
        limit = MAX_BOOK
        new_positions = (
            None if found_positions is None else [position_data(p) for p in found_positions[:limit]]
        )
        new_orders = None if found_orders is None else [order_data(o) for o in found_orders[:limit]]
        if positions:
            self.positions_read_at = self._now()
            self.profit_stale = False
            await self._observe(lambda observer: observer.on_book(found_positions))
        if positions and orders:
            self.book_read_at = self._now()
        changed_positions = new_positions is not None and new_positions != self.positions
        changed_orders = new_orders is not None and new_orders != self.orders
        if changed_positions:
            self.positions = new_positions
        if changed_orders:
            self.orders = new_orders
        self.symbols = {entry["symbol"] for entry in [*(self.positions or ()), *(self.orders or ())]}
        if changed_positions or changed_orders or (positions and orders):
            # the snapshots' copy first (a browser resyncing right after the push sees this book),
            # refreshed on every full read (it expires soon after the streaming stops)
            await run_blocking(remember_book, self.account_id, positions=self.positions, orders=self.orders)
        if changed_positions:
            event = {"type": "positions", "account_id": self.account_id, "positions": self.positions}
            push(self.organization_id, event)
        if changed_orders:
            push(
                self.organization_id, {"type": "orders", "account_id": self.account_id, "orders": self.orders}
            )
