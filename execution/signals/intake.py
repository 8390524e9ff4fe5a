"""From a source's event to every routed account's decision: the one entry point of the pipeline.

:func:`receive` records the event (once per source, message id and version: a message delivered
twice is received once), reads the message with each route's vocabulary, lets each route decide
(``execution.signals.routing``), and in the same transaction writes the decisions, the trades and
the operations of every route, accepted together through the bulk path (``submit_many``; enqueued
after commit). Its queries do not grow with the number of routes. A deletion cancels the pending
orders of the trades the message opened. :func:`dry_run` runs one route's decision on a pasted
message without recording or sending anything; :func:`drop_expired_alerts` drops the alerts whose
details never came.
"""

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.bulk import insert_many
from execution import checks
from execution.accounts import symbols as symbol_mapping
from execution.accounts.models import AccountSymbol, SymbolOverride
from execution.live import hooks
from execution.orders.accept import Planned, submit_many
from execution.orders.models import Operation
from execution.orders.sizing import Rejected, order_volume
from execution.orders.trade_calls import manage_trade_params
from execution.signals import parsing, routing
from execution.signals.models import Decision, Route, Signal, SignalSource, Trade
from execution.signals.sources.base import MessageDeleted, MessagePosted, SourceEvent

RECENT_TRADES = timedelta(days=7)  # a change without a reply looks this far back for its trade
NOT_OPENED = (Operation.FAILED, Operation.CANCELLED)  # a trade whose opening never happened


@dataclass(frozen=True)
class DryRun:
    """What a route would do with a message. ``outcome`` is a ``Decision`` outcome; ``steps`` the
    trace (``{stage, result, code, message}``); ``operations`` what would be accepted
    (``{kind, params}``), none of it stored or sent."""

    reading: dict
    outcome: str
    code: str = ""
    reason: str = ""
    steps: list[dict] = field(default_factory=list)
    operations: list[dict] = field(default_factory=list)


def receive(*, source: SignalSource, event: SourceEvent) -> Signal | None:
    """Record and route ``event``. Returns the new Signal row (None when the event was already
    received, or for a deletion)."""
    if isinstance(event, MessageDeleted):
        _deleted(source=source, event=event)
        return None
    now = timezone.now()
    replied = _replied_text(source, event.reply_to)
    base_reading = parsing.parse(event.text, reply_to=replied)
    with transaction.atomic():
        try:
            with transaction.atomic():
                signal = Signal.objects.create(
                    organization_id=source.organization_id,
                    source=source,
                    message_id=event.message_id,
                    version=event.version,
                    reply_to=event.reply_to or "",
                    text=event.text,
                    posted_at=event.posted_at,
                    received_at=now,
                    reading=base_reading.to_contract(),
                    kind=base_reading.kind.value,
                    symbol=base_reading.symbol or "",
                )
        except IntegrityError:
            return None  # this version of this message was received before
        routes = list(Route.objects.filter(source=source).select_related("account"))
        readings = _Readings(event.text, replied, base_reading)
        by_route = {route.pk: readings.of(route) for route in routes}
        situation = _situation(source=source, event=event, routes=routes, readings=by_route, now=now)
        verdicts = [(route, routing.decide(route, by_route[route.pk], situation)) for route in routes]
        decisions = _write(signal, [(route, verdict) for route, verdict in verdicts if verdict is not None])
        if not routes and base_reading.kind is not parsing.Kind.IGNORE:
            signal.note = "No route: the source is not routed to an account."
            signal.save(update_fields=["note"])
        hooks.signal_received(signal, decisions)
    return signal


def _replied_text(source: SignalSource, reply_to: str | None) -> str | None:
    if not reply_to:
        return None
    replied = Signal.objects.filter(source=source, message_id=reply_to).order_by("-version").first()
    return replied.text if replied else None


class _Readings:
    """The message read with each route's vocabulary, once per distinct vocabulary."""

    def __init__(self, text: str, replied: str | None, base: parsing.Reading) -> None:
        self.text, self.replied = text, replied
        self._cache = {((), ()): base}

    def of(self, route: Route) -> parsing.Reading:
        key = (tuple(sorted(route.keywords.items())), tuple(sorted(route.aliases.items())))
        if key not in self._cache:
            options = parsing.ParserOptions(keywords=route.keywords, aliases=route.aliases)
            self._cache[key] = parsing.parse(self.text, reply_to=self.replied, options=options)
        return self._cache[key]


def _situation(*, source, event: MessagePosted, routes, readings, now) -> routing.Situation:
    """Everything the routes' decisions need, in a bounded number of queries."""
    kinds = {reading.kind for reading in readings.values()}
    route_ids = [route.pk for route in routes]
    account_ids = {route.account_id for route in routes}
    trades: dict[int, list[Trade]] = defaultdict(list)
    recent: dict[int, list[routing.Opened]] = defaultdict(list)
    alerts: dict[int, tuple[Decision, dict]] = {}
    situation = routing.Situation(
        now=now,
        posted_at=event.posted_at,
        message_id=event.message_id,
        version=event.version,
        reply_to=event.reply_to,
        max_age_seconds=source.max_age_seconds,
        symbols={},
        trades=trades,
        recent=recent,
        alerts=alerts,
    )
    if kinds <= {parsing.Kind.IGNORE}:
        return situation
    changes = kinds & {parsing.Kind.MODIFY, parsing.Kind.DETAILS} or event.version > 1
    if changes:
        target = event.message_id if event.version > 1 else event.reply_to
        open_trades = (
            Trade.objects.filter(route_id__in=route_ids, state=Trade.OPEN)
            .exclude(open_operation__state__in=NOT_OPENED)
            .select_related("signal")
        )
        if target:
            open_trades = open_trades.filter(signal__source=source, signal__message_id=target)
        else:
            open_trades = open_trades.filter(created_at__gte=now - RECENT_TRADES)
        for trade in open_trades.order_by("-created_at", "-id"):
            trades[trade.route_id].append(trade)
    if parsing.Kind.DETAILS in kinds:
        waiting = (
            Decision.objects.filter(
                route_id__in=route_ids,
                outcome=Decision.WAITING,
                wait_until__gt=now,
                signal__deleted_at__isnull=True,
            )
            .select_related("signal")
            .select_for_update(of=("self",))  # two details messages never complete one alert twice
        )
        if event.reply_to:
            waiting = waiting.filter(signal__message_id=event.reply_to)
        for decision in waiting.order_by("created_at", "id"):  # the newest last: it wins
            alert = decision.trace[0].get("reading") or decision.signal.reading
            if alert.get("side") and alert.get("symbol"):  # levels that wait are no alert
                alerts[decision.route_id] = (decision, alert)
    if event.version > 1:
        situation.decided = frozenset(
            Decision.objects.filter(
                route_id__in=route_ids, signal__source=source, signal__message_id=event.message_id
            ).values_list("route_id", flat=True)
        )
    named = {reading.symbol for reading in readings.values() if reading.symbol}
    named |= {alert.get("symbol") for _, alert in alerts.values() if alert.get("symbol")}
    if kinds & {parsing.Kind.OPEN, parsing.Kind.DETAILS}:
        window = max((route.duplicate_window_seconds for route in routes), default=0)
        for route_id, *earlier in (
            Trade.objects.filter(
                route_id__in=route_ids, created_at__gte=now - timedelta(seconds=window), instrument__in=named
            )
            .exclude(open_operation__state__in=NOT_OPENED)
            .values_list("route_id", "instrument", "side", "entry", "created_at", "signal__message_id")
        ):
            recent[route_id].append(routing.Opened(*earlier))
    situation.symbols.update(_symbols(account_ids, named, trades))
    return situation


def _symbols(account_ids, named: set[str], trades) -> dict[int, routing.AccountSymbols]:
    """Each account's symbol listing and overrides, and the specifications of the symbols the
    message, its alert or its trades name (not the whole list: a fan-out reads a few per account)."""
    listings, overrides = defaultdict(list), defaultdict(list)
    for account_id, name, description in AccountSymbol.objects.filter(account_id__in=account_ids).values_list(
        "account_id", "name", "description"
    ):
        listings[account_id].append((name, description))
    for account_id, alias, broker_symbol in SymbolOverride.objects.filter(
        account_id__in=account_ids
    ).values_list("account_id", "alias", "broker_symbol"):
        overrides[account_id].append((alias, broker_symbol))
    shared, resolutions = {}, {}
    symbols = {}
    for account_id in account_ids:
        listing = tuple(listings[account_id])
        symbols[account_id] = routing.AccountSymbols(
            listing=shared.setdefault(listing, listing),
            overrides=tuple(sorted(overrides[account_id])),
            resolutions=resolutions,
        )
    wanted = {trade.symbol for route_trades in trades.values() for trade in route_trades}
    for account_symbols in symbols.values():
        for name in named:
            with contextlib.suppress(symbol_mapping.SymbolError):  # the decision says so
                wanted.add(account_symbols.resolve(name).broker_symbol)
    for row in AccountSymbol.objects.filter(account_id__in=account_ids, name__in=wanted):
        symbols[row.account_id].rows[row.name] = row
    return symbols


def _write(signal: Signal, verdicts: list[tuple[Route, routing.Verdict]]) -> list[Decision]:
    """The routes' operations (accepted together), trades and decisions."""
    planned = [item for _, verdict in verdicts for item in verdict.planned]
    operations = iter(submit_many(planned))
    accepted = [[next(operations) for _ in verdict.planned] for _, verdict in verdicts]
    trades = []
    for (_, verdict), ops in zip(verdicts, accepted, strict=True):
        if verdict.opens is not None:
            verdict.opens.open_operation = ops[0]
            verdict.opens.signal = verdict.completes.signal if verdict.completes else signal
            trades.append(verdict.opens)
    insert_many(Trade, trades)
    closing = [
        verdict.applies_to.pk
        for _, verdict in verdicts
        if verdict.applies_to is not None
        and any(
            action["action"] == "close_all" for item in verdict.planned for action in item.params["actions"]
        )
    ]
    if closing:
        Trade.objects.filter(pk__in=closing).update(state=Trade.CLOSED)
    decisions = insert_many(
        Decision,
        [
            Decision(
                organization_id=route.organization_id,
                signal=signal,
                route=route,
                account_id=route.account_id,
                outcome=verdict.outcome,
                code=verdict.code,
                reason=verdict.reason,
                trace=verdict.steps,
                trade=verdict.opens or verdict.applies_to,
                operations=[operation.pk for operation in ops],
                wait_until=verdict.wait_until,
            )
            for (route, verdict), ops in zip(verdicts, accepted, strict=True)
        ],
    )
    for (_, verdict), ops in zip(verdicts, accepted, strict=True):
        if verdict.completes is not None:
            Decision.objects.filter(pk=verdict.completes.pk, outcome=Decision.WAITING).update(
                outcome=Decision.OPENED,
                trade=verdict.opens,
                wait_until=None,
                reason=f"Completed by its details (message {signal.message_id}).",
                operations=[operation.pk for operation in ops],
            )
    return decisions


def drop_expired_alerts() -> int:
    """Alerts whose details did not come within their route's wait are dropped, with the reason
    (housekeeping). Returns how many."""
    return Decision.objects.filter(outcome=Decision.WAITING, wait_until__lte=timezone.now()).update(
        outcome=Decision.SKIPPED,
        reason="Its details did not arrive within the route's wait: dropped.",
        wait_until=None,
    )


def _deleted(*, source: SignalSource, event: MessageDeleted) -> None:
    """The message is marked deleted; the pending orders of the trades it opened are cancelled."""
    with transaction.atomic():
        updated = Signal.objects.filter(
            source=source, message_id=event.message_id, deleted_at__isnull=True
        ).update(deleted_at=event.deleted_at)
        if not updated:
            return  # unknown, or deleted before
        Decision.objects.filter(
            signal__source=source, signal__message_id=event.message_id, outcome=Decision.WAITING
        ).update(
            outcome=Decision.SKIPPED,
            reason="The message was deleted before its details came.",
            wait_until=None,
        )
        trades = list(
            Trade.objects.filter(
                signal__source=source, signal__message_id=event.message_id, state=Trade.OPEN
            ).select_related("account")
        )
        ready = [trade for trade in trades if trade.account.connection_state == trade.account.CONNECTED]
        operations = submit_many(
            [
                Planned(
                    account=trade.account,
                    kind="manage_trade",
                    params=manage_trade_params(
                        symbol=trade.symbol,
                        tags=trade.leg_tags,
                        actions=[{"action": "cancel"}],
                        instrument={},
                    ),
                    requested_by="message deleted",
                    after=trade.open_operation_id,
                )
                for trade in ready
            ]
        )
        step = {
            "stage": "deleted",
            "result": "passed",
            "code": "",
            "message": "The message was deleted: its pending orders are cancelled.",
        }
        for trade, operation in zip(ready, operations, strict=True):
            decision = (
                Decision.objects.filter(trade=trade, route=trade.route_id).order_by("created_at").first()
            )
            if decision is not None:
                Decision.objects.filter(pk=decision.pk).update(
                    trace=[*decision.trace, step], operations=[*decision.operations, operation.pk]
                )


def dry_run(*, route: Route, text: str, reply_to: str | None = None) -> DryRun:
    """What ``route`` would do with ``text`` (``reply_to``: the text it replies to): the same parse,
    checks and sizing as :func:`receive`, nothing stored or sent."""
    now = timezone.now()
    options = parsing.ParserOptions(keywords=route.keywords, aliases=route.aliases)
    reading = parsing.parse(text, reply_to=reply_to, options=options)
    event = MessagePosted(message_id="dry-run", posted_at=now, text=text)
    with transaction.atomic():  # what it reads, as receive reads it (the alerts locked a moment)
        situation = _situation(
            source=route.source, event=event, routes=[route], readings={route.pk: reading}, now=now
        )
    verdict = routing.decide(route, reading, situation)
    if verdict is None:
        return DryRun(
            reading=reading.to_contract(), outcome=Decision.IGNORED, reason="Nothing to trade in it."
        )
    steps = list(verdict.steps)
    if verdict.opens is not None:
        steps.append(_sizing_step(route, verdict.planned[0].params))
    return DryRun(
        reading=reading.to_contract(),
        outcome=verdict.outcome,
        code=verdict.code,
        reason=verdict.reason,
        steps=steps,
        operations=[{"kind": item.kind, "params": item.params} for item in verdict.planned],
    )


def _sizing_step(route: Route, params: dict) -> dict:
    """The trade's volume when its entry is known without a quote; else it is sized when sent."""
    entry = params.get("entry") or (params["zone"][0] if params.get("zone") else None)
    if entry is None:
        return {
            "stage": "sizing",
            "result": checks.Result.DEFERRED.value,
            "code": "",
            "message": "Sized when sent, from the live price (a market order with no entry written).",
        }
    try:
        sized = order_volume(
            account=route.account,
            symbol=params["symbol"],
            entry=Decimal(entry),
            sl=None if params.get("sl") is None else Decimal(params["sl"]),
            own_risk=params.get("own_risk"),
            multiplier=Decimal(params["multiplier"]),
        )
    except Rejected as rejection:
        return {
            "stage": "sizing",
            "result": checks.Result.FAILED.value,
            "code": "",
            "message": str(rejection),
        }
    legs = checks.split_volume(
        total=sized.volume,
        legs=max(1, len(params["tps"])),
        volume_min=Decimal(params["instrument"]["volume_min"]),
        volume_step=Decimal(params["instrument"]["volume_step"]),
    )
    shares = " + ".join(str(leg) for leg in legs if leg > 0)
    capped = f", capped by the {sized.capped_by}" if sized.capped_by else ""
    return {
        "stage": "sizing",
        "result": checks.Result.PASSED.value,
        "code": "",
        "message": f"{sized.volume} lots{capped}: {shares}.",
    }
