"""Changes to open trades written in a message: breakeven, move SL or TP, close part or all, cancel.

One message may carry several ("TP1 hit, close half and move SL to entry"); they come back in the
order written. Each action is one row of ``_RULES``: its patterns, tried in order; a pattern's
named groups say what it reads (``num`` a price, ``frac`` a fraction, ``tpn`` a target's number).
A past-tense report ("stopped out at breakeven"), a negated or conditional instruction and a
question are not instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from execution.accounts.symbols import known_instrument
from execution.signals.parsing.reading import ActionKind
from execution.signals.parsing.text import tokenize

_NUM = r"(?<![\w.])(?:\d[\d.,\u2009]*\d|\d)(?:k\b)?"  # not the 1 of "TP1"; "65.5k"
_SL = r"(?:sl|stop ?loss|stoploss|stop ?lose|stops?)"
_TPN = r"(?:tp|take ?profit|target|tgt)s?[ -]?(?:(?P<tpn>[1-9])(?![\d.,]))?"
_BE = (
    r"(?:be|bep|breakeven|break ?even|b\.e|entry(?: price| point| level)?|(?:the|our|my|your) entry|"
    r"open(?:ing)? price|cost|cost price|zero|0 risk|entry zone|(?:a |la |l')?entrada|(?:l')?entrée|einstieg)"
)
_PREPOSITION = r"(?:to|at|@|on|=|->|>|:|in|into|para|al|à|au|auf)"  # also "para a entrada", "auf Einstieg"
_TO = rf"(?:\s*(?:(?:up|down)\s+)?{_PREPOSITION}\s*|\s+)"
_VERB = (
    r"(?:move|moving|moved|set|put|shift|adjust|bring|drag|place|modify|change|update|take|trail|"
    r"raise|lower|tighten|push|new|now|adjusted|changed|updated|shifted|placed|place|"
    r"mover|mova|mueve|mueva|muevan|poner|ponga|coloque|colocar|déplacer|déplacez|mettre|mettez|"
    r"verschieben|setzen|setzt)"
)
_LEAD = (
    r"(?:^|[\n.,;!&+]\s*|\band\s+|\bthen\s+|\bnow\s+|\bplease\s+|\bguys\s+|\bkindly\s+|\blet'?s\s+|\bpls\s+)"
)
_FRACTIONS = {"half": 0.5, "1/2": 0.5, "third": 1 / 3, "1/3": 1 / 3, "quarter": 0.25, "1/4": 0.25,
              "2/3": 2 / 3, "3/4": 0.75, "two thirds": 2 / 3, "three quarters": 0.75}  # fmt: skip
_FRACTION_WORDS = {"moitié": "half", "mitad": "half", "metade": "half", "hälfte": "half"}
_FRACTION = (
    r"(?:half|1/2|1/3|1/4|2/3|3/4|(?:a |one |another )?third|(?:a |one )?quarter|two thirds|three quarters"
    r"|\d{1,3}(?:[.,]\d+)?\s*%)"
)
# "close" in French, Spanish, Portuguese, German
_CLOSE_ABROAD = (
    r"(?:fermez|fermer|ferme|cerrar|cierra|cierren|cerrad|fechar|feche|fechem|schließen|schliessen|schließt)"
)
_PARTIAL_WORDS = r"(?:partials?|part|some|portion|partial (?:profits?|close|tp))"

_REPORTED_BE = re.compile(
    r"\b(?:closed|stopped(?: out)?|hit|ended|exited|got out|out)\b[^\n]{0,12}?\b(?:at|on|in)?\s*"
    r"(?:be|breakeven|break ?even|entry)\b"
    r"|\b(?:be|breakeven|break ?even)\s+(?:hit|reached|touched|triggered)\b",
    re.I,
)


# "once TP1 hits, move SL to BE", "when to move your stop": a condition or a lesson, not an order now
_CONDITIONAL = re.compile(
    r"\b(?:if|when|once|after|unless|until|should|could|might|would|how|why|learn\w*)\b", re.I
)


# "don't close early", "no need to close": the opposite of an order
_NEGATED = re.compile(r"\b(?:don'?t|do not|dont|never|no need to|not|avoid)\s+(?:\w+\s+)?$", re.I)


def _asked(text: str, start: int) -> bool:
    """The action is in a question ("close half at 2,345 or hold for TP2?")."""
    end = re.search(r"[\n!?]|\.(?:\s|$)", text[start:])
    return bool(end) and end[0] == "?"


def _sentence_before(text: str, start: int) -> str:
    head = text[:start]
    cut = max(head.rfind("\n"), head.rfind(". "), head.rfind("!"), head.rfind("?"))
    return head[cut + 1 :]


MAX_ACTIONS = 12
_NOTHING = object()
_SPACES = re.compile(r"[ \t\u2009]+")
_BLANKS = re.compile(r"\s*\n\s*")


@dataclass(frozen=True, slots=True)
class Found:
    start: int
    action: ActionKind
    value: float | None = None  # the price of a move, or a fraction
    target: int | None = None  # move_tp: which target; move_sl: the TP level it moves to
    fraction_stated: bool = True


def _pattern(text: str) -> re.Pattern:
    return re.compile(text, re.I)


# action -> patterns, in priority order within the action; groups: "num" (a price), "frac",
# "tpn" (a target number).
_RULES: tuple[tuple[ActionKind, tuple[re.Pattern, ...]], ...] = (
    (
        ActionKind.CLOSE_PARTIAL,
        (
            _pattern(
                rf"\b(?:close|closing|take|taking|book|booking|secure|securing|exit|cut|lock|bank|banking|tp)\b"
                rf"[^\n\d]{{0,12}}?\b(?P<frac>{_FRACTION})"
            ),
            _pattern(r"\b(?P<frac>half)\s+(?:close|position|lot|lots|size|volume|off)\b"),
            _pattern(
                rf"\b{_CLOSE_ABROAD}\s+(?:la |el |a |die |den )?(?P<frac>moitié|mitad|metade|hälfte|"
                r"\d{1,3}\s*%)"
            ),
            _pattern(
                rf"\b(?:close|closing|take|taking|book|booking|secure|securing|lock|bank)\s+"
                rf"(?:(?:in|some|the|your|our|a)\s+)?{_PARTIAL_WORDS}\b"
            ),
            _pattern(r"\bpartial(?:ly)?\s+(?:close|closing|profit|profits|tp|take)\b"),
            _pattern(r"\bpartials?\b(?=\s*(?:now|here|$|[.!,]))"),
        ),
    ),
    (
        ActionKind.BREAKEVEN,
        (
            _pattern(rf"\b{_VERB}\b[^\n\d]{{0,24}}?{_PREPOSITION}\s*(?:the\s+)?{_BE}\b"),
            _pattern(rf"\b{_SL}{_TO}(?:the\s+)?{_BE}\b"),
            _pattern(
                r"\b(?:set|move|put|go|secure|make|lock|take|place|protect)\b[^\n\d]{0,15}?"
                r"\b(?:be|breakeven|break ?even)\b"
            ),
            _pattern(r"(?<!\d )\bbreak ?even\b"),  # not "6 wins, 1 breakeven"
            _pattern(r"(?:^|[\n.,;!+&]|\band\b)\s*be\s*(?:now|please|pls|!|$|\n)"),
            _pattern(r"\brisk[ -]?free\b|\bno risk\b|\bzero risk\b|\bremove (?:the )?risk\b"),
        ),
    ),
    (
        ActionKind.MOVE_SL,
        (
            _pattern(rf"\b{_VERB}\b[^\n\d]{{0,14}}?\b{_SL}\b{_TO}(?:the\s+)?{_TPN}"),
            _pattern(
                rf"\b{_SL}\s*(?:(?:up|down)\s+)?{_PREPOSITION}\s*(?:the\s+)?{_TPN}\b"
            ),  # not "SL TP soon"
            _pattern(rf"\b{_VERB}\b[^\n\d]{{0,14}}?\b{_SL}\b[^\n\d]{{0,10}}?(?P<num>{_NUM})"),
            _pattern(
                rf"\b{_SL}\s*(?:now|moved|changed|updated|adjusted|shifted|trailed|raised|lowered|tightened|"
                r"is now|(?:up |down )?to|->|>)"
                rf"\s*(?:to|at|@|:)?\s*(?P<num>{_NUM})"
            ),
            _pattern(rf"\b(?:trail|trailing)\b[^\n\d]{{0,14}}?(?:to|at|@)\s*(?P<num>{_NUM})"),
            _pattern(
                rf"\b(?:with|keep|leave|and)\b[^\n\d]{{0,20}}?\b{_SL}\s*(?:at|@|to|on)\s*(?P<num>{_NUM})"
            ),
            _pattern(
                r"\b(?:lock|locking|secure|securing|protect|protecting)\s+(?:in\s+)?(?:the\s+|some\s+|your\s+)?"
                rf"(?:profits?|gains?|pips)\s+(?:at|@|to)\s*(?P<num>{_NUM})"
            ),
        ),
    ),
    (
        ActionKind.MOVE_TP,
        (
            _pattern(rf"\b{_VERB}\b[^\n\d]{{0,14}}?\b{_TPN}\b[^\n\d]{{0,10}}?(?P<num>{_NUM})"),
            _pattern(
                rf"\b{_TPN}\s*(?:now|moved|changed|updated|adjusted|extended|is now|to|->|>)"
                rf"\s*(?:to|at|@|:)?\s*(?P<num>{_NUM})"
            ),
        ),
    ),
    (
        ActionKind.CANCEL,
        (
            _pattern(
                r"\b(?:cancel|cancelled|canceled|cancelling|delete|deleted|remove|removed|void|withdraw|kill|pull|"
                r"scrap|annuler|annulez|cancelar|cancele|cancela|stornieren|löschen)\b"
            ),
            _pattern(r"\b(?:don'?t|do not|dont)\s+(?:enter|take|open|place)\b"),
            _pattern(
                r"\b(?:signal|order|setup|trade)\s+(?:is\s+)?"
                r"(?:invalid|invalidated|no longer valid|not valid)\b"
            ),
        ),
    ),
    (
        ActionKind.CLOSE_ALL,
        (
            _pattern(
                rf"{_LEAD}(?:close|exit|closing)\b"
                r"(?!\s+(?:to|above|below|near|at\s+\d|of|the (?:day|week|candle)|price|candle))"
            ),
            _pattern(
                r"\b(?:close|exit)\s+(?:all|everything|now|at market|the trade|trades|positions?|it|them)\b"
            ),
            _pattern(r"\bget out\b|\btake (?:the )?profits? (?:now|here)\b|\bclose early\b"),
            _pattern(rf"\b{_CLOSE_ABROAD}\s+(?:tout|tutto|todo|todas|tudo|alles|all)\b"),
        ),
    ),
)


def find_actions(text: str) -> list[Found]:
    """Every action in ``text`` (normalised, lower or mixed case), in the order written; at most
    ``MAX_ACTIONS`` (a message with more is not a trade manager's)."""
    text = _BLANKS.sub("\n", _SPACES.sub(" ", text))  # bounded backtracking on runs of blanks
    if _REPORTED_BE.search(text) and not re.search(rf"\b{_VERB}\b|\bsl to\b", text, re.I):
        return []
    claimed: list[tuple[int, int]] = []
    found: list[Found] = []
    for action, patterns in _RULES:
        for pattern in patterns:
            for m in pattern.finditer(text):
                if len(found) == MAX_ACTIONS:
                    break
                start, end = m.span()
                if any(s < end and start < e for s, e in claimed):
                    continue  # the same words, already read as another action
                item = _found(action, m)
                if item is _NOTHING:
                    claimed.append((start, end))  # "close 0%": these words say to do nothing
                if item is None or item is _NOTHING:
                    continue
                claimed.append((start, end))
                found.append(item)
    found = [
        f
        for f in found
        if not _CONDITIONAL.search(_sentence_before(text, f.start))
        and not _NEGATED.search(text[max(0, f.start - 40) : f.start])
        and not _asked(text, f.start)
    ]
    found.sort(key=lambda f: f.start)
    out: list[Found] = []
    for item in found:  # one action of a kind per place it is written
        if out and out[-1].action == item.action and out[-1].value == item.value:
            continue
        out.append(item)
    return out


def _found(action: ActionKind, m: re.Match) -> Found | object | None:
    """The action a match reads as; ``None`` when it is not one after all, ``_NOTHING`` when its
    words say to do nothing (and may not be read as another action)."""
    groups = m.groupdict()
    if action == ActionKind.CLOSE_PARTIAL:
        written = (groups.get("frac") or "").lower().strip()
        fraction = _fraction(_FRACTION_WORDS.get(written, written)) if written else None
        if fraction == 1:  # "close 100%"
            return Found(m.start(), ActionKind.CLOSE_ALL)
        if written and fraction is None:  # "close 0%"
            return _NOTHING
        return Found(m.start(), action, fraction, fraction_stated=fraction is not None)
    if action in (ActionKind.MOVE_SL, ActionKind.MOVE_TP):
        number = _price(groups.get("num"))
        target = int(groups["tpn"]) if groups.get("tpn") else None
        if action == ActionKind.MOVE_SL and number is None and target is None and "tpn" not in groups:
            return None
        return Found(m.start(), action, number, target)
    if action in _OBJECTS and not _object_fits(m, _OBJECTS[action]):
        return None
    return Found(m.start(), action)


# what "close ..." / "cancel ..." may be followed by to be about trades ("close your charts" is not)
_TRADE_NOUNS = (
    r"all|everything|now|trades?|positions?|orders?|it|them|buys?|sells?|longs?|shorts?|early|manually|"
    r"here|remaining|rest|full|fully|entire|at|market|half|partial|everyone|asap|immediately|please|pls|"
    r"the|this|these|that|my|your|our|running|open|pending|limit|limits|stop|signal|setup|entry|entries|"
    r"one|ones|pair|pairs|deal|deals|of|out"
)
_OBJECTS = {ActionKind.CLOSE_ALL: _TRADE_NOUNS, ActionKind.CANCEL: _TRADE_NOUNS}
_NEXT_WORDS = re.compile(r"\s*([^\W\d_][\w/.]*)?(?:\s+([^\W\d_][\w/.]*))?")


def _object_fits(m: re.Match, nouns: str) -> bool:
    """The words after the verb: none (end of clause), trade words, or a symbol."""
    following = _NEXT_WORDS.match(m.string, m.end())
    words = [w for w in following.groups() if w] if following else []
    if not words:
        return True
    fits = re.compile(rf"(?:{nouns})", re.I)
    first = words[0]
    if known_instrument(first):
        return True
    if not fits.fullmatch(first):
        return False
    if first.lower() in ("the", "this", "these", "that", "my", "your", "our") and len(words) > 1:
        return bool(fits.fullmatch(words[1]) or known_instrument(words[1]))
    return True


def _fraction(written: str) -> float | None:
    if written.endswith("%"):
        value = float(written.rstrip("% ").replace(",", ".")) / 100
        return value if 0 < value <= 1 else None
    for words, value in _FRACTIONS.items():
        if written.endswith(words):
            return round(value, 4)
    return None


def _price(written: str | None) -> float | None:
    """The price a change names (read as the text reader reads numbers: ``2,392``, ``65.5k``)."""
    numbers = [t for t in tokenize([written])[0] if t.kind == "num"] if written else []
    return numbers[0].value if numbers and numbers[0].value > 0 else None
