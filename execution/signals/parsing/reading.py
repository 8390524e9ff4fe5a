"""What the parser reads a message as, and the parse contract it answers with.

A ``Reading`` is immutable. ``to_contract()`` gives the JSON the tester and the API answer with
(numbers as JSON numbers, a zone as ``{"low", "high"}``). Problems carry a stable code from
``PROBLEMS``, the one table of what the parser can say about a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Kind(StrEnum):
    OPEN = "open"  # a new trade
    DETAILS = "details"  # levels completing an earlier alert (side and symbol come from the alert)
    MODIFY = "modify"  # changes to open trades
    IGNORE = "ignore"  # noise: reports, recaps, promotions, commentary


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class ActionKind(StrEnum):
    BREAKEVEN = "breakeven"
    MOVE_SL = "move_sl"
    MOVE_TP = "move_tp"
    CLOSE_PARTIAL = "close_partial"
    CLOSE_ALL = "close_all"
    CANCEL = "cancel"


# code -> what it means (the message a reader sees unless the parser says something more precise)
PROBLEMS: Mapping[str, str] = MappingProxyType(
    {
        # why a message is ignored
        "report": "A result report (a target or stop reached, pips won), not an instruction.",
        "recap": "A recap of past results, not an instruction.",
        "promotion": "A promotion or announcement, not an instruction.",
        "commentary": "Commentary, analysis or a question: it names a market but gives no firm instruction "
        "(a side under a condition, such as 'if it breaks 1.0850 we might sell', is not one).",
        "no_signal": "Nothing in the message reads as a trade or a change to one.",
        # what is missing or guessed in a trade
        "alert_only": "An alert with no levels: entry at market, no stop loss or target written yet.",
        "sl_missing": "No stop loss is written.",
        "tp_missing": "No take-profit is written.",
        "symbol_missing": "No symbol is written.",
        "symbol_unknown": "The symbol is not one the parser knows; it is read as written.",
        "side_inferred": "Buy or sell is not written; it is inferred from the stop loss and targets.",
        "side_conflict": "Both buy and sell are written; the first one is used.",
        "several_symbols": "More than one symbol is written; the first one is used.",
        "levels_inconsistent": "The stop loss or targets are on the wrong side of the entry.",
        "too_many_targets": "More than six targets are written; the first six are used.",
        "sl_in_pips": "The stop loss is written as a distance (pips or points), not a price.",
        "tp_in_pips": "A target is written as a distance (pips or points), not a price.",
        "volume_ignored": "The volume the signal writes is ignored: volume comes from your risk settings.",
        "number_reinterpreted": "A number was read another way to match the other prices in the message.",
        "hedged": "The message hedges (we expect, soon, looking...) beside a complete signal.",
        # details and modifications
        "no_alert": "Levels without a side or symbol: they complete an alert, and none was given.",
        "value_missing": "A change names no price to move to.",
        "reference_unresolved": "A change refers to a level of the earlier signal, which was not given.",
        "fraction_unstated": "A partial close that does not say how much; the route's default applies.",
    }
)


def problem(code: str, message: str | None = None) -> Problem:
    if code not in PROBLEMS:
        raise KeyError(f"unknown problem code {code!r}")
    return Problem(code, message or PROBLEMS[code])


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Zone:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Action:
    action: ActionKind
    sl: float | None = None
    tp: float | None = None
    fraction: float | None = None
    target: int | None = None  # the take-profit a move_tp changes, or a move_sl moves to (1-based)

    def to_contract(self) -> dict:
        out: dict = {"action": self.action.value}
        for name in ("sl", "tp", "fraction"):
            value = getattr(self, name)
            if value is not None:
                out[name] = _number(value)
        return out


@dataclass(frozen=True, slots=True)
class ParserOptions:
    """Per-source vocabulary: ``keywords`` maps a word or phrase to what it means (a key of
    ``vocabulary.MEANINGS``: ``{"kopen": "buy", "doel": "tp"}``), ``aliases`` maps a name as
    the source writes it to a canonical symbol (``{"G": "XAUUSD"}``), ``default_symbol`` is the
    symbol of a single-instrument channel whose messages never name it."""

    keywords: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    default_symbol: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    kind: Kind
    confidence: float
    side: Side | None = None
    order_type: OrderType | None = None
    symbol: str | None = None  # canonical (XAUUSD for GOLD); resolved per account by the pipeline
    symbol_as_written: str | None = None
    entry: float | Zone | None = None
    sl: float | None = None
    tp: tuple[float, ...] = ()
    runner: bool = False
    actions: tuple[Action, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def problem_codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.problems)

    def to_contract(self) -> dict:
        entry = self.entry
        if isinstance(entry, Zone):
            entry = {"low": _number(entry.low), "high": _number(entry.high)}
        elif entry is not None:
            entry = _number(entry)
        return {
            "kind": self.kind.value,
            "side": self.side.value if self.side else None,
            "order_type": self.order_type.value if self.order_type else None,
            "symbol": self.symbol,
            "entry": entry,
            "sl": None if self.sl is None else _number(self.sl),
            "tp": [_number(tp) for tp in self.tp],
            "runner": self.runner,
            "actions": [a.to_contract() for a in self.actions],
            "confidence": round(self.confidence, 2),
            "problems": [{"code": p.code, "message": p.message} for p in self.problems],
        }


def _number(value: float) -> int | float:
    """A price as JSON writes it: 2290 rather than 2290.0, 1.092 as read."""
    return int(value) if float(value).is_integer() else value
