"""The recorded source: a channel's messages played from a recording, in rounds, forever.

A recording (``RECORDINGS``: name -> JSONL file) has one line per event, ``at`` seconds after the
start of a round (non-decreasing): ``{"at", "id", "text", "reply_to"?}`` posts a message,
``{"at", "id", "edit"}`` posts its next version, ``{"at", "id", "delete": true}`` deletes it. A
round ends with its last line, and the next one starts then; a round's message ids are prefixed
``r{round}-`` so that every round posts new messages. Prices may be written relative to the
market (``{XAUUSD}``, ``{XAUUSD+3.5}``, ``{EURUSD-0.0020}``): when the line is played they become
the mid of that symbol plus the offset, as the first connector of the source's routed accounts
that knows a price without a broker session tells (else the last mid known in this process; a
line with a price never known is skipped with a warning).

Players are functions over the database, not objects: all a player must remember (round, line,
when the next line is due) is on the source's row, which is what lets another process take over.
One player at a time plays a source: it holds a lease on the row (claimed with a conditional
UPDATE, renewed with each line played); when the lease runs out another player continues at the
recorded position. Each line is handed to the intake and the position advanced in one transaction,
the advance conditional on the lease and position: a player that lost the source plays nothing.
:func:`play_due` is one pass at a given time (tests inject it), :func:`play_forever` the loop
(``manage.py play_recordings``, or a thread of the embedded server).
"""

import json
import logging
import math
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType

from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from execution.accounts.models import TradingAccount
from execution.accounts.services import symbol_resolve
from execution.accounts.symbols import SymbolError
from execution.broker.registry import connector_for
from execution.signals.intake import receive
from execution.signals.models import Route, SignalSource
from execution.signals.sources.base import MessageDeleted, MessagePosted, SourceEvent

logger = logging.getLogger(__name__)

RECORDINGS = MappingProxyType({"demo": Path(__file__).parent / "recordings" / "demo.jsonl"})
LEASE = timedelta(seconds=30)
MAX_ID = 80  # with the round prefix, within Signal.message_id's 100
MAX_TEXT = 4096
PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9]*)(?:([+-])(\d+(?:\.\d+)?))?\}")
_BRACED = re.compile(r"\{[^{}]*\}")
_last_mid: dict[str, Decimal] = {}  # canonical symbol -> the last mid a connector told this process


class RecordingError(ValueError):
    """A recording that cannot be played (the message names the file and the line)."""


class NoPrice(LookupError):
    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.symbol = symbol


@dataclass(frozen=True)
class Line:
    """One event of a recording; ``text`` None: a deletion. An edit carries the next ``version``
    and the ``reply_to`` of the message it edits."""

    number: int  # in the file, for messages about it
    at: float
    message_id: str
    text: str | None
    reply_to: str | None = None
    version: int = 1


def _text(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RecordingError(f'"{key}" must be a non-empty string')
    if len(value) > MAX_TEXT:
        raise RecordingError(f'"{key}" has more than {MAX_TEXT} characters')
    for braced in _BRACED.findall(value):
        if not PLACEHOLDER.fullmatch(braced):
            raise RecordingError(f"{braced} is not a price, e.g. {{XAUUSD}} or {{EURUSD-0.0020}}")
    return value


def _line(item: object, number: int, versions: dict[str, int], replies: dict[str, str | None]) -> Line:
    """Read one line; ``versions`` (id -> last version, a deleted id removed) and ``replies``
    (id -> reply_to) are what the lines before posted."""
    if not isinstance(item, dict):
        raise RecordingError("must be a JSON object")
    kinds = [key for key in ("text", "edit", "delete") if key in item]
    if len(kinds) != 1:
        raise RecordingError('needs exactly one of "text" (a message), "edit" or "delete"')
    allowed = {"at", "id", kinds[0]} | ({"reply_to"} if kinds == ["text"] else set())
    if unknown := set(item) - allowed:
        raise RecordingError(f"unknown keys: {', '.join(sorted(unknown))}")
    at = item.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) or at < 0:
        raise RecordingError('"at" must be a number of seconds, 0 or more')
    message_id = item.get("id")
    if not isinstance(message_id, str) or not message_id.strip() or len(message_id) > MAX_ID:
        raise RecordingError(f'"id" must be a non-empty string of at most {MAX_ID} characters')
    if kinds == ["text"]:
        if message_id in replies:
            raise RecordingError(f'"{message_id}" is posted already (a new version is an "edit")')
        reply_to = item.get("reply_to")
        if reply_to is not None and reply_to not in replies:
            raise RecordingError(f'"reply_to" names no message posted before: {reply_to!r}')
        return Line(number, float(at), message_id, _text(item["text"], "text"), reply_to)
    if message_id not in versions:
        raise RecordingError(f'"{message_id}" is not a message posted before (and not deleted)')
    if kinds == ["edit"]:
        text, version = _text(item["edit"], "edit"), versions[message_id] + 1
        return Line(number, float(at), message_id, text, replies[message_id], version)
    if item["delete"] is not True:
        raise RecordingError('"delete" must be true')
    return Line(number, float(at), message_id, None)


def load_recording(path: Path) -> tuple[Line, ...]:
    """Read and check a recording; raises RecordingError naming the line."""
    lines: list[Line] = []
    versions: dict[str, int] = {}
    replies: dict[str, str | None] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            try:
                item = json.loads(raw)
            except ValueError as error:
                raise RecordingError(f"not JSON ({error})") from None
            line = _line(item, number, versions, replies)
            if lines and line.at < lines[-1].at:
                raise RecordingError(f'"at" goes back in time ({line.at} after {lines[-1].at})')
        except RecordingError as error:
            raise RecordingError(f"{path.name}, line {number}: {error}") from None
        if line.text is None:
            del versions[line.message_id]
        else:
            versions[line.message_id] = line.version
            replies.setdefault(line.message_id, line.reply_to)
        lines.append(line)
    if not lines:
        raise RecordingError(f"{path.name} holds no lines")
    if lines[-1].at <= 0:
        raise RecordingError(f'{path.name}: a round must last: its last line\'s "at" must be more than 0')
    return tuple(lines)


@cache
def recording(name: str) -> tuple[Line, ...]:
    """The lines of the recording ``name`` (a key of RECORDINGS)."""
    if name not in RECORDINGS:
        raise RecordingError(f"No recording {name!r}; there are: {', '.join(sorted(RECORDINGS))}")
    return load_recording(RECORDINGS[name])


def _formatted(price: Decimal) -> str:
    return format(price.quantize(Decimal("0.01") if abs(price) >= 100 else Decimal("0.00001")), "f")


def render(text: str, price_of: Callable[[str], Decimal | None]) -> str:
    """``text`` with each price placeholder replaced by the symbol's mid (``price_of``, asked once
    per symbol) plus its offset: 2 decimals from 100 up, else 5. Raises NoPrice for a symbol with
    no price."""
    mids: dict[str, Decimal] = {}
    for symbol in dict.fromkeys(match[1] for match in PLACEHOLDER.finditer(text)):
        mid = price_of(symbol)
        if mid is None:
            raise NoPrice(symbol)
        mids[symbol] = mid

    def replaced(match: re.Match) -> str:
        symbol, sign, offset = match.groups()
        shift = Decimal(offset or 0) * (-1 if sign == "-" else 1)
        return _formatted(mids[symbol] + shift)

    return PLACEHOLDER.sub(replaced, text)


def _reference_price(account: TradingAccount, symbol: str) -> Decimal | None:
    try:
        broker_symbol = symbol_resolve(account=account, name=symbol).broker_symbol
    except SymbolError:
        return None
    return connector_for(account.platform).reference_price(account, broker_symbol)


def _prices_for(source: SignalSource) -> Callable[[str], Decimal | None]:
    """Mids as the source's routed accounts' connectors tell them, else the last one known."""
    routes = Route.objects.filter(source=source, active=True).select_related("account__platform")
    accounts = [route.account for route in routes]

    def price_of(symbol: str) -> Decimal | None:
        for account in accounts:
            mid = _reference_price(account, symbol)
            if mid is not None:
                _last_mid[symbol] = mid
                return mid
        return _last_mid.get(symbol)

    return price_of


def event_of(
    line: Line, *, round_number: int, now: datetime, price_of: Callable[[str], Decimal | None]
) -> SourceEvent:
    """What ``line`` posts in round ``round_number``, played at ``now``; raises NoPrice."""
    message_id = f"r{round_number}-{line.message_id}"
    if line.text is None:
        return MessageDeleted(message_id=message_id, deleted_at=now)
    return MessagePosted(
        message_id=message_id,
        posted_at=now,
        text=render(line.text, price_of),
        reply_to=f"r{round_number}-{line.reply_to}" if line.reply_to else None,
        version=line.version,
    )


class _LeaseLost(Exception):
    pass


def _claim(source_id: int, *, player_id: str, now: datetime) -> bool:
    """Take (or renew) the lease on the source: when this player holds it or it ran out."""
    free = Q(replay_held_by=player_id) | Q(replay_lease_until__isnull=True) | Q(replay_lease_until__lte=now)
    return bool(
        SignalSource.objects.filter(pk=source_id, kind=SignalSource.RECORDED, state=SignalSource.ACTIVE)
        .filter(free)
        .update(replay_held_by=player_id, replay_lease_until=now + LEASE)
    )


@dataclass(frozen=True)
class _Place:
    round_number: int
    position: int
    next_at: datetime | None  # None: a source never played


def _move(source_id: int, *, player_id: str, now: datetime, old: _Place, new: _Place) -> bool:
    """Move the source from ``old`` to ``new`` (renewing the lease) if this player still holds it
    at ``old``."""
    return bool(
        SignalSource.objects.filter(pk=source_id, replay_held_by=player_id)
        .filter(replay_round=old.round_number, replay_position=old.position)
        .update(
            replay_round=new.round_number,
            replay_position=new.position,
            replay_next_at=new.next_at,
            replay_lease_until=now + LEASE,
        )
    )


def _after(lines: tuple[Line, ...], place: _Place, now: datetime) -> _Place:
    """Where the source is once the line at ``place`` is played at ``now``."""
    following = place.position + 1
    if following < len(lines):
        gap = lines[following].at - lines[place.position].at
        return _Place(place.round_number, following, now + timedelta(seconds=gap))
    return _Place(place.round_number + 1, 0, now + timedelta(seconds=lines[0].at))


def _play_source(source: SignalSource, *, player_id: str, now: datetime) -> int:
    """Play the source's due lines (at most a round); the number of events handed to the intake."""
    lines = recording(source.recording)
    place = _Place(source.replay_round, source.replay_position, source.replay_next_at)
    if place.next_at is None or place.position >= len(lines):  # new, or its recording got shorter
        round_number = place.round_number + (place.position >= len(lines))
        start = _Place(round_number, 0, now + timedelta(seconds=lines[0].at))
        if not _move(source.pk, player_id=player_id, now=now, old=place, new=start):
            return 0
        place = start
    price_of = _prices_for(source)
    played = 0
    for _ in range(len(lines)):
        if place.next_at > now:
            break
        line, new = lines[place.position], _after(lines, place, now)
        try:
            event = event_of(line, round_number=place.round_number, now=now, price_of=price_of)
        except NoPrice as missing:
            logger.warning(
                "recorded source %s: no price of %s known, line %d of %s skipped",
                source.pk,
                missing.symbol,
                line.number,
                source.recording,
            )
            event = None
        try:
            with transaction.atomic():
                if event is not None:
                    receive(source=source, event=event)
                if not _move(source.pk, player_id=player_id, now=now, old=place, new=new):
                    raise _LeaseLost
        except _LeaseLost:
            logger.info("recorded source %s: another player took it over", source.pk)
            return played
        except DatabaseError:
            raise
        except Exception:  # a line the intake fails on must not stop the channel: skip it
            logger.exception(
                "recorded source %s: line %d of %s failed in the intake, skipped",
                source.pk,
                line.number,
                source.recording,
            )
            if not _move(source.pk, player_id=player_id, now=now, old=place, new=new):
                return played
        else:
            played += event is not None
        place = new
    return played


def play_due(*, now: datetime, player_id: str) -> int:
    """One pass: play what is due at ``now`` of every active recorded source this player holds or
    can take. Returns how many events were handed to the intake."""
    due = SignalSource.objects.filter(kind=SignalSource.RECORDED, state=SignalSource.ACTIVE).filter(
        Q(replay_next_at__isnull=True) | Q(replay_next_at__lte=now)
    )
    played = 0
    for source_id in list(due.values_list("pk", flat=True)):
        if not _claim(source_id, player_id=player_id, now=now):
            continue
        source = SignalSource.objects.get(pk=source_id)
        try:
            played += _play_source(source, player_id=player_id, now=now)
        except RecordingError as error:
            logger.error("recorded source %s cannot be played: %s", source_id, error)
    return played


def new_player_id() -> str:
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def play_forever(*, every: float = 1.0) -> None:
    """Play the recorded sources, a pass every ``every`` seconds, as one player."""
    player_id = new_player_id()
    while True:
        close_old_connections()
        try:
            play_due(now=timezone.now(), player_id=player_id)
        except Exception:  # keep playing: one failed pass (e.g. a locked database) is not fatal
            logger.exception("recorded sources: a pass failed")
        time.sleep(every)
