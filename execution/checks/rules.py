"""The one registry of the checks a trade passes before any broker call, each with a stable code.

Promise:

* ``RULES`` is the ordered table of rules and ``CODES`` the table of every code a step can carry
  (code -> one-line description). ``evaluate(ctx)`` runs the rules in order, one ``Step`` per
  rule reached, and stops at the first FAILED, HELD or WAITING step. The facts rules come first,
  then the level rules, each on the levels as corrected by the rules before it; corrected prices
  are quantized to the instrument's digits. Rules needing levels are not listed when there are
  none. Pure: no I/O, no Django, no clock (``ctx.now``).
* Without a quote (``ctx.quote is None``, at acceptance) a rule that needs the live bid/ask, or
  the entry when only the quote gives it (a market order without a price, a zone), is DEFERRED
  and the evaluation goes on. With a quote every rule runs: nothing is deferred.
* The effective entry: the given entry; a market order without one takes the market's price (the
  ask for a buy, the bid for a sell); a zone is resolved by the ``zone`` rule:

  - the market's price inside the zone, or already past it on the favourable side (below its low
    for a buy, above its high for a sell): a market order at that price;
  - otherwise (the price has not reached the zone): a limit order at the zone's NEAR edge (the
    high for a buy, the low for a sell), the first price of the zone the market reaches, so it
    fills, and the edge farthest from the SL, so sizing is the most conservative.

* The ``sanitizer`` runs before ``zone`` and ``reverse``: it judges the prices as the signal gave
  them (mirroring or resolving a price with a decimal slip would hide the slip).
* ``ORDER_RULES`` (codes in ``ORDER_CODES``) judge an order a caller gives as it is, with no route
  to correct it: ``evaluate(ctx, rules=ORDER_RULES)``. They refuse what the broker would refuse: a
  level that is not a finite price above 0; a pending price on the wrong side of the market (a buy
  limit or a sell stop not below it, a buy stop or a sell limit not above it: the ask for a buy, the
  bid for a sell); an SL or TP on the wrong side of its reference (a market order's: the bid for a
  buy's SL and a sell's TP, the ask for a buy's TP and a sell's SL; a pending order's: its price).
  Both by at least ``Instrument.stop_distance``. A FAILED step names the level in ``field``.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from execution.checks.model import STOPS, Context, Evaluation, Levels, Quote, Result, Step

PLAUSIBLE_BAND = Decimal("0.30")  # a price within +-30% of the mid is plausible
MAX_SLIP_EXPONENT = 2  # a decimal slip is corrected by at most 10^2 either way
ZONE_MAX_WIDTH = Decimal("0.05")  # a zone at most 5% of its midpoint wide

ORDER_CODES: Mapping[str, str] = MappingProxyType(
    {
        "PRICE_NOT_POSITIVE": "A price or level is not a finite number above 0.",
        "PENDING_WRONG_SIDE": "A pending order's price is on the wrong side of the market, or nearer "
        "than the symbol's stop level.",
        "STOPS_INVALID": "An SL or TP is on the wrong side of the market (a pending order: of its "
        "price), or nearer than the symbol's stop level.",
    }
)

CODES: Mapping[str, str] = MappingProxyType(
    {
        "ROUTE_PAUSED": "The route is paused.",
        "MESSAGE_TOO_OLD": "The signal's message is older than its source allows.",
        "LOW_CONFIDENCE": "The signal was read with a confidence below the route's threshold: held.",
        "SYMBOL_FILTERED": "The route's symbol filter excludes the symbol.",
        "SYMBOL_NOT_MAPPED": "The symbol could not be mapped to the account's broker.",
        "ACCOUNT_NOT_READY": "The account cannot trade now.",
        "NO_OPEN_TRADE": "A change with no open trade of the route to apply to.",
        "DUPLICATE_SIGNAL": "The signal repeats an earlier one.",
        "SIGNAL_INCOMPLETE": "The route trades complete signals only: waiting for the details.",
        "PRICE_DECIMAL_SLIP": "A price off by a power of ten was corrected.",
        "PRICE_IMPLAUSIBLE": "A price is too far from the market to be meant.",
        "ZONE_MALFORMED": "The entry zone's low is not below its high, or the zone is too wide.",
        "SL_WRONG_SIDE": "The SL is on the profit side of the entry.",
        "NO_SL_PROVIDED": "No SL was given.",
        "NO_TP_PROVIDED": "No TP was given: the route's default TP was set.",
        "TP_WRONG_SIDE": "A TP is on the loss side of the entry.",
        "TP_ORDER": "The TPs were sorted nearest first, duplicates removed.",
        "SL_TOO_FAR": "The SL is too far compared with the farthest TP.",
        "ENTRY_TOO_FAR": "The market has already moved too far from the entry.",
        "SPREAD_TOO_WIDE": "The spread is wider than the route allows.",
        "MARKET_CLOSED": "The market is closed.",
        "OUTSIDE_TRADING_HOURS": "Now is outside the route's trading hours.",
    }
)


@dataclass(frozen=True)
class Verdict:
    """What a rule decided: its step's result, code and message, and any new levels."""

    result: Result
    code: str = ""
    message: str = ""
    levels: Levels | None = None
    wait_until: datetime | None = None
    field: str = ""  # the level a FAILED verdict concerns, when one


@dataclass(frozen=True)
class Rule:
    stage: str
    codes: tuple[str, ...]  # the codes its steps can carry
    check: Callable[..., Verdict]  # (ctx, levels) -> Verdict
    needs_levels: bool = False
    needs_instrument: bool = False


def _passed(message: str) -> Verdict:
    return Verdict(Result.PASSED, message=message)


def _deferred(code: str, needs: str = "the live bid/ask") -> Verdict:
    return Verdict(Result.DEFERRED, code, f"deferred: needs {needs}")


_NEEDS_ENTRY = "the entry, known only from the live quote"


def _dir(side: str) -> int:
    return 1 if side == "buy" else -1


def _toward(side: str, profit: bool) -> str:
    return "above" if (side == "buy") == profit else "below"


def _market(quote: Quote, side: str) -> Decimal:
    return quote.ask if side == "buy" else quote.bid


def _price_name(side: str) -> str:
    return "ask" if side == "buy" else "bid"


def _q(ctx: Context, price: Decimal) -> Decimal:
    return price.quantize(Decimal(1).scaleb(-ctx.instrument.digits))


def _offset(ctx: Context, lv: Levels, pips: Decimal, profit: bool) -> Decimal:
    sign = _dir(lv.side) * (1 if profit else -1)
    return _q(ctx, lv.entry + sign * pips * ctx.instrument.pip)


def _pips(ctx: Context, distance: Decimal) -> str:
    return f"{distance / ctx.instrument.pip:.1f}"


def _listed(prices: tuple[Decimal, ...]) -> str:
    return ", ".join(map(str, prices)) or "none"


# Facts


def _route(ctx: Context, _lv: Levels | None) -> Verdict:
    if ctx.facts.paused_route:
        return Verdict(Result.FAILED, "ROUTE_PAUSED", "The route is paused.")
    return _passed("the route is active")


def _confidence(ctx: Context, _lv: Levels | None) -> Verdict:
    confidence, threshold = ctx.facts.confidence, ctx.facts.threshold
    if confidence is None or threshold is None:
        return _passed("no confidence threshold")
    if confidence < threshold:
        message = f"read with confidence {confidence:.2f}, below the route's {threshold:.2f}: held"
        return Verdict(Result.HELD, "LOW_CONFIDENCE", message)
    return _passed(f"read with confidence {confidence:.2f}, the route's threshold is {threshold:.2f}")


def _complete(ctx: Context, _lv: Levels | None) -> Verdict:
    if ctx.facts.incomplete:
        message = f"{ctx.facts.incomplete}: waiting for its details"
        return Verdict(Result.WAITING, "SIGNAL_INCOMPLETE", message)
    return _passed("complete")


def _reported(stage: str, code: str, field: str, passed: str) -> Rule:
    """A rule failing with the reason the caller reported in ``ctx.facts.<field>``."""

    def check(ctx: Context, _lv: Levels | None) -> Verdict:
        reason = getattr(ctx.facts, field)
        return Verdict(Result.FAILED, code, reason) if reason else _passed(passed)

    return Rule(stage, (code,), check)


# Levels


def _sanitizer(ctx: Context, lv: Levels) -> Verdict:
    if ctx.quote is None:
        return _deferred("PRICE_IMPLAUSIBLE")
    mid = (ctx.quote.bid + ctx.quote.ask) / 2
    named = [("entry", lv.entry), *zip(("zone low", "zone high"), lv.zone or (), strict=False), ("SL", lv.sl)]
    named += [(f"TP{i}", tp) for i, tp in enumerate(lv.tps, 1)]
    exponents = {price: _slip_exponent(price, mid) for _, price in named if price is not None}
    bad = [f"{name} {price}" for name, price in named if price is not None and exponents[price] is None]
    if bad:
        band = f"{PLAUSIBLE_BAND:.0%}"
        message = f"{', '.join(bad)} implausible: more than {band} from the mid {mid} and not a decimal slip"
        return Verdict(Result.FAILED, "PRICE_IMPLAUSIBLE", message)

    def fixed(price: Decimal | None) -> Decimal | None:
        return _q(ctx, price.scaleb(exponents[price])) if price is not None and exponents[price] else price

    notes = [
        f"{name} {price} read as {fixed(price)}: a decimal slip, corrected by 10^{exponents[price]}"
        for name, price in named
        if fixed(price) != price
    ]
    if not notes:
        return _passed(f"every price within {PLAUSIBLE_BAND:.0%} of the mid {mid}")
    zone = None if lv.zone is None else (fixed(lv.zone[0]), fixed(lv.zone[1]))
    tps = tuple(map(fixed, lv.tps))
    new = replace(lv, entry=fixed(lv.entry), sl=fixed(lv.sl), zone=zone, tps=tps)
    return Verdict(Result.CORRECTED, "PRICE_DECIMAL_SLIP", "; ".join(notes), new)


def _slip_exponent(price: Decimal, mid: Decimal) -> int | None:
    """0: plausible; k: plausible once multiplied by 10^k; None: implausible."""

    def plausible(p: Decimal) -> bool:
        return abs(p - mid) <= mid * PLAUSIBLE_BAND

    if price <= 0:
        return None
    if plausible(price):
        return 0
    k = round((mid / price).log10())
    return k if 0 < abs(k) <= MAX_SLIP_EXPONENT and plausible(price.scaleb(k)) else None


def _zone(ctx: Context, lv: Levels) -> Verdict:
    if lv.zone is None:
        return _passed("no zone")
    low, high = lv.zone
    zone = f"zone {low}-{high}"
    if low >= high:
        return Verdict(Result.FAILED, "ZONE_MALFORMED", f"{zone}: its low is not below its high")
    width = (high - low) / ((low + high) / 2)
    if width > ZONE_MAX_WIDTH:
        message = f"{zone} is {width:.1%} of its midpoint wide, more than {ZONE_MAX_WIDTH:.0%}"
        return Verdict(Result.FAILED, "ZONE_MALFORMED", message)
    if ctx.quote is None:
        return _deferred("ZONE_MALFORMED", "the live bid/ask to resolve the zone")
    price, name = _market(ctx.quote, lv.side), _price_name(lv.side)
    if (price <= high) if lv.side == "buy" else (price >= low):
        new = replace(lv, zone=None, entry=price, order_type="market")
        message = f"the {name} {price} has reached the {zone}: market at {price}"
        return Verdict(Result.PASSED, message=message, levels=new)
    edge = high if lv.side == "buy" else low
    new = replace(lv, zone=None, entry=edge, order_type="limit")
    message = f"the {name} {price} has not reached the {zone}: limit at its near edge {edge}"
    return Verdict(Result.PASSED, message=message, levels=new)


def _reverse(ctx: Context, lv: Levels) -> Verdict:
    if not ctx.policy.reverse:
        return _passed("not reversed")
    if lv.entry is None:
        return _deferred("", _NEEDS_ENTRY)

    def mirror(price: Decimal) -> Decimal:
        return _q(ctx, 2 * lv.entry - price)

    side = "sell" if lv.side == "buy" else "buy"
    new = replace(lv, side=side, sl=None if lv.sl is None else mirror(lv.sl), tps=tuple(map(mirror, lv.tps)))
    message = (
        f"reversed: {lv.side} -> {side} at {lv.entry}; SL {lv.sl} -> {new.sl}; "
        f"TPs {_listed(lv.tps)} -> {_listed(new.tps)}"
    )
    return Verdict(Result.CORRECTED, "", message, new)


def _sl_side(ctx: Context, lv: Levels) -> Verdict:
    if lv.sl is None:
        return _passed("no SL given")
    if lv.entry is None:
        return _deferred("SL_WRONG_SIDE", _NEEDS_ENTRY)
    side = _toward(lv.side, profit=False)
    if _dir(lv.side) * (lv.entry - lv.sl) > 0:
        return _passed(f"SL {lv.sl} {side} the entry {lv.entry}")
    wrong = f"SL {lv.sl} is not {side} the entry {lv.entry} for a {lv.side}"
    policy = ctx.policy
    if policy.sl_policy == "correct" and lv.sl != lv.entry:
        sl = _q(ctx, 2 * lv.entry - lv.sl)
        return Verdict(Result.CORRECTED, "SL_WRONG_SIDE", f"{wrong}: mirrored to {sl}", replace(lv, sl=sl))
    if policy.sl_policy == "default_sl" and policy.default_sl_pips > 0:
        sl = _offset(ctx, lv, policy.default_sl_pips, profit=False)
        message = f"{wrong}: replaced by the route's default SL, {policy.default_sl_pips} pips away: {sl}"
        return Verdict(Result.CORRECTED, "SL_WRONG_SIDE", message, replace(lv, sl=sl))
    why = {
        "reject": "the route rejects it",
        "correct": "it is the entry itself: nothing to mirror",
        "default_sl": "the route's default SL is 0",
    }[policy.sl_policy]
    return Verdict(Result.FAILED, "SL_WRONG_SIDE", f"{wrong} and {why}")


def _sl_missing(ctx: Context, lv: Levels) -> Verdict:
    if lv.sl is not None:
        return _passed(f"SL {lv.sl}")
    pips = ctx.policy.default_sl_pips
    if pips <= 0:
        return Verdict(Result.FAILED, "NO_SL_PROVIDED", "no SL and the route's default SL is 0")
    if lv.entry is None:
        return _deferred("NO_SL_PROVIDED", _NEEDS_ENTRY)
    sl = _offset(ctx, lv, pips, profit=False)
    message = f"no SL: the route's default SL, {pips} pips {_toward(lv.side, False)} {lv.entry}: {sl}"
    return Verdict(Result.CORRECTED, "NO_SL_PROVIDED", message, replace(lv, sl=sl))


def _tp_missing(ctx: Context, lv: Levels) -> Verdict:
    pips = ctx.policy.default_tp_pips
    if lv.tps or pips <= 0:
        return _passed(f"TPs {_listed(lv.tps)}")
    if lv.entry is None:
        return _deferred("NO_TP_PROVIDED", _NEEDS_ENTRY)
    tp = _offset(ctx, lv, pips, profit=True)
    message = f"no TP: the route's default TP, {pips} pips {_toward(lv.side, True)} {lv.entry}: {tp}"
    return Verdict(Result.CORRECTED, "NO_TP_PROVIDED", message, replace(lv, tps=(tp,)))


def _tp_side(ctx: Context, lv: Levels) -> Verdict:
    if not lv.tps:
        return _passed("no TP")
    if lv.entry is None:
        return _deferred("TP_WRONG_SIDE", _NEEDS_ENTRY)
    side = _toward(lv.side, profit=True)
    for i, tp in enumerate(lv.tps, 1):
        if _dir(lv.side) * (tp - lv.entry) <= 0:
            message = f"TP{i} {tp} is not {side} the entry {lv.entry} for a {lv.side}"
            return Verdict(Result.FAILED, "TP_WRONG_SIDE", message)
    return _passed(f"every TP {side} the entry {lv.entry}")


def _tp_order(ctx: Context, lv: Levels) -> Verdict:
    """On the profit side, nearest first is ascending for a buy, descending for a sell."""
    tps = tuple(sorted(set(lv.tps), key=lambda tp: _dir(lv.side) * tp))
    if tps == lv.tps:
        return _passed("TPs in order, nearest first")
    message = f"TPs {_listed(lv.tps)} sorted nearest first, duplicates removed: {_listed(tps)}"
    return Verdict(Result.CORRECTED, "TP_ORDER", message, replace(lv, tps=tps))


def _sl_distance(ctx: Context, lv: Levels) -> Verdict:
    if lv.sl is None or not lv.tps:
        return _passed("no SL or no TP to compare")
    if lv.entry is None:
        return _deferred("SL_TOO_FAR", _NEEDS_ENTRY)
    sl_distance = abs(lv.entry - lv.sl)
    tp_distance = max(abs(tp - lv.entry) for tp in lv.tps)
    multiple = ctx.policy.sl_max_tp_multiple
    compared = f"SL {_pips(ctx, sl_distance)} pips from the entry, the farthest TP {_pips(ctx, tp_distance)}"
    if sl_distance > multiple * tp_distance:
        return Verdict(Result.FAILED, "SL_TOO_FAR", f"{compared}: the SL is more than {multiple}x as far")
    return _passed(compared)


def _entry_distance(ctx: Context, lv: Levels) -> Verdict:
    """Only for an entry (or zone) the signal gave: ``ctx.levels``, before the corrections."""
    maximum = ctx.policy.max_entry_distance_pips
    if maximum is None:
        return _passed("no maximum entry distance")
    if ctx.levels.entry is None and ctx.levels.zone is None:
        return _passed("no entry given: the trade takes the market's price")
    if ctx.quote is None:
        return _deferred("ENTRY_TOO_FAR")
    price, name = _market(ctx.quote, lv.side), _price_name(lv.side)
    distance = _pips(ctx, abs(price - lv.entry))
    compared = f"the {name} {price} is {distance} pips from the entry {lv.entry}"
    if abs(price - lv.entry) > maximum * ctx.instrument.pip:
        return Verdict(Result.FAILED, "ENTRY_TOO_FAR", f"{compared}, more than the route's {maximum} pips")
    return _passed(compared)


def _spread(ctx: Context, _lv: Levels | None) -> Verdict:
    maximum = ctx.policy.max_spread_pips
    if maximum is None:
        return _passed("no maximum spread")
    if ctx.quote is None:
        return _deferred("SPREAD_TOO_WIDE")
    spread = ctx.quote.ask - ctx.quote.bid
    compared = f"the spread is {_pips(ctx, spread)} pips"
    if spread > maximum * ctx.instrument.pip:
        return Verdict(Result.FAILED, "SPREAD_TOO_WIDE", f"{compared}, wider than the route's {maximum}")
    return _passed(compared)


def _market_hours(ctx: Context, _lv: Levels | None) -> Verdict:
    sessions = ctx.instrument.sessions
    now = ctx.now.astimezone(UTC)
    minute = now.hour * 60 + now.minute
    if not sessions or any(day == now.weekday() and start <= minute < end for day, start, end in sessions):
        return _passed("the market is open")
    opening = min(_next_start(now, day, start) for day, start, _end in sessions)
    message = f"the market is closed; it opens {opening:%a %Y-%m-%d %H:%M} UTC"
    if ctx.policy.market_closed == "wait":
        return Verdict(Result.WAITING, "MARKET_CLOSED", f"{message}: waiting", wait_until=opening)
    return Verdict(Result.FAILED, "MARKET_CLOSED", message)


def _next_start(now: datetime, day: int, start: int) -> datetime:
    """The first opening of the session (``day``, ``start``) after ``now``, within 7 days."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    opening = midnight + timedelta(days=(day - now.weekday()) % 7, minutes=start)
    return opening if opening > now else opening + timedelta(days=7)


def _trading_hours(ctx: Context, _lv: Levels | None) -> Verdict:
    if ctx.policy.hours is None:
        return _passed("no trading hours")
    start, end = ctx.policy.hours
    now = ctx.now.astimezone(UTC)
    minute = now.hour * 60 + now.minute
    # start > end wraps midnight; start == end: all day
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    window = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d} UTC"
    if not inside:
        message = f"{now:%H:%M} UTC is outside the route's trading hours {window}"
        return Verdict(Result.FAILED, "OUTSIDE_TRADING_HOURS", message)
    return _passed(f"{now:%H:%M} UTC is within the route's trading hours {window}")


# A caller's own order


def _named_levels(lv: Levels) -> list[tuple[str, str, Decimal]]:
    """(field, name, price) of every level given."""
    named = [("entry", "price", lv.entry), ("sl", "SL", lv.sl)]
    named += [
        ("zone", name, edge) for name, edge in zip(("zone low", "zone high"), lv.zone or (), strict=False)
    ]
    named += [("tps", f"TP{i}" if len(lv.tps) > 1 else "TP", tp) for i, tp in enumerate(lv.tps, 1)]
    return [(field, name, price) for field, name, price in named if price is not None]


def _positive(ctx: Context, lv: Levels) -> Verdict:
    for field, name, price in _named_levels(lv):
        if not price.is_finite() or price <= 0:
            message = f"{name} {price} is not a price: give a number above 0"
            return Verdict(Result.FAILED, "PRICE_NOT_POSITIVE", message, field=field)
    return _passed("every price above 0")


def _beyond(distance: Decimal) -> str:
    return f" by at least {distance} (the symbol's stop level)" if distance > 0 else ""


def _far_enough(gap: Decimal, distance: Decimal) -> bool:
    """``gap``: how far a level is beyond its reference on its own side (negative: the wrong side)."""
    return gap > 0 and gap >= distance


def _pending_price(ctx: Context, lv: Levels) -> Verdict:
    if lv.order_type == "market" or lv.entry is None:
        return _passed("not a pending order at a price")
    if ctx.quote is None:
        return _deferred("PENDING_WRONG_SIDE")
    price, name = _market(ctx.quote, lv.side), _price_name(lv.side)
    below = (lv.order_type == "limit") == (lv.side == "buy")  # a buy limit, a sell stop
    gap = price - lv.entry if below else lv.entry - price
    where = f"{'below' if below else 'above'} the {name} {price}"
    distance = ctx.instrument.stop_distance
    if not _far_enough(gap, distance):
        message = f"a {lv.side} {lv.order_type} at {lv.entry} must be {where}{_beyond(distance)}"
        return Verdict(Result.FAILED, "PENDING_WRONG_SIDE", message, field="entry")
    return _passed(f"a {lv.side} {lv.order_type} at {lv.entry}, {where}")


def _stops(ctx: Context, lv: Levels) -> Verdict:
    if lv.sl is None and not lv.tps:
        return _passed("no SL or TP")
    sign = _dir(lv.side)
    if lv.order_type != "market":
        if lv.entry is None:
            return _deferred("STOPS_INVALID", _NEEDS_ENTRY)
        sl_reference = tp_reference = (lv.entry, "the order's price")
    elif ctx.quote is None:
        return _deferred("STOPS_INVALID")
    else:
        bid, ask = (ctx.quote.bid, "the bid"), (ctx.quote.ask, "the ask")
        sl_reference, tp_reference = (bid, ask) if lv.side == "buy" else (ask, bid)
    distance = ctx.instrument.stop_distance
    checked = [("sl", "SL", lv.sl, sl_reference, -sign)] if lv.sl is not None else []
    checked += [
        ("tps", name, price, tp_reference, sign) for field, name, price in _named_levels(lv) if field == "tps"
    ]
    for field, name, price, (reference, reference_name), toward in checked:
        if not _far_enough(toward * (price - reference), distance):
            side = "above" if toward > 0 else "below"
            where = f"{side} {reference_name} {reference}{_beyond(distance)}"
            message = f"{name} {price} of a {lv.side} must be {where}"
            return Verdict(Result.FAILED, "STOPS_INVALID", message, field=field)
    return _passed("the SL and TPs on their sides, far enough")


def _level_rule(stage: str, codes: tuple[str, ...], check: Callable[..., Verdict]) -> Rule:
    return Rule(stage, codes, check, needs_levels=True, needs_instrument=True)


RULES: tuple[Rule, ...] = (
    Rule("route", ("ROUTE_PAUSED",), _route),
    _reported("age", "MESSAGE_TOO_OLD", "too_old", "recent enough"),
    Rule("confidence", ("LOW_CONFIDENCE",), _confidence),
    _reported("symbol_filter", "SYMBOL_FILTERED", "symbol_filtered", "not filtered"),
    _reported("symbol", "SYMBOL_NOT_MAPPED", "symbol_error", "mapped"),
    _reported("account", "ACCOUNT_NOT_READY", "account_problem", "ready"),
    _reported("trade", "NO_OPEN_TRADE", "no_trade", "an open trade to change"),
    _reported("duplicate", "DUPLICATE_SIGNAL", "duplicate_of", "not a duplicate"),
    Rule("complete", ("SIGNAL_INCOMPLETE",), _complete),
    _level_rule("sanitizer", ("PRICE_DECIMAL_SLIP", "PRICE_IMPLAUSIBLE"), _sanitizer),
    _level_rule("zone", ("ZONE_MALFORMED",), _zone),
    _level_rule("reverse", (), _reverse),
    _level_rule("sl_side", ("SL_WRONG_SIDE",), _sl_side),
    _level_rule("sl_missing", ("NO_SL_PROVIDED",), _sl_missing),
    _level_rule("tp_missing", ("NO_TP_PROVIDED",), _tp_missing),
    _level_rule("tp_side", ("TP_WRONG_SIDE",), _tp_side),
    _level_rule("tp_order", ("TP_ORDER",), _tp_order),
    _level_rule("sl_distance", ("SL_TOO_FAR",), _sl_distance),
    _level_rule("entry_distance", ("ENTRY_TOO_FAR",), _entry_distance),
    Rule("spread", ("SPREAD_TOO_WIDE",), _spread, needs_instrument=True),
    Rule("market_hours", ("MARKET_CLOSED",), _market_hours, needs_instrument=True),
    Rule("trading_hours", ("OUTSIDE_TRADING_HOURS",), _trading_hours),
)


ORDER_RULES: tuple[Rule, ...] = (
    _level_rule("positive", ("PRICE_NOT_POSITIVE",), _positive),
    _level_rule("pending_price", ("PENDING_WRONG_SIDE",), _pending_price),
    _level_rule("stops", ("STOPS_INVALID",), _stops),
)


def evaluate(ctx: Context, *, rules: tuple[Rule, ...] = RULES) -> Evaluation:
    """Run ``rules`` on ``ctx``; with a quote, a market order without a price takes the market's."""
    levels = ctx.levels
    if levels is not None and ctx.quote is not None and levels.entry is None and levels.zone is None:
        levels = replace(levels, entry=_market(ctx.quote, levels.side))
    steps: list[Step] = []
    stopped = wait_until = None
    for rule in rules:
        if (rule.needs_levels and levels is None) or (rule.needs_instrument and ctx.instrument is None):
            continue
        verdict = rule.check(ctx, levels)
        steps.append(Step(rule.stage, verdict.result, verdict.code, verdict.message, verdict.field))
        if verdict.levels is not None:
            levels = verdict.levels
        if verdict.result in STOPS:
            stopped, wait_until = steps[-1], verdict.wait_until
            break
    deferred = tuple(step.code or step.stage for step in steps if step.result is Result.DEFERRED)
    return Evaluation(levels, tuple(steps), stopped, wait_until, deferred)
