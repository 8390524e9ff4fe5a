"""``MetaApiGateway``: the :class:`BrokerGateway` of one MetaApi account (the execution path).

It is built from the account's own narrowed token and the MetaApi account id, never from the master
token (there is no parameter for it, and a token whose access rules are not restricted to resources is
refused unless ``allow_unrestricted_token`` says otherwise, for the smoke test).

* Queries and trades go through the SDK's RPC connection; events come from its streaming connection
  (see :mod:`execution.broker.gateways.metaapi.events`).
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

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

DEAL_PAGE = 1000
MAX_DEAL_PAGES = 100
OFFSET_REFRESH = timedelta(hours=1)
#: ``until=None`` asks MetaApi for deals up to now plus this (broker clocks run ahead of ours).
HISTORY_END_SLACK = timedelta(days=1)

_ORDER_METHODS = {
    (OrderKind.MARKET, Side.BUY): "create_market_buy_order",
    (OrderKind.MARKET, Side.SELL): "create_market_sell_order",
    (OrderKind.LIMIT, Side.BUY): "create_limit_buy_order",
    (OrderKind.LIMIT, Side.SELL): "create_limit_sell_order",
    (OrderKind.STOP, Side.BUY): "create_stop_buy_order",
    (OrderKind.STOP, Side.SELL): "create_stop_sell_order",
}


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


class MetaApiGateway(BrokerGateway):
    """One MetaApi account.

    ``token``: the account's narrowed token (per-account JWT or account token). ``account_id``: the
    MetaApi account id. ``platform``: expected 'mt4'/'mt5' (the account's own version wins once connected).
    ``api_factory``: builds the SDK ``MetaApi`` object (tests pass stand-ins). ``domain`` / ``region`` /
    ``sdk_extra``: MetaApi options. ``connect_timeout``: bound of ``connect()``; ``request_timeout``:
    bound of each call. ``history_window``: ``find_by_client_tag``'s default look-back. ``open_grace``:
    how long a new position waits for its deal before PositionOpened is published alone.
    ``clock``: aware UTC now.
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
            domain=domain, region=region, request_timeout=request_timeout, extra=sdk_extra
        )
        self._api_factory = api_factory or sdk.default_api_factory
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.history_window = history_window
        self.open_grace = open_grace
        self.streaming_enabled = streaming
        self._clock = clock
        self._hub = EventHub(max_queue)
        self._lock = asyncio.Lock()
        self._connected = False
        self._api: Any = None
        self._account: Any = None
        self._rpc: Any = None
        self._streaming: Any = None
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

    # -- plumbing ---------------------------------------------------------------------------------

    def _error(self, exc: BaseException) -> GatewayError:
        return translate_exception(exc, platform=self._platform, now=self._clock())

    def _require_rpc(self) -> Any:
        if not self._connected or self._rpc is None:
            raise _not_connected()
        return self._rpc

    async def _call(self, name: str, *args: Any) -> Any:
        """One RPC call, bounded by ``request_timeout``; any failure leaves as GatewayError."""
        rpc = self._require_rpc()
        try:
            async with asyncio.timeout(self.request_timeout):
                return await getattr(rpc, name)(*args)
        except GatewayError:
            raise
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
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self._open()
            except asyncio.CancelledError:
                await self._teardown()
                raise
            except Exception as exc:
                await self._teardown()
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
        if self.streaming_enabled:
            self._listener = MetaApiEventListener(
                self._hub.publish, clock=self._clock, since=self._clock(), open_grace=self.open_grace
            )
            self._streaming = self._account.get_streaming_connection()
            self._streaming.add_synchronization_listener(self._listener)
            await self._streaming.connect()
            await self._streaming.wait_synchronized({"timeoutInSeconds": self.connect_timeout})
            self._listener.seed_positions(await self._rpc.get_positions())
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

    async def _teardown(self) -> None:
        listener, streaming, rpc, api = self._listener, self._streaming, self._rpc, self._api
        self._listener = self._streaming = self._rpc = self._api = self._account = None
        self._offset = None
        if listener is not None:
            listener.close()
        for connection in (streaming, rpc):
            if connection is None:
                continue
            try:
                if connection is streaming and listener is not None:
                    connection.remove_synchronization_listener(listener)
                async with asyncio.timeout(self.request_timeout):
                    await connection.close()
            except Exception as exc:  # closing is best effort
                logger.debug("closing a MetaApi connection failed: %s", type(exc).__name__)
        if api is not None:
            sdk.close_api(api)

    async def disconnect(self) -> None:
        async with self._lock:
            if not self._connected:
                return
            self._connected = False
            self._hub.publish(ConnectionDown(time=self._clock(), reason="client"))
            self._hub.finish_all()
            await self._teardown()

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
        self._require_rpc()
        if self._streaming is None:
            raise _not_connected("streaming is disabled for this gateway")
        for symbol in symbols:
            try:
                async with asyncio.timeout(self.request_timeout):
                    await self._streaming.subscribe_to_market_data(symbol, [{"type": "quotes"}], None, False)
            except Exception as exc:
                raise self._error(exc) from exc

    def events(self) -> EventStream:
        return self._hub.open(active=self._connected)


__all__ = ["MetaApiGateway", "token_is_unrestricted"]
