"""What makes live events: the pipeline's calls (operation saved, with its trade's plan for a
trade's opening or protective move; attempt started or finished; a signal received with its
decisions) and model signals (an operation accepted, an account saved or removed, a safety
transition, a membership removed or its permissions changed: its sockets re-check them at once,
closing if nothing is left to see). Connected once, by the app's ``ready``."""

from django.db.models.signals import post_delete, post_save

from execution.accounts.models import TradingAccount
from execution.live.events import (
    STATE_EVENTS,
    account_data,
    operation_data,
    safety_event_data,
    signal_data,
)
from execution.live.publishing import kick, publish
from execution.live.snapshot import trading_status
from execution.orders.models import Operation
from execution.protection.selectors import plan_of_operation
from execution.safety.models import SafetyEvent
from observability import recording
from orgs.models import Membership


def operation_changed(operation) -> None:
    """The pipeline saved the operation's state (``_Run._save``); a trade's opening or protective
    move also pushes the trade's plan (the dashboard's Trades card). An ended one is counted in the
    metrics' latency histogram."""
    recording.operation_changed(operation)
    publish(
        operation.organization_id,
        build=lambda: {
            "type": "operation",
            "operation": operation_data(operation, STATE_EVENTS.get(operation.state, operation.state)),
        },
    )
    if operation.kind in ("open_trade", "manage_trade"):
        publish(
            operation.organization_id,
            build=lambda: {"type": "trade", "trade": plan_of_operation(operation.pk)},
        )


def attempt_started(operation, attempt) -> None:
    """An attempt was recorded, about to be sent to the broker."""
    publish(
        operation.organization_id,
        {"type": "operation", "operation": operation_data(operation, "sent", attempt=attempt.number)},
    )


def attempt_finished(attempt) -> None:
    """An attempt's outcome was recorded (counted by category in the metrics): a failure to be
    retried (with its category) or not."""
    recording.attempt_finished(attempt)
    if attempt.category == "success":
        return  # "done" follows
    operation = attempt.operation
    retry_in = None if attempt.retry_in_ms is None else attempt.retry_in_ms / 1000
    details = {
        "attempt": attempt.number,
        "category": attempt.category,
        "retry_in": retry_in,
        "message": attempt.message,
    }
    event = "retry" if retry_in is not None else "attempt_failed"
    publish(
        operation.organization_id,
        {"type": "operation", "operation": operation_data(operation, event, **details)},
    )


def signal_received(signal, decisions) -> None:
    """The intake recorded ``signal`` and its routes' ``decisions``: pushed once they are committed."""
    decisions = list(decisions)

    def build() -> dict:
        account_ids = {decision.account_id for decision in decisions}
        names = dict(TradingAccount.objects.filter(pk__in=account_ids).values_list("pk", "name"))
        return {"type": "signal", "signal": signal_data(signal, decisions, account_names=names)}

    publish(signal.organization_id, build=build)


def operations_accepted(operations) -> None:
    """Operations accepted in one write (``submit_many``: no post_save): each is pushed as queued."""
    for operation in operations:
        _operation_saved(Operation, operation, created=True)


def _operation_saved(sender, instance, created, **kwargs) -> None:
    if created:
        publish(
            instance.organization_id, {"type": "operation", "operation": operation_data(instance, "queued")}
        )


def _account_saved(sender, instance, **kwargs) -> None:
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and set(update_fields) <= {"setup_password", "broker_account_id"}:
        return
    publish(instance.organization_id, {"type": "account", "account": account_data(instance)})


def _account_deleted(sender, instance, **kwargs) -> None:
    publish(instance.organization_id, {"type": "account_removed", "account_id": instance.pk})


def _safety_event_saved(sender, instance, created, **kwargs) -> None:
    if not created:
        return
    organization_id = instance.organization_id
    publish(organization_id, {"type": "safety", "safety": safety_event_data(instance)})
    publish(organization_id, build=lambda: trading_status(organization_id))


def _membership_deleted(sender, instance, **kwargs) -> None:
    kick(instance.organization_id, instance.user_id)


def _membership_saved(sender, instance, created, **kwargs) -> None:
    if not created:  # its permissions changed (orgs.services.membership_update)
        kick(instance.organization_id, instance.user_id)


def connect_signals() -> None:
    post_save.connect(_operation_saved, sender=Operation, dispatch_uid="live-operation-saved")
    post_save.connect(_account_saved, sender=TradingAccount, dispatch_uid="live-account-saved")
    post_delete.connect(_account_deleted, sender=TradingAccount, dispatch_uid="live-account-deleted")
    post_save.connect(_safety_event_saved, sender=SafetyEvent, dispatch_uid="live-safety-saved")
    post_delete.connect(_membership_deleted, sender=Membership, dispatch_uid="live-membership-deleted")
    post_save.connect(_membership_saved, sender=Membership, dispatch_uid="live-membership-saved")
