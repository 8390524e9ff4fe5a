"""Signal test data: sources and routes through the services; signals and decisions as rows (what
the intake records), for tests that need them without receiving a message."""

import uuid
from decimal import Decimal

from django.utils import timezone

from execution import checks
from execution.orders.accept import Planned, new_client_tag, submit_many
from execution.orders.trade_calls import MAX_LEGS, leg_tag, open_trade_params
from execution.signals import parsing, services
from execution.signals.models import Decision, Route, Signal, SignalSource, Trade

OPEN = "GOLD BUY LIMIT 2275\nSL 2268\nTP 2285"


def source(organization, name: str = "Gold VIP", kind: str = SignalSource.MANUAL, **fields) -> SignalSource:
    created, _ = services.source_create(organization=organization, name=name, kind=kind, **fields)
    return created


def webhook_source(organization, name: str = "Hook") -> tuple[SignalSource, dict]:
    return services.source_create(organization=organization, name=name, kind=SignalSource.WEBHOOK)


def route(source: SignalSource, account, **settings) -> Route:
    return services.route_create(organization=source.organization, source=source, account=account, **settings)


def signal_row(source: SignalSource, text: str = OPEN, *, message_id: str | None = None, **fields) -> Signal:
    reading = parsing.parse(text)
    now = timezone.now()
    return Signal.objects.create(
        organization_id=source.organization_id,
        source=source,
        message_id=message_id or uuid.uuid4().hex,
        text=text,
        posted_at=fields.pop("posted_at", now),
        received_at=fields.pop("received_at", now),
        reading=reading.to_contract(),
        kind=reading.kind.value,
        symbol=reading.symbol or "",
        **fields,
    )


def decision_row(signal: Signal, route: Route, *, outcome: str = Decision.REJECTED, **fields) -> Decision:
    fields.setdefault(
        "trace",
        [
            {"stage": "parse", "result": "passed", "code": "", "message": "Read as open buy XAUUSD."},
            {"stage": "sl", "result": "failed", "code": "SL_TOO_FAR", "message": "The SL is 900 pips away."},
        ],
    )
    if outcome == Decision.REJECTED:
        fields.setdefault("code", "SL_TOO_FAR")
        fields.setdefault("reason", "The SL is 900 pips away.")
    return Decision.objects.create(
        organization_id=signal.organization_id,
        signal=signal,
        route=route,
        account_id=route.account_id,
        outcome=outcome,
        **fields,
    )


def trade_row(signal: Signal, route: Route, *, tps: tuple[str, ...] = ("65400", "65800", "66200")) -> Trade:
    """A BTCUSD buy trade of ``route`` opened from ``signal``: its opening operation accepted (not
    run), as the intake writes them."""
    levels = checks.Levels(
        side="buy",
        order_type="market",
        entry=None,
        zone=None,
        sl=Decimal("63500"),
        tps=tuple(map(Decimal, tps)),
    )
    params = open_trade_params(
        symbol="BTCUSD",
        requested_symbol="BTCUSD",
        levels=levels,
        runner=False,
        policy=checks.Policy(),
        instrument=checks.Instrument(digits=2, pip=Decimal(1), sessions=()),
        volume_min=Decimal("0.01"),
        volume_step=Decimal("0.01"),
        own_risk=None,
        multiplier=Decimal(1),
    )
    tag = new_client_tag()
    (opening,) = submit_many(
        [Planned(account=route.account, kind="open_trade", params=params, client_tag=tag)]
    )
    return Trade.objects.create(
        organization_id=route.organization_id,
        account=route.account,
        route=route,
        signal=signal,
        symbol="BTCUSD",
        instrument="BTCUSD",
        side="buy",
        order_type="market",
        sl="63500",
        tps=list(tps),
        leg_tags=[leg_tag(tag, index) for index in range(MAX_LEGS)],
        open_operation=opening,
    )
