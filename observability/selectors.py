"""Reads of the deployment's state for the health endpoints and ``/metrics``.

Promise: each read is a fixed number of aggregate queries (and Redis round trips), whatever the
number of accounts, operations or processes; every value is the whole deployment's (the database
and Redis every process shares), never one process's.
"""

import json
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from execution.accounts.models import TradingAccount
from execution.engine.models import EngineWorker
from execution.orders.models import Operation
from execution.safety.clock import SystemClock
from execution.safety.health import HealthState
from execution.safety.pause import PauseState
from execution.safety.runtime import safety
from execution.safety.speed import Priority
from observability import store

REDIS_BATCH = 1000  # keys per MGET


def alive_workers() -> int:
    """Execution workers whose heartbeat is current (``execution.engine.homes``)."""
    return EngineWorker.objects.filter(alive_until__gt=timezone.now()).count()


def queue_depth() -> dict[tuple[str, str], int]:
    """Operations waiting to run, by (priority label, state: accepted or waiting); every pair is
    present, 0 when none."""
    depth = {(priority.label, state): 0 for priority in Priority for state in Operation.PENDING}
    rows = (
        Operation.objects.filter(state__in=Operation.PENDING)
        .order_by()
        .values("priority", "state")
        .annotate(count=Count("pk"))
    )
    for row in rows:
        depth[(Priority(row["priority"]).label, row["state"])] = row["count"]
    return depth


@dataclass(frozen=True)
class AccountPause:
    account_id: int
    organization_id: int
    platform_id: int
    state: PauseState


@dataclass(frozen=True)
class SafetyStates:
    accounts: list[AccountPause]  # every trading account's safety pause
    platforms: dict[int, HealthState]  # the broker health of every platform with an account


def safety_states() -> SafetyStates:
    """The safety pause of every account and the broker health of their platforms, as the product
    reads them (``execution.safety.selectors``): one query, then one Redis round trip."""
    rows = list(TradingAccount.objects.order_by("pk").values_list("pk", "organization_id", "platform_id"))
    platform_ids = sorted({platform_id for _, _, platform_id in rows})
    if settings.REDIS_URL:
        pauses, healths = _read_from_redis([pk for pk, _, _ in rows], platform_ids)
    else:  # the embedded default: the state is in this process's memory
        policies = safety()
        pauses = [policies.pause.status(str(pk)).state for pk, _, _ in rows]
        healths = [policies.health.status(str(pk)).state for pk in platform_ids]
    return SafetyStates(
        accounts=[
            AccountPause(pk, org, platform, state)
            for (pk, org, platform), state in zip(rows, pauses, strict=True)
        ],
        platforms=dict(zip(platform_ids, healths, strict=True)),
    )


def _read_from_redis(
    account_ids: list[int], platform_ids: list[int]
) -> tuple[list[PauseState], list[HealthState]]:
    """The documents of ``execution.safety.pause`` and ``.health`` read without writing (MGET):
    their stored state, with the lazy step those policies take on reading (a pause whose cooldown
    has elapsed is testing; a broker pause that has run out is healthy)."""
    prefix = settings.TTMT_SAFETY_PREFIX
    keys = [f"{prefix}pause:{pk}" for pk in account_ids] + [f"{prefix}health:{pk}" for pk in platform_ids]
    with store.redis_client().pipeline(transaction=False) as pipe:
        for start in range(0, len(keys), REDIS_BATCH):
            pipe.mget(keys[start : start + REDIS_BATCH])
        documents = [json.loads(raw) if raw else {} for batch in pipe.execute() for raw in batch]
    now = SystemClock().now()
    pauses = [_pause_state(doc, now) for doc in documents[: len(account_ids)]]
    healths = [_health_state(doc, now) for doc in documents[len(account_ids) :]]
    return pauses, healths


def _elapsed(doc: dict, now: float) -> bool:
    return doc.get("paused_until") is not None and now >= doc["paused_until"]


def _pause_state(doc: dict, now: float) -> PauseState:
    state = PauseState(doc.get("state", PauseState.TRADING))
    return PauseState.TESTING if state is PauseState.PAUSED and _elapsed(doc, now) else state


def _health_state(doc: dict, now: float) -> HealthState:
    state = HealthState(doc.get("state", HealthState.HEALTHY))
    return HealthState.HEALTHY if state is HealthState.PAUSED and _elapsed(doc, now) else state
