"""Signal sources and their routes as their owners change them.

Every function is keyword-only and checks its input before writing anything: a refused value is a
``ServiceError`` on its field. A webhook source's credentials (its Standard Webhooks signing secret
and its URL token) are returned once, by :func:`source_create` and :func:`source_rotate_secret`:
the source keeps the secret encrypted and only the token's hash, and nothing reads them back.

The vocabulary checks (:func:`validate_keywords`, :func:`validate_aliases`) are shared with the
parse API, which reads a message with a source's words before any source exists.
:func:`trade_open` opens a trade through the API (no signal), as a signal's opening does.
"""

import uuid
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ServiceError
from execution import checks
from execution.accounts.models import AccountSymbol, TradingAccount
from execution.accounts.services import symbol_resolve
from execution.accounts.symbols import SymbolError, known_instrument
from execution.checks.acceptance import order_levels_check
from execution.orders.accept import Planned, new_client_tag, submit_many
from execution.orders.models import Operation
from execution.orders.trade_calls import MAX_LEGS, leg_tag, open_trade_params
from execution.signals import intake, selectors
from execution.signals.models import Route, Signal, SignalSource, Trade
from execution.signals.parsing.vocabulary import phrase_table
from execution.signals.sources.base import MessagePosted
from execution.signals.sources.recorded import RECORDINGS
from execution.signals.sources.webhook import issue_credentials
from orgs.models import Organization

MAX_NAME_LENGTH = 32  # characters of a source's keyword or symbol name
MAX_NAMES = 200  # keywords (or aliases) of one source or request
MAX_SYMBOLS = 200  # symbols a route filters on
MAX_SOURCE_NAME = 120
MAX_AGE_SECONDS = 86_400  # the oldest a message may arrive and still be traded: a day
DEFAULT_RECORDING = "demo"
WRONG_KIND = "wrong_kind"  # refused because of the source's kind (the API answers 409)
SOURCE_PAUSED = "source_paused"  # refused because the source is not active (409)
MAX_MESSAGE_LENGTH = 4096  # characters of a posted message


# --- vocabulary (also the parse API's) -----------------------------------------------------------


def _string_mapping(value: Any, field: str, example: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise ServiceError(f"Give an object of names, e.g. {example}.", field=field)
    return dict(value)


def _names(mapping: dict[str, str], field: str) -> dict[str, str]:
    if len(mapping) > MAX_NAMES:
        raise ServiceError(f"At most {MAX_NAMES} names.", field=field)
    if any(not name.strip() or len(name) > MAX_NAME_LENGTH for name in mapping):
        raise ServiceError(f"Each name must be 1 to {MAX_NAME_LENGTH} characters.", field=field)
    return mapping


def validate_keywords(keywords: Any) -> dict[str, str]:
    """A source's own words -> what each means (a ``vocabulary.MEANINGS`` value), as the reader
    can match them. Raises ServiceError on ``keywords``."""
    keywords = _string_mapping(keywords, "keywords", '{"kopen": "buy"}')
    try:
        phrase_table(keywords)
    except ValueError as error:
        raise ServiceError(str(error), field="keywords") from None
    return _names(keywords, "keywords")


def validate_aliases(aliases: Any) -> dict[str, str]:
    """A source's own symbol names -> the symbol each stands for. Raises ServiceError on ``aliases``."""
    aliases = _string_mapping(aliases, "aliases", '{"G": "XAUUSD"}')
    if any(not symbol.strip() or len(symbol) > MAX_NAME_LENGTH for symbol in aliases.values()):
        raise ServiceError(f"Each symbol must be 1 to {MAX_NAME_LENGTH} characters.", field="aliases")
    return _names(aliases, "aliases")


def _canonical(name: str, field: str) -> str:
    canonical = known_instrument(name.strip()) if name.strip() else None
    if canonical is None:
        raise ServiceError(
            f"Unknown symbol {name!r}: give a canonical name such as XAUUSD or EURUSD.", field=field
        )
    return canonical


# --- sources -------------------------------------------------------------------------------------


def _source_name(organization: Organization, name: Any, *, exclude: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ServiceError("Give the source a name.", field="name")
    name = name.strip()
    if len(name) > MAX_SOURCE_NAME:
        raise ServiceError(f"At most {MAX_SOURCE_NAME} characters.", field="name")
    taken = SignalSource.objects.filter(organization=organization, name=name).exclude(pk=exclude)
    if taken.exists():
        raise ServiceError("A source with this name already exists.", field="name")
    return name


def _max_age(value: Any) -> int:
    return _integer(value, "max_age_seconds", minimum=1, maximum=MAX_AGE_SECONDS)


def _recording(name: Any) -> str:
    name = (name or "").strip() if isinstance(name, str) else name
    name = name or DEFAULT_RECORDING
    if name not in RECORDINGS:
        raise ServiceError(
            f"Unknown recording: choose one of {', '.join(sorted(RECORDINGS))}.", field="recording"
        )
    return name


def _issue_credentials(source: SignalSource) -> dict[str, str]:
    """New webhook credentials set on ``source`` (not saved): the secrets to show once."""
    signing_secret, url_token, url_token_hash = issue_credentials()
    source.signing_secret = signing_secret
    source.url_token_hash = url_token_hash
    return {
        "signing_secret": signing_secret,
        "url_token": url_token,
        "url": selectors.webhook_path(source, url_token=url_token),
    }


def source_create(
    *,
    organization: Organization,
    name: str,
    kind: str,
    recording: str = "",
    max_age_seconds: int = 300,
) -> tuple[SignalSource, dict[str, str]]:
    """A new source, and (for a webhook source) its credentials to show once:
    ``{"signing_secret", "url_token", "url"}``; empty for any other kind."""
    if kind not in dict(SignalSource.KIND_CHOICES):
        raise ServiceError(f"Choose one of {', '.join(dict(SignalSource.KIND_CHOICES))}.", field="kind")
    name = _source_name(organization, name)
    max_age = _max_age(max_age_seconds)
    source = SignalSource(
        organization=organization,
        name=name,
        kind=kind,
        recording=_recording(recording) if kind == SignalSource.RECORDED else "",
        max_age_seconds=max_age,
    )
    shown_once = _issue_credentials(source) if kind == SignalSource.WEBHOOK else {}
    try:
        with transaction.atomic():
            source.save()
    except IntegrityError:
        raise ServiceError("A source with this name already exists.", field="name") from None
    return source, shown_once


SOURCE_STATES = (SignalSource.ACTIVE, SignalSource.PAUSED)


def source_update(*, source: SignalSource, **fields: Any) -> SignalSource:
    """Change a source's ``name``, ``state`` (active or paused) or ``max_age_seconds``."""
    unknown = set(fields) - {"name", "state", "max_age_seconds"}
    if unknown:
        field = sorted(unknown)[0]
        raise ServiceError(f"{field} cannot be changed.", field=field)
    changes: dict[str, Any] = {}
    if "name" in fields:
        changes["name"] = _source_name(source.organization, fields["name"], exclude=source.pk)
    if "state" in fields:
        if fields["state"] not in SOURCE_STATES:
            raise ServiceError("A source is active or paused.", field="state")
        changes["state"] = fields["state"]
    if "max_age_seconds" in fields:
        changes["max_age_seconds"] = _max_age(fields["max_age_seconds"])
    for name, value in changes.items():
        setattr(source, name, value)
    if changes:
        try:
            with transaction.atomic():
                source.save(update_fields=list(changes))
        except IntegrityError:
            raise ServiceError("A source with this name already exists.", field="name") from None
    return source


def source_rotate_secret(*, source: SignalSource) -> dict[str, str]:
    """New credentials for a webhook source (the old secret and URL token stop working at once):
    the secrets to show once, as :func:`source_create` returns them."""
    if source.kind != SignalSource.WEBHOOK:
        raise ServiceError("Only a webhook source has a signing secret.", code=WRONG_KIND)
    shown_once = _issue_credentials(source)
    source.save(update_fields=["signing_secret", "url_token_hash"])
    return shown_once


def source_delete(*, source: SignalSource) -> None:
    """Remove the source with its routes, signals and decisions (open positions stay at the broker)."""
    source.delete()


def message_post(
    *, source: SignalSource, text: str, reply_to_id: str | None = None, id: str | None = None
) -> Signal | None:
    """Post a message into a manual source, live: the intake records it and every route decides,
    as for any source's message. ``reply_to_id``: the id of the source's message it replies to;
    ``id``: the caller's id of this message (a retry with it is received once), else a new one."""
    if source.kind != SignalSource.MANUAL:
        raise ServiceError("Messages are posted into a manual source only.", code=WRONG_KIND)
    if source.state != SignalSource.ACTIVE:
        raise ServiceError("This source is not active: it receives no messages.", code=SOURCE_PAUSED)
    if not isinstance(text, str) or not text.strip():
        raise ServiceError("The message may not be blank.", field="text")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ServiceError(f"At most {MAX_MESSAGE_LENGTH} characters.", field="text")
    reply_to_id = (reply_to_id or "").strip() or None
    if reply_to_id is not None and not Signal.objects.filter(source=source, message_id=reply_to_id).exists():
        raise ServiceError("This source has no message with this id.", field="reply_to_id")
    message_id = (id or "").strip() or str(uuid.uuid4())
    if "\x00" in message_id or "\x00" in text:
        raise ServiceError("May not contain a NUL character.", field="text" if "\x00" in text else "id")
    event = MessagePosted(message_id=message_id, posted_at=timezone.now(), text=text, reply_to=reply_to_id)
    return intake.receive(source=source, event=event)


# --- routes --------------------------------------------------------------------------------------


def _integer(value: Any, field: str, *, minimum: int, maximum: int, nullable: bool = False) -> int | None:
    if value is None or value == "":
        if nullable:
            return None
        raise ServiceError("This field is required.", field=field)
    if isinstance(value, bool):
        raise ServiceError("Give a whole number.", field=field)
    try:
        number = int(value) if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise ServiceError("Give a whole number.", field=field) from None
    if not minimum <= number <= maximum:
        raise ServiceError(f"Give a number from {minimum} to {maximum}.", field=field)
    return number


def _decimal(
    value: Any,
    field: str,
    *,
    places: int,
    digits: int,
    minimum: Decimal = Decimal("0"),
    maximum: Decimal | None = None,
    above_minimum: bool = False,
    nullable: bool = False,
) -> Decimal | None:
    if value is None or value == "":
        if nullable:
            return None
        raise ServiceError("This field is required.", field=field)
    if isinstance(value, bool):
        raise ServiceError("Give a number.", field=field)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ServiceError("Give a number.", field=field) from None
    if not number.is_finite():
        raise ServiceError("Give a number.", field=field)
    number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    largest = (
        maximum if maximum is not None else Decimal(10) ** (digits - places) - Decimal(1).scaleb(-places)
    )
    too_small = number <= minimum if above_minimum else number < minimum
    if too_small or number > largest:
        low = f"more than {minimum}" if above_minimum else f"at least {minimum}"
        raise ServiceError(f"Give a number {low} and at most {largest}.", field=field)
    return number


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ServiceError("Give true or false.", field=field)
    return value


def _choice(choices: list[tuple[str, str]]) -> Callable[[Any, str], str]:
    def check(value: Any, field: str) -> str:
        allowed = [choice for choice, _ in choices]
        if value not in allowed:
            raise ServiceError(f"Choose one of {', '.join(repr(c) for c in allowed)}.", field=field)
        return value

    return check


def _symbols(value: Any, field: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(name, str) for name in value):
        raise ServiceError('Give a list of symbols, e.g. ["XAUUSD", "EURUSD"].', field=field)
    if len(value) > MAX_SYMBOLS:
        raise ServiceError(f"At most {MAX_SYMBOLS} symbols.", field=field)
    canonical = [_canonical(name, field) for name in value]
    return list(dict.fromkeys(canonical))


def _route_aliases(value: Any, field: str) -> dict[str, str]:
    return {name: _canonical(symbol, field) for name, symbol in validate_aliases(value).items()}


def _risk_mode(value: Any, field: str) -> str:
    return _choice([("", "The account's settings"), *Route.RISK_MODE_CHOICES])(value, field)


def _pips(nullable: bool = False) -> Callable[[Any, str], Decimal | None]:
    return lambda value, field: _decimal(value, field, places=1, digits=8, nullable=nullable)


def _seconds(value: Any, field: str) -> int:
    return _integer(value, field, minimum=0, maximum=86_400)


def _minute_of_day(value: Any, field: str) -> int | None:
    return _integer(value, field, minimum=0, maximum=1439, nullable=True)


# each setting a route takes -> how its value is checked (and normalised)
ROUTE_SETTINGS: Mapping[str, Callable[[Any, str], Any]] = {
    "active": _boolean,
    "symbol_filter": _choice(Route.FILTER_CHOICES),
    "symbols": _symbols,
    "risk_mode": _risk_mode,
    "fixed_lots": lambda value, field: _decimal(
        value, field, places=2, digits=8, maximum=Decimal("100"), above_minimum=True, nullable=True
    ),
    "risk_percent": lambda value, field: _decimal(
        value, field, places=2, digits=5, maximum=Decimal("100"), above_minimum=True, nullable=True
    ),
    "lot_multiplier": lambda value, field: _decimal(
        value, field, places=2, digits=6, maximum=Decimal("10"), above_minimum=True
    ),
    "reverse": _boolean,
    "pending_expiry_minutes": lambda value, field: _integer(
        value, field, minimum=1, maximum=43_200, nullable=True
    ),
    "keywords": lambda value, field: validate_keywords(value),
    "aliases": _route_aliases,
    "mode": _choice(Route.MODE_CHOICES),
    "alert_wait_seconds": _seconds,
    "confidence_threshold": lambda value, field: _decimal(
        value, field, places=2, digits=3, maximum=Decimal("1")
    ),
    "default_sl_pips": _pips(),
    "default_tp_pips": _pips(),
    "sl_policy": _choice(Route.SL_POLICY_CHOICES),
    "duplicate_window_seconds": _seconds,
    "max_entry_distance_pips": _pips(nullable=True),
    "max_spread_pips": _pips(nullable=True),
    "market_closed": _choice(Route.CLOSED_CHOICES),
    "hours_start": _minute_of_day,
    "hours_end": _minute_of_day,
}


def _route_settings(route: Route, settings: Mapping[str, Any]) -> list[str]:
    """Check ``settings`` and set them on ``route`` (not saved); the names set."""
    unknown = set(settings) - set(ROUTE_SETTINGS)
    if unknown:
        field = sorted(unknown)[0]
        raise ServiceError(f"Unknown setting {field!r}.", field=field)
    cleaned = {name: ROUTE_SETTINGS[name](value, name) for name, value in settings.items()}
    merged = {name: cleaned.get(name, getattr(route, name)) for name in ROUTE_SETTINGS}
    if merged["risk_mode"] == Route.FIXED and merged["fixed_lots"] is None:
        raise ServiceError("Give the fixed lots of this route's orders.", field="fixed_lots")
    if merged["risk_mode"] == Route.RISK_PERCENT and merged["risk_percent"] is None:
        raise ServiceError("Give the % of the balance each trade risks.", field="risk_percent")
    if merged["symbol_filter"] != Route.ALL and not merged["symbols"]:
        what = "to trade" if merged["symbol_filter"] == Route.INCLUDE else "not to trade"
        raise ServiceError(f"Name the symbols {what}.", field="symbols")
    if (merged["hours_start"] is None) != (merged["hours_end"] is None):
        missing = "hours_end" if merged["hours_end"] is None else "hours_start"
        raise ServiceError("Give both the start and the end of the trading hours, or neither.", field=missing)
    if merged["hours_start"] is not None and merged["hours_start"] == merged["hours_end"]:
        raise ServiceError("The trading hours must end at another minute than they start.", field="hours_end")
    for name, value in cleaned.items():
        setattr(route, name, value)
    return list(cleaned)


def _duplicate() -> ServiceError:
    return ServiceError("This account already has a route from this source.", field="account")


def route_create(
    *, organization: Organization, source: SignalSource, account: TradingAccount, **settings: Any
) -> Route:
    """A route of ``source``'s signals to ``account`` (both the organization's), with ``settings``
    (any of :data:`ROUTE_SETTINGS`; the rest keep their defaults)."""
    if source.organization_id != organization.pk:
        raise ServiceError("Unknown source.", field="source")
    if account.organization_id != organization.pk:
        raise ServiceError("Unknown account.", field="account")
    if source.kind == SignalSource.RECORDED and account.type != TradingAccount.DEMO:
        raise ServiceError(
            "A recorded channel replays old signals: route it to Demo accounts only.", field="account"
        )
    route = Route(organization=organization, source=source, account=account)
    _route_settings(route, settings)
    if Route.objects.filter(source=source, account=account).exists():
        raise _duplicate()
    try:
        with transaction.atomic():
            route.save()
    except IntegrityError:
        raise _duplicate() from None
    return route


def route_update(*, route: Route, **settings: Any) -> Route:
    """Change some of a route's settings (its source and account stay)."""
    changed = _route_settings(route, settings)
    if changed:
        route.save(update_fields=changed)
    return route


def route_delete(*, route: Route) -> None:
    """Remove the route and its decisions; its trades stay (without their route)."""
    route.delete()


MAX_TPS = 6


def trade_open(
    *,
    account: TradingAccount,
    symbol: str,
    side: str,
    type: str = "market",
    price: Decimal | None = None,
    sl: Decimal | None = None,
    tps: list[Decimal],
    requested_by: str = "",
) -> Operation:
    """A trade opened through the API, as a signal's is: one position per TP (1 to 6, nearest
    first), the volume from the account's risk settings split across them, the checks run with the
    live quote right before the send (the default policy: a missing SL gets the default distance),
    and protected (breakeven, trailing) like any trade. Returns the opening operation."""
    if not 1 <= len(tps) <= MAX_TPS:
        raise ServiceError(f"Give 1 to {MAX_TPS} take-profits.", field="tps")
    if type != "market" and price is None:
        raise ServiceError(f"A {type} trade needs a price.", field="price")
    try:
        resolution = symbol_resolve(account=account, name=symbol)
    except SymbolError as error:
        raise ServiceError(str(error), field="symbol", code="unknown_symbol") from None
    row = AccountSymbol.objects.get(account=account, name=resolution.broker_symbol)
    pip = checks.pip_size(digits=row.digits, asset_class=row.asset_class or None, symbol=row.name)
    point = Decimal(1).scaleb(-row.digits)  # levels to the symbol's digits, as the broker keeps them
    price, sl = (None if level is None else level.quantize(point) for level in (price, sl))
    tps = [tp.quantize(point) for tp in tps]
    order_levels_check(
        account=account, symbol=row, side=side, type=type, price=price, sl=sl, tps=tps, tp_field="tps"
    )
    levels = checks.Levels(
        side=side,
        order_type=type,
        entry=None if type == "market" else price,
        zone=None,
        sl=sl,
        tps=tuple(tps),
    )
    params = open_trade_params(
        symbol=resolution.broker_symbol,
        requested_symbol=symbol,
        levels=levels,
        runner=False,
        policy=checks.Policy(),
        instrument=checks.Instrument(
            digits=row.digits, pip=pip, sessions=tuple(tuple(session) for session in row.sessions)
        ),
        volume_min=row.volume_min,
        volume_step=row.volume_step,
        own_risk=None,
        multiplier=Decimal(1),
    )
    tag = new_client_tag()
    with transaction.atomic():
        (opening,) = submit_many(
            [
                Planned(
                    account=account,
                    kind="open_trade",
                    params=params,
                    client_tag=tag,
                    requested_by=requested_by,
                )
            ]
        )
        Trade.objects.create(
            organization_id=account.organization_id,
            account=account,
            symbol=resolution.broker_symbol,
            instrument=resolution.canonical,
            side=side,
            order_type=type,
            entry="" if price is None or type == "market" else str(price),
            sl="" if sl is None else str(sl),
            tps=[str(tp) for tp in tps],
            leg_tags=[leg_tag(tag, index) for index in range(MAX_LEGS)],
            open_operation=opening,
        )
    return opening
