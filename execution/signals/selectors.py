"""Reads of signal sources, routes, signals, decisions and trades, each kept to one organization and
to a bounded number of queries however many rows there are.

A decision names the operations it accepted by id (``Decision.operations``); their current state is
read with :func:`operations_by_id`, for one decision or a whole page of them, in one query.
"""

from collections.abc import Iterable

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse

from execution.orders.models import Operation
from execution.signals.models import Decision, Route, Signal, SignalSource, Trade
from orgs.models import Organization

RECENT_SIGNALS = 20  # a source page's recent signals (and the messages a pasted one may reply to)


# --- sources and routes --------------------------------------------------------------------------


def sources_of(organization: Organization) -> QuerySet[SignalSource]:
    """The organization's sources by name, each with ``route_count``."""
    return SignalSource.objects.filter(organization=organization).annotate(route_count=Count("routes"))


def source_in(organization: Organization, pk: int) -> SignalSource:
    """The organization's source with this id; 404 for any other."""
    return get_object_or_404(sources_of(organization), pk=pk)


def webhook_path(source: SignalSource, *, url_token: str | None = None) -> str:
    """Where a webhook source's sender posts: signed requests to the plain path; a sender that
    cannot sign, to the path with the URL token."""
    if url_token is None:
        return reverse("signal-webhook", args=[source.public_id])
    return reverse("signal-webhook-token", args=[source.public_id, url_token])


def routes_of(source: SignalSource) -> QuerySet[Route]:
    return Route.objects.filter(source=source).select_related("account", "source")


def routes_for(organization: Organization) -> QuerySet[Route]:
    return Route.objects.filter(organization=organization).select_related("account", "source")


def route_in(organization: Organization, pk: int) -> Route:
    return get_object_or_404(routes_for(organization), pk=pk)


# --- signals and decisions -----------------------------------------------------------------------


def _decisions() -> Prefetch:
    return Prefetch(
        "decisions", queryset=Decision.objects.select_related("account").order_by("account__name", "id")
    )


def with_decisions(signals: QuerySet[Signal]) -> QuerySet[Signal]:
    """``signals`` newest first, with their source and their decisions (and each decision's
    account) prefetched: two queries for any number of rows."""
    return signals.select_related("source").prefetch_related(_decisions()).order_by("-received_at", "-id")


def signals_of(organization: Organization, *, source: SignalSource | int | None = None) -> QuerySet[Signal]:
    """The organization's signals (of one source, if given), as :func:`with_decisions` reads them."""
    signals = with_decisions(Signal.objects.filter(organization=organization))
    if source is not None:
        signals = signals.filter(source=source)
    return signals


def signal_in(organization: Organization, pk: int) -> Signal:
    return get_object_or_404(signals_of(organization), pk=pk)


def recent_messages(source: SignalSource, limit: int = RECENT_SIGNALS) -> list[Signal]:
    """The source's latest messages (their latest versions), newest first."""
    return list(
        Signal.objects.filter(source=source, deleted_at__isnull=True)
        .order_by("-received_at", "-id")
        .only("id", "message_id", "version", "text", "received_at")[:limit]
    )


def decision_in(organization: Organization, pk: int) -> Decision:
    """The organization's decision with its signal, source, route, account and trade."""
    decisions = Decision.objects.filter(organization=organization).select_related(
        "signal__source", "route", "account", "trade"
    )
    return get_object_or_404(decisions, pk=pk)


def operations_by_id(
    decisions: Iterable[Decision], *, organization: Organization | int
) -> dict[int, Operation]:
    """The operations these decisions accepted, by id, as they are now: one query."""
    ids = {pk for decision in decisions for pk in decision.operations}
    if not ids:
        return {}
    organization_id = organization if isinstance(organization, int) else organization.pk
    rows = Operation.objects.filter(pk__in=ids, organization_id=organization_id)
    return {operation.pk: operation for operation in rows}


def operations_of(decision: Decision, known: dict[int, Operation] | None = None) -> list[Operation]:
    """The decision's operations in the order it accepted them (from ``known``, else one query)."""
    if known is None:
        known = operations_by_id([decision], organization=decision.organization_id)
    return [known[pk] for pk in decision.operations if pk in known]


def trades_of(organization: Organization) -> QuerySet[Trade]:
    return Trade.objects.filter(organization=organization).select_related("account", "open_operation")


# --- how a reading reads -------------------------------------------------------------------------


def _price(value) -> str:
    if isinstance(value, dict):
        return f"{_price(value.get('low'))}–{_price(value.get('high'))}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def reading_summary(reading: dict | None) -> str:
    """One line for a parse contract: ``BUY LIMIT XAUUSD 2275 · SL 2268 · TP 2285, 2295 +runner``."""
    if not reading:
        return ""
    kind = reading.get("kind")
    if kind == "ignore":
        problems = reading.get("problems") or []
        return "Nothing to trade" + (f": {problems[0].get('message')}" if problems else "")
    parts = []
    if kind in ("open", "details"):
        head = [
            str(reading.get("side") or "").upper(),
            str(reading.get("order_type") or "").upper(),
            reading.get("symbol") or "",
        ]
        head = " ".join(word for word in head if word)
        entry = reading.get("entry")
        if entry is not None:
            head = f"{head} {_price(entry)}".strip()
        if kind == "details":
            head = f"Details {head}".strip()
        parts.append(head)
        if reading.get("sl") is not None:
            parts.append(f"SL {_price(reading['sl'])}")
        targets = [_price(tp) for tp in reading.get("tp") or []]
        if targets or reading.get("runner"):
            parts.append("TP " + ", ".join(targets) + (" +runner" if reading.get("runner") else ""))
    else:
        actions = []
        for action in reading.get("actions") or []:
            text = str(action.get("action", "")).replace("_", " ")
            if action.get("sl") is not None:
                text += f" SL {_price(action['sl'])}"
            if action.get("tp") is not None:
                text += f" TP {_price(action['tp'])}"
            if action.get("fraction") is not None:
                text += f" {round(action['fraction'] * 100)}%"
            actions.append(text)
        parts.append("Change: " + (", ".join(actions) or "none read"))
        if reading.get("symbol"):
            parts.append(reading["symbol"])
    return " · ".join(part.strip() for part in parts if part.strip())
