"""The registry of broker operation kinds: everything that differs between kinds, one entry each.

Promise: :data:`KINDS` holds every kind an operation can have, and an entry says all there is to
know about it: its name and label, the parameters a caller may give and those it must give, its
broker call, how an unknown outcome is looked up (``None``: it is safe to send again), its speed
control priority, its retry profile and, from the priority, its deadline class (the key of
``settings.TTMT_OPERATION_DEADLINE``). Adding a kind is adding one entry; nothing else compares
kind names. :func:`kind_of` finds an entry by name.

A kind's functions run inside the pipeline with what a :class:`BrokerCall` gives them: the connected
gateway, the operation's parameters and client tag, and the pipeline's callbacks for database work.
They never touch the database themselves; the registry knows nothing of the pipeline.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from execution.broker.gateways import codes
from execution.broker.gateways.base import (
    BrokerGateway,
    GatewayError,
    OrderKind,
    OrderRequest,
    PendingOrder,
    Position,
    Side,
    TradeResult,
)
from execution.orders import trade_calls
from execution.safety.speed import Priority


@dataclass(frozen=True)
class BrokerCall:
    """What a kind's broker call and look-up work with.

    ``volume_for(entry, sl)`` sizes a new order from the account's risk settings and records it
    (raising ``execution.orders.sizing.Rejected`` if it cannot be sent); ``remember(**params)``
    adds to the operation's saved parameters (e.g. ``volume_before`` of a partial close, for the
    look-up); ``pace()`` waits between the sends of an operation that makes several (a trade's
    legs), as speed control spaces any two sends of the account.
    """

    gateway: BrokerGateway
    params: Mapping[str, Any]
    client_tag: str
    volume_for: Callable[[Decimal, Decimal | None], Awaitable[Decimal]]
    remember: Callable[..., Awaitable[None]]
    pace: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class OperationKind:
    """One kind of operation. ``send`` returns the operation's result; ``look_up``, after an attempt
    whose outcome is unknown, returns the result if the broker did it, else None (then it is sent
    again); a kind without one (``None``) is safe to send twice."""

    name: str
    priority: Priority
    retry_profile: str  # a name in execution.safety.retry.DEFAULT_PROFILES
    parameters: frozenset[str]
    required: frozenset[str]
    send: Callable[[BrokerCall], Awaitable[dict]]
    look_up: Callable[[BrokerCall], Awaitable[dict | None]] | None
    # how many broker calls a send makes at most, from its parameters: its timeout is as many
    # times the call timeout (a trade's legs each get the time of one order)
    broker_calls: Callable[[Mapping[str, Any]], int] = lambda params: 1

    def __post_init__(self) -> None:
        if not self.required <= self.parameters:
            extra = sorted(self.required - self.parameters)
            raise ValueError(f"{self.name}: required {extra} are not among its parameters")

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @property
    def deadline_class(self) -> str:
        return self.priority.label


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _result(result: TradeResult) -> dict:
    return {
        "order_id": result.order_id,
        "position_id": result.position_id,
        "price": None if result.price is None else str(result.price),
        "volume": None if result.volume is None else str(result.volume),
        "code": result.code,
        "string_code": result.string_code,
    }


async def _position(gateway: BrokerGateway, position_id: str) -> Position:
    for position in await gateway.positions():
        if position.id == position_id:
            return position
    # the seed's -2 "position not found": PERMANENT
    raise GatewayError(
        f"position {position_id} not found", source="mt5", code=-2, string_code="POSITION_NOT_FOUND"
    )


async def _pending_order(gateway: BrokerGateway, order_id: str) -> PendingOrder:
    for order in await gateway.orders():
        if order.id == order_id:
            return order
    raise GatewayError(
        f"order {order_id} not found",
        source="mt5",
        code=codes.MT5_ORDER_NOT_FOUND,
        string_code=codes.code_name("mt5", codes.MT5_ORDER_NOT_FOUND),
    )


# -- new orders ------------------------------------------------------------------------------------
async def _place_order(call: BrokerCall) -> dict:
    """The volume is sized here, from the entry (the quote for a market order) and the stop loss."""
    p, gateway = call.params, call.gateway
    kind, side = OrderKind(p["type"]), Side(p["side"])
    price, sl = _dec(p.get("price")), _dec(p.get("sl"))
    if kind is OrderKind.MARKET or price is None:
        quote = await gateway.price(p["symbol"])
        entry = quote.ask if side is Side.BUY else quote.bid
    else:
        entry = price
    volume = await call.volume_for(entry, sl)
    request = OrderRequest(
        p["symbol"], side, kind, volume, price=price, sl=sl, tp=_dec(p.get("tp")), client_tag=call.client_tag
    )
    return _result(await gateway.place_order(request))


async def _find_placed_order(call: BrokerCall) -> dict | None:
    match = await call.gateway.find_by_client_tag(call.client_tag)
    if not match.found:
        return None
    position = match.positions[0].id if match.positions else None
    order = match.orders[0].id if match.orders else None
    deal = match.deals[0] if match.deals else None
    return {
        "position_id": position or (deal.position_id if deal else None),
        "order_id": order or (deal.order_id if deal else None),
        "found_by_client_tag": True,
    }


# -- position levels: a level not given is kept; given as None, it is removed ----------------------
async def _modify_position(call: BrokerCall) -> dict:
    p = call.params
    position = await _position(call.gateway, p["position_id"])
    sl = _dec(p["sl"]) if "sl" in p else position.sl
    tp = _dec(p["tp"]) if "tp" in p else position.tp
    return _result(await call.gateway.modify_position(p["position_id"], sl, tp))


async def _move_stop_to_breakeven(call: BrokerCall) -> dict:
    p = call.params
    position = await _position(call.gateway, p["position_id"])
    tp = _dec(p["tp"]) if "tp" in p else position.tp
    return _result(await call.gateway.modify_position(p["position_id"], position.open_price, tp))


# -- closing -----------------------------------------------------------------------------------------
async def _close_position(call: BrokerCall) -> dict:
    """A partial close first remembers the volume before it, so that a look-up can tell it happened."""
    p = call.params
    volume = _dec(p.get("volume"))
    if volume is not None and "volume_before" not in p:
        position = await _position(call.gateway, p["position_id"])
        await call.remember(volume_before=str(position.volume))
    return _result(await call.gateway.close_position(p["position_id"], volume))


async def _find_closed_position(call: BrokerCall) -> dict | None:
    p = call.params
    positions = {position.id: position for position in await call.gateway.positions()}
    current = positions.get(p["position_id"])
    if current is None:
        return {"position_id": p["position_id"], "closed": True, "found_by_lookup": True}
    partly_closed = p.get("volume") and "volume_before" in p
    if partly_closed and current.volume <= Decimal(p["volume_before"]) - Decimal(p["volume"]):
        return {"position_id": p["position_id"], "remaining": str(current.volume), "found_by_lookup": True}
    return None


# -- pending orders ----------------------------------------------------------------------------------
async def _cancel_order(call: BrokerCall) -> dict:
    return _result(await call.gateway.cancel_order(call.params["order_id"]))


async def _find_cancelled_order(call: BrokerCall) -> dict | None:
    order_id = call.params["order_id"]
    if all(order.id != order_id for order in await call.gateway.orders()):
        return {"order_id": order_id, "cancelled": True, "found_by_lookup": True}
    return None


async def _modify_order(call: BrokerCall) -> dict:
    """Price, SL and TP of a pending order: one not given is kept (a price given as None too: an
    order always has one); an SL or TP given as None is removed."""
    p = call.params
    order = await _pending_order(call.gateway, p["order_id"])
    price = _dec(p["price"]) if p.get("price") is not None else order.price
    sl = _dec(p["sl"]) if "sl" in p else order.sl
    tp = _dec(p["tp"]) if "tp" in p else order.tp
    return _result(await call.gateway.modify_order(p["order_id"], price, sl, tp))


# -- reading -----------------------------------------------------------------------------------------
async def _query_account(call: BrokerCall) -> dict:
    info = await call.gateway.account_information()
    return {
        "balance": str(info.balance),
        "equity": str(info.equity),
        "margin": str(info.margin),
        "free_margin": str(info.free_margin),
        "currency": info.currency,
        "leverage": str(info.leverage),
    }


# Capital-protecting operations (closing, any stop-loss change, removing pending exposure) are HIGH
# and any stop-loss change retries by the breakeven profile. Modifications are safe to send again.
# A trade (a signal's positions, one per TP) opens as one operation and changes as one: their calls
# remember their progress, so sending them again repeats nothing (``trade_calls``).
KINDS: Mapping[str, OperationKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            OperationKind(
                name="place_order",
                priority=Priority.NORMAL,
                retry_profile="order_placement",
                parameters=frozenset({"symbol", "requested_symbol", "side", "type", "sl", "tp", "price"}),
                required=frozenset({"symbol", "side", "type"}),
                send=_place_order,
                look_up=_find_placed_order,
            ),
            OperationKind(
                name="modify_sl",
                priority=Priority.HIGH,
                retry_profile="breakeven",
                parameters=frozenset({"position_id", "sl"}),
                required=frozenset({"position_id", "sl"}),
                send=_modify_position,
                look_up=None,
            ),
            OperationKind(
                name="breakeven",
                priority=Priority.HIGH,
                retry_profile="breakeven",
                parameters=frozenset({"position_id", "breakeven", "tp"}),
                required=frozenset({"position_id"}),
                send=_move_stop_to_breakeven,
                look_up=None,
            ),
            OperationKind(
                name="modify_tp",
                priority=Priority.NORMAL,
                retry_profile="tp_modification",
                parameters=frozenset({"position_id", "tp"}),
                required=frozenset({"position_id", "tp"}),
                send=_modify_position,
                look_up=None,
            ),
            OperationKind(
                name="modify_sltp",
                priority=Priority.HIGH,
                retry_profile="breakeven",
                parameters=frozenset({"position_id", "sl", "tp"}),
                required=frozenset({"position_id", "sl", "tp"}),
                send=_modify_position,
                look_up=None,
            ),
            OperationKind(
                name="close_position",
                priority=Priority.HIGH,
                retry_profile="position_close",
                parameters=frozenset({"position_id", "volume"}),
                required=frozenset({"position_id"}),
                send=_close_position,
                look_up=_find_closed_position,
            ),
            OperationKind(
                name="cancel_order",
                priority=Priority.HIGH,
                retry_profile="order_cancel",
                parameters=frozenset({"order_id"}),
                required=frozenset({"order_id"}),
                send=_cancel_order,
                look_up=_find_cancelled_order,
            ),
            OperationKind(
                name="modify_order",
                priority=Priority.NORMAL,
                retry_profile="order_placement",
                parameters=frozenset({"order_id", "price", "sl", "tp"}),
                required=frozenset({"order_id"}),
                send=_modify_order,
                look_up=None,
            ),
            OperationKind(
                name="open_trade",
                priority=Priority.NORMAL,
                retry_profile="order_placement",
                parameters=frozenset(
                    {
                        *("symbol", "requested_symbol", "side", "type", "entry", "zone", "sl", "tps"),
                        *("runner", "policy", "instrument", "own_risk", "multiplier"),
                    }
                ),
                required=frozenset({"symbol", "side", "type", "tps", "policy", "instrument"}),
                send=trade_calls.open_trade,
                look_up=trade_calls.find_opened_trade,
                broker_calls=trade_calls.open_trade_calls,
            ),
            OperationKind(
                name="manage_trade",
                priority=Priority.HIGH,
                retry_profile="breakeven",
                parameters=frozenset({"symbol", "tags", "actions", "instrument"}),
                required=frozenset({"tags", "actions"}),
                send=trade_calls.manage_trade,
                look_up=None,
                broker_calls=trade_calls.manage_trade_calls,
            ),
            OperationKind(
                name="query",
                priority=Priority.LOW,
                retry_profile="query",
                parameters=frozenset(),
                required=frozenset(),
                send=_query_account,
                look_up=None,
            ),
        )
    }
)


def kind_of(name: str) -> OperationKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown operation kind {name!r}; expected one of {sorted(KINDS)}") from None
