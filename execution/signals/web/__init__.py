"""Signal sources, routes, the signals they received and the decisions made, over the API (``api``)
and on pages (``pages``); and the signal tester: read a message as the parser does (and, for a
route, what it would do with it), nothing stored and no trade placed."""

from execution.signals.services import MAX_MESSAGE_LENGTH

__all__ = ["MAX_MESSAGE_LENGTH"]
