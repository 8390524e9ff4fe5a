"""Read a signal channel's message into a new trade, the details of an earlier alert, changes to
open trades, or noise to ignore: ``parse(text, reply_to=..., options=...) -> Reading``.

Deterministic and pure (no I/O, no Django, no outside service). The volume a signal writes is never
read into the reading. Per-source vocabulary and symbol aliases come in through ``ParserOptions``.
"""

from execution.signals.parsing.parser import parse
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
)

__all__ = [
    "Action",
    "ActionKind",
    "Kind",
    "OrderType",
    "ParserOptions",
    "Problem",
    "Reading",
    "Side",
    "Zone",
    "parse",
]
