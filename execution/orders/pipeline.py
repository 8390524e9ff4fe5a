"""The pipeline every broker operation goes through, run on the engine's event loop
(``execution.engine``) in the operation's home worker.

For each attempt, in this order: the deadline; the broker health monitor (platform); speed control
(at most 5 in flight per account, 200 ms apart, by priority, then by arrival); the safety pause (per
account); for new orders the volume from the account's risk settings; the gateway call on the
account's open broker session (connecting, when needed, counts inside the call's timeout); the error
classification; the outcome fed back to the pause and the health monitor; then a retry by the
operation's profile. Every wait (retry, pause, speed control) is an ``await``: no thread is held.

Duplicates: a run claims the operation (state, lease, worker) with a conditional update, so a
redelivered message does nothing while another run holds it, and re-claims it after every wait, so
a cancelled operation is never sent. Every call is recorded as an attempt *before* it is sent; an
attempt left without an outcome (crash, timeout) makes the next run look the client tag up at the
broker (or re-read the position/order) before sending anything again.

Pauses: an operation that meets a paused account or platform waits, in priority and arrival order
(it keeps its place in speed control), until the recovery test lets it through, unless its
deadline passes first or it asked to fail fast (``fail_if_paused``).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from execution.broker.gateways.base import BrokerGateway, GatewayError
from execution.broker.sessions import BrokerSessions
from execution.live import hooks
from execution.orders.crashpoints import crash_point
from execution.orders.kinds import BrokerCall, OperationKind, kind_of
from execution.orders.models import Operation, OperationAttempt
from execution.orders.sizing import Rejected, order_volume
from execution.safety.errors import Category, classify_gateway_error
from execution.safety.pause import Denied, PauseState, Permit
from execution.safety.retry import next_delay
from execution.safety.runtime import safety
from execution.safety.speed import Priority, Start

logger = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)  # a run holds its claim this long at most without renewing it
DROPS_SESSION = (Category.CONNECTION, Category.UNKNOWN)  # the session may be broken: open a new one
# a call that failed so may have reached the broker: look it up before sending it again
MAY_HAVE_BEEN_DONE = ("timeout", "connection_lost")


@dataclass(frozen=True)
class Runtime:
    """What a run works with, from the engine: this worker's id, its broker sessions, and where
    blocking (database) work runs."""

    worker_id: str
    sessions: BrokerSessions
    db: Callable[..., Awaitable[Any]]
    admission: asyncio.Semaphore  # operations past their speed slot at once in this process
    nudges: "SlotNudges"
    pacer: "SendPacer"


SLOT_POLL = 1.0  # a waiter behind others looks again at least this often (a slot freed elsewhere)


class SlotNudges:
    """Wakes the operations of an account waiting behind others when one of its slots frees up, so
    that waiters do not poll speed control (they run where the account's home is: here)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    async def wait(self, account_key: str, *, timeout: float) -> float:
        """Until a nudge or ``timeout``; the seconds waited."""
        event = self._events.setdefault(account_key, asyncio.Event())
        started = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return time.monotonic() - started

    def nudge(self, account_key: str) -> None:
        event = self._events.pop(account_key, None)
        if event is not None:
            event.set()


class SendPacer:
    """Keeps an account's sends at least ``min_gap`` apart as they reach the broker, not only as
    speed control grants their slots (the database work between the two varies). In-process: an
    account's operations all run in its home."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}

    async def turn(self, account_key: str, min_gap: float) -> None:
        now = time.monotonic()
        at = max(now, self._next.get(account_key, now))
        self._next[account_key] = at + min_gap
        if at > now:
            await asyncio.sleep(at - now)


@dataclass(frozen=True)
class Outcome:
    done: bool = False
    result: dict | None = None
    retry_in: float | None = None
    reason: str = ""


def _claim(operation_id: int, worker_id: str, *, states: tuple[str, ...]) -> Operation | None:
    """Take the operation for this run if it is in one of ``states`` (a running one only once its
    lease ran out) and due; None if it is finished, cancelled, held by a live run, or not due."""
    now = timezone.now()
    claimable = Q(state__in=[s for s in states if s != Operation.RUNNING])
    if Operation.RUNNING in states:
        claimable |= Q(state=Operation.RUNNING, lease_until__lt=now)
    due = Operation.due_at(now + timedelta(milliseconds=50))
    claimed = Operation.objects.filter(claimable, due, pk=operation_id).update(
        state=Operation.RUNNING, lease_until=now + LEASE, held_by=worker_id
    )
    if not claimed:
        return None
    return Operation.objects.select_related("account__platform", "account__credential").get(pk=operation_id)


async def execute(operation_id: int, runtime: Runtime) -> None:
    """Run the operation to its end (done, failed, cancelled), or until another run holds it."""
    claim_states = (Operation.ACCEPTED, Operation.WAITING, Operation.RUNNING)
    operation = await runtime.db(_claim, operation_id, runtime.worker_id, states=claim_states)
    if operation is not None:
        await _Run(operation, runtime).run()


class _Run:
    def __init__(self, operation: Operation, runtime: Runtime):
        self.op = operation
        self.rt = runtime
        self.db = runtime.db
        self.account = operation.account
        self.account_key = str(self.account.pk)
        self.platform_key = str(self.account.platform_id)
        self.kind = kind_of(operation.kind)
        self.safety = safety()
        self.profile = self.safety.profiles[self.kind.retry_profile]
        self.priority = Priority(self.op.priority)
        self.session_opened = False  # whether the last broker call had its session open
        self.sent_at: datetime | None = None  # when the attempt's request went to the broker

    # -- the loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            if timezone.now() >= self.op.deadline:
                self._release_slot()  # a place it kept while waiting out a pause
                return await self._give_up(
                    f"Deadline passed before the broker accepted it. {self.op.reason}".strip()
                )
            health = await self.db(self.safety.health.status, self.platform_key)
            if health.paused:
                self._release_slot()
                reason = "The broker health monitor paused this platform after failures across its accounts."
                if not await self._wait_out_pause(reason, health.seconds_remaining, holds_place=False):
                    return
                continue
            if self.op.fail_if_paused:  # not even queued behind operations waiting out a pause
                pause = await self.db(self.safety.pause.status, self.account_key)
                if pause.state is not PauseState.TRADING:
                    retry_after = None if pause.paused_until is None else pause.paused_until - time.time()
                    await self._wait_out_pause(
                        f"The account's safety pause is {pause.state}.", retry_after, holds_place=False
                    )
                    return
            started = await self._take_speed_slot()
            if started is None:
                return
            async with self.rt.admission:  # local work bounded: a burst never times itself out
                permit, last, attempt = await self.db(self._admit, reclaim=started == "after_waiting")
                if permit is None:  # cancelled while it waited for its slot, or taken over
                    if await self.db(self._slot_is_ours):
                        self._release_slot()
                    return
                if not isinstance(permit, Denied):
                    try:
                        outcome = await self._attempt(permit, last, attempt)
                    finally:
                        self._release_slot()
            if isinstance(permit, Denied):
                self.safety.speed.step_back(
                    self.account_key, str(self.op.pk), self.priority, order=self.op.pk
                )
                self.rt.nudges.nudge(self.account_key)
                reason = f"The account's safety pause is {permit.state}."
                if not await self._wait_out_pause(reason, permit.retry_after, holds_place=True):
                    return
                continue
            if outcome.done:
                return await self._finish(outcome.result)
            if outcome.retry_in is None:
                return await self._fail(outcome.reason)
            remaining = (self.op.deadline - timezone.now()).total_seconds()
            if outcome.retry_in >= remaining:
                return await self._give_up(f"{outcome.reason} No retry fits before the deadline.")
            if outcome.retry_in <= settings.TTMT_INLINE_WAIT_MAX:  # a short retry: still running
                await asyncio.sleep(outcome.retry_in)
            elif not await self._wait(outcome.retry_in, outcome.reason):
                return

    async def _take_speed_slot(self) -> str | None:
        """Wait for speed control to let this operation start: "at_once", or "after_waiting" (it was
        WAITING meanwhile, to be claimed again); None: stop (the deadline passed, or cancelled)."""
        speed, op_id = self.safety.speed, str(self.op.pk)
        speed.enqueue(self.account_key, op_id, self.priority, order=self.op.pk)
        waiting, waited = False, 0.0
        while True:
            decision = speed.try_start(self.account_key, op_id)
            if isinstance(decision, Start):
                return "after_waiting" if waiting else "at_once"
            if timezone.now() >= self.op.deadline:
                self._release_slot()
                if not waiting or await self._claim_again():
                    await self._give_up(await self._speed_deadline_reason())
                return None
            if not waiting and (
                decision.behind_others or waited + decision.seconds > settings.TTMT_INLINE_WAIT_MAX
            ):
                waiting = True  # waiting behind others, not just the gap: cancellable until it starts
                reason = f"Waiting for speed control: {decision.reason}."
                await self._save(state=Operation.WAITING, reason=reason, lease_until=None)
            if decision.behind_others:  # woken when a slot of the account frees up (or polls)
                waited += await self.rt.nudges.wait(self.account_key, timeout=SLOT_POLL)
            else:
                await asyncio.sleep(decision.seconds)
                waited += decision.seconds

    def _release_slot(self) -> None:
        self.safety.speed.finish(self.account_key, str(self.op.pk))
        self.rt.nudges.nudge(self.account_key)

    async def _speed_deadline_reason(self) -> str:
        pause = await self.db(self.safety.pause.status, self.account_key)
        if pause.state is PauseState.TRADING:
            return "Deadline passed while waiting for speed control."
        return (
            "Deadline passed while queued behind operations waiting out the account's safety pause "
            f"({pause.state})."
        )

    async def _claim_again(self) -> bool:
        """After a wait: take the operation back (False if it was cancelled meanwhile)."""
        return await self.db(self._reclaim)

    def _still_ours(self) -> bool:
        """Whether this run still holds the operation (a worker taking over after a stall would
        hold it now), renewing its lease; checked right before every send."""
        return bool(
            Operation.objects.filter(
                pk=self.op.pk, state=Operation.RUNNING, held_by=self.rt.worker_id
            ).update(lease_until=timezone.now() + LEASE)
        )

    def _slot_is_ours(self) -> bool:
        """After losing the operation: release its speed slot unless another run holds it now."""
        return (
            not Operation.objects.filter(pk=self.op.pk, state=Operation.RUNNING)
            .exclude(held_by=self.rt.worker_id)
            .exists()
        )

    def _reclaim(self) -> bool:
        claimed = _claim(self.op.pk, self.rt.worker_id, states=(Operation.WAITING,))
        if claimed is not None:
            self.op, self.account = claimed, claimed.account
        return claimed is not None

    async def _wait_out_pause(self, reason: str, retry_after: float | None, *, holds_place: bool) -> bool:
        """The account or its platform is paused: fail if the operation asked to fail fast, else wait
        (keeping its place in speed control when it has one) and return whether to go on."""
        if self.op.fail_if_paused:
            if holds_place:
                self._release_slot()
            wait = retry_after if retry_after is not None else 1.0
            await self._fail(
                f"{reason} Not sent (fail fast was asked); the account tests again in {wait:.0f} s."
            )
            return False
        wait = retry_after if retry_after is not None else 0.5  # a recovery test is in flight
        going_on = await self._wait(wait, f"{reason} Waiting for it to recover.", keep_ticket=holds_place)
        if not going_on and holds_place:
            self._release_slot()
        return going_on

    # -- one attempt ----------------------------------------------------------------------------
    def _unresolved_attempt(self) -> OperationAttempt | None:
        """The last attempt, if it was sent without a known outcome (timeout, or a worker that died)."""
        last = self.op.attempts.order_by("-number").first()
        if last is not None and (last.finished_at is None or last.outcome_unknown):
            return last
        return None

    async def _settle_unknown_outcome(self, last: OperationAttempt) -> dict | None:
        """Did the broker do what the unresolved attempt asked? Its result if so. Raises GatewayError
        when the broker cannot tell us now."""
        found = await self._broker(self._look_up)
        if last.finished_at is None:  # the worker stopped between sending and recording
            last.finished_at, last.outcome_unknown = timezone.now(), True
            last.message = "The worker stopped before the outcome was recorded."
            await self.db(last.save, update_fields=["finished_at", "outcome_unknown", "message"])
        return found

    async def _give_up(self, reason: str) -> None:
        """Fail, unless an attempt with an unknown outcome turns out to have been done by the broker:
        an order the broker holds is never reported failed."""
        while (last := await self.db(self._unresolved_attempt)) is not None:
            try:
                found = await self._settle_unknown_outcome(last)
            except GatewayError as error:
                checking = f"{reason} Checking whether the broker did it failed ({error}); checking again."
                if not await self._wait(self.profile.initial_delay, checking, past_deadline=True):
                    return
                continue
            if found is not None:
                return await self._finish(found)
            break
        return await self._fail(reason)

    def _admit(
        self, *, reclaim: bool
    ) -> tuple[Permit | Denied | None, OperationAttempt | None, OperationAttempt | None]:
        """In one database hop after the speed slot (so that slots and sends keep their order): the
        operation claimed again if it waited (None: cancelled meanwhile), the pause's permit, then
        the unresolved attempt to settle first if there is one, else the new attempt, recorded
        before it is sent."""
        if not (self._reclaim() if reclaim else self._still_ours()):
            return None, None, None
        permit = self.safety.pause.acquire(self.account_key)
        if isinstance(permit, Denied):
            return permit, None, None
        last = self._unresolved_attempt() if self.op.attempt_count else None  # none before the first
        return permit, last, (self._record_attempt() if last is None else None)

    async def _attempt(
        self, permit: Permit, last: OperationAttempt | None, attempt: OperationAttempt | None
    ) -> Outcome:
        if last is not None:
            try:
                found = await self._settle_unknown_outcome(last)
            except GatewayError as error:
                await self.db(self.safety.pause.release, permit)
                return Outcome(
                    retry_in=self.profile.initial_delay, reason=f"Looking the order up failed: {error}"
                )
            if found is not None:
                await self.db(self.safety.pause.record, permit, Category.SUCCESS)
                return Outcome(done=True, result=found)
            attempt = await self.db(self._record_attempt)
        started, self.sent_at = time.perf_counter(), None
        crash_point("before_send")
        try:
            result = await self._broker(self._send)
            crash_point("after_send")
        except Rejected as rejection:
            await self.db(self.safety.pause.release, permit)
            await self.db(self._close_attempt, attempt, started, category="rejected", message=str(rejection))
            return Outcome(reason=str(rejection))
        except GatewayError as error:
            return await self._failed_attempt(permit, attempt, started, error)
        await self.db(
            self._close_attempt,
            attempt,
            started,
            category=Category.SUCCESS,
            code=result.get("code"),
            string_code=result.get("string_code", ""),
        )
        await self.db(self.safety.pause.record, permit, Category.SUCCESS)
        return Outcome(done=True, result=result)

    def _record_attempt(self) -> OperationAttempt:
        """The count first: a run that finds it at 0 knows that nothing was ever sent (and looks
        for no unresolved attempt); a crash between the two leaves an attempt-less count, harmless."""
        number = self.op.attempt_count + 1
        Operation.objects.filter(pk=self.op.pk).update(attempt_count=number)
        self.op.attempt_count = number
        attempt = OperationAttempt.objects.create(operation=self.op, number=number)
        hooks.attempt_started(self.op, attempt)
        return attempt

    async def _failed_attempt(
        self, permit: Permit, attempt: OperationAttempt, started: float, error: GatewayError
    ) -> Outcome:
        classification = classify_gateway_error(error)
        category = classification.category
        unknown_outcome = error.source == "transport" and error.string_code in MAY_HAVE_BEEN_DONE
        if category in DROPS_SESSION or unknown_outcome:
            await self.rt.sessions.drop(self.account.pk)
        await self.db(self._feed_back, permit, category)
        if category is Category.SUCCESS:  # e.g. "no changes": the broker already has what we asked
            await self.db(self._close_attempt, attempt, started, category=category, error=error)
            return Outcome(done=True, result={"code": error.code, "string_code": error.string_code})
        # a session that could not be opened is re-opened by the Connection profile
        profile = self.profile if self.session_opened else self.safety.profiles["connection"]
        delay = next_delay(profile, attempt.number, category, error.retry_after)
        await self.db(
            self._close_attempt,
            attempt,
            started,
            category=category,
            error=error,
            retry_in=delay,
            outcome_unknown=unknown_outcome,
        )
        await self.db(Operation.objects.filter(pk=self.op.pk).update, last_category=category)
        reason = f"{classification.label} ({category}): {error.message}"
        if classification.unknown:
            reason += " [unclassified code, logged for investigation]"
        return Outcome(retry_in=delay, reason=reason)

    def _feed_back(self, permit: Permit, category: Category) -> None:
        self.safety.pause.record(permit, category)
        if category not in (Category.SUCCESS, Category.MARKET_CLOSED):
            self.safety.health.record(self.platform_key, self.account_key, category)

    def _close_attempt(
        self,
        attempt: OperationAttempt,
        started: float,
        *,
        category: str,
        error: GatewayError | None = None,
        code: int | None = None,
        string_code: str = "",
        message: str = "",
        retry_in: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        if self.sent_at is not None:  # it started when sent (after the pacer), not when recorded
            attempt.started_at = self.sent_at
        attempt.finished_at = timezone.now()
        attempt.outcome_unknown = outcome_unknown
        attempt.duration_ms = int((time.perf_counter() - started) * 1000)
        attempt.category = category
        if error is not None:
            attempt.source, attempt.code = error.source, error.code
            attempt.string_code, attempt.message = error.string_code or "", error.message
        else:
            attempt.code, attempt.string_code, attempt.message = code, string_code, message
        attempt.retry_in_ms = None if retry_in is None else int(retry_in * 1000)
        attempt.save()
        hooks.attempt_finished(attempt)

    # -- the broker calls -------------------------------------------------------------------------
    async def _broker(self, call: Callable[[BrokerGateway], Awaitable[Any]]) -> Any:
        """``call`` on the account's session, opening it if needed, all within the call timeout. A
        timeout once the request may have been sent is an unknown outcome; before, nothing was sent."""
        timeout = settings.TTMT_BROKER_CALL_TIMEOUT * self.kind.broker_calls(self.op.params)
        connected = self.session_opened = False
        try:
            async with asyncio.timeout(timeout):
                gateway = await self.rt.sessions.gateway(self.account)
                connected = self.session_opened = True
                return await call(gateway)
        except TimeoutError:
            if not connected:
                await self.rt.sessions.drop(self.account.pk)
                raise GatewayError(
                    f"could not connect to the broker within {timeout:g} s; nothing was sent",
                    source="transport",
                    string_code="not_connected",
                ) from None
            raise GatewayError(
                f"no answer from the broker within {timeout:g} s", source="transport", string_code="timeout"
            ) from None

    async def _send(self, gateway: BrokerGateway) -> dict:
        await self.rt.pacer.turn(self.account_key, self.safety.speed.config.min_gap)
        self.sent_at = timezone.now()
        return await self.kind.send(self._broker_call(gateway))

    async def _look_up(self, gateway: BrokerGateway) -> dict | None:
        """After an attempt with no known outcome: did the broker do it? Returns its result if so."""
        if self.kind.look_up is None:
            return None
        return await self.kind.look_up(self._broker_call(gateway))

    def _broker_call(self, gateway: BrokerGateway) -> BrokerCall:
        return BrokerCall(
            gateway=gateway,
            params=self.op.params,
            client_tag=self.op.client_tag,
            volume_for=self._volume_for,
            remember=self._remember,
            pace=self._pace,
        )

    async def _pace(self) -> None:
        """Between the several sends of one operation (a trade's legs): kept apart as any two sends."""
        await self.rt.pacer.turn(self.account_key, self.safety.speed.config.min_gap)

    async def _volume_for(self, entry: Decimal, sl: Decimal | None) -> Decimal:
        """The volume from the account's risk settings (the caller's proposal is never used), recorded."""

        def size() -> Decimal:
            params = self.op.params
            sized = order_volume(
                account=self.account,
                symbol=params["symbol"],
                entry=entry,
                sl=sl,
                own_risk=params.get("own_risk"),
                multiplier=Decimal(str(params.get("multiplier") or 1)),
            )
            self.op.params = {
                **self.op.params,
                "volume": str(sized.volume),
                "volume_capped_by": sized.capped_by,
            }
            Operation.objects.filter(pk=self.op.pk).update(params=self.op.params)
            return sized.volume

        return await self.db(size)

    async def _remember(self, **params) -> None:
        self.op.params = {**self.op.params, **params}
        await self.db(Operation.objects.filter(pk=self.op.pk).update, params=self.op.params)

    # -- states -----------------------------------------------------------------------------------
    async def _finish(self, result: dict | None) -> None:
        await self._save(
            state=Operation.DONE, result=result, reason="", finished_at=timezone.now(), lease_until=None
        )
        crash_point("after_done")

    async def _fail(self, reason: str) -> None:
        await self._save(state=Operation.FAILED, reason=reason, finished_at=timezone.now(), lease_until=None)

    async def _wait(
        self, seconds: float, reason: str, *, keep_ticket: bool = False, past_deadline: bool = False
    ) -> bool:
        """Wait ``seconds`` (cut at the deadline unless ``past_deadline``) as a WAITING operation,
        then claim it again: False if it was cancelled or taken meanwhile (then this run stops)."""
        now = timezone.now()
        until = now + timedelta(seconds=max(seconds, 0.01))
        if not past_deadline:
            until = min(until, max(self.op.deadline, now))
        await self._save(state=Operation.WAITING, reason=reason, lease_until=None, not_before=until)
        remaining = (until - now).total_seconds()
        keep_every = self.safety.speed.config.ticket_ttl / 4
        while remaining > 0:
            step = min(remaining, keep_every) if keep_ticket else remaining
            await asyncio.sleep(step)
            remaining -= step
            if keep_ticket:  # it holds the front of the queue: let go as soon as it is cancelled
                if not await self.db(Operation.objects.filter(pk=self.op.pk, state=Operation.WAITING).exists):
                    return False
                self.safety.speed.keep(self.account_key, str(self.op.pk))
        return await self._claim_again()

    async def _save(self, **fields) -> None:
        def save() -> None:
            # only while this run holds it: a run that lost it (taken over) changes nothing
            if not Operation.objects.filter(pk=self.op.pk, held_by=self.rt.worker_id).update(**fields):
                return
            for name, value in fields.items():
                setattr(self.op, name, value)
            hooks.operation_changed(self.op)

        await self.db(save)


def operation_deadline(kind: OperationKind, *, start: datetime | None = None) -> datetime:
    """When an operation of ``kind`` accepted now (or due at ``start``) fails if the broker has not
    done it."""
    return (start or timezone.now()) + timedelta(
        seconds=settings.TTMT_OPERATION_DEADLINE[kind.deadline_class]
    )
