"""The broker calls of operations on a whole trade: opening it (one position per TP) and changing
what is left of it (breakeven, SL, TPs, closing part or all, cancelling its pending orders).

Promise: a trade's legs are tagged ``<operation's client tag>.<leg index>`` (:func:`leg_tag`), so
a trade is found at the broker by its tags alone: the positions and pending orders still carrying
them are what every later change acts on (nothing is asked of a position that is already gone).
:func:`open_trade_params` / :func:`manage_trade_params` write the operations' parameters, the
functions after them read them back inside the pipeline.

Opening runs the level checks (``execution.checks``) again with the live quote right before the
first send (the sanitizer, the entry guards, a zone's resolution need it), sizes the trade once
from the risk settings (the total split across the legs, ``execution.checks.split_volume``; fewer
legs than TPs take TPs spread by ``protection.rules.redistribute``), and remembers the plan and
every leg placed: a retry sends only the legs not placed yet, a look-up after an unknown outcome
finds the legs by their tags. A change remembers which of its actions are done, and a partial
close the volumes it planned, so that sending it again never closes twice.

Protective moves (breakeven, a trailing stop) go only as far as the symbol's stop and freeze levels
allow now (``protection.rules.stop_move``) and are verified: the positions are read again until the
broker shows the new stop losses, for up to ``VERIFY_TIMEOUT`` s, else a timeout the operation's
retry profile (Breakeven) sends again, sending only what is still missing.
"""

import asyncio
import functools
from dataclasses import fields
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

from execution import checks
from execution.broker.gateways.base import (
    GatewayError,
    OrderKind,
    OrderRequest,
    Position,
    Side,
    SymbolSpec,
)
from execution.orders.sizing import Rejected
from execution.protection import rules

MAX_LEGS = 7  # six take-profits and a runner
VERIFY_TIMEOUT = 15.0  # seconds a protective move has to show at the broker
VERIFY_EVERY = 0.25


def leg_tag(client_tag: str, index: int) -> str:
    return f"{client_tag}.{index}"


def _text(value) -> str | None:
    return None if value is None else str(value)


def _dec(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


# -- parameters --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _policy_params(policy: checks.Policy) -> dict:
    """A route's policy as saved (shared by the operations of one fan-out: never changed in place)."""
    saved = {}
    for item in fields(policy):
        value = getattr(policy, item.name)
        saved[item.name] = _text(value) if isinstance(value, Decimal) else value
    return saved


def open_trade_params(
    *,
    symbol: str,
    requested_symbol: str,
    levels: checks.Levels,
    runner: bool,
    policy: checks.Policy,
    instrument: checks.Instrument,
    volume_min: Decimal,
    volume_step: Decimal,
    own_risk: dict | None,
    multiplier: Decimal,
) -> dict:
    return {
        "symbol": symbol,
        "requested_symbol": requested_symbol,
        "side": levels.side,
        "type": levels.order_type,
        "entry": _text(levels.entry),
        "zone": None if levels.zone is None else [str(edge) for edge in levels.zone],
        "sl": _text(levels.sl),
        "tps": [str(tp) for tp in levels.tps],
        "runner": runner,
        "policy": _policy_params(policy),
        "instrument": {
            "digits": instrument.digits,
            "pip": str(instrument.pip),
            "sessions": [list(session) for session in instrument.sessions],
            "volume_min": str(volume_min),
            "volume_step": str(volume_step),
        },
        "own_risk": own_risk,
        "multiplier": str(multiplier),
    }


def levels_of(params) -> checks.Levels:
    zone = params.get("zone")
    return checks.Levels(
        side=params["side"],
        order_type=params["type"],
        entry=_dec(params.get("entry")),
        zone=None if not zone else (Decimal(zone[0]), Decimal(zone[1])),
        sl=_dec(params.get("sl")),
        tps=tuple(Decimal(tp) for tp in params.get("tps") or ()),
    )


def policy_of(params) -> checks.Policy:
    saved = dict(params["policy"])
    for key in ("default_sl_pips", "default_tp_pips", "sl_max_tp_multiple"):
        saved[key] = Decimal(saved[key])
    for key in ("max_entry_distance_pips", "max_spread_pips"):
        saved[key] = _dec(saved.get(key))
    if saved.get("hours") is not None:
        saved["hours"] = tuple(saved["hours"])
    return checks.Policy(**saved)


def instrument_of(params) -> checks.Instrument:
    saved = params["instrument"]
    return checks.Instrument(
        digits=saved["digits"],
        pip=Decimal(saved["pip"]),
        sessions=tuple(tuple(session) for session in saved["sessions"]),
    )


def manage_trade_params(*, symbol: str, tags: list[str], actions: list[dict], instrument: dict) -> dict:
    """``actions``: ``{"action": one of ACTIONS, ...its levels}`` in the order they apply;
    ``instrument``: ``{"volume_min", "volume_step"}`` for partial closes."""
    unknown = [action["action"] for action in actions if action["action"] not in ACTIONS]
    if unknown:
        raise ValueError(f"unknown trade actions {unknown}; expected {sorted(ACTIONS)}")
    return {"symbol": symbol, "tags": tags, "actions": actions, "instrument": instrument}


def open_trade_calls(params) -> int:
    """The quote, the symbol's look-ups and one order per leg."""
    return 2 + min(MAX_LEGS, max(1, len(params.get("tps") or ())) + bool(params.get("runner")))


def manage_trade_calls(params) -> int:
    """Per action: the positions, the orders, the symbol, a write per leg and a verification read."""
    return len(params["actions"]) * (4 + MAX_LEGS)


# -- opening -----------------------------------------------------------------------------------------
def _plan(evaluation: checks.Evaluation, params, total: Decimal) -> dict:
    levels = evaluation.levels
    targets: list[Decimal | None] = list(levels.tps) or [None]
    if params.get("runner") and levels.tps:
        targets.append(None)
    targets = targets[:MAX_LEGS]
    volumes = checks.split_volume(
        total=total,
        legs=len(targets),
        volume_min=Decimal(params["instrument"]["volume_min"]),
        volume_step=Decimal(params["instrument"]["volume_step"]),
    )
    carrying = [volume for volume in volumes if volume > 0]
    if levels.tps and len(carrying) < len(levels.tps):  # fewer layers than TPs: spread them over the TPs
        targets = [
            levels.tps[tp - 1] for tp in rules.redistribute(tp_count=len(levels.tps), filled=len(carrying))
        ]
    return {
        "side": levels.side,
        "type": levels.order_type,
        "entry": _text(levels.entry),
        "sl": _text(levels.sl),
        "tps": [str(tp) for tp in levels.tps],
        "legs": [
            {"tp": _text(tp), "volume": str(volume)} for tp, volume in zip(targets, carrying, strict=False)
        ],
    }


async def open_trade(call) -> dict:
    p, gateway = call.params, call.gateway
    plan = p.get("plan")
    if plan is None:
        quote = await gateway.price(p["symbol"])
        evaluation = checks.evaluate(
            checks.Context(
                levels=levels_of(p),
                policy=policy_of(p),
                instrument=instrument_of(p),
                quote=checks.Quote(bid=quote.bid, ask=quote.ask),
                now=datetime.now(UTC),
            )
        )
        steps = [step.to_dict() for step in evaluation.steps]
        if not evaluation.ok:
            await call.remember(checks=steps)
            stopped = evaluation.stopped
            raise Rejected(f"{stopped.code}: {stopped.message}")
        total = await call.volume_for(evaluation.levels.entry, evaluation.levels.sl)
        plan = _plan(evaluation, p, total)
        if not plan["legs"]:
            raise Rejected(f"The volume {total} cannot be split into positions of the symbol's minimum.")
        await call.remember(checks=steps, plan=plan)
    placed = dict(p.get("placed") or {})
    side, kind = Side(plan["side"]), OrderKind(plan["type"])
    for index, leg in enumerate(plan["legs"]):
        if str(index) in placed:
            continue
        if index:
            await call.pace()
        request = OrderRequest(
            p["symbol"],
            side,
            kind,
            Decimal(leg["volume"]),
            price=None if kind is OrderKind.MARKET else Decimal(plan["entry"]),
            sl=_dec(plan["sl"]),
            tp=_dec(leg["tp"]),
            client_tag=leg_tag(call.client_tag, index),
        )
        result = await gateway.place_order(request)
        placed[str(index)] = {"order_id": result.order_id, "position_id": result.position_id}
        await call.remember(placed=placed)
    return {"legs": [placed[str(index)] for index in range(len(plan["legs"]))]}


async def find_opened_trade(call) -> dict | None:
    """After an unknown outcome: the legs found by their tags are remembered as placed; the trade
    is done if all are, else None (the send places the others)."""
    plan = call.params.get("plan")
    if plan is None:
        return None  # nothing was planned, so nothing was sent
    placed = dict(call.params.get("placed") or {})
    for index in range(len(plan["legs"])):
        if str(index) in placed:
            continue
        match = await call.gateway.find_by_client_tag(leg_tag(call.client_tag, index))
        if match.found:
            position = match.positions[0].id if match.positions else None
            order = match.orders[0].id if match.orders else None
            deal = match.deals[0] if match.deals else None
            placed[str(index)] = {
                "order_id": order or (deal.order_id if deal else None),
                "position_id": position or (deal.position_id if deal else None),
            }
    await call.remember(placed=placed)
    if len(placed) < len(plan["legs"]):
        return None
    return {"legs": [placed[str(index)] for index in range(len(plan["legs"]))], "found_by_client_tag": True}


# -- changing what is left of a trade -----------------------------------------------------------------
def _leg_index(tag: str | None) -> int:
    return int(tag.rsplit(".", 1)[1]) if tag and "." in tag else 0


class _Writes:
    """The broker writes of one change, paced apart (the pipeline paced the first)."""

    def __init__(self, call) -> None:
        self.call, self.count, self.changes = call, 0, []

    async def __call__(self, what: str, write, *args) -> None:
        if self.count:
            await self.call.pace()
        self.count += 1
        await write(*args)
        self.changes.append(what)


async def _breakeven(call, action, positions, orders, writes, index) -> None:
    """Every remaining position's SL to its entry moved by ``buffer`` (a price distance) to the
    profit side, as far as the broker allows it now (``protection.rules.stop_move``): set, clamped
    to the stop level where that still locks in the entry, or left (inside the freeze level, or not
    beyond the entry by the stop level yet: it would be refused as invalid stops, a permanent
    failure that would pause the account), and said so. Then verified with the broker."""
    if not positions:
        return
    buffer = _dec(action.get("buffer")) or Decimal(0)
    spec = await call.gateway.symbol_spec(call.params["symbol"])
    sent = {}
    for position in positions:
        side = position.side.value
        target = rules.breakeven_sl(side=side, open_price=position.open_price, buffer=buffer)
        move = _allowed_move(spec, position, target, clamp_from=position.open_price)
        if move.kind is rules.MoveKind.NOTHING:
            continue
        if move.kind is rules.MoveKind.WAIT:
            writes.changes.append(f"left {position.id} at breakeven {target}: {move.reason}")
            continue
        clamped = f" (clamped: {move.reason})" if move.kind is rules.MoveKind.CLAMPED else ""
        await writes(
            f"SL of {position.id} to {move.sl}{clamped}",
            call.gateway.modify_position,
            position.id,
            move.sl,
            position.tp,
        )
        sent[position.id] = move.sl
    await _verify(call, sent)


def _allowed_move(
    spec: SymbolSpec, position: Position, target: Decimal, clamp_from: Decimal | None = None
) -> rules.Move:
    """How far the position's SL may move to ``target`` now, judged at the position's closing price
    as the broker just reported it (the price its stop and freeze levels are measured from)."""
    return rules.stop_move(
        side=position.side.value,
        current_sl=position.sl,
        tp=position.tp,
        target=target,
        bid=position.current_price,
        ask=position.current_price,
        stop_distance=spec.point * spec.stops_level,
        freeze_distance=spec.point * spec.freeze_level,
        point=spec.point,
        clamp_from=clamp_from,
    )


async def _verify(call, sent: dict[str, Decimal]) -> None:
    """Read the positions again until the broker shows every stop loss sent (a closed position
    needs none), for up to ``VERIFY_TIMEOUT`` s; else a timeout: the operation is retried with its
    profile, and the retry sends only what is still not there."""
    deadline = asyncio.get_running_loop().time() + VERIFY_TIMEOUT
    while sent:
        current = {position.id: position.sl for position in await call.gateway.positions()}
        sent = {pid: sl for pid, sl in sent.items() if pid in current and current[pid] != sl}
        if not sent:
            return
        if asyncio.get_running_loop().time() >= deadline:
            raise GatewayError(
                f"the broker did not show the stop loss of {', '.join(sorted(sent))} "
                f"within {VERIFY_TIMEOUT:g} s",
                source="transport",
                string_code="timeout",
            )
        await asyncio.sleep(VERIFY_EVERY)


async def _trail(call, action, positions, orders, writes, index) -> None:
    """A trailing stop's move: every remaining position's SL to ``sl`` where that tightens it and
    the broker allows it now (never loosened, never clamped: the next tick trails again)."""
    if not positions:
        return
    sl = Decimal(action["sl"])
    spec = await call.gateway.symbol_spec(call.params["symbol"])
    sent = {}
    for position in positions:
        move = _allowed_move(spec, position, sl)
        if move.kind is rules.MoveKind.SET:
            await writes(
                f"SL of {position.id} trailed to {sl}",
                call.gateway.modify_position,
                position.id,
                sl,
                position.tp,
            )
            sent[position.id] = sl
        elif move.kind is not rules.MoveKind.NOTHING:
            writes.changes.append(f"left {position.id}: {move.reason}")
    await _verify(call, sent)


async def _move_sl(call, action, positions, orders, writes, index) -> None:
    sl = _dec(action["sl"])
    for position in positions:
        if position.sl != sl:
            await writes(
                f"SL of {position.id} to {sl}", call.gateway.modify_position, position.id, sl, position.tp
            )
    for order in orders:
        if order.sl != sl:
            await writes(
                f"SL of order {order.id} to {sl}",
                call.gateway.modify_order,
                order.id,
                order.price,
                sl,
                order.tp,
            )


async def _move_tp(call, action, positions, orders, writes, index) -> None:
    """``target`` (1-based TP index) moves that leg's TP; without it every leg's."""
    tp, target = _dec(action["tp"]), action.get("target")
    for position in positions:
        if (target is None or _leg_index(position.client_tag) == target - 1) and position.tp != tp:
            await writes(
                f"TP of {position.id} to {tp}", call.gateway.modify_position, position.id, position.sl, tp
            )
    for order in orders:
        if (target is None or _leg_index(order.client_tag) == target - 1) and order.tp != tp:
            await writes(
                f"TP of order {order.id} to {tp}",
                call.gateway.modify_order,
                order.id,
                order.price,
                order.sl,
                tp,
            )


async def _set_levels(call, action, positions, orders, writes, index) -> None:
    """An edit or the details of an alert: the SL of every leg, leg i's TP from ``tps[i]``."""
    sl, tps = _dec(action.get("sl")), [Decimal(tp) for tp in action.get("tps") or ()]
    for item in [*positions, *orders]:
        leg = _leg_index(item.client_tag)
        new_sl = sl if sl is not None else item.sl
        new_tp = tps[leg] if leg < len(tps) else item.tp
        if (new_sl, new_tp) == (item.sl, item.tp):
            continue
        if isinstance(item, Position):
            await writes(f"levels of {item.id}", call.gateway.modify_position, item.id, new_sl, new_tp)
        else:
            await writes(
                f"levels of order {item.id}", call.gateway.modify_order, item.id, item.price, new_sl, new_tp
            )


def _partial_plan(positions: list[Position], fraction: Decimal, volume_min: Decimal, step: Decimal) -> dict:
    """Which volume of which position closes ``fraction`` of the trade's open volume: whole
    positions first, nearest TP first, the rest from the next one where both parts stay tradable."""
    positions = sorted(positions, key=lambda position: _leg_index(position.client_tag))
    total = sum((position.volume for position in positions), Decimal(0))
    left = (total * fraction / step).to_integral_value(rounding=ROUND_FLOOR) * step
    plan = {}
    for position in positions:
        if left <= 0:
            break
        if position.volume <= left:
            plan[position.id] = {"close": str(position.volume), "before": str(position.volume)}
            left -= position.volume
        elif left >= volume_min and position.volume - left >= volume_min:
            plan[position.id] = {"close": str(left), "before": str(position.volume)}
            left = Decimal(0)
    return plan


async def _close_partial(call, action, positions, orders, writes, index) -> None:
    key = f"close_plan_{index}"
    plan = call.params.get(key)
    if plan is None:
        instrument = call.params["instrument"]
        plan = _partial_plan(
            positions,
            Decimal(str(action["fraction"])),
            Decimal(instrument["volume_min"]),
            Decimal(instrument["volume_step"]),
        )
        await call.remember(**{key: plan})
    current = {position.id: position for position in positions}
    for position_id, part in plan.items():
        position = current.get(position_id)
        if position is None or position.volume <= Decimal(part["before"]) - Decimal(part["close"]):
            continue  # gone, or this part was closed already
        full = Decimal(part["close"]) >= position.volume
        await writes(
            f"closed {part['close']} of {position_id}",
            call.gateway.close_position,
            position_id,
            None if full else Decimal(part["close"]),
        )


async def _close_all(call, action, positions, orders, writes, index) -> None:
    for position in positions:
        await writes(f"closed {position.id}", call.gateway.close_position, position.id, None)
    await _cancel(call, action, positions, orders, writes, index)


async def _cancel(call, action, positions, orders, writes, index) -> None:
    for order in orders:
        await writes(f"cancelled order {order.id}", call.gateway.cancel_order, order.id)


ACTIONS = {
    "breakeven": _breakeven,
    "trail": _trail,
    "move_sl": _move_sl,
    "move_tp": _move_tp,
    "set_levels": _set_levels,
    "close_partial": _close_partial,
    "close_all": _close_all,
    "cancel": _cancel,
}
POSITIONS_ONLY = frozenset({"breakeven", "trail"})  # actions on open positions alone


async def manage_trade(call) -> dict:
    p, gateway = call.params, call.gateway
    tags = set(p["tags"])
    done = list(p.get("done") or [])
    writes = _Writes(call)
    for index, action in enumerate(p["actions"]):
        if index in done:
            continue
        positions = [position for position in await gateway.positions() if position.client_tag in tags]
        orders = []
        if action["action"] not in POSITIONS_ONLY:  # a stop-loss move has nothing to ask of orders
            orders = [order for order in await gateway.orders() if order.client_tag in tags]
        await ACTIONS[action["action"]](call, action, positions, orders, writes, index)
        done.append(index)
        await call.remember(done=done)
    return {"changes": writes.changes}
