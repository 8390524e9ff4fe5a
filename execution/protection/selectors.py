"""Reads of protection: a trade's plan as the dashboard shows it (entry, SL, TPs, the level reached,
what protection does next, its last step) and the steps of a trade, for its decision trace.

Bounded: the open trades of an organization in three queries (trades, settings, last steps),
whatever their number up to ``MAX_PLANS``.
"""

from decimal import Decimal

from django.db.models import OuterRef, Q, Subquery

from execution.orders.models import Operation
from execution.protection.models import ProtectionSettings, ProtectionStep, TradeProtection, plain
from execution.signals.models import Trade

MAX_PLANS = 100


def _next(trade: Trade, state: TradeProtection | None, protection: ProtectionSettings) -> str:
    """What protection does next for the trade, in words."""
    reached = state.reached if state else 0
    moves = []
    operation = state.breakeven_operation if state else None
    pip = plain(Decimal(trade.open_operation.params["instrument"]["pip"]))
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
