"""The inputs and outputs of the level checks: frozen values, prices in ``Decimal``.

Promise: an input that cannot be checked is refused when it is built (``ValueError``): an unknown
side, order type, SL policy or market-closed policy; a zone given together with an entry; a
pending order with neither. Outputs serialise to JSON through ``Step.to_dict``.
Pure: no I/O, no Django.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit", "stop")
SL_POLICIES = ("default_sl", "reject", "correct")
MARKET_CLOSED_POLICIES = ("skip", "wait")


@dataclass(frozen=True)
class Levels:
    """A trade's levels as the signal (or order) gave them."""

    side: str  # "buy" | "sell"
    order_type: str  # "market" | "limit" | "stop"
    entry: Decimal | None  # None: a market order with no price given, or a zone
    zone: tuple[Decimal, Decimal] | None  # (low, high); entry is then None
    sl: Decimal | None
    tps: tuple[Decimal, ...]

    def __post_init__(self):
        if self.side not in SIDES or self.order_type not in ORDER_TYPES:
            raise ValueError(f"unknown side or order type: {self.side!r}, {self.order_type!r}")
        if self.zone is not None and self.entry is not None:
            raise ValueError("a zone replaces the entry: give one or the other")
        if self.order_type != "market" and self.entry is None and self.zone is None:
            raise ValueError(f"a {self.order_type} order needs an entry or a zone")


@dataclass(frozen=True)
class Quote:
    bid: Decimal
    ask: Decimal


@dataclass(frozen=True)
class Instrument:
    digits: int
    pip: Decimal  # from pip_size
    # (weekday 0=Mon..6, start minute, end minute) UTC; end 1440 = midnight; empty = always open
    sessions: tuple[tuple[int, int, int], ...] = ()
    # the broker's least distance of an SL, a TP or a pending price from the market (its stops level
    # in points x the point), 0: none, or not known
    stop_distance: Decimal = Decimal(0)


@dataclass(frozen=True)
class Policy:
    """A route's settings; the defaults are the product's defaults."""

    reverse: bool = False  # buy<->sell, SL/TPs mirrored around the entry
    sl_policy: str = "default_sl"  # an SL on the wrong side: "default_sl" | "reject" | "correct" (mirror)
    default_sl_pips: Decimal = Decimal(0)  # 0: no default SL
    default_tp_pips: Decimal = Decimal(0)  # 0: no default TP
    sl_max_tp_multiple: Decimal = Decimal(5)  # SL farther than this x the farthest TP: rejected
    max_entry_distance_pips: Decimal | None = None  # the market already this far from the entry: rejected
    max_spread_pips: Decimal | None = None
    market_closed: str = "skip"  # "skip" (fail) | "wait" (until the next session opens)
    hours: tuple[int, int] | None = None  # UTC minutes [start, end); start > end wraps midnight

    def __post_init__(self):
        if self.sl_policy not in SL_POLICIES or self.market_closed not in MARKET_CLOSED_POLICIES:
            raise ValueError(f"unknown policy: {self.sl_policy!r}, {self.market_closed!r}")


@dataclass(frozen=True)
class Facts:
    """What the caller decided from the database; None/False: nothing to report."""

    paused_route: bool = False
    too_old: str | None = None  # reason, e.g. "posted 12 min ago; the source's maximum age is 5 min"
    confidence: float | None = None
    threshold: float | None = None
    symbol_filtered: str | None = None  # reason
    symbol_error: str | None = None  # why the symbol could not be mapped to the account's broker
    account_problem: str | None = None  # e.g. "the account is disconnected"
    no_trade: str | None = None  # a change with no open trade to apply to: why
    duplicate_of: str | None = None  # reason naming the earlier signal
    incomplete: str | None = None  # e.g. "no SL", when the route trades complete signals only


@dataclass(frozen=True)
class Context:
    levels: Levels | None  # None when facts alone decide (no levels known); then no instrument needed
    policy: Policy
    instrument: Instrument | None  # required with levels
    quote: Quote | None  # None at acceptance: the rules that need it are DEFERRED
    now: datetime  # aware
    facts: Facts = Facts()

    def __post_init__(self):
        if self.levels is not None and self.instrument is None:
            raise ValueError("levels are checked against an instrument: give one")


class Result(StrEnum):
    PASSED = "passed"
    CORRECTED = "corrected"  # the levels were changed (the message says from what to what)
    FAILED = "failed"
    HELD = "held"  # stopped for a person to decide
    WAITING = "waiting"  # stopped until later (Evaluation.wait_until, when known)
    DEFERRED = "deferred"  # needs the live quote; checked again right before the broker call


STOPS = frozenset({Result.FAILED, Result.HELD, Result.WAITING})


@dataclass(frozen=True)
class Step:
    stage: str
    result: Result
    code: str = ""
    message: str = ""  # for a person: what and why, with the numbers
    field: str = ""  # the level it concerns (entry, zone, sl, tps), when one

    def to_dict(self) -> dict:
        return {"stage": self.stage, "result": self.result.value, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class Evaluation:
    levels: Levels | None  # after corrections (with a quote: the zone resolved, a market entry filled)
    steps: tuple[Step, ...]  # one per rule reached, in order
    stopped: Step | None  # the FAILED / HELD / WAITING step that stopped it
    wait_until: datetime | None  # stopped WAITING for the market: the next session's opening
    deferred: tuple[str, ...]  # the deferred steps' codes (the stage, for a rule without a code)

    @property
    def ok(self) -> bool:
        return self.stopped is None
