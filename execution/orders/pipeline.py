"""The pipeline every broker operation goes through, run by the ``execute_operation`` actor.

For each attempt, in this order: the deadline; the broker health monitor (platform); speed control
(at most 5 in flight per account, 200 ms apart, by priority); the safety pause (per account); for
new orders the volume from the account's risk settings; the gateway call under a timeout; the
error classification; the outcome fed back to the pause and the health monitor; then a retry by the
operation's profile (short waits inside the actor, longer ones re-enqueued with a delay).

Duplicates: a run claims the operation with a lease, so a redelivered message does nothing while
another worker holds it. Every call is recorded as an attempt *before* it is sent; an attempt left
without an outcome (crash, timeout) makes the next run look the client tag up at the broker (or
re-read the position/order) before sending anything again.

Refusals while paused: protective operations (high priority: close, breakeven, stop loss) wait,
re-enqueued until the pause tests again, within their (long) deadline; others fail with the reason.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from execution.broker.gateways.base import BrokerGateway, GatewayError
from execution.broker.registry import gateway_for
from execution.live import hooks
from execution.orders.crashpoints import crash_point
from execution.orders.kinds import BrokerCall, OperationKind, kind_of
from execution.orders.models import Operation, OperationAttempt
from execution.orders.sizing import Rejected, order_volume
from execution.safety.errors import Category, classify_gateway_error
from execution.safety.pause import Denied, Permit
from execution.safety.retry import next_delay
from execution.safety.runtime import safety
from execution.safety.speed import Priority, Start

logger = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Outcome:
    done: bool = False
    result: dict | None = None
    retry_in: float | None = None
    reason: str = ""


def _claim(operation_id: int) -> Operation | None:
    """Take the operation for this run, unless it is finished, held by a live lease, or not due."""
    now = timezone.now()
    claimable = Q(state__in=[Operation.ACCEPTED, Operation.WAITING]) | Q(
        state=Operation.RUNNING, lease_until__lt=now
    )
    due = Q(not_before__isnull=True) | Q(not_before__lte=now + timedelta(milliseconds=50))
    claimed = Operation.objects.filter(claimable, due, pk=operation_id).update(
        state=Operation.RUNNING, lease_until=now + LEASE
    )
    if not claimed:
        return None
    return Operation.objects.select_related("account__platform").get(pk=operation_id)


def run_operation(operation_id: int) -> float | None:
    """Run the operation if this run may claim it. Returns the seconds after which it must run
    again (it waits: a retry, a pause, speed control), or None (finished, or not this run's)."""
    operation = _claim(operation_id)
    if operation is None:
        return None
    run = _Run(operation)
    run.run()
    return run.run_again_in


class _Run:
    def __init__(self, operation: Operation):
        self.op = operation
        self.account = operation.account
        self.account_key = str(self.account.pk)
        self.platform_key = str(self.account.platform_id)
        self.kind = kind_of(operation.kind)
        self.safety = safety()
        self.profile = self.safety.profiles[self.kind.retry_profile]
        self.run_again_in: float | None = None

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            if timezone.now() >= self.op.deadline:
                return self._give_up(
                    f"Deadline passed before the broker accepted it. {self.op.reason}".strip()
                )
            health = self.safety.health.status(self.platform_key)
            if health.paused:
                return self._blocked(
                    "The broker health monitor paused this platform after failures across its accounts.",
                    health.seconds_remaining,
                )
            if not self._take_speed_slot():
                return
            try:
                permit = self.safety.pause.acquire(self.account_key)
                if isinstance(permit, Denied):
                    return self._blocked(f"The account's safety pause is {permit.state}.", permit.retry_after)
                outcome = self._attempt(permit)
            finally:
                self.safety.speed.finish(self.account_key, str(self.op.pk))
            if outcome.done:
                return self._finish(outcome.result)
            if outcome.retry_in is None:
                return self._fail(outcome.reason)
            remaining = (self.op.deadline - timezone.now()).total_seconds()
            if outcome.retry_in >= remaining:
                return self._give_up(f"{outcome.reason} No retry fits before the deadline.")
            if outcome.retry_in > settings.TTMT_INLINE_WAIT_MAX:
                return self._wait(outcome.retry_in, outcome.reason)
            self._extend_lease(outcome.retry_in)
            time.sleep(outcome.retry_in)

    def _take_speed_slot(self) -> bool:
        speed, op_id = self.safety.speed, str(self.op.pk)
        speed.enqueue(self.account_key, op_id, Priority(self.op.priority))
        waited = 0.0
        while True:
            decision = speed.try_start(self.account_key, op_id)
            if isinstance(decision, Start):
                return True
            if waited + decision.seconds > settings.TTMT_INLINE_WAIT_MAX:
                self._wait(decision.seconds, f"Waiting for speed control: {decision.reason}.")
                return False
            time.sleep(decision.seconds)
            waited += decision.seconds

    # -- one attempt ----------------------------------------------------------------------------
    def _unresolved_attempt(self) -> OperationAttempt | None:
        """The last attempt, if it was sent without a known outcome (timeout, or a worker that died)."""
        last = self.op.attempts.order_by("-number").first()
        if last is not None and (last.finished_at is None or last.outcome_unknown):
            return last
        return None

    def _settle_unknown_outcome(self, last: OperationAttempt) -> dict | None:
        """Did the broker do what the unresolved attempt asked? Its result if so. Raises GatewayError
        when the broker cannot tell us now."""
        found = async_to_sync(self._look_up)(gateway_for(self.account))
        if last.finished_at is None:  # the worker stopped between sending and recording
            last.finished_at, last.outcome_unknown = timezone.now(), True
            last.message = "The worker stopped before the outcome was recorded."
            last.save(update_fields=["finished_at", "outcome_unknown", "message"])
        return found

    def _give_up(self, reason: str) -> None:
        """Fail, unless an attempt with an unknown outcome turns out to have been done by the broker:
        an order the broker holds is never reported failed."""
        last = self._unresolved_attempt()
        if last is not None:
            try:
                found = self._settle_unknown_outcome(last)
            except GatewayError as error:
                return self._wait(
                    self.profile.initial_delay,
                    f"{reason} Checking whether the broker did it failed ({error}); checking again.",
                )
            if found is not None:
                return self._finish(found)
        return self._fail(reason)

    def _attempt(self, permit: Permit) -> Outcome:
        last = self._unresolved_attempt()
        if last is not None:
            try:
                found = self._settle_unknown_outcome(last)
            except GatewayError as error:
                self.safety.pause.release(permit)
                return Outcome(
                    retry_in=self.profile.initial_delay, reason=f"Looking the order up failed: {error}"
                )
            if found is not None:
                self.safety.pause.record(permit, Category.SUCCESS)
                return Outcome(done=True, result=found)
        gateway = gateway_for(self.account)
        number = self.op.attempt_count + 1
        attempt = OperationAttempt.objects.create(operation=self.op, number=number)
        Operation.objects.filter(pk=self.op.pk).update(attempt_count=number)
        self.op.attempt_count = number
        hooks.attempt_started(self.op, attempt)
        started = time.perf_counter()
        crash_point("before_send")
        try:
            result = async_to_sync(self._call)(gateway)
            crash_point("after_send")
        except Rejected as rejection:
            self.safety.pause.release(permit)
            self._close_attempt(attempt, started, category="rejected", message=str(rejection))
            return Outcome(reason=str(rejection))
        except GatewayError as error:
            return self._failed_attempt(permit, attempt, started, error)
        self._close_attempt(
            attempt,
            started,
            category=Category.SUCCESS,
            code=result.get("code"),
            string_code=result.get("string_code", ""),
        )
        self.safety.pause.record(permit, Category.SUCCESS)
        return Outcome(done=True, result=result)

    def _failed_attempt(
        self, permit: Permit, attempt: OperationAttempt, started: float, error: GatewayError
    ) -> Outcome:
        classification = classify_gateway_error(error)
        category = classification.category
        unknown_outcome = error.source == "transport" and error.string_code == "timeout"
        self.safety.pause.record(permit, category)
        if category not in (Category.SUCCESS, Category.MARKET_CLOSED):
            self.safety.health.record(self.platform_key, self.account_key, category)
        if category is Category.SUCCESS:  # e.g. "no changes": the broker already has what we asked
            self._close_attempt(attempt, started, category=category, error=error)
            return Outcome(done=True, result={"code": error.code, "string_code": error.string_code})
        delay = next_delay(self.profile, attempt.number, category, error.retry_after)
        self._close_attempt(
            attempt, started, category=category, error=error, retry_in=delay, outcome_unknown=unknown_outcome
        )
        Operation.objects.filter(pk=self.op.pk).update(last_category=category)
        reason = f"{classification.label} ({category}): {error.message}"
        if classification.unknown:
            reason += " [unclassified code, logged for investigation]"
        return Outcome(retry_in=delay, reason=reason)

    @staticmethod
    def _close_attempt(
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
    async def _call(self, gateway: BrokerGateway) -> dict:
        async with gateway:
            try:
                async with asyncio.timeout(settings.TTMT_BROKER_CALL_TIMEOUT):
                    return await self.kind.send(self._broker_call(gateway))
            except TimeoutError:
                raise GatewayError(
                    f"no answer from the broker within {settings.TTMT_BROKER_CALL_TIMEOUT:g} s",
                    source="transport",
                    string_code="timeout",
                ) from None

    async def _look_up(self, gateway: BrokerGateway) -> dict | None:
        """After an attempt with no known outcome: did the broker do it? Returns its result if so."""
        async with gateway:
            if self.kind.look_up is None:
                return None
            return await self.kind.look_up(self._broker_call(gateway))

    def _broker_call(self, gateway: BrokerGateway) -> BrokerCall:
        return BrokerCall(
            gateway=gateway,
            params=self.op.params,
            client_tag=self.op.client_tag,
            volume_for=sync_to_async(self._volume_for),
            remember=self._remember,
        )

    def _volume_for(self, entry: Decimal, sl: Decimal | None) -> Decimal:
        """The volume from the account's risk settings (the caller's proposal is never used), recorded."""
        sized = order_volume(account=self.account, symbol=self.op.params["symbol"], entry=entry, sl=sl)
        Operation.objects.filter(pk=self.op.pk).update(
            params={**self.op.params, "volume": str(sized.volume), "volume_capped_by": sized.capped_by}
        )
        return sized.volume

    async def _remember(self, **params) -> None:
        self.op.params = {**self.op.params, **params}
        await sync_to_async(Operation.objects.filter(pk=self.op.pk).update)(params=self.op.params)

    # -- states -----------------------------------------------------------------------------------
    def _finish(self, result: dict | None) -> None:
        self._save(
            state=Operation.DONE, result=result, reason="", finished_at=timezone.now(), lease_until=None
        )

    def _fail(self, reason: str) -> None:
        self._save(state=Operation.FAILED, reason=reason, finished_at=timezone.now(), lease_until=None)

    def _wait(self, seconds: float, reason: str) -> None:
        seconds = max(seconds, 0.05)
        self._save(
            state=Operation.WAITING,
            reason=reason,
            lease_until=None,
            not_before=timezone.now() + timedelta(seconds=seconds),
        )
        self.run_again_in = seconds

    def _blocked(self, reason: str, retry_after: float | None) -> None:
        wait = retry_after if retry_after is not None else 1.0
        if self.op.priority == Priority.HIGH:
            self._wait(wait, f"{reason} Protective operation: waiting (next try in {wait:.0f} s).")
        else:
            self._fail(f"{reason} Not sent; try again in {wait:.0f} s.")

    def _extend_lease(self, seconds: float) -> None:
        Operation.objects.filter(pk=self.op.pk).update(
            lease_until=timezone.now() + LEASE + timedelta(seconds=seconds)
        )

    def _save(self, **fields) -> None:
        Operation.objects.filter(pk=self.op.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.op, name, value)
        hooks.operation_changed(self.op)


def operation_deadline(kind: OperationKind) -> datetime:
    """When an operation of ``kind`` accepted now fails if the broker has not done it."""
    return timezone.now() + timedelta(seconds=settings.TTMT_OPERATION_DEADLINE[kind.deadline_class])
