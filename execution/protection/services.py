"""What protection does to a trade, whichever trigger asks: the stream (a TP position closed, the
price through a TP level), the background check, a channel instruction or the user's button.

Promise: a trade's reached level only rises (:func:`level_reached`), and at most one breakeven and
one trailing move are in flight per trade: asking again while one is pending sends nothing, so
independent triggers never double a move, and one trigger missing loses nothing. A move is a
``manage_trade`` operation (high priority: protective operations pass the pause's queue first, with
the Breakeven retry profile), run after the trade's opening. Each step is recorded
(:class:`ProtectionStep`) and pushed to the organization's live feed.

The per-trade row is locked by writing it first (an UPDATE): a row lock on PostgreSQL, the write
lock on SQLite, so two processes asking at once see each other's operation.
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.errors import ServiceError
from execution.accounts.models import TradingAccount
from execution.live.publishing import publish
from execution.orders.accept import Planned, submit_many
from execution.orders.models import Operation
from execution.orders.trade_calls import manage_trade_params
from execution.protection import selectors
from execution.protection.models import ProtectionSettings, ProtectionStep, TradeProtection
from execution.signals.models import Trade


def _locked(trade_id: int) -> TradeProtection:
    """The trade's protection row, locked until the transaction ends."""
    TradeProtection.objects.get_or_create(trade_id=trade_id)
    TradeProtection.objects.filter(pk=trade_id).update(updated_at=timezone.now())
    return TradeProtection.objects.select_related("trade__account", "trade__open_operation").get(pk=trade_id)


def _in_flight(operation_id: int | None) -> bool:
    return (
        operation_id is not None
        and Operation.objects.filter(pk=operation_id).exclude(state__in=Operation.TERMINAL).exists()
    )


def _step(trade: Trade, kind: str, message: str, operation: Operation | None = None) -> ProtectionStep:
    step = ProtectionStep.objects.create(trade=trade, kind=kind, message=message, operation=operation)
    event = {
        "trade_id": trade.pk,
        "account_id": trade.account_id,
        "symbol": trade.symbol,
        "kind": kind,
        "message": message,
        "operation_id": operation.pk if operation else None,
        "at": step.at.isoformat(),
    }
    publish(
        trade.organization_id,
        build=lambda: {"type": "protection", "step": event, "trade": selectors.plan_of(trade.pk)},
    )
    return step


def _move(trade: Trade, action: dict, requested_by: str) -> Operation:
    instrument = trade.open_operation.params["instrument"]
    params = manage_trade_params(
        symbol=trade.symbol,
        tags=trade.leg_tags,
        actions=[action],
        instrument={"volume_min": instrument["volume_min"], "volume_step": instrument["volume_step"]},
    )
    (operation,) = submit_many(
        [
            Planned(
                account=trade.account,
                kind="manage_trade",
                params=params,
                requested_by=requested_by,
                after=trade.open_operation_id,
            )
        ]
    )
    return operation


def _breakeven(state: TradeProtection, cause: str, requested_by: str) -> Operation | None:
    if _in_flight(state.breakeven_operation_id):
        return None
    trade = state.trade
    buffer = ProtectionSettings.of(trade.account_id).buffer_price(selectors.pip_of(trade))
    operation = _move(trade, {"action": "breakeven", "buffer": str(buffer)}, requested_by)
    state.breakeven_operation = operation
    state.save(update_fields=["breakeven_operation", "updated_at"])
    _step(trade, ProtectionStep.BREAKEVEN, f"Breakeven (entry ± {buffer}) requested: {cause}.", operation)
    return operation


@transaction.atomic
def level_reached(*, trade_id: int, level: int, cause: str) -> Operation | None:
    """The trade's price reached TP ``level`` (or its leg closed there): recorded once, and the
    breakeven requested when that is its trigger level or beyond."""
    state = _locked(trade_id)
    before = state.reached
    if level <= before:
        return None
    state.reached = level
    state.save(update_fields=["reached", "updated_at"])
    trade = state.trade
    _step(trade, ProtectionStep.TP_REACHED, f"TP{level} reached: {cause}.")
    trigger = ProtectionSettings.of(trade.account_id).breakeven_at
    if trigger and before < trigger <= level:  # crossing the trigger; the background check does the rest
        return _breakeven(state, f"TP{level} reached", "protection")
    return None


@transaction.atomic
def request_breakeven(*, trade_id: int, cause: str, requested_by: str = "protection") -> Operation | None:
    """A breakeven for what is left of the trade, unless one is in flight (None then)."""
    return _breakeven(_locked(trade_id), cause, requested_by)


@transaction.atomic
def request_trailing(*, trade_id: int, sl: Decimal) -> Operation | None:
    """The trailing stop's next level for every remaining position, unless a move is in flight."""
    state = _locked(trade_id)
    if _in_flight(state.trailing_operation_id):
        return None
    operation = _move(state.trade, {"action": "trail", "sl": str(sl)}, "protection")
    state.trailing_operation = operation
    state.save(update_fields=["trailing_operation", "updated_at"])
    _step(state.trade, ProtectionStep.TRAILING, f"Trailing stop to {sl}.", operation)
    return operation


def settings_set(*, account: TradingAccount, **fields) -> ProtectionSettings:
    """Save the account's protection settings (already validated against the model's limits);
    the watcher applies them to the open trades at its next re-read (within seconds)."""
    saved, _ = ProtectionSettings.objects.update_or_create(account=account, defaults=fields)
    return saved


def trade_over(*, trade_id: int) -> None:
    """Nothing of the trade is left at the broker: the watcher stops following it (and the
    dashboard's Trades card drops it)."""
    state, _ = TradeProtection.objects.select_related("trade").update_or_create(
        trade_id=trade_id, defaults={"over": True}
    )
    publish(state.trade.organization_id, {"type": "trade", "trade": None, "ended": trade_id})


def breakeven_for_user(*, account: TradingAccount, trade_id: int, requested_by: str) -> Operation:
    """The user's button: a breakeven of the account's trade now. Another account's trade is
    unknown; one already on its way is a conflict."""
    if not Trade.objects.filter(pk=trade_id, account=account).exists():
        raise ServiceError("Unknown trade.", field="trade_id", code="not_found")
    operation = request_breakeven(
        trade_id=trade_id, cause=f"asked by {requested_by}", requested_by=requested_by
    )
    if operation is None:
        raise ServiceError("A breakeven of this trade is already on its way.", code="conflict")
    return operation
