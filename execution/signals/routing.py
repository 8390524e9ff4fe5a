"""One route's decision on one reading: what the signal becomes on the route's account.

Promise: :func:`decide` is pure over a :class:`Situation` (everything the decisions of one signal
need, loaded by the intake in a bounded number of queries whatever the number of routes) and
returns a :class:`Verdict`: the outcome, the check that decided, the trace, and the operations to
accept. Nothing here writes to the database or calls the broker.

* A new trade (or an alert completed by its details) passes the checks of ``execution.checks``
  without a quote (the checks needing one run again right before the send, with the live quote)
  and becomes one ``open_trade`` operation: one position per TP, tagged from the operation's
  client tag; a pending trade with an expiry also gets its cancellation, scheduled.
* An alert (side and symbol, no levels) on a ``complete_only`` route waits for its details
  (``alert_wait_seconds``); on an ``execute_on_alert`` route it opens with the route's default SL
  and TP, and the details, when they come, set the trade's levels.
* A change (a reply, an edit of the opening message, or a message naming a change) applies to the
  trade opened from the message it replies to or edits; without a reply, to the route's most recent
  open trade on the reading's symbol (any symbol if it names none). Breakeven moves every
  remaining position's SL to its entry plus the account's protection buffer. A reversed route
  copies breakevens, closes and cancels, not levels: the signal's levels are those of the other side.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from execution import checks
from execution.accounts import symbols as symbol_mapping
from execution.accounts.models import TradingAccount
from execution.orders.accept import Planned, new_client_tag
from execution.orders.trade_calls import MAX_LEGS, leg_tag, manage_trade_params, open_trade_params
from execution.protection.models import ProtectionSettings
from execution.signals.models import Decision, Route, Trade
from execution.signals.parsing import ActionKind, Kind, Reading

# the codes that skip a signal (nothing wrong with it for this route) rather than reject it
SKIPPING = frozenset(
    {
        *("ROUTE_PAUSED", "MESSAGE_TOO_OLD", "SYMBOL_FILTERED", "MARKET_CLOSED"),
        *("OUTSIDE_TRADING_HOURS", "NO_OPEN_TRADE"),
    }
)
ACTION_NAMES = {
    ActionKind.BREAKEVEN: "breakeven",
    ActionKind.MOVE_SL: "move_sl",
    ActionKind.MOVE_TP: "move_tp",
    ActionKind.CLOSE_PARTIAL: "close_partial",
    ActionKind.CLOSE_ALL: "close_all",
    ActionKind.CANCEL: "cancel",
}
LEVEL_ACTIONS = frozenset({"move_sl", "move_tp", "set_levels"})
DEFAULT_CLOSE_FRACTION = Decimal("0.5")


@dataclass(frozen=True)
class AccountSymbols:
    """An account's broker symbols (``listing``: (name, description) pairs) and overrides, for
    resolution, and the specifications (``rows``: name -> AccountSymbol) of those a decision needs.
    Accounts of one server list the same symbols: ``resolutions`` (shared) resolves each name once
    per distinct listing and overrides."""

    listing: tuple[tuple[str, str], ...]
    overrides: tuple[tuple[str, str], ...]
    resolutions: dict
    rows: dict = field(default_factory=dict)

    def resolve(self, name: str) -> symbol_mapping.Resolution:
        """The broker's symbol for ``name``, or raises ``SymbolError``."""
        key = (self.listing, self.overrides, name)
        if key not in self.resolutions:
            try:
                self.resolutions[key] = symbol_mapping.resolve(
                    name, self.listing, overrides=dict(self.overrides)
                )
            except symbol_mapping.SymbolError as error:
                self.resolutions[key] = error
        found = self.resolutions[key]
        if isinstance(found, symbol_mapping.SymbolError):
            raise found
        return found


class Opened(NamedTuple):
    """A trade opened recently, as the duplicate check compares it."""

    instrument: str  # canonical, as the route read it
    side: str
    entry: str
    created_at: datetime
    message_id: str


@dataclass
class Situation:
    now: datetime
    posted_at: datetime
    message_id: str
    version: int
    reply_to: str | None
    max_age_seconds: int
    symbols: dict[int, AccountSymbols]  # account id ->
    # route id -> the trades a change may apply to, newest first: those opened from the replied or
    # edited message when there is one, else the route's recent open trades
    trades: dict[int, list[Trade]]
    # route id -> trades of the route opened recently (the duplicate window) on the symbols named
    recent: dict[int, list["Opened"]]
    # route id -> the alert waiting for its details (replied to, else the newest)
    alerts: dict[int, tuple[Decision, dict]]
    # for an edit: the routes that decided on an earlier version of the message
    decided: frozenset[int] = frozenset()
    evaluations: dict = field(default_factory=dict)  # routes with the same context: evaluated once

    def evaluate(self, context: checks.Context) -> checks.Evaluation:
        if context not in self.evaluations:
            self.evaluations[context] = checks.evaluate(context)
        return self.evaluations[context]


@dataclass
class Verdict:
    outcome: str
    code: str = ""
    reason: str = ""
    steps: list[dict] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)
    opens: Trade | None = None  # unsaved: its open_operation is planned[0]
    applies_to: Trade | None = None
    completes: Decision | None = None
    wait_until: datetime | None = None


def _parse_step(route: Route, reading: Reading) -> dict:
    """The trace's first step; it carries the reading when the route's own vocabulary read it (else
    it is the signal's own ``reading``)."""
    summary = reading.kind.value
    if reading.side and reading.symbol:
        summary += f" {reading.side.value} {reading.symbol}"
    step = {
        "stage": "parse",
        "result": checks.Result.PASSED.value,
        "code": "",
        "message": f"Read as {summary} (confidence {reading.confidence:.2f}).",
    }
    if route.keywords or route.aliases:
        step["reading"] = reading.to_contract()
    return step


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def policy_of(route: Route) -> checks.Policy:
    hours = None
    if route.hours_start is not None and route.hours_end is not None:
        hours = (route.hours_start, route.hours_end)
    return checks.Policy(
        reverse=route.reverse,
        sl_policy=route.sl_policy,
        default_sl_pips=route.default_sl_pips,
        default_tp_pips=route.default_tp_pips,
        max_entry_distance_pips=route.max_entry_distance_pips,
        max_spread_pips=route.max_spread_pips,
        market_closed=route.market_closed,
        hours=hours,
    )


def _levels(contract: dict) -> checks.Levels:
    entry = contract.get("entry")
    zone = None
    if isinstance(entry, dict):
        zone, entry = (_dec(entry["low"]), _dec(entry["high"])), None
    return checks.Levels(
        side=contract["side"],
        order_type=contract.get("order_type") or "market",
        entry=_dec(entry),
        zone=zone,
        sl=_dec(contract.get("sl")),
        tps=tuple(_dec(tp) for tp in contract.get("tp") or ()),
    )


def _incomplete(contract: dict) -> str | None:
    missing = []
    if contract.get("entry") is None and contract.get("order_type") not in (None, "market"):
        missing.append("an entry")
    if contract.get("sl") is None:
        missing.append("an SL")
    if not contract.get("tp"):
        missing.append("a TP")
    return f"it has no {' and no '.join(missing)}" if missing else None


def _symbol_filter(route: Route, symbol: str | None) -> str | None:
    if route.symbol_filter == Route.INCLUDE and symbol not in route.symbols:
        return f"{symbol} is not among the route's symbols ({', '.join(route.symbols)})."
    if route.symbol_filter == Route.EXCLUDE and symbol in route.symbols:
        return f"The route excludes {symbol}."
    return None


def _account_problem(account: TradingAccount) -> str | None:
    if account.connection_state == TradingAccount.CONNECTED:
        return None
    detail = f": {account.connection_error}" if account.connection_error else ""
    return f"The account is {account.connection_state}{detail}."


def _stopped(evaluation: checks.Evaluation, steps: list[dict]) -> Verdict:
    stopped = evaluation.stopped
    outcome = {
        checks.Result.HELD: Decision.HELD,
        checks.Result.WAITING: Decision.WAITING,
    }.get(stopped.result, Decision.SKIPPED if stopped.code in SKIPPING else Decision.REJECTED)
    return Verdict(outcome=outcome, code=stopped.code, reason=stopped.message, steps=steps)


def _opening(route: Route, contract: dict, situation: Situation, steps: list[dict]) -> Verdict:
    """A complete (or to be completed by defaults) new trade: checks, then its operations."""
    account = route.account
    symbol = contract.get("symbol")
    resolution, symbol_error, row = None, None, None
    if symbol is None:
        symbol_error = "The message names no symbol."
    else:
        try:
            resolution = situation.symbols[account.pk].resolve(symbol)
            row = situation.symbols[account.pk].rows[resolution.broker_symbol]
        except symbol_mapping.SymbolError as error:
            symbol_error = str(error)
    incomplete = _incomplete(contract)
    try:
        levels = _levels(contract)
    except ValueError:  # a pending order without its price: nothing to open until the details come
        levels, row = None, None
        incomplete = incomplete or "it has no side"
    else:
        incomplete = incomplete if route.mode == Route.COMPLETE_ONLY else None
    duplicate = _duplicate(route, contract, levels, situation) if levels is not None else None
    age = (situation.now - situation.posted_at).total_seconds()
    facts = checks.Facts(
        paused_route=not route.active,
        too_old=(
            f"Posted {age / 60:.0f} min before it arrived; the source's maximum age is "
            f"{situation.max_age_seconds / 60:.0f} min."
            if age > situation.max_age_seconds
            else None
        ),
        confidence=contract["confidence"],
        threshold=float(route.confidence_threshold),
        symbol_filtered=_symbol_filter(route, symbol),
        symbol_error=symbol_error,
        account_problem=_account_problem(account),
        duplicate_of=duplicate,
        incomplete=incomplete,
    )
    instrument = None
    if row is not None:
        pip = checks.pip_size(digits=row.digits, asset_class=row.asset_class or None, symbol=row.name)
        instrument = checks.Instrument(
            digits=row.digits, pip=pip, sessions=tuple(tuple(session) for session in row.sessions)
        )
    policy = policy_of(route)
    evaluation = situation.evaluate(
        checks.Context(
            levels=levels if row is not None else None,
            policy=policy,
            instrument=instrument,
            quote=None,
            now=situation.now,
            facts=facts,
        )
    )
    steps += [step.to_dict() for step in evaluation.steps]
    not_before = None
    if not evaluation.ok:
        if evaluation.stopped.code == "MARKET_CLOSED" and evaluation.wait_until is not None:
            not_before = evaluation.wait_until  # the route waits for the market to open
        else:
            verdict = _stopped(evaluation, steps)
            if verdict.outcome == Decision.WAITING:
                verdict.wait_until = situation.now + timedelta(seconds=route.alert_wait_seconds)
            return verdict
    tag = new_client_tag()
    own_risk = None
    if route.risk_mode:
        own_risk = {
            "mode": route.risk_mode,
            "fixed_lots": None if route.fixed_lots is None else str(route.fixed_lots),
            "risk_percent": None if route.risk_percent is None else str(route.risk_percent),
        }
    params = open_trade_params(
        symbol=resolution.broker_symbol,
        requested_symbol=symbol,
        levels=levels,
        runner=bool(contract.get("runner")),
        policy=policy,
        instrument=instrument,
        volume_min=row.volume_min,
        volume_step=row.volume_step,
        own_risk=own_risk,
        multiplier=route.lot_multiplier,
    )
    tags = [leg_tag(tag, index) for index in range(MAX_LEGS)]
    planned = [
        Planned(account=account, kind="open_trade", params=params, client_tag=tag, not_before=not_before)
    ]
    if route.pending_expiry_minutes and (levels.order_type != "market" or levels.zone is not None):
        expires = (not_before or situation.now) + timedelta(minutes=route.pending_expiry_minutes)
        planned.append(
            Planned(
                account=account,
                kind="manage_trade",
                params=manage_trade_params(
                    symbol=resolution.broker_symbol,
                    tags=tags,
                    actions=[{"action": "cancel"}],
                    instrument=_volume_spec(row),
                ),
                not_before=expires,
            )
        )
    trade = Trade(
        organization_id=route.organization_id,
        account=account,
        route=route,
        symbol=resolution.broker_symbol,
        instrument=symbol,
        side=levels.side,
        order_type=levels.order_type if levels.zone is None else "zone",
        entry="" if levels.entry is None else str(levels.entry),
        sl="" if levels.sl is None else str(levels.sl),
        tps=[str(tp) for tp in levels.tps],
        leg_tags=tags,
    )
    reason = (
        "Opened."
        if not_before is None
        else f"The market is closed: opens at {not_before:%Y-%m-%d %H:%M} UTC."
    )
    return Verdict(outcome=Decision.OPENED, reason=reason, steps=steps, planned=planned, opens=trade)


def _volume_spec(row) -> dict:
    return {"volume_min": str(row.volume_min), "volume_step": str(row.volume_step)}


def _duplicate(route: Route, contract: dict, levels: checks.Levels, situation: Situation) -> str | None:
    since = situation.now - timedelta(seconds=route.duplicate_window_seconds)
    entry = "" if levels.entry is None else str(levels.entry)
    for opened in situation.recent.get(route.pk, ()):
        if (
            opened.created_at >= since
            and opened.instrument == contract.get("symbol")
            and opened.side == levels.side
            and opened.entry == entry
        ):
            return (
                f"The same trade ({levels.side} {contract.get('symbol')} at {entry or 'market'}) was opened "
                f"from message {opened.message_id} within {route.duplicate_window_seconds // 60} min."
            )
    return None


def _changes(
    route: Route, actions: list[dict], trade: Trade | None, steps: list[dict], situation, *, confidence: float
) -> Verdict:
    """A change to an open trade (on a paused route too: a paused route opens nothing new, and
    still protects what it opened), read with at least the route's confidence."""
    skipped = []
    if route.reverse:  # levels of the other side are not copied
        skipped = [action["action"] for action in actions if action["action"] in LEVEL_ACTIONS]
        actions = [action for action in actions if action["action"] not in LEVEL_ACTIONS]
        if skipped:
            steps.append(
                {
                    "stage": "reverse",
                    "result": checks.Result.CORRECTED.value,
                    "code": "",
                    "message": (
                        f"Not copied on a reversed route: {', '.join(skipped)} (levels of the other side)."
                    ),
                }
            )
    no_trade = None
    if trade is None:
        no_trade = "No open trade of this route for the change to apply to."
    elif not actions:
        no_trade = "Nothing in the message changes the trade on this route."
    evaluation = situation.evaluate(
        checks.Context(
            levels=None,
            policy=policy_of(route),
            instrument=None,
            quote=None,
            now=situation.now,
            facts=checks.Facts(
                confidence=confidence,
                threshold=float(route.confidence_threshold),
                account_problem=_account_problem(route.account),
                no_trade=no_trade,
            ),
        )
    )
    steps += [step.to_dict() for step in evaluation.steps]
    if not evaluation.ok:
        return _stopped(evaluation, steps)
    row = situation.symbols[route.account_id].rows.get(trade.symbol)
    spec = _volume_spec(row) if row is not None else {"volume_min": "0.01", "volume_step": "0.01"}
    if row is not None and any(action["action"] == "breakeven" for action in actions):
        actions = _with_breakeven_buffer(actions, route.account_id, row)
    params = manage_trade_params(symbol=trade.symbol, tags=trade.leg_tags, actions=actions, instrument=spec)
    described = ", ".join(action["action"].replace("_", " ") for action in actions)
    return Verdict(
        outcome=Decision.APPLIED,
        reason=f"{described.capitalize()} on trade #{trade.pk}.",
        steps=steps,
        planned=[
            Planned(account=route.account, kind="manage_trade", params=params, after=trade.open_operation_id)
        ],
        applies_to=trade,
    )


def _with_breakeven_buffer(actions: list[dict], account_id: int, row) -> list[dict]:
    """A channel's breakeven moves to the entry plus the account's protection buffer, as the
    automatic one does."""
    pip = checks.pip_size(digits=row.digits, asset_class=row.asset_class or None, symbol=row.name)
    buffer = str(ProtectionSettings.of(account_id).buffer_price(pip))
    return [{**action, "buffer": buffer} if action["action"] == "breakeven" else action for action in actions]


def _target(route: Route, contract: dict, situation: Situation) -> Trade | None:
    trades = situation.trades.get(route.pk, [])
    if situation.reply_to or situation.version > 1:
        return trades[0] if trades else None
    symbol = contract.get("symbol")
    for trade in trades:
        if symbol is None or trade.instrument == symbol:
            return trade
    return None


def _actions(contract: dict) -> list[dict]:
    actions = []
    for item in contract.get("actions") or ():
        action = {"action": ACTION_NAMES[ActionKind(item["action"])]}
        if action["action"] == "move_sl":
            if item.get("sl") is None:
                continue
            action["sl"] = str(item["sl"])
        elif action["action"] == "move_tp":
            if item.get("tp") is None:
                continue
            action["tp"] = str(item["tp"])
            if item.get("target"):
                action["target"] = item["target"]
        elif action["action"] == "close_partial":
            action["fraction"] = str(item.get("fraction") or DEFAULT_CLOSE_FRACTION)
        actions.append(action)
    return actions


def decide(route: Route, reading: Reading, situation: Situation) -> Verdict | None:
    """What ``reading`` becomes on ``route`` (None: nothing to decide, the message is noise)."""
    contract = reading.to_contract()
    steps = [_parse_step(route, reading)]
    if reading.kind is Kind.IGNORE:
        return None
    if situation.version > 1 and route.pk in situation.decided:
        # an edit of a message this route decided on: the trade it opened gets the new levels; it
        # never opens another (nor one it held, rejected or skipped before)
        trade = _target(route, contract, situation)
        if reading.kind is not Kind.OPEN:
            return _changes(
                route, _actions(contract), trade, steps, situation, confidence=contract["confidence"]
            )
        levels = {"action": "set_levels", "sl": contract.get("sl"), "tps": contract.get("tp") or []}
        levels = {key: value for key, value in levels.items() if value is not None}
        return _changes(
            route, [_stringified(levels)], trade, steps, situation, confidence=contract["confidence"]
        )
    if reading.kind is Kind.OPEN:
        if route.mode == Route.EXECUTE_ON_ALERT and _incomplete(contract):
            steps.append(
                {
                    "stage": "alert",
                    "result": "corrected",
                    "code": "",
                    "message": f"Opened on the alert ({_incomplete(contract)}): the route's defaults apply.",
                }
            )
        return _opening(route, contract, situation, steps)
    if reading.kind is Kind.DETAILS:
        return _details(route, contract, situation, steps)
    return _changes(
        route,
        _actions(contract),
        _target(route, contract, situation),
        steps,
        situation,
        confidence=contract["confidence"],
    )


def _stringified(action: dict) -> dict:
    out = {"action": action["action"]}
    if action.get("sl") is not None:
        out["sl"] = str(action["sl"])
    if action.get("tps"):
        out["tps"] = [str(tp) for tp in action["tps"]]
    return out


def _details(route: Route, contract: dict, situation: Situation, steps: list[dict]) -> Verdict:
    """Levels completing an alert: the waiting alert opens with them; an alert that opened on its
    own (``execute_on_alert``) gets them as its trade's levels."""
    trade = _target(route, contract, situation) if route.mode == Route.EXECUTE_ON_ALERT else None
    alert_wait = timedelta(seconds=route.alert_wait_seconds)
    if trade is not None and not situation.reply_to and trade.created_at < situation.now - alert_wait:
        trade = None  # details without a reply complete only an alert opened within the wait
    if trade is not None:
        action = _stringified({"action": "set_levels", "sl": contract.get("sl"), "tps": contract.get("tp")})
        return _changes(route, [action], trade, steps, situation, confidence=contract["confidence"])
    waiting = situation.alerts.get(route.pk)
    if waiting is None:
        return _changes(route, [], None, steps, situation, confidence=contract["confidence"])
    alert_decision, alert = waiting
    merged = {
        **alert,
        "entry": contract.get("entry") if contract.get("entry") is not None else alert.get("entry"),
        "sl": contract.get("sl"),
        "tp": contract.get("tp") or [],
        "confidence": min(alert["confidence"], contract["confidence"]),
        "order_type": alert.get("order_type") or contract.get("order_type"),
    }
    steps.append(
        {
            "stage": "alert",
            "result": "passed",
            "code": "",
            "message": f"Completes the alert of message {alert_decision.signal.message_id}.",
        }
    )
    verdict = _opening(route, merged, replace(situation, posted_at=situation.now), steps)
    if verdict.outcome == Decision.OPENED:
        verdict.completes = alert_decision
    return verdict
