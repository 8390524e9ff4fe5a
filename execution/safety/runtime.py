"""The product's safety policies, built once per process from settings.

State lives in Redis when REDIS_URL is set (shared by every worker process) and in this process's
memory otherwise (the embedded default, where the workers are threads of one process). Every
pause and health transition is recorded as a SafetyEvent row.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import redis
from django.conf import settings

from execution.accounts.models import TradingAccount
from execution.safety.clock import SystemClock
from execution.safety.health import BrokerHealthMonitor, HealthConfig
from execution.safety.models import SafetyEvent
from execution.safety.pause import PauseConfig, SafetyPause
from execution.safety.retry import RetryProfile, load_profiles
from execution.safety.speed import SpeedConfig, SpeedControl
from execution.safety.state import MemoryStateBackend, RedisStateBackend, StateBackend, Transition
from platforms.models import TradePlatform

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Safety:
    pause: SafetyPause
    health: BrokerHealthMonitor
    speed: SpeedControl
    profiles: dict[str, RetryProfile]


def _backend() -> StateBackend:
    if settings.REDIS_URL:
        return RedisStateBackend(redis.Redis.from_url(settings.REDIS_URL), prefix=settings.TTMT_SAFETY_PREFIX)
    return MemoryStateBackend()


def _record(monitor: str):
    def on_transition(transition: Transition) -> None:
        at = datetime.fromtimestamp(transition.at, tz=UTC)
        fields = {
            "monitor": monitor,
            "from_state": transition.from_state,
            "to_state": transition.to_state,
            "cause": transition.cause,
            "at": at,
        }
        if monitor == SafetyEvent.PAUSE:
            account = TradingAccount.objects.filter(pk=int(transition.subject)).first()
            if account is not None:
                SafetyEvent.objects.create(organization_id=account.organization_id, account=account, **fields)
        else:
            platform = TradePlatform.objects.filter(pk=int(transition.subject)).first()
            if platform is not None:
                SafetyEvent.objects.create(
                    organization_id=platform.organization_id, platform=platform, **fields
                )
        logger.warning(
            "safety %s %s: %s -> %s (%s)",
            monitor,
            transition.subject,
            transition.from_state,
            transition.to_state,
            transition.cause,
        )

    return on_transition


@cache
def safety() -> Safety:
    backend, clock, config = _backend(), SystemClock(), settings.TTMT_SAFETY
    return Safety(
        pause=SafetyPause(backend, clock, PauseConfig(**config["pause"]), on_transition=_record("pause")),
        health=BrokerHealthMonitor(
            backend, clock, HealthConfig(**config["health"]), on_transition=_record("health")
        ),
        speed=SpeedControl(backend, clock, SpeedConfig(**config["speed"])),
        profiles=load_profiles(config["retry"]),
    )
