"""MetaApi SDK dicts -> the interface's frozen dataclasses.

Numbers arrive as JSON floats and become :class:`Decimal` through their shortest repr (``0.1`` ->
``Decimal('0.1')``); times arrive as datetimes (the SDK converts ISO strings of ``*time*`` fields), ISO
strings or epoch seconds and become aware UTC datetimes; ids become strings. A malformed dict raises
:class:`MalformedData` (the gateway turns it into a GatewayError).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from execution.broker.gateways.base import (
    AccountInfo,
    CloseReason,
    DealEntry,
    HistoryDeal,
    PendingOrder,
    PendingOrderType,
    Position,
    Price,
    Side,
    SymbolSpec,
    TradingSession,
)

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

WEEKDAYS = {"MONDAY": 0, "TUESDAY": 1, "WEDNESDAY": 2, "THURSDAY": 3, "FRIDAY": 4, "SATURDAY": 5, "SUNDAY": 6}

POSITION_SIDES = {"POSITION_TYPE_BUY": Side.BUY, "POSITION_TYPE_SELL": Side.SELL}
DEAL_SIDES = {"DEAL_TYPE_BUY": Side.BUY, "DEAL_TYPE_SELL": Side.SELL}
PENDING_TYPES = {
    "ORDER_TYPE_BUY_LIMIT": PendingOrderType.BUY_LIMIT,
    "ORDER_TYPE_SELL_LIMIT": PendingOrderType.SELL_LIMIT,
    "ORDER_TYPE_BUY_STOP": PendingOrderType.BUY_STOP,
    "ORDER_TYPE_SELL_STOP": PendingOrderType.SELL_STOP,
}
DEAL_ENTRIES = {
    "DEAL_ENTRY_IN": DealEntry.IN,
    "DEAL_ENTRY_OUT": DealEntry.OUT,
    "DEAL_ENTRY_OUT_BY": DealEntry.OUT,
    "DEAL_ENTRY_INOUT": DealEntry.OUT,  # netting reversal: closes a position (and opens the reverse)
}
CLOSE_REASONS = {
    "DEAL_REASON_SL": CloseReason.SL,
    "DEAL_REASON_TP": CloseReason.TP,
    "DEAL_REASON_SO": CloseReason.STOP_OUT,
}
#: History order states of pending orders that went away without a fill, and the reason reported.
UNFILLED_ORDER_STATES = {
    "ORDER_STATE_CANCELED": "cancelled",
    "ORDER_STATE_REJECTED": "rejected",
    "ORDER_STATE_EXPIRED": "expired",
}
#: Symbol trade modes that do not allow opening trades.
NO_TRADING_MODES = {"SYMBOL_TRADE_MODE_DISABLED", "SYMBOL_TRADE_MODE_CLOSEONLY"}


class MalformedData(ValueError):
    """A MetaApi answer that does not have the expected shape."""


# --------------------------------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------------------------------


def dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedData(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MalformedData(f"expected a number, got {value!r}") from exc
    if not number.is_finite():
        raise MalformedData(f"expected a finite number, got {value!r}")
    return number


def req_dec(data: Mapping[str, Any], key: str) -> Decimal:
    value = dec(data.get(key))
    if value is None:
        raise MalformedData(f"missing {key!r} in {sorted(data)}")
    return value


def level(value: Any) -> Decimal | None:
    """A stop loss / take profit: MetaTrader reports 0 (or nothing) for no level."""
    number = dec(value)
    return None if number is None or number == 0 else number


def utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise MalformedData(f"not a time: {value!r}") from exc
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    raise MalformedData(f"not a time: {value!r}")


def ident(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def req_ident(data: Mapping[str, Any], key: str) -> str:
    value = ident(data.get(key))
    if value is None:
        raise MalformedData(f"missing {key!r} in {sorted(data)}")
    return value


def tag(data: Mapping[str, Any]) -> str | None:
    value = data.get("clientId")
    return str(value) if value else None


def _enum(table: Mapping[str, Any], data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    if value not in table:
        raise MalformedData(f"unexpected {key} {value!r}")
    return table[value]


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


def account_info(data: Mapping[str, Any]) -> AccountInfo:
    equity = req_dec(data, "equity")
    margin = dec(data.get("margin")) or Decimal(0)
    free = dec(data.get("freeMargin"))
    leverage = dec(data.get("leverage"))
    return AccountInfo(
        balance=req_dec(data, "balance"),
        equity=equity,
        margin=margin,
        free_margin=free if free is not None else equity - margin,
        currency=str(data.get("currency") or ""),
        leverage=int(leverage) if leverage is not None else 0,
    )


def position(data: Mapping[str, Any]) -> Position:
    """``profit`` is the floating part: ``unrealizedProfit + unrealizedSwap`` (MetaApi's ``profit`` also
    holds what partial closes already realized); ``profit`` when the unrealized fields are missing."""
    unrealized = dec(data.get("unrealizedProfit"))
    if unrealized is not None:
        floating = unrealized + (dec(data.get("unrealizedSwap")) or Decimal(0))
    else:
        floating = dec(data.get("profit")) or Decimal(0)
    open_price = req_dec(data, "openPrice")
    return Position(
        id=req_ident(data, "id"),
        symbol=str(data["symbol"]),
        side=_enum(POSITION_SIDES, data, "type"),
        volume=req_dec(data, "volume"),
        open_price=open_price,
        current_price=dec(data.get("currentPrice")) or open_price,
        sl=level(data.get("stopLoss")),
        tp=level(data.get("takeProfit")),
        profit=floating,
        client_tag=tag(data),
        opened_at=utc(data.get("time")),
    )


def pending_order(data: Mapping[str, Any]) -> PendingOrder | None:
    """None for orders the interface cannot represent (market orders in flight, stop-limit, close-by)."""
    kind = PENDING_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if kind is None:
        return None
    volume = dec(data.get("currentVolume"))
    return PendingOrder(
        id=req_ident(data, "id"),
        symbol=str(data["symbol"]),
        type=kind,
        volume=volume if volume else req_dec(data, "volume"),
        price=req_dec(data, "openPrice"),
        sl=level(data.get("stopLoss")),
        tp=level(data.get("takeProfit")),
        client_tag=tag(data),
        created_at=utc(data.get("time")),
    )


def deal(data: Mapping[str, Any]) -> HistoryDeal | None:
    """None for non-trade deals (balance, credit, commission, ...).

    ``profit`` is what the deal did to the balance: profit + swap + commission.
    """
    side = DEAL_SIDES.get(data.get("type"))  # type: ignore[arg-type]
    if side is None:
        return None
    entry = _enum(DEAL_ENTRIES, data, "entryType")
    profit = (
        (dec(data.get("profit")) or Decimal(0))
        + (dec(data.get("swap")) or Decimal(0))
        + (dec(data.get("commission")) or Decimal(0))
    )
    reason = None
    if entry is DealEntry.OUT:
        reason = CLOSE_REASONS.get(data.get("reason"), CloseReason.CLIENT)  # type: ignore[arg-type]
    return HistoryDeal(
        id=req_ident(data, "id"),
        order_id=ident(data.get("orderId")),
        position_id=ident(data.get("positionId")),
        symbol=str(data.get("symbol") or ""),
        side=side,
        entry=entry,
        volume=req_dec(data, "volume"),
        price=req_dec(data, "price"),
        profit=profit,
        client_tag=tag(data),
        time=utc(data.get("time")),
        reason=reason,
    )


def deals(items: Iterable[Mapping[str, Any]]) -> list[HistoryDeal]:
    """Trade deals, oldest first; closing deals without a client tag inherit the tag of the deal that
    opened their position (MetaTrader writes the closing order's comment into them, not the clientId)."""
    converted = [d for d in (deal(item) for item in items) if d is not None]
    converted.sort(key=lambda d: (d.time, d.id))
    return inherit_tags(converted)


def inherit_tags(items: list[HistoryDeal], known: Mapping[str, str] | None = None) -> list[HistoryDeal]:
    tags: dict[str, str] = dict(known or {})
    for item in items:
        if item.entry is DealEntry.IN and item.client_tag and item.position_id:
            tags.setdefault(item.position_id, item.client_tag)
    result = []
    for item in items:
        if item.client_tag is None and item.position_id in tags:
            item = dataclasses.replace(item, client_tag=tags[item.position_id])
        result.append(item)
    return result


def price(data: Mapping[str, Any], symbol: str | None = None) -> Price:
    return Price(
        symbol=str(data.get("symbol") or symbol or ""),
        bid=req_dec(data, "bid"),
        ask=req_dec(data, "ask"),
        time=utc(data.get("time")),
    )


# --------------------------------------------------------------------------------------------------
# Symbol specification and sessions
# --------------------------------------------------------------------------------------------------

_TIME = re.compile(r"^\s*(\d{1,2})[:.](\d{2})(?:[:.](\d{2})(?:\.(\d{1,6}))?)?\s*$")


def _minute_of_day(text: Any, *, end: bool) -> int:
    match = _TIME.match(str(text))
    if match is None:
        raise MalformedData(f"not a session time: {text!r}")
    hours, minutes, seconds, fraction = match.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0) + float(f"0.{fraction or 0}")
    value = math.ceil(total / 60) if end else math.floor(total / 60)
    return min(max(value, 0), MINUTES_PER_DAY)


def merge_sessions(sessions: Iterable[TradingSession]) -> tuple[TradingSession, ...]:
    """Sorted, with overlapping or touching windows of a day joined."""
    merged: list[TradingSession] = []
    for item in sorted(sessions, key=lambda s: (s.weekday, s.start, s.end)):
        last = merged[-1] if merged else None
        if last is not None and last.weekday == item.weekday and item.start <= last.end:
            merged[-1] = TradingSession(last.weekday, last.start, max(last.end, item.end))
        else:
            merged.append(item)
    return tuple(merged)


def shift_sessions(sessions: Iterable[TradingSession], minutes: int) -> tuple[TradingSession, ...]:
    """Move weekly windows by ``minutes`` (negative: earlier), splitting them at midnight."""
    pieces: list[TradingSession] = []
    for session in sessions:
        start = session.weekday * MINUTES_PER_DAY + session.start + minutes
        end = start + (session.end - session.start)
        while start < end:
            day_start = math.floor(start / MINUTES_PER_DAY) * MINUTES_PER_DAY
            stop = min(end, day_start + MINUTES_PER_DAY)
            weekday = (day_start // MINUTES_PER_DAY) % 7
            pieces.append(TradingSession(weekday, start - day_start, stop - day_start))
            start = stop
    return merge_sessions(pieces)


def sessions_from_metaapi(data: Any, broker_offset_minutes: int) -> tuple[TradingSession, ...] | None:
    """``tradeSessions`` (broker time, ``{'MONDAY': [{'from': 'hh:mm:ss.SSS', 'to': ...}]}``) in UTC.

    None when MetaApi sent no sessions at all (unknown); an empty tuple when it sent empty ones."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise MalformedData(f"tradeSessions is not a mapping: {data!r}")
    broker: list[TradingSession] = []
    for day, windows in data.items():
        weekday = WEEKDAYS.get(str(day).upper())
        if weekday is None:
            raise MalformedData(f"unknown session day {day!r}")
        for window in windows or ():
            start = _minute_of_day(window.get("from"), end=False)
            end = _minute_of_day(window.get("to"), end=True)
            if start < end:
                broker.append(TradingSession(weekday, start, end))
    return shift_sessions(broker, -broker_offset_minutes)


ALL_WEEK = tuple(TradingSession(day, 0, MINUTES_PER_DAY) for day in range(7))


def symbol_spec(
    spec: Mapping[str, Any], quote: Mapping[str, Any] | None, broker_offset_minutes: int
) -> SymbolSpec:
    """``tick_value`` comes from the price (MetaApi's specification has none): ``profitTickValue``."""
    sessions = sessions_from_metaapi(spec.get("tradeSessions"), broker_offset_minutes)
    if sessions is None:  # no session information: MetaApi did not say, do not invent closures
        sessions = ALL_WEEK
    tick_value = dec((quote or {}).get("profitTickValue"))
    if tick_value is None:
        raise MalformedData("no profitTickValue in the symbol price")
    digits = dec(spec.get("digits"))
    stops = dec(spec.get("stopsLevel"))
    freeze = dec(spec.get("freezeLevel"))
    tick_size = dec(spec.get("tickSize")) or dec(spec.get("point"))
    if tick_size is None or digits is None:
        raise MalformedData(f"incomplete symbol specification {sorted(spec)}")
    return SymbolSpec(
        name=str(spec["symbol"]),
        description=str(spec.get("description") or ""),
        digits=int(digits),
        contract_size=req_dec(spec, "contractSize"),
        tick_size=tick_size,
        tick_value=tick_value,
        volume_min=req_dec(spec, "minVolume"),
        volume_max=req_dec(spec, "maxVolume"),
        volume_step=req_dec(spec, "volumeStep"),
        trading_allowed=spec.get("tradeMode") not in NO_TRADING_MODES,
        sessions=sessions,
        stops_level=int(stops) if stops is not None else 0,
        freeze_level=int(freeze) if freeze is not None else 0,
        base_currency=str(spec.get("baseCurrency") or ""),
        profit_currency=str(spec.get("profitCurrency") or ""),
        margin_currency=str(spec.get("marginCurrency") or ""),
    )


def broker_offset_minutes(server_time: Mapping[str, Any]) -> int:
    """Broker time minus UTC, in minutes rounded to 15, from ``get_server_time()``: ``time`` (UTC) and
    ``brokerTime`` ('YYYY-MM-DD HH:mm:ss.SSS')."""
    moment = utc(server_time.get("time"))
    text = str(server_time.get("brokerTime") or "")
    try:
        broker = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError as exc:
        raise MalformedData(f"not a broker time: {text!r}") from exc
    delta = broker.replace(tzinfo=None) - moment.replace(tzinfo=None)
    return round(delta / timedelta(minutes=15)) * 15


__all__ = [
    "MalformedData",
    "account_info",
    "broker_offset_minutes",
    "deal",
    "deals",
    "merge_sessions",
    "pending_order",
    "position",
    "price",
    "sessions_from_metaapi",
    "shift_sessions",
    "symbol_spec",
]
