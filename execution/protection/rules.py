"""The decisions of position protection, as pure functions of prices and settings.

Promise: given a trade's side, its positions' levels, the quote and the symbol's stop and freeze
distances, these say what protection does, never more than the broker allows:

* :func:`reached_level`: how many of the trade's take-profit levels the price has gone through
  (a buy closes at the bid, a sell at the ask, as MetaTrader fills a TP);
* :func:`breakeven_sl`: the stop loss at the entry moved by the buffer to the profit side;
* :func:`stop_move`: how a stop loss gets to a target now: set exactly, *clamped* to the nearest
  level the stop level allows (still tighter than the current one: the move is completed later,
  when the price allows it), *wait* (the position is inside the freeze level, or no tighter level
  is allowed yet), or nothing to do (the current stop is at or beyond the target);
* :func:`trail_sl`: a trailing stop's next level: only once the profit reaches the activation
  distance, the trail distance behind the price, and only when it tightens by at least the step;
  it never loosens;
* :func:`redistribute`: the TP each filled layer takes when fewer layers filled than planned.

Distances are price distances (pips already multiplied by the symbol's pip size). No I/O, no Django.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from execution.broker.gateways.base import Side


def _sign(side: str) -> int:
    """+1 for a buy, -1 for a sell (ValueError for anything else)."""
    return Side(side).sign


def _closing_price(side: str, bid: Decimal, ask: Decimal) -> Decimal:
    """The price a position of ``side`` closes at: a buy sells at the bid, a sell buys at the ask."""
    return bid if _sign(side) > 0 else ask


def _beyond(side: str, level: Decimal, than: Decimal) -> bool:
    """Whether ``level`` is on the profit side of ``than`` (or equal) for a position of ``side``."""
    return level >= than if _sign(side) > 0 else level <= than


@dataclass(frozen=True)
class Trailing:
    """A trailing stop: starts once the profit is ``activation`` (a price distance), then keeps the
    stop ``distance`` behind the price, moving it in steps of at least ``step``."""

    activation: Decimal
    distance: Decimal
    step: Decimal

    def __post_init__(self) -> None:
        if self.activation < 0 or self.distance <= 0 or self.step < 0:
            raise ValueError("a trailing stop needs activation >= 0, distance > 0 and step >= 0")


def reached_level(*, side: str, tps: Sequence[Decimal], bid: Decimal, ask: Decimal) -> int:
    """How many of ``tps`` (nearest first) the closing price is at or through."""
    price = _closing_price(side, bid, ask)
    reached = 0
    for tp in tps:
        if not _beyond(side, price, tp):
            break
        reached += 1
    return reached


def breakeven_sl(*, side: str, open_price: Decimal, buffer: Decimal) -> Decimal:
    return open_price + _sign(side) * buffer


class MoveKind(enum.StrEnum):
    SET = "set"
    CLAMPED = "clamped"
    WAIT = "wait"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Move:
    kind: MoveKind
    sl: Decimal | None = None  # the level to send, for SET and CLAMPED
    reason: str = ""


def stop_move(
    *,
    side: str,
    current_sl: Decimal | None,
    tp: Decimal | None,
    target: Decimal,
    bid: Decimal,
    ask: Decimal,
    stop_distance: Decimal,
    freeze_distance: Decimal = Decimal(0),
    point: Decimal,
    clamp_from: Decimal | None = None,
) -> Move:
    """How the stop loss of a position of ``side`` moves towards ``target`` now.

    MetaTrader refuses a stop loss closer to the closing price than the stop level ("invalid
    stops") and any change while the price is within the freeze level of the current SL or TP.
    ``clamp_from``: no clamp short of this level (a breakeven's entry: a clamp below it would lock
    a loss), a wait instead.
    """
    sign = _sign(side)
    if current_sl is not None and _beyond(side, current_sl, target):
        return Move(MoveKind.NOTHING, reason=f"the stop loss {current_sl} is already at or beyond {target}")
    price = _closing_price(side, bid, ask)
    if freeze_distance > 0:
        for level, name in ((current_sl, "stop loss"), (tp, "take profit")):
            if level is not None and abs(price - level) <= freeze_distance:
                return Move(
                    MoveKind.WAIT,
                    reason=f"the price {price} is within the freeze level of the {name} {level}",
                )
    # the furthest a stop may be from the closing price is the stop level (plus a point, strictly)
    allowed = price - sign * (stop_distance + (point if stop_distance > 0 else 0))
    if _beyond(side, allowed, target):
        return Move(MoveKind.SET, sl=target)
    if clamp_from is not None and not _beyond(side, allowed, clamp_from):
        return Move(
            MoveKind.WAIT,
            reason=f"the stop level allows {allowed} at the price {price}, short of {clamp_from}",
        )
    if current_sl is None or (allowed - current_sl) * sign > 0:
        return Move(
            MoveKind.CLAMPED,
            sl=allowed,
            reason=f"the stop level allows {allowed} at the price {price}, not {target} yet",
        )
    return Move(
        MoveKind.WAIT, reason=f"the stop level allows no tighter stop than {current_sl} at the price {price}"
    )


def trail_sl(
    *,
    side: str,
    open_price: Decimal,
    current_sl: Decimal | None,
    bid: Decimal,
    ask: Decimal,
    trailing: Trailing,
) -> Decimal | None:
    """The trailing stop's new level, or None when it does not move (not active yet, or less than
    a step tighter than the current stop: it only ever tightens)."""
    sign = _sign(side)
    price = _closing_price(side, bid, ask)
    if (price - open_price) * sign < trailing.activation:
        return None
    candidate = price - sign * trailing.distance
    if current_sl is None:
        return candidate
    gain = (candidate - current_sl) * sign
    if gain <= 0 or gain < trailing.step:  # never loosens; tightens by a step at least
        return None
    return candidate


def redistribute(*, tp_count: int, filled: int) -> tuple[int, ...]:
    """The TP (1-based) of each filled layer, in the layers' order, when ``filled`` of the planned
    layers filled on a trade whose last TP is TP ``tp_count``: ``cf = (layer-1)/(filled-1)``,
    ``new TP = max(1, round(1 + (tp_count-1) * cf))``, halves rounded up; one filled layer takes TP1.
    The first layer keeps TP1 and the last takes the furthest TP, so the trade still reaches both."""
    if tp_count < 1 or filled < 0:
        raise ValueError("tp_count must be >= 1 and filled >= 0")
    if filled <= 1:
        return (1,) * filled
    targets = []
    for layer in range(1, filled + 1):
        spread = Decimal(tp_count - 1) * Decimal(layer - 1) / Decimal(filled - 1)
        targets.append(max(1, int((1 + spread).quantize(Decimal(1), ROUND_HALF_UP))))
    return tuple(targets)
