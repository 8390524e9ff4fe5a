"""``MetaApiGateway``: the :class:`BrokerGateway` of one MetaApi account (the execution path).

It is built from the account's own narrowed token and the MetaApi account id, never from the master
token (there is no parameter for it, and a token whose access rules are not restricted to resources is
refused unless ``allow_unrestricted_token`` says otherwise, for the smoke test).

A session (``connect()`` ... ``disconnect()``) is one SDK ``MetaApi`` object (the SDK's objects are per
token, and each account has its own token: one per account session and process), and one RPC
connection, kept for every query and trade until ``disconnect()``. No streaming connection is opened
and no history is downloaded unless something consumes streaming: ``events()``, ``subscribe_prices()``
or :meth:`MetaApiGateway.open_streaming` open it (once per session), with a history storage that keeps
nothing on disk and a history start at the streaming connection itself. While it is opening, calls wait
for it, so that what follows ``events()`` is seen by the stream.

* Before every RPC call the SDK's own state must show a MetaApi server instance connected for the account
  (``sdk.rpc_link_up``; the SDK would otherwise wait without limit); it is given ``ready_timeout`` seconds,
  then the call fails with transport 'not_connected' (CONNECTION) saying that nothing was sent.
* The SDK is told not to retry or sleep inside a call (``sdk.EXECUTION_RETRY_OPTS``): a 429 leaves at once
  as 'http_429' (RATE_LIMITED) with the broker's retry time.
* Everything the SDK starts on the loop during the session is owned by a
  :class:`~execution.broker.gateways.metaapi.tasks.TaskScope`; ``disconnect()`` (and a failed or cancelled
  ``connect()``) lets the SDK's closes run for at most ``close_timeout`` seconds, then cancels and awaits
  the rest: nothing of the session stays pending on the loop.
* Every failure leaves as :class:`GatewayError` (see :mod:`execution.broker.gateways.metaapi.errors`).
* Client tags are MetaApi ``clientId`` trade options (at most 26 characters), found again by ``clientId``
  in open orders, open positions and history deals (closing deals inherit the tag of the deal that opened
  their position). A history answer MetaApi flags as still synchronizing is refused
  (``not_synchronized``) rather than trusted as complete.
* MetaApi's trade response has no price or volume: after a market fill or a close they are read from the
  position's deals (then the position); if that fails the trade still succeeded and ``price`` / ``volume``
  are None (the result never turns a done trade into an error).
* Symbol sessions come in broker time; they are moved to UTC with the broker's offset read from
  ``get_server_time()`` (refreshed hourly). ``tick_value`` is the price's ``profitTickValue``.
* ``modify_position`` / ``modify_order`` send 0 for a level that is None (MetaTrader: 0 = no level).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from execution.broker.gateways import codes
from execution.broker.gateways.base import (
    MAX_CLIENT_TAG_LENGTH,
    AccountInfo,
    BrokerGateway,
    ClientTagMatch,
    ConnectionDown,
    DealEntry,
    GatewayError,
    HistoryDeal,
    OrderKind,
    OrderRequest,
    PendingOrder,
    Platform,
    Position,
    Price,
    Side,
    SymbolSpec,
    TradeResult,
)
from execution.broker.gateways.metaapi import convert, sdk
from execution.broker.gateways.metaapi.errors import platform_code, translate_exception
from execution.broker.gateways.metaapi.events import EventHub, EventStream, MetaApiEventListener
from execution.broker.gateways.metaapi.tasks import TaskScope

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

DEAL_PAGE = 1000
MAX_DEAL_PAGES = 100
OFFSET_REFRESH = timedelta(hours=1)
#: ``until=None`` asks MetaApi for deals up to now plus this (broker clocks run ahead of ours).
HISTORY_END_SLACK = timedelta(days=1)
#: How often the SDK's RPC state is looked at while ``ready_timeout`` runs.
READY_POLL = 0.05
#: What a cancelled ``connect()`` gives the SDK's closes before cancelling them.
CANCEL_GRACE = 0.5

_ORDER_METHODS = {
    (OrderKind.MARKET, Side.BUY): "create_market_buy_order",
    (OrderKind.MARKET, Side.SELL): "create_market_sell_order",
    (OrderKind.LIMIT, Side.BUY): "create_limit_buy_order",
    (OrderKind.LIMIT, Side.SELL): "create_limit_sell_order",
    (OrderKind.STOP, Side.BUY): "create_stop_buy_order",
    (OrderKind.STOP, Side.SELL): "create_stop_sell_order",
}
#: The RPC methods that send a trade request (the others only read).
TRADE_METHODS = frozenset(
    {
        *_ORDER_METHODS.values(),
        "modify_position",
        "modify_order",
        "cancel_order",
        "close_position",
        "close_position_partially",
    }
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _validation(message: str) -> GatewayError:
    return GatewayError(message, source="transport", string_code="validation")


def _not_connected(message: str = "MetaApi gateway is not connected (call connect() first)") -> GatewayError:
    return GatewayError(message, source="transport", string_code="not_connected")


def token_is_unrestricted(token: str) -> bool:
    """True for a JWT whose access rules all allow every resource ('*:$USER_ID$:*' style): a master token.

    Account tokens (not JWTs) and tokens that cannot be read are not called unrestricted."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
        rules = payload["accessRules"]
        resources = [resource for rule in rules for resource in rule.get("resources", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    if not resources:
        return False
    return all(re.match(r"^\*:\S*:\*$", str(resource)) for resource in resources)


def _float(value: Decimal | None) -> float | None:
    if value is None:
        return None
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise _validation(f"expected a Decimal, got {value!r}")
    return float(value)


def _level(value: Decimal | None) -> float:
    """SL/TP for a modification: 0 removes the level."""
    return 0.0 if value is None else float(_float(value))


def _vwap(items: list[HistoryDeal]) -> tuple[Decimal, Decimal]:
    volume = sum((d.volume for d in items), Decimal(0))
    if len(items) == 1 or not volume:
        return items[0].price, volume
    return sum((d.price * d.volume for d in items), Decimal(0)) / volume, volume


def _cancelled_from_outside() -> bool:
    """Whether the current task is being cancelled (and not merely handed a cancelled SDK future)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


class MetaApiGateway(BrokerGateway):
    """One MetaApi account.

    ``token``: the account's narrowed token (per-account JWT or account token). ``account_id``: the
    MetaApi account id. ``platform``: expected 'mt4'/'mt5' (the account's own version wins once connected).
    ``api_factory``: builds the SDK ``MetaApi`` object (tests pass stand-ins). ``domain`` / ``region`` /
    ``sdk_extra``: MetaApi options (``sdk_extra`` wins, ``retryOpts`` included). ``connect_timeout``: bound
    of ``connect()`` and of opening streaming; ``request_timeout``: bound of each call; ``ready_timeout``:
    how long a call waits for the SDK to have a server connected for the account before failing as
    'not_connected' (nothing sent); ``close_timeout``: how long teardown lets the SDK's closes run.
    ``history_window``: ``find_by_client_tag``'s default look-back. ``streaming``: whether events may be
    streamed at all (opened lazily). ``open_grace``: how long a new position waits for its deal before
    PositionOpened is published alone. ``clock``: aware UTC now.
    """

    def __init__(
        self,
        token: str,
        account_id: str,
        *,
        platform: Platform | None = None,
        domain: str | None = None,
        region: str | None = None,
        api_factory: sdk.ApiFactory | None = None,
        sdk_extra: Mapping[str, Any] | None = None,
        connect_timeout: float = 120.0,
        request_timeout: float = 60.0,
        ready_timeout: float = 2.0,
        close_timeout: float = 5.0,
        history_window: timedelta = timedelta(days=1),
        open_grace: float = 1.0,
        streaming: bool = True,
        max_queue: int = 10000,
        clock: Clock = utc_now,
        allow_unrestricted_token: bool = False,
    ) -> None:
        if not token or not isinstance(token, str):
            raise ValueError("a MetaApi account token is required")
        if not account_id:
            raise ValueError("a MetaApi account id is required")
        if not allow_unrestricted_token and token_is_unrestricted(token):
            raise ValueError(
                "refusing an unrestricted MetaApi token: the execution path takes the account's own token"
            )
        if platform not in (None, "mt4", "mt5"):
            raise ValueError("platform must be 'mt4' or 'mt5'")
        self._token = token
        self.account_id = str(account_id)
        self._expected_platform: Platform | None = platform
        self._platform: Platform = platform or "mt5"
        self._options = sdk.sdk_options(
            domain=domain,
            region=region,
            request_timeout=request_timeout,
            retry_opts=sdk.EXECUTION_RETRY_OPTS,
            extra=sdk_extra,
        )
        self._api_factory = api_factory or sdk.default_api_factory
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.ready_timeout = ready_timeout
        self.close_timeout = close_timeout
        self.history_window = history_window
        self.open_grace = open_grace
        self.streaming_enabled = streaming
        self._clock = clock
        self._hub = EventHub(max_queue)
        self._lock = asyncio.Lock()
        self._connected = False
        self._scope: TaskScope | None = None
        self._api: Any = None
        self._account: Any = None
        self._rpc: Any = None
        self._streaming: Any = None
        self._streaming_task: asyncio.Task | None = None
        self._listener: MetaApiEventListener | None = None
        self._offset: tuple[int, datetime] | None = None

    def __repr__(self) -> str:  # never shows the token
        return f"MetaApiGateway(account_id={self.account_id!r}, platform={self._platform!r})"

    @property
    def platform(self) -> Platform:
        return self._platform

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def streaming_open(self) -> bool:
        """Whether this session has a synchronized streaming connection."""
        task = self._streaming_task
        return task is not None and task.done() and not task.cancelled() and task.exception() is None

    # -- plumbing ---------------------------------------------------------------------------------

    def _error(self, exc: BaseException) -> GatewayError:
        error = translate_exception(exc, platform=self._platform, now=self._clock())
        if self._token in error.message:  # never carry the token on (the SDK puts it in socket URLs)
            error = GatewayError(
                error.message.replace(self._token, "***"),
                source=error.source,
                code=error.code,
                string_code=error.string_code,
                retry_after=error.retry_after,
            )
        return error

    def _require_rpc(self) -> Any:
        if not self._connected or self._rpc is None:
            raise _not_connected()
        return self._rpc

    def _in_scope(self):
        return self._scope.active() if self._scope is not None else contextlib.nullcontext()

    async def _streaming_settled(self) -> None:
        """A streaming connection being opened is waited for (what follows ``events()`` is streamed)."""
        task = self._streaming_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            await asyncio.wait({task})  # neither cancels it nor raises its error

    async def _ensure_link(self, rpc: Any, name: str) -> None:
        """The SDK must have a MetaApi server connected for the account (or the call would wait without
        limit inside it): given ``ready_timeout`` seconds, else 'not_connected', nothing sent."""
        state = sdk.rpc_link_up(rpc)
        if state:
            return
        if state is None:  # the connection object does not tell: ask the SDK itself, bounded
            try:
                async with asyncio.timeout(self.ready_timeout):
                    await rpc.wait_synchronized(timeout_in_seconds=self.ready_timeout)
                return
            except Exception as exc:  # its timeout, or ours
                logger.debug("MetaApi wait_synchronized before %s failed: %s", name, type(exc).__name__)
        else:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.ready_timeout
            while loop.time() < deadline:
                await asyncio.sleep(READY_POLL)
                if sdk.rpc_link_up(rpc):
                    return
        what = "trade request" if name in TRADE_METHODS else "request"
        raise _not_connected(
            f"MetaApi has no server connected for account {self.account_id} (its RPC connection is not "
            f"synchronized after {self.ready_timeout:g} s): the {what} {name} was not sent"
        )

    async def _call(self, name: str, *args: Any) -> Any:
        """One RPC call, bounded by ``request_timeout``; any failure leaves as GatewayError."""
        self._require_rpc()
        await self._streaming_settled()
        rpc = self._require_rpc()
        with self._in_scope():
            await self._ensure_link(rpc, name)
            try:
                async with asyncio.timeout(self.request_timeout):
                    return await getattr(rpc, name)(*args)
            except GatewayError:
                raise
            except asyncio.CancelledError:
                if _cancelled_from_outside():
                    raise
                # a cancelled future of the SDK (not a cancellation of this call): the link is gone
                raise GatewayError(
                    f"MetaApi {name} was abandoned by the SDK (its wait was cancelled)",
                    source="transport",
                    string_code="connection_lost" if name in TRADE_METHODS else "not_connected",
                ) from None
            except Exception as exc:
                raise self._error(exc) from exc

    def _convert(self, function: Callable[..., Any], *args: Any) -> Any:
        try:
            return function(*args)
        except GatewayError:
            raise
        except Exception as exc:
            raise GatewayError(
                f"unexpected MetaApi data: {type(exc).__name__}: {exc}",
                source="transport",
                string_code="internal",
            ) from exc

    # -- connection -------------------------------------------------------------------------------

    async def connect(self) -> None:
        async with self._lock:
            if self._connected:
                return
            self._scope = TaskScope(f"account {self.account_id}")
            try:
                with self._scope.active():
                    async with asyncio.timeout(self.connect_timeout):
                        await self._open()
            except asyncio.CancelledError:
                await self._teardown(grace=min(self.close_timeout, CANCEL_GRACE))
                raise
            except Exception as exc:
                await self._teardown(grace=self.close_timeout)
                raise self._error(exc) from exc
            self._connected = True

    async def _open(self) -> None:
        self._api = self._api_factory(self._token, self._options)
        self._account = await self._api.metatrader_account_api.get_account(self.account_id)
        state = getattr(self._account, "state", None)
        if state not in (None, "DEPLOYED", "DEPLOYING"):
            raise _not_connected(
                f"MetaApi account {self.account_id} is {state}: it must be deployed by the setup"
            )
        await self._account.wait_connected(timeout_in_seconds=self.connect_timeout)
        self._rpc = self._account.get_rpc_connection()
        await self._rpc.connect()
        await self._rpc.wait_synchronized(timeout_in_seconds=self.connect_timeout)
        self._platform = await self._detect_platform()

    async def _detect_platform(self) -> Platform:
        version = None
        with contextlib.suppress(AttributeError, KeyError):  # the SDK raises KeyError without a version
            version = self._account.version
        if version in (4, 5, "4", "5"):
            platform: Platform = "mt4" if str(version) == "4" else "mt5"
        else:
            info = await self._rpc.get_account_information()
            platform = "mt4" if str(info.get("platform", "")).lower() == "mt4" else "mt5"
        if self._expected_platform and platform != self._expected_platform:
            logger.warning(
                "MetaApi account %s is %s, configured as %s: using %s codes",
                self.account_id,
                platform,
                self._expected_platform,
                platform,
            )
        return platform

    async def _close_streaming(self) -> None:
        """Stop listening and start the streaming connection's close (a closer of the scope)."""
        listener, streaming = self._listener, self._streaming
        self._listener = self._streaming = None
        if listener is not None:
            listener.close()
        if streaming is None or self._scope is None:
            return
        if listener is not None:
            with contextlib.suppress(Exception):
                streaming.remove_synchronization_listener(listener)
        self._scope.start(streaming.close(), name=f"metaapi-close-streaming-{self.account_id}", closing=True)

    async def _teardown(self, *, grace: float) -> None:
        """Close what the session opened, then stop every task the SDK started for it."""
        scope, rpc, api, task = self._scope, self._rpc, self._api, self._streaming_task
        self._rpc = self._api = self._account = self._streaming_task = None
        self._offset = None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task}, timeout=grace)
        await self._close_streaming()
        if scope is None:
            return
        if rpc is not None:
            scope.start(rpc.close(), name=f"metaapi-close-rpc-{self.account_id}", closing=True)
        if api is not None:
            scope.collect(sdk.close_api, api)
        await scope.close(grace=grace)
        self._scope = None

    async def disconnect(self) -> None:
        async with self._lock:
            if not self._connected:
                return
            self._connected = False
            self._hub.publish(ConnectionDown(time=self._clock(), reason="client"))
            self._hub.finish_all()
            await self._teardown(grace=self.close_timeout)

    # -- streaming (opened lazily) ----------------------------------------------------------------

    def _start_streaming(self) -> asyncio.Task | None:
        if not (self._connected and self.streaming_enabled and self._scope is not None):
            return None
        if self._streaming_task is None:
            self._streaming_task = self._scope.start(
                self._open_streaming(), name=f"metaapi-streaming-{self.account_id}"
            )
        return self._streaming_task

    async def _open_streaming(self) -> None:
        try:
            async with asyncio.timeout(self.connect_timeout):
                listener = MetaApiEventListener(
                    self._hub.publish, clock=self._clock, since=self._clock(), open_grace=self.open_grace
                )
                self._listener = listener
                self._streaming = self._account.get_streaming_connection(
                    sdk.RecentHistoryStorage(), listener.history_start
                )
                self._streaming.add_synchronization_listener(listener)
                await self._streaming.connect()
                await self._streaming.wait_synchronized({"timeoutInSeconds": self.connect_timeout})
            listener.seed_positions(await self._call("get_positions"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = self._error(exc)
            logger.info("MetaApi streaming of account %s could not open: %s", self.account_id, error)
            await self._close_streaming()  # its close runs on as a closer of the scope
            self._streaming_task = None  # the next events() / subscribe_prices() tries again
            self._hub.publish(ConnectionDown(time=self._clock(), reason=f"streaming failed: {error.message}"))
            self._hub.finish_all()
            raise error from exc

    async def open_streaming(self) -> None:
        """Open the streaming connection now (``events()`` and ``subscribe_prices()`` open it lazily) and
        return once it is synchronized. Raises GatewayError."""
        self._require_rpc()
        if not self.streaming_enabled:
            raise _not_connected("streaming is disabled for this gateway")
        task = self._start_streaming()
        if task is None:
            raise _not_connected()
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if _cancelled_from_outside():
                raise
            raise _not_connected("the session was closed while its streaming connection opened") from None

    # -- queries ----------------------------------------------------------------------------------

    async def account_information(self) -> AccountInfo:
        return self._convert(convert.account_info, await self._call("get_account_information"))

    async def positions(self) -> list[Position]:
        return self._convert(
            lambda items: [convert.position(p) for p in items or ()], await self._call("get_positions")
        )

    async def orders(self) -> list[PendingOrder]:
        items = await self._call("get_orders")
        converted = self._convert(lambda: [convert.pending_order(o) for o in items or ()])
        return [order for order in converted if order is not None]

    async def symbols(self) -> list[str]:
        names = await self._call("get_symbols")
        return list(dict.fromkeys(str(name) for name in names or () if name))

    async def symbol_spec(self, symbol: str) -> SymbolSpec:
        spec = await self._call("get_symbol_specification", symbol)
        if not spec:
            raise GatewayError(
                f"no specification for {symbol!r}", source="transport", string_code="not_found"
            )
        quote = await self._call("get_symbol_price", symbol)
        offset = await self._broker_offset()
        return self._convert(convert.symbol_spec, spec, quote, offset)

    async def _broker_offset(self) -> int:
        now = self._clock()
        if self._offset is None or now - self._offset[1] > OFFSET_REFRESH:
            server_time = await self._call("get_server_time")
            self._offset = (self._convert(convert.broker_offset_minutes, server_time), now)
        return self._offset[0]

    async def price(self, symbol: str) -> Price:
        quote = await self._call("get_symbol_price", symbol)
        if not quote:
            raise GatewayError(f"no price for {symbol!r}", source="transport", string_code="not_found")
        return self._convert(convert.price, quote, symbol)

    async def _raw_deals(self, since: datetime, until: datetime) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = []
        for page in range(MAX_DEAL_PAGES):
            answer = await self._call("get_deals_by_time_range", since, until, page * DEAL_PAGE, DEAL_PAGE)
            if answer.get("synchronizing"):
                raise GatewayError(
                    "MetaApi is still synchronizing the account history: the answer may be incomplete",
                    source="transport",
                    string_code="not_synchronized",
                )
            batch = list(answer.get("deals") or ())
            items.extend(batch)
            if len(batch) < DEAL_PAGE:
                break
        return items

    async def history_deals(self, since: datetime, until: datetime | None = None) -> list[HistoryDeal]:
        since = convert.utc(since)
        end = convert.utc(until) if until is not None else self._clock() + HISTORY_END_SLACK
        raw = await self._raw_deals(since, end)
        result = self._convert(convert.deals, raw)
        return [d for d in result if since <= d.time and (until is None or d.time < end)]

    async def find_by_client_tag(self, tag: str, *, history_since: datetime | None = None) -> ClientTagMatch:
        since = (
            convert.utc(history_since) if history_since is not None else self._clock() - self.history_window
        )
        orders = [o for o in await self.orders() if o.client_tag == tag]
        positions = [p for p in await self.positions() if p.client_tag == tag]
        known = {p.id: tag for p in positions}
        raw = await self._raw_deals(since, self._clock() + HISTORY_END_SLACK)
        deals = self._convert(lambda: convert.inherit_tags(convert.deals(raw), known))
        return ClientTagMatch(
            tag=tag,
            orders=tuple(orders),
            positions=tuple(positions),
            deals=tuple(d for d in deals if d.client_tag == tag and d.time >= since),
        )

    # -- trading ----------------------------------------------------------------------------------

    def _result(
        self, response: Any, *, price: Decimal | None = None, volume: Decimal | None = None
    ) -> TradeResult:
        response = response or {}
        _source, code, string_code = platform_code(
            self._platform, response.get("numericCode"), response.get("stringCode")
        )
        if self._platform == "mt5" and code in (None, 0):  # ERR_NO_ERROR on an MT5 account
            code, string_code = codes.MT5_DONE, codes.MT5_NAMES[codes.MT5_DONE]
        elif code is None:
            code, string_code = 0, "ERR_NO_ERROR"
        return TradeResult(
            order_id=convert.ident(response.get("orderId")),
            position_id=convert.ident(response.get("positionId")),
            price=price,
            volume=volume,
            code=code,
            string_code=string_code,
            message=str(response.get("message") or ""),
        )

    @staticmethod
    def _check_tag(tag: str | None) -> None:
        if tag is None:
            return
        if not isinstance(tag, str) or not tag or len(tag) > MAX_CLIENT_TAG_LENGTH:
            raise _validation(f"client tag must be 1..{MAX_CLIENT_TAG_LENGTH} characters")

    async def place_order(self, request: OrderRequest) -> TradeResult:
        if not isinstance(request, OrderRequest):
            raise _validation("place_order needs an OrderRequest")
        self._check_tag(request.client_tag)
        try:
            kind, side = OrderKind(request.type), Side(request.side)
        except ValueError as exc:
            raise _validation(str(exc)) from exc
        options = {"clientId": request.client_tag} if request.client_tag else None
        volume, sl, tp = _float(request.volume), _float(request.sl), _float(request.tp)
        method = _ORDER_METHODS[(kind, side)]
        if kind is OrderKind.MARKET:
            response = await self._call(method, request.symbol, volume, sl, tp, options)
            result = self._result(response)
            price, filled = await self._fill_details(result.position_id, result.order_id, DealEntry.IN)
            if filled is None and result.code in (codes.MT5_DONE, 0):
                filled = request.volume
            return dataclasses.replace(result, price=price, volume=filled)
        if request.price is None:
            raise _validation(f"a {kind.value} order needs a price")
        response = await self._call(method, request.symbol, volume, _float(request.price), sl, tp, options)
        return self._result(response, price=request.price, volume=request.volume)

    async def _fill_details(
        self, position_id: str | None, order_id: str | None, entry: DealEntry
    ) -> tuple[Decimal | None, Decimal | None]:
        """Price and volume of the deals ``order_id`` made on ``position_id``; never raises."""
        if not position_id:
            return None, None
        try:
            answer = await self._call("get_deals_by_position", position_id)
            found = [
                d
                for d in convert.deals((answer or {}).get("deals") or ())
                if d.entry is entry and (order_id is None or d.order_id == order_id)
            ]
            if found:
                return _vwap(found)
        except Exception as exc:  # the trade is done: missing details must not turn it into an error
            logger.info("MetaApi deals of position %s unavailable: %s", position_id, exc)
        if entry is DealEntry.IN:  # a fresh hedging position: its open price and volume are the fill's
            try:
                raw = await self._call("get_position", position_id)
                if raw:
                    opened = convert.position(raw)
                    return opened.open_price, opened.volume
            except Exception as exc:
                logger.info("MetaApi position %s unavailable: %s", position_id, exc)
        return None, None

    async def modify_position(self, position_id: str, sl: Decimal | None, tp: Decimal | None) -> TradeResult:
        response = await self._call("modify_position", str(position_id), _level(sl), _level(tp))
        result = self._result(response)
        if result.position_id is None:
            result = dataclasses.replace(result, position_id=str(position_id))
        return result

    async def modify_order(
        self, order_id: str, price: Decimal, sl: Decimal | None, tp: Decimal | None
    ) -> TradeResult:
        response = await self._call("modify_order", str(order_id), _float(price), _level(sl), _level(tp))
        result = self._result(response, price=price)
        if result.order_id is None:
            result = dataclasses.replace(result, order_id=str(order_id))
        return result

    async def cancel_order(self, order_id: str) -> TradeResult:
        result = self._result(await self._call("cancel_order", str(order_id)))
        if result.order_id is None:
            result = dataclasses.replace(result, order_id=str(order_id))
        return result

    async def close_position(self, position_id: str, volume: Decimal | None = None) -> TradeResult:
        position_id = str(position_id)
        if volume is None:
            response = await self._call("close_position", position_id)
        else:
            response = await self._call("close_position_partially", position_id, _float(volume))
        result = self._result(response)
        price, closed = await self._fill_details(position_id, result.order_id, DealEntry.OUT)
        if closed is None and volume is not None:
            closed = volume
        return dataclasses.replace(
            result, position_id=result.position_id or position_id, price=price, volume=closed
        )

    # -- streaming --------------------------------------------------------------------------------

    async def subscribe_prices(self, symbols: Sequence[str]) -> None:
        await self.open_streaming()
        for symbol in symbols:
            streaming = self._streaming
            if streaming is None:
                raise _not_connected("the streaming connection is gone")
            try:
                with self._in_scope():
                    async with asyncio.timeout(self.request_timeout):
                        await streaming.subscribe_to_market_data(symbol, [{"type": "quotes"}], None, False)
            except Exception as exc:
                raise self._error(exc) from exc

    def events(self) -> EventStream:
        stream = self._hub.open(active=self._connected)
        if self._connected and self.streaming_enabled:
            with contextlib.suppress(RuntimeError):  # no running loop: streaming opens on the next call
                self._start_streaming()
        return stream


__all__ = ["TRADE_METHODS", "MetaApiGateway", "token_is_unrestricted"]
