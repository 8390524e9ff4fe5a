"""The live dashboard's event contract, and how each object is serialised into an event.

Who receives which event: ``execution.live.audience``; the snapshot: ``execution.live.snapshot``;
sending after commit: ``execution.live.publishing``; what triggers events: ``execution.live.hooks``
and the broker streams (``execution.live.streaming``).

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
* ``signal`` {signal}: a message a signal source delivered, as received (after its decisions were
  committed): {id, source_id, source_name, message_id, version, text, kind, symbol, summary (the
  reading in one line), note, posted_at, received_at, decisions [{id, route_id, account_id,
  account_name, outcome, outcome_label, code, reason}]}.
* ``action_result`` {request_id, ok, operation | error}: the answer to a dashboard action.
* ``kick`` {reason}: the membership ended or its permissions changed; the server re-reads them and
  closes the socket (code 4403) when nothing is left to see.
* ``pong`` {request_id}: the answer to ``{"action": "ping"}``.

Who receives what: account, link, positions, orders, tick and signal events need ``view_accounts``;
operation, safety and status events ``view_operations`` (``EVENT_PERMISSION``); a socket opened with
``?status=1`` (the header indicator on every page) receives only status and safety events, and a
snapshot with ``status`` alone.

Browser -> server: ``{"action": "resync"}``, ``{"action": "ping"}`` and, with the ``trade`` permission,
``close_position`` {account_id, position_id, volume?}, ``breakeven`` {account_id, position_id},
``modify_position`` {account_id, position_id, sl?, tp?} (a level left out is kept; given empty or
null, it is removed), ``cancel_order`` {account_id, order_id}; each may carry a ``request_id``
echoed in its ``action_result``. Anything else is answered with an error, never executed.
"""

from django.utils import timezone

from execution.safety.speed import Priority
from execution.signals.models import Decision
from execution.signals.selectors import reading_summary


def text_or_none(value) -> str | None:
    return None if value is None else str(value)


def iso_time(moment) -> str | None:
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
        "balance": text_or_none(account.balance),
        "equity": text_or_none(account.equity),
        "margin": text_or_none(account.margin),
        "free_margin": text_or_none(account.free_margin),
        "currency": account.currency,
        "leverage": account.leverage,
        "figures_at": iso_time(account.figures_at),
    }


def position_data(position) -> dict:
    return {
        "id": position.id,
        "symbol": position.symbol,
        "side": str(position.side),
        "volume": text_or_none(position.volume),
        "open_price": text_or_none(position.open_price),
        "current_price": text_or_none(position.current_price),
        "sl": text_or_none(position.sl),
        "tp": text_or_none(position.tp),
        "profit": text_or_none(position.profit),
        "opened_at": iso_time(position.opened_at),
    }


def order_data(order) -> dict:
    return {
        "id": order.id,
        "symbol": order.symbol,
        "type": str(order.type),
        "side": str(order.side),
        "volume": text_or_none(order.volume),
        "price": text_or_none(order.price),
        "sl": text_or_none(order.sl),
        "tp": text_or_none(order.tp),
        "created_at": iso_time(order.created_at),
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


def operation_data(operation, event: str, **details) -> dict:
    params = operation.params or {}
    return {
        "id": operation.pk,
        "account_id": operation.account_id,
        "kind": operation.kind,
        "priority": Priority(operation.priority).label,
        "state": operation.state,
        "event": event,
        "params": {key: params[key] for key in _SHOWN_PARAMS if params.get(key) is not None},
        "attempt_count": operation.attempt_count,
        "last_category": operation.last_category,
        "reason": operation.reason,
        "requested_by": operation.requested_by,
        "created_at": iso_time(operation.created_at),
        "at": iso_time(timezone.now()),
        **details,
    }


STATE_EVENTS = {
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
        "at": iso_time(event.at),
    }


MAX_SIGNAL_TEXT = 1000  # characters of a message's text in a signal event (the pages show it all)


def signal_data(signal, decisions, *, account_names=None) -> dict:
    """A received signal and its routes' decisions. ``account_names`` (account id -> name) names
    each decision's account (else ``decision.account`` is read)."""
    labels = dict(Decision.OUTCOME_CHOICES)
    names = account_names if account_names is not None else {}
    return {
        "id": signal.pk,
        "source_id": signal.source_id,
        "source_name": signal.source.name,
        "message_id": signal.message_id,
        "version": signal.version,
        "text": signal.text[:MAX_SIGNAL_TEXT],
        "kind": signal.kind,
        "symbol": signal.symbol,
        "summary": reading_summary(signal.reading),
        "note": signal.note,
        "posted_at": iso_time(signal.posted_at),
        "received_at": iso_time(signal.received_at),
        "decisions": [
            {
                "id": decision.pk,
                "route_id": decision.route_id,
                "account_id": decision.account_id,
                "account_name": names.get(decision.account_id) or decision.account.name,
                "outcome": decision.outcome,
                "outcome_label": labels.get(decision.outcome, decision.outcome),
                "code": decision.code,
                "reason": decision.reason,
            }
            for decision in decisions
        ],
    }


# --- reads ----------------------------------------------------------------------------------------


# --- actions from the dashboard -------------------------------------------------------------------


# --- publishing -----------------------------------------------------------------------------------


# --- hooks (one-line calls from the pipeline, and model signals) ----------------------------------
