"""Reads of protection: the open trades an account's watcher follows (:func:`watched_trades`, with
the settings in prices), a trade's plan as the dashboard shows it (entry, SL, TPs, the level
reached, what protection does next, its last step) and the steps of a trade, for its decision trace.

Bounded: the open trades of an organization in three queries (trades, settings, last steps),
whatever their number up to ``MAX_PLANS``.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import OuterRef, Q, Subquery

from execution.orders.models import Operation
from execution.protection import rules
from execution.protection.models import ProtectionSettings, ProtectionStep, TradeProtection, plain
from execution.signals.models import Trade

MAX_PLANS = 100


MAX_WATCHED = 500  # open trades per account the watcher follows


@dataclass(frozen=True)
class Watched:
    """An open trade as the watcher follows it, with its protection settings in prices."""

    trade_id: int
    symbol: str
    side: str
    tps: tuple[Decimal, ...]  # the levels at the broker (as the opening planned them), nearest first
    leg_levels: dict[str, int]  # leg tag -> the TP level (1-based) its position closes at; 0: a runner
    reached: int
    breakeven_at: int  # 0: never
    buffer: Decimal  # the breakeven's distance beyond the entry, in price
    trailing: rules.Trailing | None
    opened_at: datetime
    opening_ended: bool  # the opening operation ended (done, failed or cancelled)

    def legs(self, items):
        """The positions (or orders) among ``items`` that are this trade's legs."""
        return [item for item in items if item.client_tag in self.leg_levels]


def _levels(trade: Trade) -> tuple[tuple[Decimal, ...], dict[str, int]]:
    """The trade's TP levels and each leg's, from the opening's plan (its checked levels, the TPs
    spread over fewer layers) or, before it ran, from the signal."""
    plan = trade.open_operation.params.get("plan")
    tps = tuple(Decimal(tp) for tp in (plan.get("tps", trade.tps) if plan else trade.tps))
    legs = [leg["tp"] for leg in plan["legs"]] if plan else list(trade.tps)
    leg_levels = {}
    for tag, tp in zip(trade.leg_tags, legs, strict=False):
        leg_levels[tag] = tps.index(Decimal(tp)) + 1 if tp is not None and Decimal(tp) in tps else 0
    return tps, leg_levels


def pip_of(trade: Trade) -> Decimal:
    """The pip of the trade's symbol, as its opening recorded it."""
    return Decimal(trade.open_operation.params["instrument"]["pip"])


def watched_trades(*, account_id: int) -> list[Watched]:
    """The account's open trades protection still has work on (none when it is all off)."""
    protection = ProtectionSettings.of(account_id)
    if not protection.breakeven_at and not protection.trailing:
        return []
    trades = (
        Trade.objects.filter(account_id=account_id, state=Trade.OPEN)
        .exclude(protection__over=True)
        .select_related("open_operation", "protection")
        .order_by("-pk")[:MAX_WATCHED]
    )
    watched = []
    for trade in trades:
        pip = pip_of(trade)
        trailing = None
        if protection.trailing:
            trailing = rules.Trailing(
                activation=protection.trailing_activation_pips * pip,
                distance=protection.trailing_distance_pips * pip,
                step=protection.trailing_step_pips * pip,
            )
        state = getattr(trade, "protection", None)
        tps, leg_levels = _levels(trade)
        watched.append(
            Watched(
                trade_id=trade.pk,
                symbol=trade.symbol,
                side=trade.side,
                tps=tps,
                leg_levels=leg_levels,
                reached=state.reached if state else 0,
                breakeven_at=protection.breakeven_at,
                buffer=protection.buffer_price(pip),
                trailing=trailing,
                opened_at=trade.created_at,
                opening_ended=trade.open_operation.state in Operation.TERMINAL,
            )
        )
    return watched


def _next(trade: Trade, state: TradeProtection | None, protection: ProtectionSettings) -> str:
    """What protection does next for the trade, in words."""
    reached = state.reached if state else 0
    moves = []
    operation = state.breakeven_operation if state else None
    pip = plain(pip_of(trade))
    buffer = plain(protection.breakeven_buffer_pips)
    if not protection.breakeven_at:
        moves.append("no automatic breakeven")
    elif operation is not None and operation.state not in Operation.TERMINAL:
        moves.append(f"breakeven on its way (operation #{operation.pk})")
    elif operation is not None and operation.state == Operation.DONE:
        left = [
            change for change in (operation.result or {}).get("changes", []) if change.startswith("left ")
        ]
        if left:
            moves.append(f"breakeven waits for the broker's levels ({left[0]}), asked again within 15 s")
        else:
            moves.append(f"stop loss at breakeven (entry + {buffer} pips), confirmed; checked every 15 s")
    elif reached >= protection.breakeven_at:
        moves.append(f"breakeven (entry + {buffer} pips) to be asked again")
    else:
        moves.append(f"breakeven to entry + {buffer} pips at TP{protection.breakeven_at}")
    if protection.trailing:
        moves.append(
            f"trailing stop {plain(protection.trailing_distance_pips)} pips behind the price from "
            f"{plain(protection.trailing_activation_pips)} pips of profit, "
            f"in steps of {plain(protection.trailing_step_pips)}"
        )
    return f"{'; '.join(moves)} (a pip is {pip})."


def trade_plan(trade: Trade, protection: ProtectionSettings, last_step: str | None = None) -> dict:
    state = getattr(trade, "protection", None)
    plan = trade.open_operation.params.get("plan") or {}
    return {
        "id": trade.pk,
        "account_id": trade.account_id,
        "symbol": trade.symbol,
        "side": trade.side,
        "entry": plan.get("entry") or trade.entry or "market",
        "sl": plan.get("sl") or trade.sl,
        "tps": plan.get("tps") or trade.tps,
        "legs": len(plan.get("legs") or ()) or None,
        "reached": state.reached if state else 0,
        "opening": trade.open_operation.state,
        "next": _next(trade, state, protection),
        "last_step": last_step or "",
    }


def _plans_query():
    last = ProtectionStep.objects.filter(trade=OuterRef("pk")).order_by("-at", "-id").values("message")[:1]
    return Trade.objects.select_related("open_operation", "protection__breakeven_operation").annotate(
        last_step=Subquery(last)
    )


def open_trade_plans(*, organization_id: int) -> list[dict]:
    """The organization's open trades still followed by protection, newest first."""
    trades = list(
        _plans_query()
        .filter(organization_id=organization_id, state=Trade.OPEN)
        .exclude(protection__over=True)
        .order_by("-pk")[:MAX_PLANS]
    )
    saved = {
        protection.account_id: protection
        for protection in ProtectionSettings.objects.filter(
            account_id__in={trade.account_id for trade in trades}
        )
    }
    return [
        trade_plan(
            trade,
            saved.get(trade.account_id) or ProtectionSettings(account_id=trade.account_id),
            trade.last_step,
        )
        for trade in trades
    ]


def plan_of(trade_id: int) -> dict | None:
    return _plan_where(pk=trade_id)


def plan_of_operation(operation_id: int) -> dict | None:
    """The plan of the trade ``operation_id`` opens or protects (None: the operation is no trade's
    opening, breakeven or trailing move)."""
    return _plan_where(
        Q(open_operation_id=operation_id)
        | Q(protection__breakeven_operation_id=operation_id)
        | Q(protection__trailing_operation_id=operation_id)
    )


def _plan_where(*conditions, **lookup) -> dict | None:
    trade = _plans_query().filter(*conditions, **lookup).first()
    if trade is None:
        return None
    return trade_plan(trade, ProtectionSettings.of(trade.account_id), trade.last_step)


def steps_of(trade: Trade) -> list[ProtectionStep]:
    return list(trade.protection_steps.all())
