"""The checks a trade's levels pass before any broker call: one registry, stable codes.

Promise: ``evaluate(Context(...))`` is the one entry point, called at acceptance (no quote: the
quote-dependent rules are deferred) and again right before the broker call (with the live quote:
everything runs). ``RULES`` and ``CODES`` are the tables; ``pip_size`` and ``split_volume`` the
helpers a caller needs to build the inputs and size the positions. ``ORDER_RULES`` / ``ORDER_CODES``
judge an order a caller gives (the API), which ``execution.checks.acceptance`` runs when it is
accepted. Pure, but for ``acceptance`` (not imported here): no I/O, no Django.
"""

from execution.checks.model import (
    Context,
    Evaluation,
    Facts,
    Instrument,
    Levels,
    Policy,
    Quote,
    Result,
    Step,
)
from execution.checks.pips import pip_size
from execution.checks.rules import CODES, ORDER_CODES, ORDER_RULES, RULES, Rule, Verdict, evaluate
from execution.checks.split import split_volume

__all__ = [
    "CODES",
    "ORDER_CODES",
    "ORDER_RULES",
    "RULES",
    "Context",
    "Evaluation",
    "Facts",
    "Instrument",
    "Levels",
    "Policy",
    "Quote",
    "Result",
    "Rule",
    "Step",
    "Verdict",
    "evaluate",
    "pip_size",
    "split_volume",
]
