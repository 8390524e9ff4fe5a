"""The source interface: what every signal source (webhook, pasted, recorded, Telegram) delivers.

A source turns what its channel does into :data:`SourceEvent` values and hands each to
:func:`execution.signals.intake.receive`: a message posted (:class:`MessagePosted`: an id unique
in the source, the time the channel gave it, its text, the id of the message it replies to), an
edit (a :class:`MessagePosted` with the same id and the next ``version``), a deletion
(:class:`MessageDeleted`). Delivering the same event twice is harmless: the intake records each
(source, id, version) once. A source that reads (the recorded player, Telegram) builds an event
per message it reads; a source that is pushed to (webhook, pasted) builds one per request.
"""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class MessagePosted:
    message_id: str
    posted_at: datetime
    text: str
    reply_to: str | None = None
    version: int = 1  # 1 when posted, 2.. for each edit


@dataclass(frozen=True, kw_only=True)
class MessageDeleted:
    message_id: str
    deleted_at: datetime


SourceEvent = MessagePosted | MessageDeleted
