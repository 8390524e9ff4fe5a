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
    carried: tuple[Meaning | None, bool] = (None, True)  # the label in force at the end of the line above
    for number, line in enumerate(lines):
        reader = _LineReader(fields, number, line, carried)
        sentences.start()
        for pos, lexeme in enumerate(line):
            sentences.see(lexeme)
            before = line[pos - 1] if pos else None
            after = line[pos + 1] if pos + 1 < len(line) else None
            reader.read(lexeme, before, after)
        carried = reader.carried()
    return fields


class _LineReader:
    """Reads one line into ``fields``: which label owns the numbers that follow, and what each
    number is (a target, the stop, an entry, or nothing: an index, a distance, a remark)."""

    def __init__(
        self, fields: TradeFields, number: int, line: list[Lexeme], carried: tuple[Meaning | None, bool]
    ):
        self.fields, self.number = fields, number
        self.label: Meaning | None = None
        self.has_value = False  # the label has its number
        self.index_pending = False  # "TP 1: 4350": a small number may be the target's index
        self.depth = 0  # inside brackets
        self.last: tuple[str, float, Token] | None = None  # the level just read, undone by a unit
        self.zone_open = True  # the next entry number may join the zone
        self.last_tp: Token | None = None
        self.last_entry: Token | None = None
        above, above_had_value = carried
        only_numbers = all(lx.kind in ("num", "mark") for lx in line) and any(lx.kind == "num" for lx in line)
        if only_numbers and (
            above in (Meaning.TP, Meaning.ENTRY) or (above == Meaning.SL and not above_had_value)
        ):
            self.label, self.index_pending = (
                above,
                above == Meaning.TP,
            )  # "1) 64,200", a value under its label

    def carried(self) -> tuple[Meaning | None, bool]:
        return (self.label if self.label != Meaning.MEASURE else None, self.has_value)

    def read(self, lx: Lexeme, before: Lexeme | None, after: Lexeme | None) -> None:
        if lx.kind == "word":
            self._word(lx, before)
        elif lx.kind == "symbol":
            self._symbol(lx)
        elif lx.kind == "term":
            self.fields.words += 1
            self._term(lx, before)
        elif lx.kind == "mark":
            self._mark(lx, before)
        else:
            self._number(lx, before, after)

    def _word(self, lx: Lexeme, before: Lexeme | None) -> None:
        fields = self.fields
        fields.words += 1
        low = lx.token.low
        if low in LEVELS_TO_FOLLOW and (
            self.label in (Meaning.SL, Meaning.TP, Meaning.ENTRY) or _names_levels(before)
        ):
            return  # "SL: soon", "levels soon"
        if low in HEDGES:
            fields.hedges += 1
        elif not low.isdigit():
            fields.unexplained += 1

    def _symbol(self, lx: Lexeme) -> None:
        fields = self.fields
        fields.words += 1
        fields.field_lines.add(self.number)
        if not any(canonical == lx.symbol for canonical, _ in fields.symbols):
            fields.symbols.append((lx.symbol, lx.written))

    def _term(self, lx: Lexeme, before: Lexeme | None) -> None:
        fields, meaning = self.fields, lx.meaning
        if meaning in (Meaning.BUY, Meaning.SELL):
            fields.sides_written.add(meaning.value)
            fields.side = fields.side or meaning.value
            fields.field_lines.add(self.number)
            self.label = None
        elif meaning == Meaning.LIMIT:
            fields.order_type = "limit"
        elif meaning == Meaning.STOP and (lx.phrase != ("stop",) or _is_side(before)):
            fields.order_type = "stop"  # "buy stop"; a "stop" elsewhere is the stop loss
        elif meaning in (Meaning.SL, Meaning.STOP):
            self._label(Meaning.SL)
        elif meaning == Meaning.TP:
            self._label(Meaning.TP)
            self.index_pending = lx.index is None
        elif meaning == Meaning.ENTRY:
            if not (lx.phrase in _WEAK_ENTRY and self.label in (Meaning.SL, Meaning.TP)):  # "TP at 2340"
                self._label(Meaning.ENTRY)
        elif meaning == Meaning.MARKET:
            fields.market_word = True
        elif meaning == Meaning.RUNNER and self.label == Meaning.TP:
            fields.runner = self.has_value = True
        elif meaning == Meaning.MEASURE:
            self.label = Meaning.MEASURE
            fields.volume_written = fields.volume_written or " ".join(lx.phrase) in _VOLUME_MEASURES
        elif meaning == Meaning.UNIT:
            self._undo_distance(before)
        elif meaning == Meaning.ORDINAL:
            self.index_pending = False

    def _label(self, label: Meaning) -> None:
        self.label, self.has_value, self.index_pending = label, False, False
        self.fields.labels_seen.add(label)

    def _mark(self, lx: Lexeme, before: Lexeme | None) -> None:
        text = lx.token.text
        if text == "(":
            self.depth += 1
        elif text == ")":
            self.depth = max(0, self.depth - 1)
        elif text == "%":
            self._undo_distance(before)
        elif text in ",;|" and self.label == Meaning.ENTRY and self.fields.entries:
            self.zone_open = True

    def _number(self, lx: Lexeme, before: Lexeme | None, after: Lexeme | None) -> None:
        fields, value = self.fields, lx.token.value
        if value <= 0 or _is_mark(before, "+") or _is_mark(after, "%"):
            return  # no price is zero; "+80 pips" is a result; "2%" a share
        if after is not None and after.kind == "term" and after.meaning == Meaning.UNIT:
            if self.label == Meaning.SL and not self.has_value:
                fields.sl_in_pips = True
            elif self.label == Meaning.TP:
                fields.tp_in_pips = True
            return
        if (self.depth and (self.has_value or self.label is None)) or self.label == Meaning.MEASURE:
            return  # a remark in brackets; a lot size, a leverage
        if self.label == Meaning.TP:
            self._target(lx, after)
        elif self.label == Meaning.SL:
            self._stop(lx, after)
        elif self.label == Meaning.ENTRY or (self.label is None and (fields.side or fields.symbols)):
            self._entry(lx, after)

    def _target(self, lx: Lexeme, after: Lexeme | None) -> None:
        fields, token = self.fields, lx.token
        if self.index_pending and token.is_integer and token.value <= 10 and _index_follows(after):
            self.index_pending = False
            return  # "TP 1: 4350"
        self.index_pending = False
        value = _completed(token.value, token, self.last_tp)
        if fields.tps and not near(value, fields.tps[-1]):
            return  # "TP 2310 - signal 5/10": not a target
        self.last_tp = token
        fields.tps.append(value)
        fields.field_lines.add(self.number)
        self.has_value = True
        self.last = ("tp", value, token)

    def _stop(self, lx: Lexeme, after: Lexeme | None) -> None:
        fields, token = self.fields, lx.token
        if token.is_integer and token.value <= 5 and _index_follows(after):
            return  # "Stop Targets: 1) 62,900"
        if self.has_value:
            return
        self.has_value = True
        if fields.sl is None:
            fields.sl = token.value
            fields.field_lines.add(self.number)
            self.last = ("sl", token.value, token)

    def _entry(self, lx: Lexeme, after: Lexeme | None) -> None:
        fields, token = self.fields, lx.token
        if self.label is None and fields.labels_seen & {Meaning.SL, Meaning.TP}:
            return  # a bare number after the levels: a remark
        if self.label == Meaning.ENTRY and token.is_integer and token.value <= 5 and _index_follows(after):
            return  # "Entry 1: 2300"
        if fields.entries and not self.zone_open and self.has_value:
            return
        value = _completed(token.value, token, self.last_entry)
        if fields.entries and not near(value, fields.entries[-1]):
            return  # "2345.50/40": not the zone's other edge
        self.last_entry = token
        fields.entries.append(value)
        fields.field_lines.add(self.number)
        self.has_value = True
        self.last = ("entry", value, token)
        self.zone_open = _zone_separator_follows(after)

    def _undo_distance(self, before: Lexeme | None) -> None:
        """A unit right after the level just read: it was a distance, not a price."""
        last, fields = self.last, self.fields
        self.last = None
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


def _is_side(lexeme: Lexeme | None) -> bool:
    return lexeme is not None and lexeme.kind == "term" and lexeme.meaning in (Meaning.BUY, Meaning.SELL)


def _is_mark(lexeme: Lexeme | None, text: str) -> bool:
    return lexeme is not None and lexeme.kind == "mark" and lexeme.token.text == text


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
