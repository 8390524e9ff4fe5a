"""Read a trade's fields out of a message's tokens: side, order type, symbol, entry, SL, targets.

Labels (``SL``, ``TP2``, ``Entry``, ``Target``, ``@``) own the numbers after them on their line,
and a line of bare numbers continues the label of the line above (``TP:`` then one target a
line). Bare numbers after the side or the symbol, before any stop or target, are the entry: one is
a price, two or more a zone. A number followed by a unit (pips, %, x) or after a measure (lot,
leverage, risk, R:R) is never a price; a number in brackets after a label's value is a remark.
What the reader cannot place it counts as unexplained, which lowers the reading's confidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from execution.accounts.symbols import canonicalize, known_instrument
from execution.signals.parsing.text import Token, near
from execution.signals.parsing.vocabulary import (
    CONDITIONALS,
    HEDGES,
    LEVELS_TO_FOLLOW,
    NOT_TICKERS,
    SYMBOL_ONLY_IN_CAPITALS,
    Meaning,
    PhraseTable,
)

_INDEXED_LABEL = re.compile(r"(tp|t|target|tgt|tg|entry|e|sl)(\d{1,2})")
_INDEX_LABELS = {"tp": Meaning.TP, "t": Meaning.TP, "target": Meaning.TP, "tgt": Meaning.TP, "tg": Meaning.TP,
                 "entry": Meaning.ENTRY, "e": Meaning.ENTRY, "sl": Meaning.SL}  # fmt: skip
_WEAK_ENTRY = frozenset({("at",), ("from",), ("between",), ("price",), ("e",), ("@",)})
_SIDES = {"buy": Meaning.BUY, "long": Meaning.BUY, "sell": Meaning.SELL, "short": Meaning.SELL}
_VOLUME_MEASURES = frozenset({"lot", "lots", "lotsize", "lot size", "volume", "size", "position size"})
_LEVEL_WORDS = frozenset({("level",), ("levels",), ("details",), ("signal",), ("update",), ("setup",)})
_TICKER = re.compile(r"[A-Z][A-Z0-9]{1,9}")


@dataclass(slots=True)
class Lexeme:
    kind: str  # "term", "symbol", "num", "mark", "word"
    token: Token | None = None
    meaning: Meaning | None = None
    phrase: tuple[str, ...] = ()
    index: int | None = None  # TP2, Entry 1
    symbol: str | None = None  # canonical
    written: str = ""


@dataclass
class TradeFields:
    side: str | None = None  # "buy" / "sell"
    sides_written: set[str] = field(default_factory=set)
    order_type: str | None = None  # "limit" / "stop"; None: market
    market_word: bool = False
    symbols: list[tuple[str, str]] = field(default_factory=list)  # (canonical, as written)
    symbol_guessed: bool = False
    entries: list[float] = field(default_factory=list)
    sl: float | None = None
    sl_in_pips: bool = False
    tps: list[float] = field(default_factory=list)
    tp_in_pips: bool = False
    runner: bool = False
    volume_written: bool = False
    labels_seen: set[Meaning] = field(default_factory=set)
    field_lines: set[int] = field(default_factory=set)  # lines that carry the side, symbol or a level
    words: int = 0  # words in the message
    unexplained: int = 0  # words the reader could not place
    hedges: int = 0
    conditional: bool = False  # a side written under a condition ("if ... we might sell")
    asked: bool = False  # a side or symbol in a question ("anyone still in the US30 buy?")

    @property
    def symbol(self) -> str | None:
        return self.symbols[0][0] if self.symbols else None

    @property
    def has_levels(self) -> bool:
        return bool(self.entries or self.sl is not None or self.tps)


def lexemes(
    lines: list[list[Token]], *, phrases: PhraseTable, aliases: Mapping[str, str]
) -> list[list[Lexeme]]:
    """Tokens as lexemes: vocabulary phrases (longest first), symbols, numbers, marks, other words."""
    alias_index = {re.sub(r"[\s/]", "", k).upper(): v.upper() for k, v in aliases.items()}
    out = []
    for tokens in lines:
        line: list[Lexeme] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.kind != "word":
                if token.kind == "mark" and token.text == "@":
                    line.append(Lexeme("term", token, Meaning.ENTRY, ("@",)))
                else:
                    line.append(Lexeme(token.kind, token))
                i += 1
                continue
            matched = _phrase_at(tokens, i, phrases)
            if matched:
                n, meaning = matched
                phrase = tuple(t.low for t in tokens[i : i + n])
                line.append(Lexeme("term", token, meaning, phrase))
                i += n
                continue
            line.extend(_word_lexemes(token, phrases, alias_index))
            i += 1
        out.append(line)
    return out


def _phrase_at(tokens: list[Token], i: int, phrases: PhraseTable) -> tuple[int, Meaning] | None:
    for n in range(min(phrases.longest, len(tokens) - i), 0, -1):
        window = tokens[i : i + n]
        if any(t.kind != "word" for t in window):
            continue
        meaning = phrases.get(tuple(t.low for t in window))
        if meaning is not None:
            return n, meaning
    return None


def _symbol_of(text: str, alias_index: Mapping[str, str]) -> str | None:
    key = text.upper()
    if key in alias_index:
        return alias_index[key]
    if text.lower() in SYMBOL_ONLY_IN_CAPITALS and not text.isupper():
        return None
    return _instrument(text)


@lru_cache(maxsize=8192)
def _instrument(word: str) -> str | None:
    return known_instrument(word)


def _word_lexemes(token: Token, phrases: Mapping, alias_index: Mapping[str, str]) -> list[Lexeme]:
    low = token.low
    if m := _INDEXED_LABEL.fullmatch(low):  # TP2, T1, Entry1
        return [Lexeme("term", token, _INDEX_LABELS[m[1]], (m[1],), index=int(m[2]))]
    if symbol := _symbol_of(token.text, alias_index):
        return [Lexeme("symbol", token, symbol=symbol, written=token.text)]
    if glued := _glued(token, phrases, alias_index):
        return glued
    return [Lexeme("word", token)]


def _glued(token: Token, phrases: Mapping, alias_index: Mapping[str, str]) -> list[Lexeme] | None:
    """A side written against a symbol or an order word: ``XAUUSDSELL``, ``BUYGOLD``, ``BUYLIMIT``."""
    low = token.low
    for word, side in _SIDES.items():
        if len(low) <= len(word):
            continue
        if low.endswith(word):
            rest, side_first = token.text[: -len(word)], False
        elif low.startswith(word):
            rest, side_first = token.text[len(word) :], True
        else:
            continue
        if symbol := _symbol_of(rest, alias_index):
            other = Lexeme("symbol", token, symbol=symbol, written=rest)
        elif (meaning := phrases.get((rest.lower(),))) in (Meaning.LIMIT, Meaning.STOP, Meaning.MARKET):
            other = Lexeme("term", token, meaning, (rest.lower(),))
        else:
            continue
        side_lexeme = Lexeme("term", token, side, (word,))
        return [side_lexeme, other] if side_first else [other, side_lexeme]
    return None


def read_trade(lines: list[list[Lexeme]]) -> TradeFields:
    fields = TradeFields()
    _find_unknown_ticker(lines, fields)
    sentences = _Sentences(fields)
    previous_label: Meaning | None = None  # the label in force at the end of the line above
    previous_had_value = True
    for number, line in enumerate(lines):
        label: Meaning | None = None
        label_has_value = False
        index_pending = False
        depth = 0
        last_assigned: tuple[str, float, Token] | None = None
        entry_gap_ok = True  # whether the next entry number may join the zone
        line_tp_token = line_entry_token = None  # the last target / entry on this line
        only_numbers = all(lx.kind in ("num", "mark") for lx in line) and any(lx.kind == "num" for lx in line)
        if (
            only_numbers
            and previous_label in (Meaning.TP, Meaning.SL, Meaning.ENTRY)
            and (previous_label in (Meaning.TP, Meaning.ENTRY) or not previous_had_value)
        ):  # a target or an entry a line ("1) 64,200"), or the value under its label
            label, index_pending = previous_label, previous_label == Meaning.TP
        sentences.start()
        for pos, lx in enumerate(line):
            sentences.see(lx)
            before = line[pos - 1] if pos else None
            after = line[pos + 1] if pos + 1 < len(line) else None
            if lx.kind == "word":
                fields.words += 1
                if lx.token.low in LEVELS_TO_FOLLOW and (
                    label in (Meaning.SL, Meaning.TP, Meaning.ENTRY) or _names_levels(before)
                ):
                    pass  # "SL: soon", "levels soon"
                elif lx.token.low in HEDGES:
                    fields.hedges += 1
                elif not lx.token.low.isdigit():
                    fields.unexplained += 1
                continue
            if lx.kind == "symbol":
                fields.words += 1
                fields.field_lines.add(number)
                if not any(canonical == lx.symbol for canonical, _ in fields.symbols):
                    fields.symbols.append((lx.symbol, lx.written))
                continue
            if lx.kind == "term":
                fields.words += 1
                meaning = lx.meaning
                if meaning in (Meaning.BUY, Meaning.SELL):
                    fields.sides_written.add(meaning.value)
                    fields.side = fields.side or meaning.value
                    fields.field_lines.add(number)
                    label = None
                elif meaning == Meaning.LIMIT:
                    fields.order_type = "limit"
                elif meaning == Meaning.STOP and (
                    lx.phrase != ("stop",)
                    or (before is not None and before.meaning in (Meaning.BUY, Meaning.SELL))
                ):
                    fields.order_type = "stop"
                elif meaning in (Meaning.SL, Meaning.STOP):
                    label, label_has_value, index_pending = Meaning.SL, False, False
                    fields.labels_seen.add(Meaning.SL)
                elif meaning == Meaning.TP:
                    label, label_has_value, index_pending = Meaning.TP, False, lx.index is None
                    fields.labels_seen.add(Meaning.TP)
                elif meaning == Meaning.ENTRY:
                    if lx.phrase in _WEAK_ENTRY and label in (Meaning.SL, Meaning.TP):
                        continue
                    label, label_has_value = Meaning.ENTRY, False
                    fields.labels_seen.add(Meaning.ENTRY)
                elif meaning == Meaning.MARKET:
                    fields.market_word = True
                elif meaning == Meaning.RUNNER:
                    if label == Meaning.TP:
                        fields.runner = True
                        label_has_value = True
                elif meaning == Meaning.MEASURE:
                    label = Meaning.MEASURE
                    if " ".join(lx.phrase) in _VOLUME_MEASURES:
                        fields.volume_written = True
                elif meaning == Meaning.UNIT:
                    _undo_distance(fields, last_assigned, before)
                    last_assigned = None
                elif meaning == Meaning.ORDINAL:
                    index_pending = False
                continue
            if lx.kind == "mark":
                text = lx.token.text
                if text == "(":
                    depth += 1
                elif text == ")":
                    depth = max(0, depth - 1)
                elif text == "%":
                    _undo_distance(fields, last_assigned, before)
                    last_assigned = None
                elif text in ",;|" and label == Meaning.ENTRY and fields.entries:
                    entry_gap_ok = True
                continue
            # a number
            value = lx.token.value
            if value <= 0:
                continue  # no price is zero
            if before is not None and before.kind == "mark" and before.token.text == "+":
                continue  # "+80 pips": a result
            if after is not None and after.kind == "term" and after.meaning == Meaning.UNIT:
                if label == Meaning.SL and not label_has_value:
                    fields.sl_in_pips = True
                elif label == Meaning.TP:
                    fields.tp_in_pips = True
                continue
            if after is not None and after.kind == "mark" and after.token.text == "%":
                continue
            if depth and (label_has_value or label is None):
                continue
            if label == Meaning.MEASURE:
                continue
            if label == Meaning.TP:
                if index_pending and lx.token.is_integer and value <= 10 and _index_follows(after):
                    index_pending = False
                    continue
                index_pending = False
                value = _completed(value, lx.token, line_tp_token)
                if fields.tps and not near(value, fields.tps[-1]):
                    continue  # "TP 2310 - signal 5/10": not a target
                line_tp_token = lx.token
                fields.tps.append(value)
                fields.field_lines.add(number)
                label_has_value = True
                last_assigned = ("tp", value, lx.token)
            elif label == Meaning.SL:
                if lx.token.is_integer and value <= 5 and _index_follows(after):
                    continue  # "Stop Targets: 1) 62,900"
                if not label_has_value:
                    if fields.sl is None:
                        fields.sl = value
                        fields.field_lines.add(number)
                        last_assigned = ("sl", value, lx.token)
                    label_has_value = True
            elif label == Meaning.ENTRY or (label is None and (fields.side or fields.symbols)):
                if label is None and fields.labels_seen & {Meaning.SL, Meaning.TP}:
                    continue  # a bare number after the levels: a remark
                if label == Meaning.ENTRY and lx.token.is_integer and value <= 5 and _index_follows(after):
                    continue  # "Entry 1: 2300"
                if fields.entries and not entry_gap_ok and label_has_value:
                    continue
                value = _completed(value, lx.token, line_entry_token)
                if fields.entries and not near(value, fields.entries[-1]):
                    continue  # "2345.50/40": not the zone's other edge
                line_entry_token = lx.token
                fields.entries.append(value)
                fields.field_lines.add(number)
                label_has_value = True
                last_assigned = ("entry", value, lx.token)
                entry_gap_ok = _zone_separator_follows(after)
        previous_label = label if label not in (None, Meaning.MEASURE) else None
        previous_had_value = label_has_value
    return fields


def _completed(value: float, token: Token, previous: Token | None) -> float:
    """Shorthand for the next level written with its last digits only: ``1.0850/60`` is 1.0860,
    ``2330-25`` is 2325."""
    if previous is None or not token.is_integer or near(value, previous.value):
        return value
    digits = previous.text
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", digits):  # "2,338/34"
        digits = digits.replace(",", "")
    if not re.fullmatch(r"\d+(?:\.\d+)?", digits):  # "18.450,50/60": too unlike shorthand to complete
        return value
    if len(token.text) >= len(digits.replace(".", "")):
        return value
    head = digits[: len(digits) - len(token.text)]
    if head.endswith("."):
        return value
    return float(head + token.text)


class _Sentences:
    """Follows one sentence at a time (a line, or up to ``.``, ``!``, ``?``, ``;``) to tell when its
    side is conditional or it asks about a trade."""

    def __init__(self, fields: TradeFields):
        self.fields = fields
        self.start()

    def start(self) -> None:
        self.conditional = self.side = self.market = False

    def see(self, lx: Lexeme) -> None:
        if lx.kind == "mark" and lx.token.text in "?.!;":
            if lx.token.text == "?" and (self.side or self.market):
                self.fields.asked = True
            self.start()
            return
        if lx.kind == "word" and lx.token.low in CONDITIONALS:
            self.conditional = True
        elif lx.kind == "term" and lx.meaning in (Meaning.BUY, Meaning.SELL):
            self.side = True
        elif lx.kind == "symbol":
            self.market = True
        if self.conditional and self.side:
            self.fields.conditional = True


def _names_levels(lexeme: Lexeme | None) -> bool:
    return lexeme is not None and lexeme.kind == "term" and lexeme.phrase in _LEVEL_WORDS


def _index_follows(after: Lexeme | None) -> bool:
    """After a small number, a ':' / ')' / '=' / '-' / '.' or another number make it an index."""
    if after is None:
        return False
    if after.kind == "num" or (after.kind == "term" and after.phrase == ("@",)):  # "Target 1 @ 65.00"
        return True
    return after.kind == "mark" and after.token.text in ":)=-.>"


def _zone_separator_follows(after: Lexeme | None) -> bool:
    if after is None:
        return False
    if after.kind == "mark":
        return after.token.text in "-/~|,"
    if after.kind == "num":
        return True
    return after.token.low in ("to", "and", "till", "until")


def _undo_distance(fields: TradeFields, last: tuple[str, float, Token] | None, before: Lexeme | None) -> None:
    """A unit right after the number just read: it was a distance, not a price."""
    if last is None or before is None or before.token is not last[2]:
        return
    kind, value, _token = last
    if kind == "sl" and fields.sl == value:
        fields.sl, fields.sl_in_pips = None, True
    elif kind == "tp" and fields.tps and fields.tps[-1] == value:
        fields.tps.pop()
        fields.tp_in_pips = True
    elif kind == "entry" and fields.entries and fields.entries[-1] == value:
        fields.entries.pop()


def _find_unknown_ticker(lines: list[list[Lexeme]], fields: TradeFields) -> None:
    """With no known symbol written: a capitalised word beside the side (``AAPL BUY``) or after
    ``#`` is read as a ticker, and said to be a guess."""
    if any(lx.kind == "symbol" for line in lines for lx in line):
        return
    for line in lines:
        for pos, lx in enumerate(line):
            if lx.kind != "word" or not _TICKER.fullmatch(lx.token.text) or lx.token.low in NOT_TICKERS:
                continue
            neighbours = [line[j] for j in (pos - 1, pos + 1) if 0 <= j < len(line)]
            beside_side = any(
                n.kind == "term" and n.meaning in (Meaning.BUY, Meaning.SELL) for n in neighbours
            )
            hashed = pos > 0 and line[pos - 1].kind == "mark" and line[pos - 1].token.text == "#"
            if beside_side or hashed:
                line[pos] = Lexeme(
                    "symbol", lx.token, symbol=canonicalize(lx.token.text), written=lx.token.text
                )
                fields.symbol_guessed = True
                return
