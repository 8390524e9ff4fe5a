"""``parse``: one message (and, optionally, the message it replies to) -> one ``Reading``.

How a message is classified, in order:

1. A **new trade** (``open``) needs a side and a symbol (or the source's default symbol) and either
   a level (entry, SL, a target), a market word ("now"), or nothing else written beside them
   ("BUY EURUSD"); not a side under a condition in its sentence ("if it breaks 1.0850 we might
   sell") or in a question. Beside changes ("take 50% and move the stop to 3,690") only a complete
   signal is a trade. A reply that names the same side and symbol as the bare alert it replies to
   completes it (``details``), so the alert is not traded twice.
2. **Changes** (``modify``): breakeven, move SL/TP, close part or all, cancel; several per message.
   Levels alone, replied to a signal that has its own, move them.
3. A symbol with an SL and targets but no side is a trade whose side the levels tell; levels with
   no side or symbol are **details** of an earlier alert. Both only when the message is mostly levels.
4. Everything else is **noise** (``ignore``), with the reason: a result report, a recap, a
   promotion, commentary (a market and a side, but conditional, asked about, or without levels),
   or nothing at all. A complete signal wrapped in a report or an advert is still read, unless the
   report is about its own lines ("TP1 2340 ✅").

Confidence starts at 1 and loses a fixed amount for each thing the reader had to guess or that does
not fit (the ``_COST`` table): a route trades readings at or above its threshold (0.7 by default)
and holds the rest. Words the reader could not place cost in proportion (half as much beside a
complete signal, where they are its explanation).
"""

from __future__ import annotations

import re
from functools import lru_cache

from execution.accounts.symbols import canonicalize, known_instrument
from execution.signals.parsing import management
from execution.signals.parsing.reading import (
    Action,
    ActionKind,
    Kind,
    OrderType,
    ParserOptions,
    Problem,
    Reading,
    Side,
    Zone,
    problem,
)
from execution.signals.parsing.text import normalize, settle_numbers, tokenize
from execution.signals.parsing.trade import TradeFields, lexemes, read_trade
from execution.signals.parsing.vocabulary import (
    DEFAULT_TABLE,
    PROMOTION_WORDS,
    RECAP_WORDS,
    phrase_table,
)

MAX_TARGETS = 6
DEFAULT_THRESHOLD = 0.7

# what each doubt costs the confidence of a reading
_COST = {
    "side_inferred": 0.35,
    "symbol_missing": 0.4,
    "symbol_unknown": 0.15,
    "side_conflict": 0.4,
    "several_symbols": 0.15,
    "levels_inconsistent": 0.35,
    "hedged": 0.15,
    "sl_missing": 0.05,
    "tp_missing": 0.05,
    "alert_only": 0.05,
    "sl_in_pips": 0.1,
    "tp_in_pips": 0.1,
    "number_reinterpreted": 0.05,
    "no_alert": 0.25,
    "value_missing": 0.4,
    "reference_unresolved": 0.4,
    "fraction_unstated": 0.1,
}
# times the share of words the reader could not place; beside a complete signal they are mostly its
# explanation, so they cost half
_UNEXPLAINED_COST = 0.6

_REPORT = re.compile(
    r"\b(?:tp|target|sl|stop ?loss|stoploss|stop|entry|order|limit|trade|signal|zone|level|price)s?"
    r"\s*-?\s*\d?\s*"
    r"(?:was\s+|is\s+|has\s+been\s+|got\s+|just\s+|also\s+|successfully\s+)?"
    r"(?:hit|reached|done|smashed|achieved|touched|secured|taken|triggered|booked|filled|completed|closed|activated)\b"
    r"|\+\s*\d+(?:[.,]\d+)?\s*(?:pips?|points?|pts|%|\$|usd|r)\b"
    r"|\b\d+(?:[.,]\d+)?\s*(?:pips?|points?|pts)\s+"
    r"(?:profit|gain|secured|banked|running|in profit|won|lost|loss|done)"
    r"|\b(?:in profit|running profit|floating|boom+|bingo|congrat\w*|well done|smashed|stopped out)\b"
    r"|\b(?:we|i|you)\s+(?:sold|bought|closed|took|caught|made|banked|secured|booked|got)\b"
    r"|\blast (?:week|month|trade|signal|night)\b"
    # "TP1: 2405 ✅" (the mark read as "hit"), unless it is a bullet before the next label
    r"|\b(?:tp|target)s?\s*\d?\s*[:=-]?\s*\d[\d.,]*[ \t]+hit\b(?![ \t]*(?:tp|target|sl|stop))",
    re.I,
)
_HIT_MARKS = re.compile("[\u2705\u2714\u2611]\ufe0f?")
_REMARKS = re.compile(r"(?<=\d)\s*\([^)\n]*\)")  # "2333 (+50 pips)": a level's remark, not a report
_PROMOTION = re.compile(r"https?://|www\.|t\.me/|@\w{4,}", re.I)


@lru_cache(maxsize=64)
def _table(keywords: tuple[tuple[str, str], ...]):
    return phrase_table(dict(keywords)) if keywords else DEFAULT_TABLE


def parse(text: str, *, reply_to: str | None = None, options: ParserOptions | None = None) -> Reading:
    """Read ``text`` (``reply_to``: the text of the message it replies to, if any)."""
    options = options or ParserOptions()
    phrases = _table(tuple(sorted((k.lower(), v) for k, v in options.keywords.items())))
    aliases = dict(options.aliases)
    alias_names = {name.upper() for name in aliases}

    def joins_pair(a: str, b: str) -> bool:  # EUR/USD, or a source's own alias written with a slash
        return known_instrument(a + b) is not None or (a + b).upper() in alias_names

    clean = normalize(text, joins_pair=joins_pair)
    lines = tokenize(clean)
    reinterpreted = settle_numbers(lines)
    fields = read_trade(lexemes(lines, phrases=phrases, aliases=aliases))
    # the text the changes and the noise are read in: "TP1 ✅" is "TP1 hit"
    flat = "\n".join(normalize(_HIT_MARKS.sub(" hit ", text)) if _HIT_MARKS.search(text) else clean)
    words = {w.lower() for w in re.findall(r"[^\W\d_][\w']*", flat)}
    actions = management.find_actions(flat)
    alert = parse(reply_to, options=options) if reply_to else None
    noise = _noise(flat, words, fields)
    if fields.symbol is None and options.default_symbol and fields.side:
        fields.symbols.append((canonicalize(options.default_symbol), ""))

    complete = _complete(fields)
    if fields.side and fields.symbol and _is_trade(fields, noise) and (complete or not actions):
        if _completes(alert, fields):
            return _details(fields, alert, reinterpreted)
        return _open(fields, reinterpreted)
    if actions and noise != "promotion":
        return _modify(actions, fields, alert)
    plain = noise is None and _mostly_levels(fields) and not (fields.conditional or fields.asked)
    if (
        plain
        and not fields.side
        and fields.symbol
        and fields.sl is not None
        and fields.tps
        and _inferred_side(fields)
    ):
        return _open(fields, reinterpreted)
    if plain and fields.side and not fields.symbol and fields.has_levels:
        return _open(fields, reinterpreted)
    if plain and not fields.side and not fields.symbol and (fields.sl is not None or fields.tps):
        if alert is not None and alert.kind == Kind.OPEN and (alert.sl is not None or alert.tp):
            return _modify(_level_changes(fields), fields, alert)  # "SL 2426" to a complete signal
        return _details(fields, alert, reinterpreted)
    return _ignore(noise or ("commentary" if fields.side and fields.symbol else "no_signal"), fields)


def _complete(fields: TradeFields) -> bool:
    return bool(fields.side and fields.symbols and fields.sl is not None and fields.tps)


def _mostly_levels(fields: TradeFields) -> bool:
    """Levels with little else: details, or a trade missing its side or symbol, are only read so."""
    return fields.unexplained * 3 <= fields.words


def _completes(alert: Reading | None, fields: TradeFields) -> bool:
    """A reply naming the side and symbol of the bare alert it replies to, with levels: its details."""
    return (
        alert is not None
        and alert.kind == Kind.OPEN
        and alert.sl is None
        and not alert.tp
        and (alert.symbol, alert.side) == (fields.symbol, fields.side)
        and fields.has_levels
    )


def _noise(flat: str, words: set[str], fields: TradeFields) -> str | None:
    """Why the message reads as noise, if it does. A complete signal (side, symbol, SL and a
    target) wrapped in a report, a recap or an advert is still a signal, unless the report is
    about its own lines ("GOLD BUY 2330 ... TP1 ✅")."""
    complete = _complete(fields)
    reported = {n for n, line in enumerate(flat.split("\n")) if _REPORT.search(_REMARKS.sub(" ", line))}
    if reported and (not complete or reported & fields.field_lines):
        return "report"
    if words & RECAP_WORDS and not complete:
        return "recap"
    if (words & PROMOTION_WORDS or _PROMOTION.search(flat)) and not complete:
        return "promotion"
    return None


def _is_trade(fields: TradeFields, noise: str | None) -> bool:
    if noise == "report" or fields.conditional or fields.asked:
        return False
    if noise is not None and not (fields.sl is not None or fields.tps):
        return False
    if fields.hedges and not (fields.sl is not None and fields.tps):
        return False  # "gold could buy from 2300 if it holds": commentary
    if fields.has_levels or fields.market_word:
        return True
    return fields.unexplained == 0 and fields.words <= 4  # "BUY EURUSD", "Gold sell"


def _inferred_side(fields: TradeFields) -> str | None:
    reference = fields.entries[0] if fields.entries else None
    below = fields.sl < min(fields.tps)
    above = fields.sl > max(fields.tps)
    if reference is not None:
        below = below and fields.sl < reference < max(fields.tps)
        above = above and fields.sl > reference > min(fields.tps)
    return "buy" if below else "sell" if above else None


def _entry(fields: TradeFields) -> float | Zone | None:
    if not fields.entries:
        return None
    low, high = min(fields.entries), max(fields.entries)
    return low if low == high else Zone(low, high)


def _level_problems(fields: TradeFields, side: str | None, reinterpreted: bool) -> list[Problem]:
    problems = []
    if fields.sl is None:
        problems.append(problem("sl_in_pips" if fields.sl_in_pips else "sl_missing"))
    if not fields.tps and not fields.runner:
        problems.append(problem("tp_in_pips" if fields.tp_in_pips else "tp_missing"))
    if len(fields.tps) > MAX_TARGETS:
        problems.append(problem("too_many_targets"))
    if side and not _consistent(fields, side):
        problems.append(problem("levels_inconsistent"))
    if reinterpreted:
        problems.append(problem("number_reinterpreted"))
    if fields.volume_written:
        problems.append(problem("volume_ignored"))
    return problems


def _consistent(fields: TradeFields, side: str) -> bool:
    sign = 1 if side == "buy" else -1
    entry = _entry(fields)
    if isinstance(entry, Zone):
        low, high = entry.low, entry.high
    elif entry is not None:
        low = high = entry
    else:
        low = high = None
    tps = fields.tps[:MAX_TARGETS]
    if fields.sl is not None and tps and any(sign * (tp - fields.sl) <= 0 for tp in tps):
        return False
    if low is not None:
        if fields.sl is not None and sign * ((low if sign > 0 else high) - fields.sl) <= 0:
            return False
        if tps and any(sign * (tp - (high if sign > 0 else low)) <= 0 for tp in tps):
            return False
    return True


def _confidence(problems: list[Problem], fields: TradeFields | None = None) -> float:
    score = 1.0 - sum(_COST.get(p.code, 0) for p in problems)
    if fields is not None and fields.words:
        cost = _UNEXPLAINED_COST / 2 if _complete(fields) else _UNEXPLAINED_COST
        score -= cost * fields.unexplained / fields.words
    return max(0.05, min(1.0, round(score, 2)))


def _open(fields: TradeFields, reinterpreted: bool) -> Reading:
    problems: list[Problem] = []
    side = fields.side
    if side is None:
        side = _inferred_side(fields)
        problems.append(problem("side_inferred"))
    if fields.symbol is None:
        problems.append(problem("symbol_missing"))
    elif fields.symbol_guessed:
        written = fields.symbols[0][1]
        problems.append(
            problem("symbol_unknown", f"{written!r} is not a symbol the parser knows; it is read as written.")
        )
    if len(fields.sides_written) > 1:
        problems.append(problem("side_conflict"))
    if len(fields.symbols) > 1:
        problems.append(problem("several_symbols"))
    if fields.hedges:
        problems.append(problem("hedged"))
    if not fields.has_levels and not fields.runner:
        problems.append(problem("alert_only"))
    else:
        problems.extend(_level_problems(fields, side, reinterpreted))
    return Reading(
        kind=Kind.OPEN,
        confidence=_confidence(problems, fields),
        side=Side(side) if side else None,
        order_type=OrderType(fields.order_type or "market"),
        symbol=fields.symbol,
        symbol_as_written=fields.symbols[0][1] if fields.symbols else None,
        entry=_entry(fields),
        sl=fields.sl,
        tp=tuple(fields.tps[:MAX_TARGETS]),
        runner=fields.runner,
        problems=tuple(problems),
    )


def _details(fields: TradeFields, alert: Reading | None, reinterpreted: bool) -> Reading:
    problems: list[Problem] = []
    side = alert.side.value if alert is not None and alert.side else None
    if alert is None or alert.kind != Kind.OPEN:
        problems.append(problem("no_alert"))
    problems.extend(_level_problems(fields, side, reinterpreted))
    problems = [p for p in problems if p.code not in ("sl_missing", "tp_missing") or alert is None]
    return Reading(
        kind=Kind.DETAILS,
        confidence=_confidence(problems, fields),
        entry=_entry(fields),
        sl=fields.sl,
        tp=tuple(fields.tps[:MAX_TARGETS]),
        runner=fields.runner,
        problems=tuple(problems),
    )


def _level_changes(fields: TradeFields) -> list[management.Found]:
    """Levels written in reply to a signal that already has its own: they move its SL and targets."""
    changes = []
    if fields.sl is not None:
        changes.append(management.Found(0, ActionKind.MOVE_SL, fields.sl))
    numbered = len(fields.tps) > 1
    for i, tp in enumerate(fields.tps[:MAX_TARGETS], 1):
        changes.append(management.Found(i, ActionKind.MOVE_TP, tp, target=i if numbered else None))
    return changes


def _modify(found: list[management.Found], fields: TradeFields, alert: Reading | None) -> Reading:
    problems: list[Problem] = []
    actions: list[Action] = []
    for item in found:
        if item.action == ActionKind.CLOSE_PARTIAL:
            if not item.fraction_stated:
                problems.append(problem("fraction_unstated"))
            actions.append(Action(item.action, fraction=item.value))
        elif item.action == ActionKind.MOVE_SL:
            price = item.value
            if price is None and item.target is not None:
                if alert is not None and 1 <= item.target <= len(alert.tp):
                    price = alert.tp[item.target - 1]
                else:
                    problems.append(problem("reference_unresolved", f"The stop loss moves to TP{item.target} "
                                            "of the earlier signal, which was not given."))  # fmt: skip
            elif price is None:
                problems.append(problem("value_missing"))
            actions.append(Action(item.action, sl=price, target=item.target))
        elif item.action == ActionKind.MOVE_TP:
            if item.value is None:
                problems.append(problem("value_missing"))
            actions.append(Action(item.action, tp=item.value, target=item.target))
        else:
            actions.append(Action(item.action))
    return Reading(
        kind=Kind.MODIFY,
        confidence=_confidence(problems),
        symbol=fields.symbol,
        symbol_as_written=fields.symbols[0][1] if fields.symbols else None,
        actions=tuple(actions),
        problems=tuple(problems),
    )


def _ignore(reason: str, fields: TradeFields) -> Reading:
    # how sure the reader is that this is noise: less when it names a market and a side
    confidence = 0.9 if reason != "no_signal" else 0.8
    if fields.side and fields.symbol:
        confidence -= 0.2
    return Reading(kind=Kind.IGNORE, confidence=confidence, problems=(problem(reason),))
