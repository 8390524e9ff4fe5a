"""Stand-ins for the MetaApi SDK at its boundary, backed by the simulated broker.

``FakeCloud`` plays MetaApi: accounts (each a simulated account), tokens (a master token and narrowed
ones), provisioning. ``cloud.factory`` is an ``api_factory`` for MetaApiGateway and the provisioning
functions; what it builds has the SDK's method names and signatures, answers with SDK-shaped dicts (JSON
floats, ids, datetimes for ``*time*`` fields as the SDK converts them, sessions in broker time, no price
or volume in trade responses, no clientId on closing deals) and raises the SDK's real exception classes.

They behave as the SDK 29.1.1 does, not kinder (each point from its source):

* ``MetaApi`` must be built in a running loop and starts background jobs there; ``close()`` is synchronous,
  stops some jobs and SCHEDULES the websocket close as a task (metaapi.py:MetaApi.close); every socket an
  RPC connection opens starts a job that close() never stops (SynchronizationThrottler.start).
* An RPC connection's ``close()`` schedules the real close as a task
  (rpc_metaapi_connection_instance.py:close); its ``wait_synchronized`` polls the connection's state once a
  second until its timeout (rpc_metaapi_connection.py:wait_synchronized); a request made while no MetaApi
  server instance is connected for the account waits until one is, without limit
  (metaapi_websocket_client.py:rpc_request -> latency_service.py:wait_connected_instance). The state is
  ``connection._meta_api_connection.is_synchronized()`` as in the SDK; ``record.drop_link()`` takes it down
  for the open connections (the server's 'disconnected' packet), a new connection gets it back (a fresh
  subscription) unless ``record.server_available`` is False.
* A streaming connection that fails to connect closes itself (streaming_metaapi_connection_instance.py:
  connect); it initializes its history storage (the SDK's ``MemoryHistoryStorage`` when none is given,
  which writes ``./.metaapi``), feeds it every packet as a listener, and synchronizes history from
  ``max(history_start_time, storage.last_deal_time())`` (streaming_metaapi_connection.py:synchronize).
* Tokens: ``narrow_down_token`` grants exactly the applications and roles asked for (those the master token
  has), on the resources asked for; each call checks them: reading the account needs
  'trading-account-management-api', RPC 'metaapi-rpc-api' ('writer' for trades), streaming
  'metaapi-real-time-streaming-api' and 'metaapi-rest-api' (ForbiddenException otherwise).

Streaming connections replay MetaApi's behaviour: every packet comes from two instances, a connection
starts with a synchronization (account, positions, orders, the history since its start) and each change
after an RPC call arrives as an 'update' packet in the SDK's order (account, positions, orders, history
orders, deals), delivered later by a dispatcher task.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from metaapi_cloud_sdk import MemoryHistoryStorage

from execution.broker.gateways.base import (
    AccountInfo,
    DealEntry,
    GatewayError,
    HistoryDeal,
    OrderKind,
    OrderRequest,
    PendingOrder,
    Position,
    Price,
    Side,
    SymbolSpec,
    TradeResult,
)
from execution.broker.gateways.metaapi import convert
from execution.broker.gateways.metaapi.provisioning import TOKEN_APPLICATIONS, TOKEN_ROLES
from execution.broker.gateways.metaapi.sdk import (
    ForbiddenException,
    NotConnectedException,
    NotFoundException,
    TimeoutException,
    TradeException,
    UnauthorizedException,
    ValidationException,
)
from execution.broker.gateways.simulated import SimulatedEngine, SimulatedGateway, run_inline

EPOCH = datetime(1970, 1, 2, tzinfo=UTC)
INSTANCES = ("vint-hill:0:ps-mpa-0", "vint-hill:1:ps-mpa-1")
WEEKDAY_NAMES = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def jwt(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


#: The applications MetaApi knows, as the SDK 29.1.1 README lists them (account access token example).
METAAPI_APPLICATIONS = (
    "trading-account-management-api",
    "copyfactory-api",
    "metaapi-rest-api",
    "metaapi-rpc-api",
    "metaapi-real-time-streaming-api",
    "metastats-api",
    "risk-management-api",
)
READ_ACCOUNT = ("trading-account-management-api", "reader")

MASTER_TOKEN = jwt(
    {
        "_id": "master-user",
        "accessRules": [
            {"id": app, "methods": ["*"], "roles": ["reader", "writer"], "resources": ["*:$USER_ID$:*"]}
            for app in METAAPI_APPLICATIONS
        ],
    }
)


def token_rules(token: str) -> dict[str, set[str]]:
    """application id -> roles granted by a token (the fake JWT's access rules)."""
    payload = token.split(".")[1]
    rules = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["accessRules"]
    return {rule["id"]: set(rule["roles"]) for rule in rules}


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _d(value: Any) -> Decimal | None:
    return convert.dec(value)


def _broker_text(moment: datetime, offset: timedelta) -> str:
    return (moment + offset).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


# --------------------------------------------------------------------------------------------------
# SDK-shaped dicts
# --------------------------------------------------------------------------------------------------


def account_dict(info: AccountInfo, platform: str, server: str) -> dict:
    return {
        "platform": platform,
        "broker": "Simulated Broker Ltd",
        "currency": info.currency,
        "server": server,
        "balance": _f(info.balance),
        "equity": _f(info.equity),
        "margin": _f(info.margin),
        "freeMargin": _f(info.free_margin),
        "leverage": float(info.leverage),
        "marginLevel": _f(info.margin_level),
        "tradeAllowed": True,
        "marginMode": "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING",
        "name": "Test Trader",
        "login": 5012345,
        "credit": 0.0,
        "type": "ACCOUNT_TRADE_MODE_DEMO",
    }


def position_dict(position: Position, platform: str, offset: timedelta, updated: datetime) -> dict:
    data = {
        "id": int(position.id),
        "platform": platform,
        "type": f"POSITION_TYPE_{position.side.value.upper()}",
        "symbol": position.symbol,
        "magic": 0,
        "time": position.opened_at,
        "brokerTime": _broker_text(position.opened_at, offset),
        "updateTime": updated,
        "openPrice": _f(position.open_price),
        "currentPrice": _f(position.current_price),
        "currentTickValue": 1.0,
        "volume": _f(position.volume),
        "swap": 0.0,
        "realizedSwap": 0.0,
        "unrealizedSwap": 0.0,
        "commission": 0.0,
        "realizedCommission": 0.0,
        "unrealizedCommission": 0.0,
        "profit": _f(position.profit),
        "realizedProfit": 0.0,
        "unrealizedProfit": _f(position.profit),
        "reason": "POSITION_REASON_EXPERT",
        "accountCurrencyExchangeRate": 1,
    }
    if position.sl is not None:
        data["stopLoss"] = _f(position.sl)
    if position.tp is not None:
        data["takeProfit"] = _f(position.tp)
    if position.client_tag:
        data["clientId"] = position.client_tag
        data["comment"] = ""
    return data


def order_dict(
    order: PendingOrder, platform: str, offset: timedelta, state: str = "ORDER_STATE_PLACED"
) -> dict:
    data = {
        "id": order.id,
        "platform": platform,
        "type": f"ORDER_TYPE_{order.type.value.upper()}",
        "state": state,
        "symbol": order.symbol,
        "magic": 0,
        "time": order.created_at,
        "brokerTime": _broker_text(order.created_at, offset),
        "openPrice": _f(order.price),
        "volume": _f(order.volume),
        "currentVolume": _f(order.volume),
        "reason": "ORDER_REASON_EXPERT",
        "fillingMode": "ORDER_FILLING_RETURN",
        "expirationType": "ORDER_TIME_GTC",
    }
    if order.sl is not None:
        data["stopLoss"] = _f(order.sl)
    if order.tp is not None:
        data["takeProfit"] = _f(order.tp)
    if order.client_tag:
        data["clientId"] = order.client_tag
    return data


def deal_dict(deal: HistoryDeal, platform: str, offset: timedelta) -> dict:
    reasons = {"sl": "DEAL_REASON_SL", "tp": "DEAL_REASON_TP", "stop_out": "DEAL_REASON_SO"}
    data = {
        "id": deal.id,
        "platform": platform,
        "type": f"DEAL_TYPE_{deal.side.value.upper()}",
        "entryType": "DEAL_ENTRY_IN" if deal.entry is DealEntry.IN else "DEAL_ENTRY_OUT",
        "symbol": deal.symbol,
        "magic": 0,
        "time": deal.time,
        "brokerTime": _broker_text(deal.time, offset),
        "volume": _f(deal.volume),
        "price": _f(deal.price),
        "commission": 0.0,
        "swap": 0.0,
        "profit": _f(deal.profit),
        "positionId": deal.position_id,
        "orderId": deal.order_id,
        "reason": reasons.get(deal.reason.value if deal.reason else "", "DEAL_REASON_EXPERT"),
        "accountCurrencyExchangeRate": 1,
    }
    if (
        deal.entry is DealEntry.IN and deal.client_tag
    ):  # MetaTrader puts the close order's comment on OUT deals
        data["clientId"] = deal.client_tag
    return data


def sessions_dict(spec: SymbolSpec, offset: timedelta) -> dict:
    broker = convert.shift_sessions(spec.sessions, int(offset / timedelta(minutes=1)))
    result: dict[str, list[dict]] = {}
    for session in broker:
        end = (
            "23:59:59.999"
            if session.end == 1440
            else f"{session.end // 60:02d}:{session.end % 60:02d}:00.000"
        )
        result.setdefault(WEEKDAY_NAMES[session.weekday], []).append(
            {"from": f"{session.start // 60:02d}:{session.start % 60:02d}:00.000", "to": end}
        )
    return result


def spec_dict(spec: SymbolSpec, offset: timedelta) -> dict:
    sessions = sessions_dict(spec, offset)
    return {
        "symbol": spec.name,
        "tickSize": _f(spec.tick_size),
        "minVolume": _f(spec.volume_min),
        "maxVolume": _f(spec.volume_max),
        "volumeStep": _f(spec.volume_step),
        "fillingModes": ["SYMBOL_FILLING_FOK", "SYMBOL_FILLING_IOC"],
        "executionMode": "SYMBOL_TRADE_EXECUTION_MARKET",
        "contractSize": _f(spec.contract_size),
        "quoteSessions": sessions,
        "tradeSessions": sessions,
        "tradeMode": "SYMBOL_TRADE_MODE_FULL" if spec.trading_allowed else "SYMBOL_TRADE_MODE_DISABLED",
        "baseCurrency": spec.base_currency,
        "profitCurrency": spec.profit_currency,
        "marginCurrency": spec.margin_currency,
        "digits": spec.digits,
        "point": _f(spec.point),
        "description": spec.description,
        "stopsLevel": spec.stops_level,
        "freezeLevel": spec.freeze_level,
        "initialMargin": 0.0,
        "maintenanceMargin": 0.0,
    }


def price_dict(price: Price, tick_value: Decimal, offset: timedelta) -> dict:
    return {
        "symbol": price.symbol,
        "bid": _f(price.bid),
        "ask": _f(price.ask),
        "profitTickValue": _f(tick_value),
        "lossTickValue": _f(tick_value),
        "accountCurrencyExchangeRate": 1,
        "time": price.time,
        "brokerTime": _broker_text(price.time, offset),
    }


def trade_response(result: TradeResult) -> dict:
    data = {"numericCode": result.code, "stringCode": result.string_code, "message": "Request completed"}
    if result.order_id:
        data["orderId"] = result.order_id
    if result.position_id:
        data["positionId"] = result.position_id
    return data


# --------------------------------------------------------------------------------------------------
# The cloud and its accounts
# --------------------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    info: dict | None = None
    positions: dict[str, dict] = field(default_factory=dict)
    orders: dict[str, dict] = field(default_factory=dict)
    deals: dict[str, dict] = field(default_factory=dict)


class FakeAccountRecord:
    """One MetaApi account as the cloud keeps it, backed by one simulated account."""

    def __init__(
        self,
        cloud: FakeCloud,
        account_id: str,
        *,
        server: str,
        platform: str,
        balance: Decimal,
        state: str,
        connection_status: str,
    ) -> None:
        self.cloud = cloud
        self.id = account_id
        self.server = server
        self.platform = platform
        self.state = state
        self.connection_status = connection_status
        self.connects_on_deploy = True
        self.hang_wait_connected = False
        self.history_synchronizing = False
        self.server_available = True  # False: a new connection gets no MetaApi server instance
        self.links: list[FakeLink] = []  # one per RPC connection opened (its server instances' state)
        self.sim = SimulatedGateway(
            cloud.engine,
            f"metaapi-{account_id}",
            server=server,
            platform=platform,  # type: ignore[arg-type]
            initial_balance=balance,
            run_sync=run_inline,
            sleep=_no_sleep,
        )
        self.faults: list[tuple[str, BaseException]] = []
        self.faults_after: list[tuple[str, BaseException]] = []
        self.drop_after: set[str] = set()
        self.calls: list[tuple[str, tuple]] = []
        self.history_orders: dict[str, dict] = {}
        self.streams: list[FakeStreamingConnection] = []
        self.subscribed: set[str] = set()
        self.last = Snapshot()
        self._update_times: dict[str, tuple[tuple, datetime]] = {}
        self._sync_ids = itertools.count(1)

    @property
    def offset(self) -> timedelta:
        return self.cloud.broker_offset

    def now(self) -> datetime:
        return self.cloud.clock()

    def fail_next(self, method: str, exc: BaseException) -> None:
        """The next RPC call of ``method`` ('*' = any) raises ``exc``."""
        self.faults.append((method, exc))

    def fail_after(self, method: str, exc: BaseException, *, drop_link: bool = False) -> None:
        """The next RPC call of ``method`` is carried out at the broker, then raises ``exc`` (and, with
        ``drop_link``, the connection's server instances are gone too)."""
        self.faults_after.append((method, exc))
        if drop_link:
            self.drop_after.add(method)

    def take_fault(self, method: str, *, after: bool = False) -> BaseException | None:
        faults = self.faults_after if after else self.faults
        for index, (name, exc) in enumerate(faults):
            if name in (method, "*"):
                del faults[index]
                return exc
        return None

    def drop_link(self) -> None:
        """The server instances of the open connections go away ('disconnected'): their requests wait."""
        for link in self.links:
            link.down()

    async def start(self) -> None:
        await self.sim.connect()
        self.last = await self.snapshot()

    # -- snapshots and updates --------------------------------------------------------------------

    def _updated(self, position: Position) -> datetime:
        key = (position.volume, position.sl, position.tp)
        known = self._update_times.get(position.id)
        if known is None or known[0] != key:
            known = (key, self.now())
            self._update_times[position.id] = known
        return known[1]

    async def snapshot(self) -> Snapshot:
        info = await self.sim.account_information()
        return Snapshot(
            info=account_dict(info, self.platform, self.server),
            positions={
                p.id: position_dict(p, self.platform, self.offset, self._updated(p))
                for p in await self.sim.positions()
            },
            orders={o.id: order_dict(o, self.platform, self.offset) for o in await self.sim.orders()},
            deals={
                d.id: deal_dict(d, self.platform, self.offset) for d in await self.sim.history_deals(EPOCH)
            },
        )

    async def publish_changes(self) -> list[tuple]:
        """Diff the account against the last snapshot and stream the changes as one 'update' packet."""
        current = await self.snapshot()
        last, self.last = self.last, current
        calls: list[tuple] = []
        if current.info != last.info:
            calls.append(("on_account_information_updated", current.info))
        changed = [p for key, p in current.positions.items() if last.positions.get(key) != p]
        removed = [key for key in last.positions if key not in current.positions]
        if changed or removed:
            calls.append(("on_positions_updated", changed, removed))
            calls.extend(("on_position_updated", p) for p in changed)
            calls.extend(("on_position_removed", key) for key in removed)
        new_deals = [d for key, d in current.deals.items() if key not in last.deals]
        changed_orders = [o for key, o in current.orders.items() if last.orders.get(key) != o]
        completed = [key for key in last.orders if key not in current.orders]
        if changed_orders or completed:
            calls.append(("on_pending_orders_updated", changed_orders, completed))
            calls.extend(("on_pending_order_updated", o) for o in changed_orders)
            calls.extend(("on_pending_order_completed", key) for key in completed)
        history = []
        filled_orders = {d["orderId"]: d for d in new_deals if d["entryType"] == "DEAL_ENTRY_IN"}
        for key in completed:
            order = dict(last.orders[key])
            order["state"] = "ORDER_STATE_FILLED" if key in filled_orders else "ORDER_STATE_CANCELED"
            order["doneTime"] = self.now()
            history.append(order)
        for order_id, deal in filled_orders.items():
            if order_id not in last.orders:  # a market order
                history.append(
                    {
                        "id": order_id,
                        "platform": self.platform,
                        "type": "ORDER_TYPE_" + deal["type"].removeprefix("DEAL_TYPE_"),
                        "state": "ORDER_STATE_FILLED",
                        "symbol": deal["symbol"],
                        "time": deal["time"],
                        "doneTime": deal["time"],
                        "openPrice": deal["price"],
                        "volume": deal["volume"],
                        "currentVolume": 0.0,
                        "positionId": deal["positionId"],
                        **({"clientId": deal["clientId"]} if "clientId" in deal else {}),
                    }
                )
        for order in history:
            self.history_orders[str(order["id"])] = order
            calls.append(("on_history_order_added", order))
        calls.extend(("on_deal_added", d) for d in new_deals)
        if calls:
            self.broadcast(calls)
        return calls

    def sync_packet(
        self, instance: str, deals_since: datetime = EPOCH, orders_since: datetime = EPOCH
    ) -> list[tuple]:
        """A synchronization: state, then the deals and history orders since the times asked for."""
        sync_id = f"sync-{next(self._sync_ids)}"
        state = self.last
        calls: list[tuple] = [
            ("on_connected", 1),
            ("on_synchronization_started", None, None, None, sync_id),
            ("on_account_information_updated", state.info),
            ("on_positions_replaced", list(state.positions.values())),
            ("on_positions_synchronized", sync_id),
            ("on_pending_orders_replaced", list(state.orders.values())),
            ("on_pending_orders_synchronized", sync_id),
        ]
        calls.extend(("on_deal_added", d) for d in state.deals.values() if d["time"] >= deals_since)
        calls.append(("on_deals_synchronized", sync_id))
        calls.extend(
            ("on_history_order_added", o)
            for o in self.history_orders.values()
            if (o.get("doneTime") or o["time"]) >= orders_since
        )
        calls.append(("on_history_orders_synchronized", sync_id))
        return calls

    def broadcast(self, calls: list[tuple], instances: tuple[str, ...] | None = None) -> None:
        for stream in list(self.streams):
            for instance in instances or self.cloud.instances:
                stream.enqueue(instance, calls)

    async def tick(self) -> None:
        """Stream the current prices of the subscribed symbols and those of positions and orders."""
        await self.publish_changes()
        symbols = self.subscribed | {p["symbol"] for p in self.last.positions.values()}
        symbols |= {o["symbol"] for o in self.last.orders.values()}
        prices = []
        for symbol in sorted(symbols):
            spec = await self.sim.symbol_spec(symbol)
            prices.append(price_dict(await self.sim.price(symbol), spec.tick_value, self.offset))
        info = self.last.info or {}
        calls: list[tuple] = [
            (
                "on_symbol_prices_updated",
                prices,
                info.get("equity"),
                info.get("margin"),
                info.get("freeMargin"),
                info.get("marginLevel"),
                1,
            )
        ]
        calls.extend(("on_symbol_price_updated", p) for p in prices)
        self.broadcast(calls)


async def _no_sleep(seconds: float) -> None:
    return None


class Hang(Exception):  # noqa: N818 - a fault that is never raised: the call never answers
    """``fail_next(method, Hang())``: the call never answers."""


class FakeCloud:
    """MetaApi for the tests: accounts, tokens, what was asked."""

    def __init__(
        self,
        engine: SimulatedEngine,
        *,
        clock: Callable[[], datetime],
        broker_offset: timedelta = timedelta(hours=3),
        instances: tuple[str, ...] = INSTANCES,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.broker_offset = broker_offset
        self.instances = instances
        self.accounts: dict[str, FakeAccountRecord] = {}
        self.tokens: dict[str, str | None] = {MASTER_TOKEN: None}  # token -> account it is narrowed to
        self.apis: list[FakeMetaApi] = []
        self.rpc_connections: list[FakeRpcConnection] = []
        self.streaming_connections: list[FakeStreamingConnection] = []
        self.created: list[dict] = []
        self.narrowed: list[tuple[dict, Any]] = []
        self.closed_apis = 0
        self.new_accounts_connect = True  # False: a deployed account never reaches the broker
        self.new_accounts_hang = False  # True: wait_connected never returns (ignores its timeout)
        self.create_error: BaseException | None = None
        self.narrow_error: BaseException | None = None
        self._ids = itertools.count(1)

    async def add_account(
        self,
        account_id: str | None = None,
        *,
        server: str = "SimBroker-Demo",
        platform: str = "mt5",
        balance: Decimal | int = Decimal(10000),
        state: str = "DEPLOYED",
        connection_status: str = "CONNECTED",
    ) -> FakeAccountRecord:
        account_id = account_id or f"acc-{next(self._ids):04d}-0000-4000-8000-000000000000"
        record = FakeAccountRecord(
            self,
            account_id,
            server=server,
            platform=platform,
            balance=Decimal(balance),
            state=state,
            connection_status=connection_status,
        )
        await record.start()
        self.accounts[account_id] = record
        return record

    def issue_token(
        self,
        account_id: str,
        applications: tuple[str, ...] | list[str] = TOKEN_APPLICATIONS,
        roles: tuple[str, ...] | list[str] = TOKEN_ROLES,
    ) -> str:
        """A token narrowed to one account, with exactly these applications and roles."""
        token = jwt(
            {
                "_id": "master-user",
                "accessRules": [
                    {
                        "id": application,
                        "application": application,
                        "methods": ["*"],
                        "roles": list(roles),
                        "resources": [f"account:$USER_ID$:{account_id}"],
                    }
                    for application in applications
                ],
                "n": len(self.tokens),
            }
        )
        self.tokens[token] = account_id
        return token

    def factory(self, token: str, options: dict) -> FakeMetaApi:
        api = FakeMetaApi(self, token, dict(options))
        self.apis.append(api)
        return api

    @property
    def tokens_seen(self) -> list[str]:
        return [api.token for api in self.apis]

    def check_access(
        self, token: str, account_id: str | None, need: tuple[str, str] | None = READ_ACCOUNT
    ) -> None:
        """``need``: (application, role) the call needs (None: only a valid token)."""
        if token not in self.tokens:
            raise UnauthorizedException("Authorization token invalid")
        scope = self.tokens[token]
        if scope is not None and scope != account_id:
            raise ForbiddenException("You do not have access to this resource")
        if need is not None:
            application, role = need
            if role not in token_rules(token).get(application, set()):
                raise ForbiddenException(f"The token has no {role} access to {application}")


class FakeWebsocketClient:
    """The ``MetaApiWebsocketClient`` of one MetaApi object: its jobs and its sockets' jobs."""

    def __init__(self) -> None:
        self.jobs = [asyncio.create_task(_job()), asyncio.create_task(_job())]  # cache jobs, latency...
        self.socket_jobs: list[asyncio.Task] = []  # SynchronizationThrottler: never stopped by close()
        self.closed = False

    def open_socket(self) -> None:
        if not self.socket_jobs:
            self.socket_jobs.append(asyncio.create_task(_job()))

    def stop(self) -> None:
        for job in self.jobs:
            job.cancel()

    async def close(self) -> None:
        await asyncio.sleep(0)  # the sockets' disconnect
        self.closed = True


async def _job() -> None:
    while True:
        await asyncio.sleep(300)


class FakeMetaApi:
    """``MetaApi``: built in a running loop (it starts jobs there); ``close()`` schedules its close."""

    def __init__(self, cloud: FakeCloud, token: str, options: dict) -> None:
        self.cloud = cloud
        self.token = token
        self.options = options
        self._websocket_client = FakeWebsocketClient()
        self.metatrader_account_api = FakeAccountApi(cloud, token, self._websocket_client)
        self.token_management_api = FakeTokenManagementApi(cloud, token)
        self.closed = False

    def close(self):
        self.closed = True
        self.cloud.closed_apis += 1
        asyncio.create_task(self._websocket_client.close())  # as the SDK: scheduled, not awaited
        self._websocket_client.stop()


class FakeAccountApi:
    def __init__(self, cloud: FakeCloud, token: str, websocket: FakeWebsocketClient) -> None:
        self.cloud = cloud
        self.token = token
        self.websocket = websocket

    async def get_account(self, account_id) -> FakeAccount:
        self.cloud.check_access(self.token, account_id)
        record = self.cloud.accounts.get(account_id)
        if record is None:
            raise NotFoundException(f"Trading account with id {account_id} not found")
        return FakeAccount(record, self.token, self.websocket)

    async def create_account(self, account: dict) -> FakeAccount:
        self.cloud.check_access(self.token, None, ("trading-account-management-api", "writer"))
        if self.cloud.tokens[self.token] is not None:
            raise ForbiddenException("narrowed tokens cannot create accounts")
        for key in ("login", "password", "server", "name", "magic"):
            if key not in account:
                raise ValidationException("Validation failed", [{"parameter": key, "message": "required"}])
        if self.cloud.create_error is not None:
            raise self.cloud.create_error
        self.cloud.created.append(dict(account))
        record = await self.cloud.add_account(
            server=account["server"],
            platform=account.get("platform", "mt5"),
            state="DEPLOYING",
            connection_status="DISCONNECTED",
        )
        record.connects_on_deploy = self.cloud.new_accounts_connect
        record.hang_wait_connected = self.cloud.new_accounts_hang
        return FakeAccount(record, self.token, self.websocket)


class FakeTokenManagementApi:
    def __init__(self, cloud: FakeCloud, token: str) -> None:
        self.cloud = cloud
        self.token = token

    async def narrow_down_token(self, narrow_down_payload: dict, validity_in_hours: float = None) -> str:
        """MetaApi grants what is asked for and what the token itself has, nothing more."""
        self.cloud.check_access(self.token, None, None)
        if self.cloud.narrow_error is not None:
            raise self.cloud.narrow_error
        self.cloud.narrowed.append((narrow_down_payload, validity_in_hours))
        resources = narrow_down_payload.get("resources") or []
        if len(resources) != 1 or resources[0].get("entity") != "account":
            raise ValidationException("expected one account resource")
        own = token_rules(self.token)
        applications = [app for app in narrow_down_payload.get("applications") or own if app in own]
        roles = list(narrow_down_payload.get("roles") or ("reader", "writer"))
        return self.cloud.issue_token(resources[0]["id"], applications, roles)


class FakeAccount:
    """The SDK's MetatraderAccount subset."""

    def __init__(self, record: FakeAccountRecord, token: str, websocket: FakeWebsocketClient) -> None:
        self._record = record
        self._token = token
        self._websocket = websocket

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def state(self) -> str:
        return self._record.state

    @property
    def connection_status(self) -> str:
        return self._record.connection_status

    @property
    def version(self) -> int:
        return 4 if self._record.platform == "mt4" else 5

    async def reload(self):
        return None

    async def deploy(self):
        self._record.state = "DEPLOYING"

    async def wait_deployed(self, timeout_in_seconds=300, interval_in_milliseconds=1000):
        if self._record.state == "DEPLOYING":
            self._record.state = "DEPLOYED"
        if self._record.state != "DEPLOYED":
            raise TimeoutException(f"Timed out waiting for account {self.id} to be deployed")

    async def wait_connected(self, timeout_in_seconds=300, interval_in_milliseconds=1000):
        record = self._record
        if record.hang_wait_connected:
            await asyncio.Event().wait()  # a terminal that never answers, and an SDK that never gives up
        if record.state == "DEPLOYED" and record.connects_on_deploy:
            record.connection_status = "CONNECTED"
        if record.connection_status != "CONNECTED":
            raise TimeoutException(f"Timed out waiting for account {self.id} to connect to the broker")

    def get_rpc_connection(self) -> FakeRpcConnection:
        connection = FakeRpcConnection(self._record, self._token, self._websocket)
        self._record.cloud.rpc_connections.append(connection)
        return connection

    def get_streaming_connection(
        self, history_storage=None, history_start_time=None
    ) -> FakeStreamingConnection:
        connection = FakeStreamingConnection(
            self._record, self._token, history_storage or MemoryHistoryStorage(), history_start_time
        )
        self._record.cloud.streaming_connections.append(connection)
        return connection


# --------------------------------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------------------------------


class _Connection:
    def __init__(self, record: FakeAccountRecord, token: str) -> None:
        self.record = record
        self.token = token
        self._opened = False
        self._closed = False
        self._instance_id = f"conn-{next(_connection_ids)}"

    @property
    def instance_id(self) -> str:
        return self._instance_id

    def _check_is_connection_active(self) -> None:  # the SDK raises a plain Exception, synchronously
        if not self._opened:
            raise Exception(
                "This connection has not been initialized yet, please invoke await connection.connect()"
            )
        if self._closed:
            raise Exception("This connection has been closed, please create a new connection")


_connection_ids = itertools.count(1)


class FakeLink:
    """Whether a MetaApi server instance serves the account on one connection (its 'authenticated' /
    'disconnected' packets)."""

    def __init__(self, up: bool) -> None:
        self._up = asyncio.Event()
        if up:
            self._up.set()

    @property
    def up(self) -> bool:
        return self._up.is_set()

    def down(self) -> None:
        self._up.clear()

    def restore(self) -> None:
        self._up.set()

    async def wait(self) -> None:
        await self._up.wait()


class FakeRpcMetaApiConnection:
    """``RpcMetaApiConnection``: the state the SDK keeps per account."""

    def __init__(self, link: FakeLink) -> None:
        self.link = link

    def is_synchronized(self) -> bool:
        return self.link.up


def _sdk_error(error: GatewayError, *, trade: bool) -> Exception:
    if error.source == "transport":
        if error.string_code == "timeout":
            return TimeoutException(error.message)
        return NotConnectedException(error.message)
    if trade:
        return TradeException(error.message, error.code, error.string_code)
    return NotFoundException(error.message)


class FakeRpcConnection(_Connection):
    """``RpcMetaApiConnectionInstance``: same method names and signatures, same blocking."""

    def __init__(self, record: FakeAccountRecord, token: str, websocket: FakeWebsocketClient) -> None:
        super().__init__(record, token)
        self._websocket = websocket
        self.link = FakeLink(up=False)
        self._meta_api_connection = FakeRpcMetaApiConnection(self.link)

    async def connect(self):
        if self._closed:
            raise Exception("This connection has been closed, please create a new connection")
        if not self._opened:
            self._opened = True
            self._websocket.open_socket()
            if self.record.server_available:  # the subscription is answered by a server instance
                self.link.restore()
            self.record.links.append(self.link)

    async def close(self):
        if not self._closed:
            asyncio.create_task(self._close())  # as the SDK: scheduled, not awaited
            self._closed = True

    async def _close(self) -> None:
        await asyncio.sleep(0)  # unsubscribing
        if self.link in self.record.links:
            self.record.links.remove(self.link)

    async def wait_synchronized(self, timeout_in_seconds: float = 300):
        self._check_is_connection_active()
        start = time.monotonic()
        synchronized = self._meta_api_connection.is_synchronized()
        while not synchronized and start + timeout_in_seconds > time.monotonic():
            await asyncio.sleep(1)
            synchronized = self._meta_api_connection.is_synchronized()
        if not synchronized:
            raise TimeoutException(
                "Timed out waiting for MetaApi to synchronize to MetaTrader account " + self.record.id
            )

    async def _run(self, name: str, args: tuple, operation, *, trade: bool = False) -> Any:
        record = self.record
        record.cloud.check_access(self.token, record.id, ("metaapi-rpc-api", "writer" if trade else "reader"))
        await self.link.wait()  # no server instance: the SDK waits, without limit
        record.calls.append((name, args))
        fault = record.take_fault(name)
        if isinstance(fault, Hang):
            await asyncio.Event().wait()
        if fault is not None:
            raise fault
        after = record.take_fault(name, after=True)
        try:
            value = await operation()
        except GatewayError as error:
            raise _sdk_error(error, trade=trade) from None
        finally:
            await record.publish_changes()
        if after is not None:
            if name in record.drop_after:
                record.drop_after.discard(name)
                record.drop_link()
            raise after
        return value

    # -- queries ----------------------------------------------------------------------------------

    def get_account_information(self, options=None):
        self._check_is_connection_active()

        async def op():
            info = await self.record.sim.account_information()
            return account_dict(info, self.record.platform, self.record.server)

        return self._run("get_account_information", (options,), op)

    def get_positions(self, options=None):
        self._check_is_connection_active()

        async def op():
            return list((await self.record.snapshot()).positions.values())

        return self._run("get_positions", (options,), op)

    def get_position(self, position_id: str, options=None):
        self._check_is_connection_active()

        async def op():
            found = (await self.record.snapshot()).positions.get(str(position_id))
            if found is None:
                raise NotFoundException(f"Position {position_id} not found")
            return found

        return self._run("get_position", (position_id, options), op)

    def get_orders(self, options=None):
        self._check_is_connection_active()

        async def op():
            return list((await self.record.snapshot()).orders.values())

        return self._run("get_orders", (options,), op)

    def get_order(self, order_id: str, options=None):
        self._check_is_connection_active()

        async def op():
            found = (await self.record.snapshot()).orders.get(str(order_id))
            if found is None:
                raise NotFoundException(f"Order {order_id} not found")
            return found

        return self._run("get_order", (order_id, options), op)

    def _deals(self):
        async def all_deals():
            return list((await self.record.snapshot()).deals.values())

        return all_deals

    def get_deals_by_time_range(
        self, start_time: datetime, end_time: datetime, offset: int = 0, limit: int = 1000
    ):
        self._check_is_connection_active()

        async def op():
            deals = [d for d in await self._deals()() if start_time <= d["time"] < end_time]
            return {
                "deals": deals[offset : offset + limit],
                "synchronizing": self.record.history_synchronizing,
            }

        return self._run("get_deals_by_time_range", (start_time, end_time, offset, limit), op)

    def get_deals_by_position(self, position_id):
        self._check_is_connection_active()

        async def op():
            deals = [d for d in await self._deals()() if str(d["positionId"]) == str(position_id)]
            return {"deals": deals, "synchronizing": self.record.history_synchronizing}

        return self._run("get_deals_by_position", (position_id,), op)

    def get_deals_by_ticket(self, ticket: str):
        self._check_is_connection_active()

        async def op():
            deals = [d for d in await self._deals()() if str(d["id"]) == str(ticket)]
            return {"deals": deals, "synchronizing": False}

        return self._run("get_deals_by_ticket", (ticket,), op)

    def get_history_orders_by_time_range(
        self, start_time: datetime, end_time: datetime, offset: int = 0, limit: int = 1000
    ):
        self._check_is_connection_active()

        async def op():
            items = [o for o in self.record.history_orders.values() if start_time <= o["time"] < end_time]
            return {"historyOrders": items[offset : offset + limit], "synchronizing": False}

        return self._run("get_history_orders_by_time_range", (start_time, end_time, offset, limit), op)

    def get_symbols(self):
        self._check_is_connection_active()
        return self._run("get_symbols", (), self.record.sim.symbols)

    def get_symbol_specification(self, symbol: str):
        self._check_is_connection_active()

        async def op():
            return spec_dict(await self.record.sim.symbol_spec(symbol), self.record.offset)

        return self._run("get_symbol_specification", (symbol,), op)

    def get_symbol_price(self, symbol: str, keep_subscription: bool = False):
        self._check_is_connection_active()

        async def op():
            spec = await self.record.sim.symbol_spec(symbol)
            return price_dict(await self.record.sim.price(symbol), spec.tick_value, self.record.offset)

        return self._run("get_symbol_price", (symbol, keep_subscription), op)

    def get_server_time(self):
        self._check_is_connection_active()

        async def op():
            now = self.record.now()
            return {"time": now, "brokerTime": _broker_text(now, self.record.offset)}

        return self._run("get_server_time", (), op)

    # -- trading ----------------------------------------------------------------------------------

    def _trade(self, name: str, args: tuple, operation):
        async def op():
            return trade_response(await operation())

        return self._run(name, args, op, trade=True)

    def _create(
        self, name, side: Side, kind: OrderKind, symbol, volume, open_price, stop_loss, take_profit, options
    ):
        self._check_is_connection_active()
        request = OrderRequest(
            symbol,
            side,
            kind,
            _d(volume),
            price=_d(open_price),
            sl=convert.level(stop_loss),
            tp=convert.level(take_profit),
            client_tag=(options or {}).get("clientId"),
        )
        args = (symbol, volume, open_price, stop_loss, take_profit, options)
        return self._trade(name, args, lambda: self.record.sim.place_order(request))

    def create_market_buy_order(self, symbol, volume, stop_loss=None, take_profit=None, options=None):
        return self._create(
            "create_market_buy_order",
            Side.BUY,
            OrderKind.MARKET,
            symbol,
            volume,
            None,
            stop_loss,
            take_profit,
            options,
        )

    def create_market_sell_order(self, symbol, volume, stop_loss=None, take_profit=None, options=None):
        return self._create(
            "create_market_sell_order",
            Side.SELL,
            OrderKind.MARKET,
            symbol,
            volume,
            None,
            stop_loss,
            take_profit,
            options,
        )

    def create_limit_buy_order(
        self, symbol, volume, open_price, stop_loss=None, take_profit=None, options=None
    ):
        return self._create(
            "create_limit_buy_order",
            Side.BUY,
            OrderKind.LIMIT,
            symbol,
            volume,
            open_price,
            stop_loss,
            take_profit,
            options,
        )

    def create_limit_sell_order(
        self, symbol, volume, open_price, stop_loss=None, take_profit=None, options=None
    ):
        return self._create(
            "create_limit_sell_order",
            Side.SELL,
            OrderKind.LIMIT,
            symbol,
            volume,
            open_price,
            stop_loss,
            take_profit,
            options,
        )

    def create_stop_buy_order(
        self, symbol, volume, open_price, stop_loss=None, take_profit=None, options=None
    ):
        return self._create(
            "create_stop_buy_order",
            Side.BUY,
            OrderKind.STOP,
            symbol,
            volume,
            open_price,
            stop_loss,
            take_profit,
            options,
        )

    def create_stop_sell_order(
        self, symbol, volume, open_price, stop_loss=None, take_profit=None, options=None
    ):
        return self._create(
            "create_stop_sell_order",
            Side.SELL,
            OrderKind.STOP,
            symbol,
            volume,
            open_price,
            stop_loss,
            take_profit,
            options,
        )

    @staticmethod
    def _new_level(current: Decimal | None, requested: Any) -> Decimal | None:
        """A level not sent is kept; 0 removes it (MetaTrader)."""
        if requested is None:
            return current
        return convert.level(requested)

    def modify_position(
        self,
        position_id: str,
        stop_loss=None,
        take_profit=None,
        trailing_stop_loss=None,
        stop_price_base=None,
    ):
        self._check_is_connection_active()

        async def operation():
            sim = self.record.sim
            current = next((p for p in await sim.positions() if p.id == str(position_id)), None)
            sl = self._new_level(current.sl if current else None, stop_loss)
            tp = self._new_level(current.tp if current else None, take_profit)
            return await sim.modify_position(str(position_id), sl, tp)

        return self._trade("modify_position", (position_id, stop_loss, take_profit), operation)

    def modify_order(self, order_id: str, open_price, stop_loss=None, take_profit=None, options=None):
        self._check_is_connection_active()

        async def operation():
            sim = self.record.sim
            current = next((o for o in await sim.orders() if o.id == str(order_id)), None)
            sl = self._new_level(current.sl if current else None, stop_loss)
            tp = self._new_level(current.tp if current else None, take_profit)
            return await sim.modify_order(str(order_id), _d(open_price), sl, tp)

        return self._trade("modify_order", (order_id, open_price, stop_loss, take_profit, options), operation)

    def cancel_order(self, order_id: str):
        self._check_is_connection_active()
        return self._trade("cancel_order", (order_id,), lambda: self.record.sim.cancel_order(str(order_id)))

    def close_position(self, position_id: str, options=None):
        self._check_is_connection_active()
        return self._trade(
            "close_position", (position_id, options), lambda: self.record.sim.close_position(str(position_id))
        )

    def close_position_partially(self, position_id: str, volume: float, options=None):
        self._check_is_connection_active()
        return self._trade(
            "close_position_partially",
            (position_id, volume, options),
            lambda: self.record.sim.close_position(str(position_id), _d(volume)),
        )


class FakeStreamingConnection(_Connection):
    """``StreamingMetaApiConnectionInstance``: listeners (and the history storage) get packets from a
    dispatcher task, per instance. ``drained`` and ``enqueue`` are test hooks."""

    TEST_HOOKS = frozenset({"drained", "enqueue"})

    def __init__(
        self, record: FakeAccountRecord, token: str, history_storage, history_start_time: datetime | None
    ) -> None:
        super().__init__(record, token)
        self.history_storage = history_storage
        self.history_start_time = history_start_time
        self.listeners: list[Any] = []
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._synchronized = asyncio.Event()

    def add_synchronization_listener(self, listener):
        self.listeners.append(listener)

    def remove_synchronization_listener(self, listener):
        self.listeners = [item for item in self.listeners if item is not listener]

    async def connect(self):
        if self._closed:
            raise Exception("This connection has been closed, please create a new connection")
        if self._opened:
            return
        self._opened = True
        try:
            await self.history_storage.initialize(self.record.id, "MetaApi")
            cloud = self.record.cloud
            cloud.check_access(self.token, self.record.id, ("metaapi-real-time-streaming-api", "reader"))
            cloud.check_access(self.token, self.record.id, ("metaapi-rest-api", "reader"))  # hashing lists
            fault = self.record.take_fault("streaming.connect")
            if fault is not None:
                raise fault
        except Exception:
            await self.close()  # as the SDK: a failed connect closes the connection
            raise
        start = self.history_start_time or datetime.fromtimestamp(0, UTC)
        deals_since = max(start, await self.history_storage.last_deal_time())
        orders_since = max(start, await self.history_storage.last_history_order_time())
        self.record.streams.append(self)
        self._task = asyncio.create_task(self._dispatch())
        for instance in self.record.cloud.instances:
            self.enqueue(instance, self.record.sync_packet(instance, deals_since, orders_since))
        self._queue.put_nowait(self._synchronized.set)

    async def wait_synchronized(self, opts=None):
        self._check_is_connection_active()
        timeout = (opts or {}).get("timeoutInSeconds", 300)
        try:
            async with asyncio.timeout(timeout):
                await self._synchronized.wait()
        except TimeoutError:
            raise TimeoutException(
                f"Timed out waiting for MetaApi to synchronize to {self.record.id}"
            ) from None

    async def subscribe_to_market_data(
        self, symbol, subscriptions=None, timeout_in_seconds=None, wait_for_quote=True
    ):
        self._check_is_connection_active()
        if symbol not in await self.record.sim.symbols():
            raise ValidationException(f"{self.record.id} Cannot subscribe to market data for symbol {symbol}")
        self.record.subscribed.add(symbol)

    async def unsubscribe_from_market_data(self, symbol, subscriptions=None):
        self._check_is_connection_active()
        self.record.subscribed.discard(symbol)

    def enqueue(self, instance: str, calls: list[tuple]) -> None:
        if not self._closed:
            self._queue.put_nowait((instance, calls))

    async def drained(self) -> None:
        """Wait until everything queued so far was delivered."""
        done = asyncio.Event()
        self._queue.put_nowait(done.set)
        await done.wait()

    async def _dispatch(self) -> None:
        while True:
            item = await self._queue.get()
            if callable(item):
                item()
                continue
            instance, calls = item
            for name, *args in calls:
                for listener in [self.history_storage, *self.listeners]:
                    await getattr(listener, name)(instance, *args)

    async def close(self):
        if self._closed:
            return
        self._closed = True
        if self in self.record.streams:
            self.record.streams.remove(self)
        if self._task is not None:
            self._task.cancel()
