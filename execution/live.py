"""The live dashboard's data: the event contract, what each member may receive, reads for the
snapshot, the dashboard's actions, and publishing to the channel layer after commit.

Groups: every event of an organization goes to ``org_group(org)``; a member's sockets on that
organization also join ``user_group(org, user)``, which only ever receives a *kick* (the membership
was removed: the socket closes). Events are pushed after commit (``transaction.on_commit``) from
whichever process made them: the web server, a worker, the streaming process.

Server -> browser messages (JSON objects, ``type`` first; Decimals are strings, times ISO 8601 UTC):

* ``snapshot``: sent on connect and on ``{"action": "resync"}``: ``organization`` {slug, name},
  ``permissions``, ``can_trade``, ``accounts`` [account], ``positions`` {account id: [position] | null},
  ``orders`` {account id: [order] | null} (null: not known yet, the stream will push it),
  ``links`` {account id: {state, reason} | null} (the streaming link, null: not streamed),
  ``operations`` [operation] (newest first), ``safety_events`` [safety], ``status``, ``server_time``.
* ``account`` {account}: figures or connection state changed (also a new account).
  ``account_removed`` {account_id}.
* ``link`` {account_id, state: "up" | "down", reason}: the streaming link to the broker.
* ``positions`` / ``orders`` {account_id, positions | orders}: the account's whole book (bounded).
* ``tick`` {account_id, symbol, bid, ask, time}: a quote of a symbol the account has positions or orders in.
* ``operation`` {operation}: ``operation.event`` is queued | sent | retry | attempt_failed | waiting |
  done | failed, with ``attempt``, ``category``, ``retry_in`` and ``reason`` where they apply.
* ``safety`` {safety}: a pause (per account) or broker health (per platform) transition:
  {monitor, account_id, platform_id, from_state, to_state, cause, at}; always followed by ``status``.
* ``status``: the header indicator: ``level`` green | yellow | red and ``accounts`` [{account_id,
  name, level, pause_state, seconds_to_test, broker_health, broker_health_seconds_remaining}].
* ``action_result`` {request_id, ok, operation | error}: the answer to a dashboard action.
* ``kick`` {reason}: the membership ended; the server closes the socket (code 4403).
* ``pong`` {request_id}: the answer to ``{"action": "ping"}``.

Who receives what: account, link, positions, orders and tick events need ``view_accounts``;
operation, safety and status events ``view_operations`` (``EVENT_PERMISSION``); a socket opened with
``?status=1`` (the header indicator on every page) receives only status and safety events, and a
snapshot with ``status`` alone.

Browser -> server: ``{"action": "resync"}``, ``{"action": "ping"}`` and, with the ``trade`` permission,
``close_position`` {account_id, position_id, volume?}, ``breakeven`` {account_id, position_id},
``modify_position`` {account_id, position_id, sl?, tp?} (a level left out is kept; given empty or
null, it is removed), ``cancel_order`` {account_id, order_id}; each may carry a ``request_id``
echoed in its ``action_result``. Anything else is answered with an error, never executed.
"""

import asyncio
import logging
import os
import threading

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

KICK_CLOSE_CODE = 4403
MAX_ACCOUNTS = 100
MAX_BOOK = 200  # positions, and orders, per account
MAX_OPERATIONS = 50
MAX_SAFETY_EVENTS = 20
BOOK_CACHE_SECONDS = 120

# What a member needs to receive each event type (anything not listed needs only membership).
EVENT_PERMISSION = {
    "account": "view_accounts",
    "account_removed": "view_accounts",
    "link": "view_accounts",
    "positions": "view_accounts",
    "orders": "view_accounts",
    "tick": "view_accounts",
    "operation": "view_operations",
    "safety": "view_operations",
    "status": "view_operations",
}
# The header indicator alone (``?status=1``) receives only these.
STATUS_ONLY_TYPES = frozenset({"status", "safety", "kick"})
CONNECT_PERMISSIONS = frozenset({"view_accounts", "view_operations"})  # any one of them

GREEN, YELLOW, RED = "green", "yellow", "red"
_LEVEL_ORDER = {GREEN: 0, YELLOW: 1, RED: 2}


def org_group(organization_id: int) -> str:
    return f"ttmt-live.org.{organization_id}"


def user_group(organization_id: int, user_id: int) -> str:
    return f"ttmt-live.org.{organization_id}.user.{user_id}"


def allowed(event_type: str, permissions: frozenset[str], *, status_only: bool = False) -> bool:
    if status_only and event_type not in STATUS_ONLY_TYPES:
        return False
    needed = EVENT_PERMISSION.get(event_type)
    return needed is None or needed in permissions


# --- serialisation --------------------------------------------------------------------------------


def _s(value) -> str | None:
    return None if value is None else str(value)


def _t(moment) -> str | None:
    return None if moment is None else moment.isoformat()


def account_data(account) -> dict:
    return {
        "id": account.pk,
        "name": account.name,
        "type": account.type,
        "is_live": account.is_live,
        "login": account.login,
        "server": account.server,
        "platform_id": account.platform_id,
        "connection_state": account.connection_state,
        "connection_error": account.connection_error,
        "balance": _s(account.balance),
        "equity": _s(account.equity),
        "margin": _s(account.margin),
        "free_margin": _s(account.free_margin),
        "currency": account.currency,
        "leverage": account.leverage,
        "figures_at": _t(account.figures_at),
    }


def position_data(position) -> dict:
    return {
        "id": position.id,
        "symbol": position.symbol,
        "side": str(position.side),
        "volume": _s(position.volume),
        "open_price": _s(position.open_price),
        "current_price": _s(position.current_price),
        "sl": _s(position.sl),
        "tp": _s(position.tp),
        "profit": _s(position.profit),
        "opened_at": _t(position.opened_at),
    }


def order_data(order) -> dict:
    return {
        "id": order.id,
        "symbol": order.symbol,
        "type": str(order.type),
        "side": str(order.side),
        "volume": _s(order.volume),
        "price": _s(order.price),
        "sl": _s(order.sl),
        "tp": _s(order.tp),
        "created_at": _t(order.created_at),
    }


_SHOWN_PARAMS = (
    "symbol",
    "side",
    "type",
    "volume",
    "price",
    "sl",
    "tp",
    "breakeven",
    "position_id",
    "order_id",
)
_PRIORITY_NAMES = {0: "high", 1: "normal", 2: "low"}


def operation_data(operation, event: str, **details) -> dict:
    params = operation.params or {}
    return {
        "id": operation.pk,
        "account_id": operation.account_id,
        "kind": operation.kind,
        "priority": _PRIORITY_NAMES.get(operation.priority, str(operation.priority)),
        "state": operation.state,
        "event": event,
        "params": {key: params[key] for key in _SHOWN_PARAMS if params.get(key) is not None},
        "attempt_count": operation.attempt_count,
        "last_category": operation.last_category,
        "reason": operation.reason,
        "requested_by": operation.requested_by,
        "created_at": _t(operation.created_at),
        "at": _t(timezone.now()),
        **details,
    }


_STATE_EVENTS = {
    "accepted": "queued",
    "running": "sent",
    "waiting": "waiting",
    "done": "done",
    "failed": "failed",
}


def safety_event_data(event) -> dict:
    return {
        "id": event.pk,
        "monitor": event.monitor,
        "account_id": event.account_id,
        "platform_id": event.platform_id,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "cause": event.cause,
        "at": _t(event.at),
    }


# --- reads ----------------------------------------------------------------------------------------


def _accounts(organization_id: int):
    from execution.models import TradingAccount

    return TradingAccount.objects.filter(organization_id=organization_id).select_related("platform")[
        :MAX_ACCOUNTS
    ]


def account_status(account) -> dict:
    """One account's line of the header indicator, from ``selectors.account_safety``."""
    from execution.selectors import account_safety

    safety = account_safety(account)
    pause, health = safety["pause_state"], safety["broker_health"]
    level = RED if pause == "paused" or health == "paused" else YELLOW if pause == "testing" else GREEN
    return {
        "account_id": account.pk,
        "name": account.name,
        "level": level,
        "pause_state": pause,
        "seconds_to_test": safety["seconds_to_test"],
        "consecutive_failures": safety["consecutive_failures"],
        "broker_health": health,
        "broker_health_seconds_remaining": safety["broker_health_seconds_remaining"],
    }


def trading_status(organization_id: int) -> dict:
    """Green: every account trades; yellow: one is testing after a pause; red: one is paused, or
    the broker health monitor paused its platform."""
    lines = [account_status(account) for account in _accounts(organization_id)]
    level = max((line["level"] for line in lines), key=_LEVEL_ORDER.__getitem__, default=GREEN)
    return {"type": "status", "level": level, "accounts": lines, "server_time": _t(timezone.now())}


def _book_key(account_id: int) -> str:
    return f"ttmt:live:book:{account_id}"


def remember_book(
    account_id: int,
    *,
    positions: list[dict] | None = None,
    orders: list[dict] | None = None,
    link: dict | None = None,
) -> None:
    """Keep the account's latest positions, orders and streaming link state for snapshots (written
    by the streaming process; gone ``BOOK_CACHE_SECONDS`` after it stops refreshing them)."""
    book = cache.get(_book_key(account_id)) or {}
    for name, value in (("positions", positions), ("orders", orders), ("link", link)):
        if value is not None:
            book[name] = value
    cache.set(_book_key(account_id), book, BOOK_CACHE_SECONDS)


def account_link(account_id: int) -> dict | None:
    """The streaming link of the account ({state, reason}), None when not streamed."""
    return (cache.get(_book_key(account_id)) or {}).get("link")


def simulated_book(engine, key: str) -> tuple[list, list]:
    """A simulated account's positions and orders, read as its event stream sees them: injected
    faults meant for operations (scripted errors, error rates) are not consumed by this read."""

    def read(state, now):
        return engine.op_positions(state, now), engine.op_orders(state, now)

    return engine.call(key, "stream", read).unwrap()


def account_book(account) -> tuple[list[dict] | None, list[dict] | None]:
    """Positions and orders: the streaming process's latest, else (simulated broker only, a cheap
    read) from the broker; None when unknown (a MetaApi account not streamed yet)."""
    from execution.gateways.base import GatewayError
    from execution.models import TradingAccount
    from execution.simulator import account_key, engine
    from orgs.models import TradePlatform

    book = cache.get(_book_key(account.pk)) or {}
    positions, orders = book.get("positions"), book.get("orders")
    readable = account.connection_state in (TradingAccount.CONNECTED, TradingAccount.DISCONNECTED)
    if (positions is None or orders is None) and readable and account.platform.api == TradePlatform.SIMULATED:
        try:
            broker_positions, broker_orders = simulated_book(engine(), account_key(account.pk))
        except GatewayError as error:
            logger.info("snapshot: reading account %s failed: %s", account.pk, error)
        else:
            positions = [position_data(p) for p in broker_positions[:MAX_BOOK]]
            orders = [order_data(o) for o in broker_orders[:MAX_BOOK]]
    return positions, orders


def snapshot(organization, permissions: frozenset[str], *, status_only: bool = False) -> dict:
    """Everything the dashboard shows, bounded, filtered by the member's permissions."""
    from execution.models import Operation, SafetyEvent

    data: dict = {
        "type": "snapshot",
        "organization": {"slug": organization.slug, "name": organization.name},
        "permissions": sorted(permissions),
        "can_trade": "trade" in permissions,
        "status_only": status_only,
        "server_time": _t(timezone.now()),
    }
    if "view_operations" in permissions:
        data["status"] = trading_status(organization.pk)
    if status_only:
        return data
    accounts = list(_accounts(organization.pk))
    if "view_accounts" in permissions:
        data["accounts"] = [account_data(account) for account in accounts]
        data["positions"], data["orders"], data["links"] = {}, {}, {}
        for account in accounts:
            positions, orders = account_book(account)
            data["positions"][str(account.pk)] = positions
            data["orders"][str(account.pk)] = orders
            data["links"][str(account.pk)] = account_link(account.pk)
    if "view_operations" in permissions:
        operations = Operation.objects.filter(organization_id=organization.pk)[:MAX_OPERATIONS]
        data["operations"] = [operation_data(op, _STATE_EVENTS.get(op.state, op.state)) for op in operations]
        events = SafetyEvent.objects.filter(organization_id=organization.pk)[:MAX_SAFETY_EVENTS]
        data["safety_events"] = [safety_event_data(event) for event in events]
    return data


# --- actions from the dashboard -------------------------------------------------------------------

ACTIONS = ("close_position", "breakeven", "modify_position", "cancel_order")


def dashboard_action(*, organization, user, action: str, account_id: int, **arguments) -> dict:
    """Submit one dashboard action through the same pipeline as any operation (the caller checked
    ``trade``). Another organization's account is unknown. Returns the accepted operation."""
    from execution import operations
    from execution.models import TradingAccount
    from orgs.services import OrgError

    account = TradingAccount.objects.filter(organization=organization, pk=account_id).first()
    if account is None:
        raise OrgError("Unknown account.", field="account_id", code="not_found")
    requested_by = str(user)
    if action == "close_position":
        operation = operations.position_close(account=account, requested_by=requested_by, **arguments)
    elif action == "breakeven":
        operation = operations.position_modify(
            account=account, breakeven=True, requested_by=requested_by, **arguments
        )
    elif action == "modify_position":
        operation = operations.position_modify(account=account, requested_by=requested_by, **arguments)
    elif action == "cancel_order":
        operation = operations.order_cancel(account=account, requested_by=requested_by, **arguments)
    else:
        raise OrgError(f"Unknown action {action!r}.", code="unknown_action")
    return operation_data(operation, "queued")


# --- publishing -----------------------------------------------------------------------------------

_home_loop: asyncio.AbstractEventLoop | None = None
_pending: set = set()


def serve_from_this_loop() -> None:
    """Called by the consumer (in the server's event loop): with the in-memory layer of the embedded
    default, every send must happen on the loop the sockets wait on, whichever thread publishes."""
    global _home_loop
    _home_loop = asyncio.get_running_loop()


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    home = _home_loop
    return home if home is not None and home.is_running() and not home.is_closed() else None


class _Publisher:
    """Sends to a shared layer (Redis) from a thread of its own, in order, without blocking the
    caller (a worker between two broker calls, the streaming loop); one per process."""

    MAX_BACKLOG = 10_000  # beyond this (the layer is down), new pushes are dropped

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue | None = None
        self.ready = threading.Event()
        threading.Thread(target=self._run, name="ttmt-live-publisher", daemon=True).start()
        self.ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        self.queue = asyncio.Queue(self.MAX_BACKLOG)
        self.ready.set()
        while True:
            layer, group, message = await self.queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("live push to %s failed", group)

    def _put(self, item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            logger.warning("live pushes dropped: the channel layer does not keep up")

    def send(self, layer, group: str, message: dict) -> None:
        self.loop.call_soon_threadsafe(self._put, (layer, group, message))


_publisher: _Publisher | None = None
_publisher_guard = threading.Lock()


def _shared_publisher() -> _Publisher:
    global _publisher
    with _publisher_guard:
        if _publisher is None or _publisher.pid != os.getpid():  # not inherited across a fork
            _publisher = _Publisher()
        return _publisher


def listening() -> bool:
    """Whether a push can reach anyone: always with a shared layer (Redis); with the in-memory
    layer, only in a process where a socket connected (else nothing is built or sent)."""
    try:
        layer = get_channel_layer()
    except Exception:  # a misconfigured layer must not break what publishes
        logger.exception("no channel layer")
        return False
    return layer is not None and (_serving_loop() is not None or not isinstance(layer, InMemoryChannelLayer))


def dispatch(group: str, message: dict) -> None:
    """Send ``message`` to ``group`` now, from any thread or loop, without blocking; never raises."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        if not isinstance(layer, InMemoryChannelLayer):
            _shared_publisher().send(layer, group, message)
            return
        home = _serving_loop()
        if home is None:
            return  # no socket ever connected to this process: nobody can be listening
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is home:
            task = home.create_task(layer.group_send(group, message))
            _pending.add(task)
            task.add_done_callback(_pending.discard)
        else:
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), home)
    except Exception:  # a push is best effort: never fail the operation or the stream over it
        logger.exception("live push to %s failed", group)


def push(organization_id: int, event: dict) -> None:
    """Send an event to the organization's members now (the caller's data is already committed)."""
    dispatch(org_group(organization_id), {"type": "live.event", "event": event})


def publish(organization_id: int, event: dict | None = None, *, build=None) -> None:
    """Send an event to the organization's members after the current transaction commits.
    ``build`` (a callable returning the event) runs at commit time, for data read then."""

    def send() -> None:
        try:
            if listening():
                push(organization_id, event if build is None else build())
        except Exception:
            logger.exception("live event for organization %s failed", organization_id)

    transaction.on_commit(send, robust=True)


def kick(organization_id: int, user_id: int) -> None:
    """Close the user's sockets on the organization (after commit)."""
    transaction.on_commit(
        lambda: dispatch(user_group(organization_id, user_id), {"type": "live.kick"}), robust=True
    )


# --- hooks (one-line calls from the pipeline, and model signals) ----------------------------------


def operation_changed(operation) -> None:
    """The pipeline saved the operation's state (``_Run._save``)."""
    publish(
        operation.organization_id,
        build=lambda: {
            "type": "operation",
            "operation": operation_data(operation, _STATE_EVENTS.get(operation.state, operation.state)),
        },
    )


def attempt_started(operation, attempt) -> None:
    """An attempt was recorded, about to be sent to the broker."""
    publish(
        operation.organization_id,
        {"type": "operation", "operation": operation_data(operation, "sent", attempt=attempt.number)},
    )


def attempt_finished(attempt) -> None:
    """An attempt's outcome was recorded: a failure to be retried (with its category) or not."""
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


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    from execution.models import Operation, SafetyEvent, TradingAccount
    from orgs.models import Membership

    post_save.connect(_operation_saved, sender=Operation, dispatch_uid="live-operation-saved")
    post_save.connect(_account_saved, sender=TradingAccount, dispatch_uid="live-account-saved")
    post_delete.connect(_account_deleted, sender=TradingAccount, dispatch_uid="live-account-deleted")
    post_save.connect(_safety_event_saved, sender=SafetyEvent, dispatch_uid="live-safety-saved")
    post_delete.connect(_membership_deleted, sender=Membership, dispatch_uid="live-membership-deleted")
