"""Accepting broker operations: each becomes a durable Operation, enqueued after commit.

Nothing here calls the broker: the pipeline (``execution.orders.pipeline``) does, for every operation.
:func:`submit` accepts any kind of ``execution.orders.kinds`` with parameters checked against it;
:func:`submit_many` accepts many in one write (a signal's fan-out); the functions after them build
the parameters of the common kinds.
A new order names its symbol as a person writes it (mapped to the broker's symbol here); its
volume is decided later from the account's risk settings, never from the caller. Its levels, and
a position's new ones, are judged first (``execution.checks.acceptance``): levels that cannot be
valid are refused with the field they concern, before anything is stored.
"""

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.bulk import insert_many
from core.errors import ServiceError
from execution.accounts.models import AccountSymbol, TradingAccount
from execution.accounts.services import symbol_resolve
from execution.accounts.symbols import SymbolError
from execution.checks.acceptance import order_levels_check, position_levels_check
from execution.live import hooks
from execution.orders import pipeline
from execution.orders.actors import enqueue, enqueue_many
from execution.orders.kinds import KINDS, kind_of
from execution.orders.models import IdempotencyKey, Operation
from orgs.models import Organization

KEEP = object()  # an SL/TP level the caller did not mention: left as it is


class IdempotencyConflict(ServiceError):
    """The same Idempotency-Key came with a different request."""


def _checked_kind(kind: str, params: dict):
    """The kind's registry entry, once ``params`` are among its parameters and include its required
    ones; a ServiceError otherwise."""
    try:
        operation_kind = kind_of(kind)
    except ValueError:
        raise ServiceError(
            f"Unknown operation kind {kind!r}; expected one of {', '.join(sorted(KINDS))}.",
            field="kind",
            code="unknown_kind",
        ) from None
    unknown = set(params) - operation_kind.parameters
    if unknown:
        raise ServiceError(
            f"A {kind} operation takes no {', '.join(sorted(unknown))}; "
            f"its parameters are {', '.join(sorted(operation_kind.parameters)) or 'none'}.",
            field="params",
            code="unknown_parameter",
        )
    missing = operation_kind.required - set(params)
    if missing:
        raise ServiceError(
            f"A {kind} operation needs {', '.join(sorted(missing))}.",
            field="params",
            code="missing_parameter",
        )
    return operation_kind


def _check_connected(account: TradingAccount) -> None:
    if account.connection_state != TradingAccount.CONNECTED:
        raise ServiceError(
            f"The account is {account.connection_state}: operations need a connected account.",
            code="not_connected",
        )


def new_client_tag() -> str:
    return "ttmt-" + secrets.token_hex(8)


@dataclass(frozen=True)
class Planned:
    """One operation to accept with :func:`submit_many`. ``client_tag`` when the caller needs to
    know it beforehand (a trade's legs are tagged from it); ``not_before`` to run it later (its
    deadline then counts from that time); ``after``: the id of an operation it runs after (a
    change to a trade waits for the trade's opening to end)."""

    account: TradingAccount
    kind: str
    params: dict
    requested_by: str = ""
    client_tag: str = ""
    not_before: datetime | None = None
    after: int | None = None


@transaction.atomic
def submit(
    *, account: TradingAccount, kind: str, params: dict, requested_by: str = "", fail_if_paused: bool = False
) -> Operation:
    """Accept an operation of ``kind`` (a name in ``execution.orders.kinds.KINDS``) with ``params``,
    which must be among the kind's parameters and include its required ones; refused with a
    ServiceError before anything is written. Enqueued for the pipeline after commit. If the account
    is paused it waits for the recovery test, or fails at once with ``fail_if_paused``."""
    operation_kind = _checked_kind(kind, params)
    _check_connected(account)
    operation = Operation.objects.create(
        organization_id=account.organization_id,
        account=account,
        kind=operation_kind.name,
        params=params,
        priority=int(operation_kind.priority),
        client_tag=new_client_tag(),
        deadline=pipeline.operation_deadline(operation_kind),
        requested_by=requested_by,
        fail_if_paused=fail_if_paused,
    )
    enqueue(operation.pk, priority=operation_kind.priority)
    return operation


@transaction.atomic
def submit_many(planned: Sequence[Planned]) -> list[Operation]:
    """Accept many operations at once (one signal fanned out to its routed accounts): checked as
    :func:`submit` checks each (all refused if one is), written at once (``insert_many``), each
    enqueued after commit. Returns them in the order given."""
    rows = []
    for item in planned:
        operation_kind = _checked_kind(item.kind, item.params)
        _check_connected(item.account)
        rows.append(
            Operation(
                organization_id=item.account.organization_id,
                account=item.account,
                kind=operation_kind.name,
                params=item.params,
                priority=int(operation_kind.priority),
                client_tag=item.client_tag or new_client_tag(),
                deadline=pipeline.operation_deadline(operation_kind, start=item.not_before),
                not_before=item.not_before,
                after_id=item.after,
                requested_by=item.requested_by,
            )
        )
    operations = insert_many(Operation, rows)
    enqueue_many(operations)
    hooks.operations_accepted(operations)
    return operations


def _price(value, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ServiceError(f"{value!r} is not a price.", field=field, code="invalid_price") from None


def _level(value) -> str | None:
    return None if value is None else str(Decimal(str(value)))


@transaction.atomic
def order_place(
    *,
    account: TradingAccount,
    symbol: str,
    side: str,
    type: str,
    sl=None,
    tp=None,
    price=None,
    requested_by: str = "",
    fail_if_paused: bool = False,
) -> Operation:
    try:
        resolution = symbol_resolve(account=account, name=symbol)
    except SymbolError as error:
        raise ServiceError(str(error), field="symbol", code="unknown_symbol") from None
    if type != "market" and price is None:
        raise ServiceError(f"A {type} order needs a price.", field="price")
    price, sl, tp = _price(price, "price"), _price(sl, "sl"), _price(tp, "tp")
    order_levels_check(
        account=account,
        symbol=AccountSymbol.objects.get(account=account, name=resolution.broker_symbol),
        side=side,
        type=type,
        price=price,
        sl=sl,
        tps=() if tp is None else (tp,),
    )
    params = {
        "symbol": resolution.broker_symbol,
        "requested_symbol": symbol,
        "side": side,
        "type": type,
        "sl": _level(sl),
        "tp": _level(tp),
        "price": None if type == "market" else _level(price),
    }
    return submit(
        account=account,
        kind="place_order",
        params=params,
        requested_by=requested_by,
        fail_if_paused=fail_if_paused,
    )


@transaction.atomic
def position_modify(
    *,
    account: TradingAccount,
    position_id: str,
    sl=KEEP,
    tp=KEEP,
    breakeven: bool = False,
    requested_by: str = "",
) -> Operation:
    """Move the stop loss (to break-even, or a level) and/or the take profit. Stop-loss changes are
    protective (high priority, breakeven retry profile); a take-profit change alone is normal."""
    params: dict = {"position_id": position_id}
    if breakeven:
        kind, params["breakeven"] = "breakeven", True
    elif sl is KEEP and tp is KEEP:
        raise ServiceError("Give sl, tp, or breakeven.")
    else:
        kind = (
            "modify_sltp"
            if sl is not KEEP and tp is not KEEP
            else ("modify_sl" if sl is not KEEP else "modify_tp")
        )
    new_sl = None if sl is KEEP or breakeven else _price(sl, "sl")
    new_tp = None if tp is KEEP else _price(tp, "tp")
    if sl is not KEEP and not breakeven:
        params["sl"] = _level(new_sl)
    if tp is not KEEP:
        params["tp"] = _level(new_tp)
    if new_sl is not None or new_tp is not None:
        position_levels_check(account=account, position_id=position_id, sl=new_sl, tp=new_tp)
    return submit(account=account, kind=kind, params=params, requested_by=requested_by)


@transaction.atomic
def position_close(
    *, account: TradingAccount, position_id: str, volume=None, requested_by: str = ""
) -> Operation:
    params = {"position_id": position_id, "volume": _level(volume)}
    return submit(account=account, kind="close_position", params=params, requested_by=requested_by)


@transaction.atomic
def order_cancel(*, account: TradingAccount, order_id: str, requested_by: str = "") -> Operation:
    return submit(
        account=account, kind="cancel_order", params={"order_id": order_id}, requested_by=requested_by
    )


def operation_cancel(*, operation: Operation, requested_by: str = "") -> Operation:
    """Cancel an operation that is not running now (accepted, or waiting out a pause, a retry or
    speed control): it is never sent. Refused once it is being sent or has ended."""
    cancelled = Operation.objects.filter(pk=operation.pk, state__in=Operation.PENDING).update(
        state=Operation.CANCELLED,
        reason=f"Cancelled by {requested_by}." if requested_by else "Cancelled.",
        finished_at=timezone.now(),
        lease_until=None,
    )
    operation.refresh_from_db()
    if not cancelled:
        raise ServiceError(
            f"The operation is {operation.state}: only an operation that waits can be cancelled.",
            code="not_cancellable",
        )
    hooks.operation_changed(operation)
    return operation


def request_fingerprint(*, method: str, path: str, body: dict) -> str:
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(
    *, organization: Organization, key: str | None, fingerprint: str, produce: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """Run ``produce`` once per key: the same key and request get the first response again; the same
    key with another request raises IdempotencyConflict. The key row and what ``produce`` wrote
    commit together, so a retried request never doubles an order."""
    if not key:
        with transaction.atomic():
            return produce()
    for _ in range(2):
        existing = IdempotencyKey.objects.filter(organization=organization, key=key).first()
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise IdempotencyConflict(
                    "This Idempotency-Key was used with a different request.", code="idempotency_conflict"
                )
            return existing.response_status, existing.response_body
        try:
            with transaction.atomic():
                status, body = produce()
                IdempotencyKey.objects.create(
                    organization=organization,
                    key=key,
                    fingerprint=fingerprint,
                    response_status=status,
                    response_body=body,
                )
                return status, body
        except IntegrityError:
            continue  # a concurrent request with the same key committed first: answer as it did
    raise ServiceError("Could not settle the Idempotency-Key; retry the request.")
