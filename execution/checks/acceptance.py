"""A caller's own levels judged when an operation is accepted: refused before anything is stored
or enqueued when the broker could not take them.

Promise: :func:`order_levels_check` (a new order or trade) and :func:`position_levels_check` (new
SL/TP of an open position) run ``ORDER_RULES`` and raise a ServiceError naming the field (``price``,
``sl``, ``tp`` or ``tps``) with the rule's code in lower case (``stops_invalid``...). The market is
the venue's quote now with the symbol's stops level, when the venue knows them without a broker
session (``Connector.reference_quote``: the simulated broker). Without one (MetaApi), or for a
position not in the account's latest book, only what needs no price is judged: every level a
finite price above 0, and a pending order's SL and TP against its own price; the side of the
market is then left to the broker, whose refusal is INVALID_INPUT (it neither pauses the account
nor counts against the broker). This module reads the database and the venue; the rules are pure.
"""

from collections.abc import Sequence
from decimal import Decimal

from django.utils import timezone

from core.errors import ServiceError
from execution.accounts.models import AccountSymbol, TradingAccount
from execution.broker.registry import connector_for
from execution.checks.model import Context, Instrument, Levels, Policy, Quote
from execution.checks.pips import pip_size
from execution.checks.rules import ORDER_RULES, evaluate
from execution.live.snapshot import account_book


def _market(account: TradingAccount, row: AccountSymbol) -> tuple[Instrument, Quote | None]:
    quote = connector_for(account.platform).reference_quote(account, row.name)
    instrument = Instrument(
        digits=row.digits,
        pip=pip_size(digits=row.digits, asset_class=row.asset_class or None, symbol=row.name),
        stop_distance=Decimal(0) if quote is None else quote.stop_distance,
    )
    return instrument, None if quote is None else Quote(bid=quote.bid, ask=quote.ask)


# a position not in the book: its symbol unknown, nothing is judged that needs one
_UNKNOWN_SYMBOL = Instrument(digits=0, pip=Decimal(1))


def _judge(levels: Levels, instrument: Instrument, quote: Quote | None, *, tp_field: str) -> None:
    ctx = Context(levels=levels, policy=Policy(), instrument=instrument, quote=quote, now=timezone.now())
    stopped = evaluate(ctx, rules=ORDER_RULES).stopped
    if stopped is not None:
        field = {"entry": "price", "tps": tp_field}.get(stopped.field, stopped.field)
        message = f"{stopped.message[:1].upper()}{stopped.message[1:]}."
        raise ServiceError(message, field=field, code=stopped.code.lower())


def order_levels_check(
    *,
    account: TradingAccount,
    symbol: AccountSymbol,
    side: str,
    type: str,
    price: Decimal | None,
    sl: Decimal | None,
    tps: Sequence[Decimal],
    tp_field: str = "tp",
) -> None:
    """Refuse a new order's levels that cannot be valid (``symbol``: the account's symbol row,
    which the caller has read already; ``tp_field``: the request's name of its take-profits)."""
    entry = None if type == "market" else price
    levels = Levels(side=side, order_type=type, entry=entry, zone=None, sl=sl, tps=tuple(tps))
    _judge(levels, *_market(account, symbol), tp_field=tp_field)


def position_levels_check(
    *, account: TradingAccount, position_id: str, sl: Decimal | None, tp: Decimal | None
) -> None:
    """Refuse new levels of an open position that cannot be valid (None: not set by this change),
    judged against the market on the position's side when the account's latest book has it."""
    positions, _orders = account_book(account)
    position = next((p for p in positions or () if p["id"] == position_id), None)
    levels = Levels(
        side=position["side"] if position else "buy",  # unknown: only what needs no market is judged
        order_type="market",
        entry=None,
        zone=None,
        sl=sl,
        tps=() if tp is None else (tp,),
    )
    if position is None:
        market = (_UNKNOWN_SYMBOL, None)
    else:
        market = _market(account, AccountSymbol.objects.get(account=account, name=position["symbol"]))
    _judge(levels, *market, tp_field="tp")
