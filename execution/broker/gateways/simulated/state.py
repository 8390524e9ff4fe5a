"""Serializable state of a simulated account and fault settings, with a small JSON codec.

Everything here is a plain dataclass that round-trips through JSON (``to_json``/``from_json``):
Decimals become strings, datetimes ISO-8601 strings, enums their values.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from execution.broker.gateways import base

T = TypeVar("T")
#: A value that is JSON already (built with :func:`to_jsonable`): stored and read as it is.
JsonDocument = typing.NewType("JsonDocument", dict)

# --------------------------------------------------------------------------------------------------
# Codec
# --------------------------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encoder(type(value))(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def from_jsonable(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` (dataclass, Decimal, datetime, enum, containers, Optional)."""
    return None if data is None else _decoder(tp)(data)


# The converters of each type are built once from its type hints (a state document holds hundreds
# of records of a few types): no type inspection per value.

_HINTS: dict[type, dict[str, Any]] = {}
_ENCODERS: dict[Any, Callable[[Any], Any]] = {}
_DECODERS: dict[Any, Callable[[Any], Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, vars(base) | globals())
    return _HINTS[cls]


def _identity(value: Any) -> Any:
    return value


def _optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None``; None for any other type (a union of several types is left generic)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return options[0] if len(options) == 1 else None
    return None


def _encoder(tp: Any) -> Callable[[Any], Any]:
    encoder = _ENCODERS.get(tp)
    if encoder is None:
        encoder = _ENCODERS[tp] = _build_encoder(tp)
    return encoder


def _build_encoder(tp: Any) -> Callable[[Any], Any]:
    inner = _optional_inner(tp)
    if inner is not None:
        encode = _encoder(inner)
        return lambda value: None if value is None else encode(value)
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        item = _encoder(args[0]) if args else to_jsonable
        return lambda value: [item(v) for v in value]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        fields = [(f.name, _encoder(hints[f.name])) for f in dataclasses.fields(tp)]
        return lambda value: {name: encode(getattr(value, name)) for name, encode in fields}
    if tp in (str, int, float, bool, JsonDocument):
        return _identity
    return to_jsonable  # enums, Decimals, datetimes, dicts, unions, Any: by the value's own type


def _or_none(decode: Callable[[Any], Any], data: Any) -> Any:
    return None if data is None else decode(data)


def _decoder(tp: Any) -> Callable[[Any], Any]:
    decoder = _DECODERS.get(tp)
    if decoder is None:
        decoder = _DECODERS[tp] = _build_decoder(tp)
    return decoder


def _build_decoder(tp: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            decode = _decoder(options[0])
            return lambda data: None if data is None else decode(data)
        # e.g. int | str: keep JSON's own type when it matches, else the first option
        types_ = tuple(option for option in options if isinstance(option, type))
        first = _decoder(options[0])
        return lambda data: data if data is None or isinstance(data, types_) else first(data)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        item = _decoder(args[0]) if args else _identity
        if origin is tuple:
            return lambda data: tuple(_or_none(item, v) for v in data)
        return lambda data: [_or_none(item, v) for v in data]
    if origin is dict:
        value_decoder = _decoder(typing.get_args(tp)[1])
        return lambda data: {k: value_decoder(v) for k, v in data.items()}
    if tp is Any or not isinstance(tp, type):
        return _identity
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(tp) if f.init]

        def decode_dataclass(data: dict) -> Any:
            return tp(**{name: _or_none(decode, data[name]) for name, decode in fields if name in data})

        return decode_dataclass
    if issubclass(tp, enum.Enum) or tp in (float, int):
        return tp
    if tp is Decimal:
        return lambda data: Decimal(str(data))
    if tp is datetime:
        return datetime.fromisoformat
    return _identity


# --------------------------------------------------------------------------------------------------
# Fault settings
# --------------------------------------------------------------------------------------------------

FAULT_OPERATIONS = ("all", "trading", "queries")
SCRIPTED_TRANSPORT_FAULTS = ("timeout", "timeout_after", "connection_lost_after", "not_connected")


@dataclass
class FaultSettings:
    """Faults injected into a simulated platform ('platform:mt5') or account.

    * ``latency_seconds``: added to each call (``asyncio.sleep`` in the gateway after the server processed
      it, so a caller's timeout leaves an unknown outcome; tests inject a fake sleep).
    * ``scripted_errors``: the next calls fail with these codes, in order (consumed as they fire). An entry
      is an int code (MT5 trade codes >= 10000 are translated for MT4 accounts) or 'timeout' (transport
      timeout, not executed), 'timeout_after' (executed, then the answer is lost), 'connection_lost_after'
      (executed, then the connection drops before the answer), 'not_connected'.
    * ``error_rate`` / ``error_rate_code``: each call fails with that probability, drawn from a seeded RNG
      (``error_seed`` + ``error_draws`` so the sequence is reproducible and shared between processes).
    * ``disconnected``: every call raises a transport ``not_connected`` error until cleared.
    * ``applies_to``: 'all' calls, only 'trading' calls, or only 'queries'.
    * ``retry_after_seconds``: put on injected 10024 (too many requests) errors.
    """

    latency_seconds: float = 0.0
    scripted_errors: list[int | str] = field(default_factory=list)
    error_rate: float = 0.0
    error_rate_code: int = 10024
    error_seed: int = 0
    error_draws: int = 0
    disconnected: bool = False
    applies_to: str = "all"
    retry_after_seconds: float | None = 1.0

    def __post_init__(self) -> None:
        if self.applies_to not in FAULT_OPERATIONS:
            raise ValueError(f"applies_to must be one of {FAULT_OPERATIONS}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")
        if self.latency_seconds < 0:
            raise ValueError("latency_seconds must be >= 0")
        for entry in self.scripted_errors:
            if isinstance(entry, bool) or not isinstance(entry, int | str):
                raise ValueError(f"scripted error {entry!r} must be an int code or a transport fault name")
            if isinstance(entry, str) and entry not in SCRIPTED_TRANSPORT_FAULTS:
                raise ValueError(f"scripted transport fault must be one of {SCRIPTED_TRANSPORT_FAULTS}")

    @property
    def active(self) -> bool:
        return bool(self.latency_seconds or self.scripted_errors or self.error_rate or self.disconnected)

    def applies(self, kind: str) -> bool:
        return self.applies_to == "all" or self.applies_to == kind

    def to_dict(self) -> dict:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: dict) -> FaultSettings:
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return from_jsonable(cls, data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FaultSettings:
        return cls.from_dict(json.loads(text))


# --------------------------------------------------------------------------------------------------
# Account state
# --------------------------------------------------------------------------------------------------


@dataclass
class SimPosition:
    id: str
    symbol: str
    side: base.Side
    volume: Decimal
    open_price: Decimal
    sl: Decimal | None
    tp: Decimal | None
    client_tag: str | None
    opened_at: datetime
    order_id: str


@dataclass
class SimOrder:
    id: str
    symbol: str
    type: base.PendingOrderType
    volume: Decimal
    price: Decimal
    sl: Decimal | None
    tp: Decimal | None
    client_tag: str | None
    created_at: datetime


@dataclass
class SimEventRecord:
    """A logged account event (fills, closes...) so that every process's gateway can publish it."""

    seq: int
    kind: str
    data: JsonDocument


@dataclass
class SimAccountState:
    account_key: str
    server: str
    platform: str
    currency: str
    leverage: int
    balance: Decimal
    next_ticket: int = 1_000_001
    positions: list[SimPosition] = field(default_factory=list)
    orders: list[SimOrder] = field(default_factory=list)
    history: list[base.HistoryDeal] = field(default_factory=list)
    last_evaluated: datetime | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    events: list[SimEventRecord] = field(default_factory=list)
    event_seq: int = 0
    version: int = 0  # bumped on every save
    # Which platform-wide fault settings apply ('platform:<fault_group>'); defaults to the platform type,
    # the product sets one group per trade platform.
    fault_group: str = ""

    @property
    def group(self) -> str:
        """The group of accounts the account belongs to: its platform-wide faults and market paths."""
        return self.fault_group or self.platform

    @property
    def fault_scope(self) -> str:
        return f"platform:{self.group}"

    def ticket(self) -> str:
        value = self.next_ticket
        self.next_ticket += 1
        return str(value)

    def to_json(self) -> str:
        return json.dumps(to_jsonable(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SimAccountState:
        return from_jsonable(cls, json.loads(text))


EVENT_TYPES: dict[str, type[base.GatewayEvent]] = {
    cls.__name__: cls
    for cls in (
        base.OrderFilled,
        base.OrderCancelled,
        base.PositionOpened,
        base.PositionModified,
        base.PositionClosed,
        base.PriceTick,
        base.AccountFigures,
        base.ConnectionUp,
        base.ConnectionDown,
    )
}


def event_to_record(seq: int, event: base.GatewayEvent) -> SimEventRecord:
    return SimEventRecord(seq=seq, kind=type(event).__name__, data=to_jsonable(event))


def record_to_event(record: SimEventRecord) -> base.GatewayEvent:
    return from_jsonable(EVENT_TYPES[record.kind], record.data)
