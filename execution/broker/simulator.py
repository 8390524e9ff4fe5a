"""The simulated broker's connector: the simulator as the product runs it.

Its state lives in the database, shared by every process through
:class:`~execution.broker.simulator_store.DatabaseStateStore` (row lock per key), with one engine
per process; prices need no sharing (the feed is a function of seed, symbol and second) but for
the market paths scripted per trade platform, which live in the database too. Setting an account
up opens it at the simulated broker; faults can be injected per account or per trade platform;
the streaming process pumps the simulator.
"""

import asyncio
import dataclasses
import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache

from django.conf import settings

from core.blocking import run_blocking
from core.errors import ServiceError
from execution.accounts.models import TradingAccount
from execution.broker.connector import (
    Connector,
    FaultInjection,
    MarketScripting,
    ReferenceQuote,
    StreamDriver,
)
from execution.broker.gateways.base import BrokerGateway, PendingOrder, Position
from execution.broker.gateways.simulated import (
    CATALOGS,
    INSTRUMENTS,
    FaultSettings,
    PricePath,
    SimulatedEngine,
    SimulatedGateway,
    account_scope,
    platform_scope,
)
from execution.broker.simulator_store import DatabaseStateStore
from platforms.models import TradePlatform

SIMULATED_SERVERS = tuple(sorted(CATALOGS))


@cache
def engine() -> SimulatedEngine:
    """This process's engine over the shared database state."""
    return SimulatedEngine(DatabaseStateStore(), seed=settings.TTMT_SIMULATOR_SEED)


def account_key(account_id: int) -> str:
    return f"account-{account_id}"


def simulated_fault_group(platform: TradePlatform) -> str:
    """Platform-wide simulated faults and market paths are set per trade platform."""
    return f"tp{platform.pk}"


def open_simulated_account(account: TradingAccount) -> None:
    """Create the account at the simulated broker (idempotent: an existing one is kept)."""
    engine().open_account(
        account_key(account.pk),
        server=account.server,
        balance=Decimal(settings.TTMT_SIMULATOR_BALANCE[account.type]),
        leverage=100,
        currency="USD",
        platform=account.platform.type,
        fault_group=simulated_fault_group(account.platform),
    )


def _on_the_callers_thread(function):
    """The engine's store is the ORM: run it on the engine loop's pool, or on the thread (and database
    connection) of the sync caller of async_to_sync (``core.blocking``)."""
    return run_blocking(function)


def stream_book(key: str) -> tuple[list[Position], list[PendingOrder]]:
    """A simulated account's positions and orders, read as its event stream sees them: injected
    faults meant for operations (scripted errors, error rates) are not consumed by this read."""

    def read(state, now):
        simulator = engine()
        return simulator.op_positions(state, now), simulator.op_orders(state, now)

    return engine().call(key, "stream", read).unwrap()


FAULT_FIELDS = frozenset(field.name for field in dataclasses.fields(FaultSettings))


def _not_set_up() -> ServiceError:
    return ServiceError("The account is not set up at the simulated broker yet.", code="not_configured")


class SimulatedFaults(FaultInjection):
    @staticmethod
    def _scope(*, account: TradingAccount | None, platform: TradePlatform | None) -> str:
        if account is not None:
            return account_scope(account_key(account.pk))
        return platform_scope(simulated_fault_group(platform))

    def get(self, *, account: TradingAccount | None = None, platform: TradePlatform | None = None):
        try:
            return engine().get_faults(self._scope(account=account, platform=platform))
        except KeyError:
            raise _not_set_up() from None

    def set(
        self, *, account: TradingAccount | None = None, platform: TradePlatform | None = None, **settings
    ) -> FaultSettings:
        unknown = set(settings) - FAULT_FIELDS
        if unknown:
            raise ServiceError(f"Unknown fault settings: {', '.join(sorted(unknown))}.")
        try:
            faults = FaultSettings(**settings)
            engine().set_faults(self._scope(account=account, platform=platform), faults)
        except ValueError as error:
            raise ServiceError(str(error)) from None
        except KeyError:
            raise _not_set_up() from None
        return faults


def _unix_second(moment: datetime | int) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError(f"give the time of a point with its time zone: {moment.isoformat()}")
        return math.floor(moment.timestamp())
    return moment


class SimulatedMarket(MarketScripting):
    """Market paths per trade platform: every account of the platform trades at the path's prices."""

    def get(self, *, platform: TradePlatform) -> dict[str, PricePath]:
        return engine().paths(simulated_fault_group(platform))

    def set(
        self,
        *,
        platform: TradePlatform,
        instrument: str,
        points: Sequence[tuple[datetime | int, Decimal | float]] | None = None,
        move_to: Decimal | float | None = None,
        over_seconds: int | None = None,
    ) -> PricePath:
        if instrument not in INSTRUMENTS:
            raise ServiceError(
                f"Unknown instrument {instrument!r}: one of {', '.join(sorted(INSTRUMENTS))}.",
                field="instrument",
            )
        if (points is None) == (move_to is None):
            raise ServiceError("Give either points or move_to (with over_seconds).")
        if move_to is not None and over_seconds is None:
            raise ServiceError("Give over_seconds with move_to (0: at once).", field="over_seconds")
        simulator, group = engine(), simulated_fault_group(platform)
        try:
            if points is not None:
                path = PricePath.of((_unix_second(at), price) for at, price in points)
            else:
                path = PricePath.move(
                    start=math.floor(simulator.clock().timestamp()),
                    from_price=simulator.market_mid(group, instrument),
                    to_price=float(move_to),
                    over_seconds=over_seconds,
                )
        except ValueError as error:
            message = str(error)
            raise ServiceError(
                f"{message[:1].upper()}{message[1:]}.", field="points" if points is not None else "move_to"
            ) from None
        simulator.set_path(group, instrument, path)
        return path

    def clear(self, *, platform: TradePlatform, instrument: str | None = None) -> None:
        engine().clear_path(simulated_fault_group(platform), instrument)


class _SimulatorDriver(StreamDriver):
    """The simulator does not stream by itself: its pump (``SimulatedGateway.run``) steps the
    engine (stop losses, take profits, pending orders) and emits events, figures first. Its book
    is read as the stream sees it."""

    sends_figures_first = True
    subscribes_prices = False  # it ticks the symbols of the book by itself

    def __init__(self, account: TradingAccount) -> None:
        self.key = account_key(account.pk)

    def start(self, gateway: BrokerGateway, *, interval: float) -> asyncio.Task:
        return asyncio.create_task(gateway.run(interval=interval))

    async def read_book(self, gateway: BrokerGateway, *, positions: bool, orders: bool):
        found_positions, found_orders = await run_blocking(stream_book, self.key)
        return (found_positions if positions else None), (found_orders if orders else None)


class SimulatedConnector(Connector):
    api = TradePlatform.SIMULATED
    name = "simulated broker"
    faults = SimulatedFaults()
    market = SimulatedMarket()

    def gateway(self, account: TradingAccount) -> SimulatedGateway:
        return SimulatedGateway(
            engine(),
            account_key(account.pk),
            server=account.server,
            platform=account.platform.type,
            run_sync=_on_the_callers_thread,
        )

    def known_servers(self) -> tuple[str, ...]:
        return SIMULATED_SERVERS

    def establish(self, *, account: TradingAccount, password: str) -> None:
        open_simulated_account(account)

    def is_established(self, account: TradingAccount) -> bool:
        return engine().load_account(account_key(account.pk)) is not None

    def snapshot_book(self, account: TradingAccount) -> tuple[list[Position], list[PendingOrder]]:
        return stream_book(account_key(account.pk))

    def reference_price(self, account: TradingAccount, symbol: str) -> Decimal | None:
        """The mid the account trades at on its server: the feed's, or its platform's market path
        (market data: no account state, no faults)."""
        try:
            price = engine().quote(account.server, symbol, group=simulated_fault_group(account.platform))
        except KeyError:  # not a symbol of that server
            return None
        return (price.bid + price.ask) / 2

    def reference_quote(self, account: TradingAccount, symbol: str) -> ReferenceQuote | None:
        """The quote the account trades at on its server (as ``reference_price``), with the symbol's
        stops level from the server's catalog."""
        simulator = engine()
        try:
            entry = simulator.catalog(account.server).entries[symbol]
        except KeyError:  # not a server or a symbol of the simulator
            return None
        price = simulator.quote(account.server, symbol, group=simulated_fault_group(account.platform))
        return ReferenceQuote(bid=price.bid, ask=price.ask, stop_distance=entry.point * entry.stops_level)

    def stream_driver(self, account: TradingAccount) -> StreamDriver:
        return _SimulatorDriver(account)
