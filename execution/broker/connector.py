"""The broker seam: one connector per platform ``api``, owning what differs between venues.

A connector builds an account's gateway (the one interface the rest of the product trades
through), sets an account's connection up, says whether it is set up, reads a cheap book for the
dashboard's snapshot where the venue allows it, drives the account's event stream, and offers
fault injection and scripted market prices where the venue has them. Outside ``execution.broker``
nothing asks which venue an account is on: it asks the connector
(``execution.broker.registry.connector_for``)."""

import abc
import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from execution.accounts.models import TradingAccount
from execution.broker.gateways.base import BrokerGateway, PendingOrder, Position
from platforms.models import TradePlatform


@dataclass(frozen=True)
class ReferenceQuote:
    """A symbol's market now, as a venue knows it without a broker session: the bid, the ask, and
    the least distance of an SL, a TP or a pending price from them (the stops level, in price)."""

    bid: Decimal
    ask: Decimal
    stop_distance: Decimal


class StreamDriver:
    """How the streaming process follows one account's gateway. The defaults fit a venue that
    streams by itself (MetaApi): nothing to pump, figures read once on connect, prices
    subscribed, the book read through the gateway."""

    sends_figures_first = False  # the venue's stream starts with the account's figures
    subscribes_prices = True  # ticks need a subscription to the symbols of the book

    def start(self, gateway: BrokerGateway, *, interval: float) -> asyncio.Task | None:
        """Start what makes the gateway's events flow (a task the follower cancels), if anything."""
        return None

    async def read_book(
        self, gateway: BrokerGateway, *, positions: bool, orders: bool
    ) -> tuple[Sequence[Position] | None, Sequence[PendingOrder] | None]:
        return (
            (await gateway.positions()) if positions else None,
            (await gateway.orders()) if orders else None,
        )


class FaultInjection(abc.ABC):
    """Faults injected into a venue on purpose (latency, scripted codes, error rates,
    disconnects), per account or per trade platform."""

    @abc.abstractmethod
    def get(self, *, account: TradingAccount | None = None, platform: TradePlatform | None = None) -> Any:
        """The fault settings in force (raises ServiceError ``not_configured`` if not set up yet)."""

    @abc.abstractmethod
    def set(
        self, *, account: TradingAccount | None = None, platform: TradePlatform | None = None, **settings
    ) -> Any:
        """Replace the fault settings (fields not given: defaults); raises ServiceError."""


class MarketScripting(abc.ABC):
    """Prices scripted on purpose for every account of a trade platform: per instrument, a path of
    (time, mid) points, or a move to a price over some seconds from now."""

    @abc.abstractmethod
    def get(self, *, platform: TradePlatform) -> Mapping[str, Any]:
        """The platform's scripted paths, by instrument."""

    @abc.abstractmethod
    def set(
        self,
        *,
        platform: TradePlatform,
        instrument: str,
        points: Sequence[tuple[datetime | int, Decimal | float]] | None = None,
        move_to: Decimal | float | None = None,
        over_seconds: int | None = None,
    ) -> Any:
        """Replace the instrument's path: ``points`` (time, mid), or ``move_to`` over ``over_seconds``
        from now; raises ServiceError."""

    @abc.abstractmethod
    def clear(self, *, platform: TradePlatform, instrument: str | None = None) -> None:
        """Back to the usual prices for the instrument (None: every instrument)."""


class Connector(abc.ABC):
    api: ClassVar[str]  # the TradePlatform.api value it serves
    name: ClassVar[str]  # how a person calls the venue, in messages
    faults: FaultInjection | None = None  # None: faults cannot be injected on this venue
    market: MarketScripting | None = None  # None: prices cannot be scripted on this venue

    @abc.abstractmethod
    def gateway(self, account: TradingAccount) -> BrokerGateway:
        """A gateway for the account, on its narrow credential (never a master token)."""

    def session_key(self, account: TradingAccount) -> tuple:
        """What an open broker session of the account depends on: when it changes (another server,
        login or credential), the session is re-opened (``execution.broker.sessions``)."""
        return (account.platform_id, account.server, account.login, account.broker_account_id)

    def known_servers(self) -> Sequence[str]:
        """The trade servers this venue itself offers, when a platform lists none (empty: any)."""
        return ()

    @abc.abstractmethod
    def establish(self, *, account: TradingAccount, password: str) -> None:
        """Set the account up at the venue with its MetaTrader password (not kept afterwards)."""

    @abc.abstractmethod
    def is_established(self, account: TradingAccount) -> bool:
        """Whether the account was set up at the venue (a connection can be opened)."""

    def snapshot_book(self, account: TradingAccount) -> tuple[list[Position], list[PendingOrder]] | None:
        """The account's positions and orders when the venue can tell cheaply (without a broker
        session, and without consuming faults meant for operations); None: not known until
        streamed."""
        return None

    def reference_price(self, account: TradingAccount, symbol: str) -> Decimal | None:
        """The mid price of ``symbol`` (the account's broker symbol) now, when the venue knows one
        without a broker session (the simulator's feed); None for a venue that needs a session,
        e.g. MetaApi."""
        return None

    def reference_quote(self, account: TradingAccount, symbol: str) -> ReferenceQuote | None:
        """The bid/ask of ``symbol`` (the account's broker symbol) now with its stops level, when the
        venue knows them without a broker session; None otherwise (then an order is judged without
        a price)."""
        return None

    def stream_driver(self, account: TradingAccount) -> StreamDriver:
        return StreamDriver()
