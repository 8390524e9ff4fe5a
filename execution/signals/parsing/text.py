"""A message's text as lines of tokens: words, numbers and marks, decoration removed.

Channels write the same thing many ways, and this module makes them one:

* emojis, bullets and arrows are decoration (``✅ TP 2305`` is ``TP 2305``); keycap digits
  (``1️⃣``) are digits; dashes of every width are ``-``; fullwidth forms are ASCII (NFKC);
* near misses of the words that label levels (``Entery``, ``Take Proffit``) are those words;
* ``S/L``, ``S.L``, ``T/P``, ``stop-loss``, ``take-profit``, ``break-even`` become one word;
  ``EUR/USD``, ``XAU-USD`` become one symbol word;
* a numbered or hashed line prefix (``3. GOLD BUY``, ``#12``), clock times and dates are dropped;
* numbers: ``2,345.50`` and ``2.345,50`` are 2345.5, ``1,0920`` is 1.092, ``38 900`` (no-break or
  thin space) is 38900, ``67k`` is 67000, ``2305,2312`` is two numbers. A number that could be read
  two ways keeps the other reading; :func:`settle_numbers` picks, for each, the one that matches the
  message's other prices (``18.500`` beside ``18.450,50`` is 18500), and joins a plain-space
  thousands group (``18 450``) when its parts cannot both be prices.
"""

from __future__ import annotations

import difflib
import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from execution.accounts.symbols import known_instrument
from execution.signals.parsing.vocabulary import DEFAULT_TABLE, TYPO_SIMILARITY, TYPO_TARGETS, Meaning

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f\u20e3"), None)
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63"
_GROUPING_SPACES = "\u00a0\u202f\u2009\u2007\u2008"
_THIN = "\u2009"  # the one grouping space kept after normalisation
MAX_DIGITS = 15  # a longer run of digits is no price (and would not be a finite float beyond ~308)
# signs channels use as labels
_SIGN_WORDS = {"\u221e": " open ", "\U0001f3af": " TP ", "\U0001f6d1": " SL ", "\u26d4": " SL "}
_GROUPING_MARK = dict.fromkeys(map(ord, _GROUPING_SPACES), "\x00")
_KEPT_ASCII = set(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n\t.,:;@-/~=|()+$%#'!?&*<>_"
)

_LINE_PREFIX = re.compile(r"^[ \t]*(?:#[ \t]*\d{1,4}\b[.):]?|\d{1,3}[ \t]*[.)][ \t]+(?=[^\d\s]))[ \t]*")
_TIME = re.compile(r"(?<![\d.,:])\d{1,2}:\d{2}(?::\d{2})?(?![\d.,:])\s*(?:am|pm|gmt|utc|est|cet)?\b", re.I)
_DATE = re.compile(r"(?<![\d.,/])(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}([./-])\d{1,2}\1\d{2,4})(?![\d]|[.,]\d)")
_JOINS = (
    (re.compile(r"\bs[ \t]*[/.\\][ \t]*l\b\.?", re.I), "SL"),
    (re.compile(r"\bt[ \t]*[/.\\][ \t]*p\b\.?", re.I), "TP"),
    (re.compile(r"\bb[ \t]*[/.][ \t]*e\b\.?", re.I), "BE"),
    (re.compile(r"\br[ \t]*[:/][ \t]*r\b", re.I), "RR"),
    (re.compile(r"\b(stop|take|break)[ \t]*-[ \t]*(loss|lose|profit|even)\b", re.I), r"\1\2"),
    (re.compile(r"\bs[ \t]*&[ \t]*p[ \t]*500\b", re.I), "SP500"),
    (re.compile(r"\bdow[ \t]+jones\b", re.I), "DOWJONES"),
    (re.compile(r"\b(us|nas|ger|uk|jp|spx|de|fra|aus|hk)[ \t]+(30|100|40|225|500|50|200)\b", re.I), r"\1\2"),
)
_PAIR = re.compile(r"\b([A-Za-z]{3,4})[ \t]*[/\\_-][ \t]*([A-Za-z]{3,4})\b")

_LONG_WORD = re.compile(r"(?<![\w.])[A-Za-z]{5,}(?![\w.])")


@lru_cache(maxsize=4096)
def _corrected(word: str) -> str:
    """``word``, or the vocabulary word it misspells."""
    low = word.lower()
    if low in TYPO_TARGETS or (low,) in DEFAULT_TABLE or known_instrument(word):
        return word
    for target in TYPO_TARGETS:
        if difflib.SequenceMatcher(None, low, target).ratio() >= TYPO_SIMILARITY:
            return target
    return word


_TOKEN = re.compile(
    r"(?P<ordinal>\d{1,2}(?:st|nd|rd|th)\b)|"
    rf"(?P<num>\d(?:[\d.,{_THIN}]*\d)?)"
    r"|(?P<word>[^\W\d_](?:[\w.'#]*[^\W_])?)"
    r"|(?P<mark>[:@\-/~=|,;()+$%#!?&*<>.])"
)


@dataclass(slots=True, eq=False)  # compared by identity: two "2330" tokens are two numbers
class Token:
    kind: str  # "word", "num" or "mark"
    text: str
    start: int  # offset in its line
    end: int
    value: float | None = None  # numbers
    decimals: int = 0  # digits after the decimal separator
    alternatives: list[float] = field(default_factory=list)  # other readings of the same digits
    low: str = ""  # words: lower case

    @property
    def is_integer(self) -> bool:
        return self.kind == "num" and self.decimals == 0


_UNKEPT = re.compile(f"[^{re.escape(''.join(sorted(_KEPT_ASCII)))}]")


def _kept(m: re.Match) -> str:
    """What a character outside the kept ASCII set becomes: a dash, the grouping space, a sign's
    word, itself (a letter of any script), or a space (decoration)."""
    ch = m[0]
    if ch in _DASHES:
        return "-"
    if ch == "\x00":
        return _THIN
    if ch in _SIGN_WORDS:
        return _SIGN_WORDS[ch]
    category = unicodedata.category(ch)
    if category == "Nd":  # Arabic-Indic, Devanagari... digits
        return str(unicodedata.digit(ch))
    return ch if category.startswith("L") else " "


def normalize(text: str, *, joins_pair=None) -> list[str]:
    """The message as cleaned lines (see the module docstring). ``joins_pair(a, b)`` says whether
    ``a/b`` names an instrument (so ``EUR/USD`` becomes ``EURUSD``)."""
    text = re.sub("\x00+", "\x00", text.translate(_GROUPING_MARK))  # before NFKC: it makes them spaces
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _UNKEPT.sub(_kept, text)
    lines = []
    for line in text.split("\n"):
        line = _LINE_PREFIX.sub("", line)
        line = _TIME.sub(" ", line)
        line = _DATE.sub(" ", line)
        for pattern, replacement in _JOINS:
            line = pattern.sub(replacement, line)
        line = _LONG_WORD.sub(lambda m: _corrected(m[0]), line)
        if joins_pair is not None:
            line = _PAIR.sub(lambda m: m[1] + m[2] if joins_pair(m[1], m[2]) else m[0], line)
        lines.append(line)
    return lines


def tokenize(lines: list[str]) -> list[list[Token]]:
    out = []
    for line in lines:
        tokens: list[Token] = []
        for m in _TOKEN.finditer(line):
            if m["ordinal"] is not None:  # "2nd entry": a place, not a number
                tokens.append(Token("word", m["ordinal"], m.start(), m.end(), low=m["ordinal"].lower()))
            elif m["num"] is not None:
                tokens.extend(_prices(m["num"], m.start(), m.end()))
            elif m["word"] is not None:
                tokens.extend(_word(m["word"], m.start(), m.end()))
            else:
                tokens.append(Token("mark", m["mark"], m.start(), m.end()))
        out.append(_thousands_suffix(tokens))
    return out


def _thousands_suffix(tokens: list[Token]) -> list[Token]:
    """``67k`` is 67000."""
    out: list[Token] = []
    for t in tokens:
        previous = out[-1] if out else None
        glued = previous is not None and previous.kind == "num" and previous.end == t.start
        if glued and t.kind == "word" and t.low == "k":
            previous.value *= 1000
            previous.text = f"{previous.value:.0f}"  # what later steps glue digits onto
            previous.decimals, previous.alternatives, previous.end = 0, [], t.end
            continue
        out.append(t)
    return out


_GLUED_NUMBER = re.compile(r"([^\W\d_]+)[.:]?(\d[\d.,]*)")


def _word(text: str, start: int, end: int) -> list[Token]:
    """A word; ``SL2290``/``sl.2290`` split into the word and its number (``US30`` stays whole:
    the reader decides which words are labels)."""
    text = text.rstrip(".'")
    m = _GLUED_NUMBER.fullmatch(text)
    if m and len(m[2]) >= 3 and known_instrument(text) is None:
        head = Token("word", m[1], start, start + len(m[1]), low=m[1].lower())
        return [head, *_prices(m[2], start + len(text) - len(m[2]), end)]
    return [Token("word", text, start, end, low=text.lower())]


def _num(text: str, start: int, end: int, value: float, decimals: int, alternatives=()) -> Token:
    return Token("num", text, start, end, value=value, decimals=decimals, alternatives=list(alternatives))


def _numbers(raw: str, start: int, end: int) -> list[Token]:
    """One run of digits and separators as numbers (usually one)."""
    raw = raw.strip(".,")
    if not raw:
        return []
    if _THIN in raw:
        if re.fullmatch(rf"\d{{1,3}}(?:{_THIN}\d{{3}})+(?:[.,]\d+)?", raw):
            return _numbers(raw.replace(_THIN, ""), start, end)
        out, offset = [], start
        for part in raw.split(_THIN):
            out.extend(_numbers(part, offset, offset + len(part)))
            offset += len(part) + 1
        return out
    dots, commas = raw.count("."), raw.count(",")
    if dots and commas:  # the separator written last is the decimal one
        decimal, grouping = (".", ",") if raw.rfind(".") > raw.rfind(",") else (",", ".")
        whole, _, fraction = raw.rpartition(decimal)
        if raw.count(decimal) == 1 and re.fullmatch(rf"\d{{1,3}}(?:\{grouping}\d{{3}})+", whole):
            digits = whole.replace(grouping, "")
            return [_num(raw, start, end, float(f"{digits}.{fraction}"), len(fraction))]
        return _split(raw, start, r"[.,]")
    if commas:
        if re.fullmatch(r"\d{1,3}(?:,\d{3}){2,}", raw):
            return [_num(raw, start, end, float(raw.replace(",", "")), 0)]
        if commas > 1:
            return _split(raw, start, ",")
        whole, fraction = raw.split(",")
        decimal = float(f"{whole}.{fraction}")
        if len(fraction) == 3 and whole != "0":  # 2,345: thousands (1.092 kept as the other reading)
            return [_num(raw, start, end, float(whole + fraction), 0, [decimal])]
        left, right = float(whole), float(fraction)
        if len(whole) >= 3 and len(fraction) >= 3 and max(left, right) <= 1.5 * min(left, right):
            return _split(raw, start, ",")  # 2305,2312: two prices
        return [_num(raw, start, end, decimal, len(fraction))]
    if dots > 1:
        if re.fullmatch(r"\d{1,3}(?:\.\d{3}){2,}", raw):
            return [_num(raw, start, end, float(raw.replace(".", "")), 0)]
        return _split(raw, start, r"\.")
    whole, _, fraction = raw.partition(".")
    if len(fraction) == 3 and whole != "0" and len(whole) <= 3:  # 18.500: 18.5, or 18500 written the
        return [_num(raw, start, end, float(raw), 3, [float(whole + fraction)])]  # European way
    return [_num(raw, start, end, float(raw), len(fraction))]


def _prices(raw: str, start: int, end: int) -> list[Token]:
    """The numbers of one run of digits that can be prices: one with more than ``MAX_DIGITS``
    digits before its decimal point reads as nothing (and could not be a finite float)."""
    return [t for t in _numbers(raw, start, end) if t.kind != "num" or t.value < 10**MAX_DIGITS]


def _split(raw: str, start: int, separator: str) -> list[Token]:
    out: list[Token] = []
    offset = start
    for i, part in enumerate(re.split(separator, raw)):
        if i:
            out.append(Token("mark", ",", offset - 1, offset))
        if part:
            out.append(_num(part, offset, offset + len(part), float(part), 0))
        offset += len(part) + 1
    return out


def settle_numbers(lines: list[list[Token]]) -> bool:
    """Give each ambiguous number the reading that matches the message's other prices, and join a
    plain-space thousands group (``38 900``) when its two parts cannot both be prices of one
    instrument (one is more than 3x the other) or prices like the joined one are written. True
    when a number was read other than at first sight."""
    reference = _reference(lines)
    changed = False
    for tokens in lines:
        i = 0
        while i + 1 < len(tokens):
            a, b = tokens[i], tokens[i + 1]
            if (
                a.kind == b.kind == "num"
                and a.is_integer
                and 1 <= len(a.text) <= 3
                and re.fullmatch(r"\d{3}(?:\.\d+)?", b.text)
                and b.start == a.end + 1
            ):
                joined = float(a.text + b.text)
                apart = len(a.text) > 1 and not near(a.value, b.value)
                if apart or near(joined, reference):
                    tokens[i : i + 2] = [_num(a.text + b.text, a.start, b.end, joined, b.decimals)]
            i += 1
    for tokens in lines:
        for t in tokens:
            if t.kind == "num" and t.alternatives and reference and not near(t.value, reference):
                better = [v for v in t.alternatives if near(v, reference)]
                if better:
                    t.value, t.alternatives = better[0], []
                    changed = True
    return changed


def _reference(lines: list[list[Token]]) -> float | None:
    """The typical price of the message: the median of its numbers that look like prices (read
    one way only, and not a measure: ``50x``, ``2%``, ``lot 0.5``, ``30 pips``)."""
    values = [
        t.value
        for tokens in lines
        for i, t in enumerate(tokens)
        if t.kind == "num"
        and not t.alternatives
        and (t.decimals or t.value >= 10)
        and not _is_measure(tokens, i)
    ]
    return statistics.median(values) if values else None


def _is_measure(tokens: list[Token], i: int) -> bool:
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    before = tokens[i - 1] if i else None
    if after is not None and (after.text == "%" or DEFAULT_TABLE.get((after.low,)) == Meaning.UNIT):
        return True
    return before is not None and DEFAULT_TABLE.get((before.low,)) == Meaning.MEASURE


def near(value: float, reference: float | None) -> bool:
    return bool(reference) and value > 0 and 1 / 3 <= value / reference <= 3
