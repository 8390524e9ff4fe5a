"""Reads of an account's safety state: pause, broker health, speed control, recent events."""

from execution.accounts.models import TradingAccount
from execution.safety.models import SafetyEvent
from execution.safety.runtime import safety


def account_safety(account: TradingAccount) -> dict:
    """The pause, the platform's broker health, operations in flight and waiting, recent events."""
    policies = safety()
    pause = policies.pause.status(str(account.pk))
    health = policies.health.status(str(account.platform_id))
    return {
        "pause_state": str(pause.state),
        "consecutive_failures": pause.consecutive_failures,
        "consecutive_permanent": pause.consecutive_permanent,
        "seconds_to_test": pause.seconds_to_test,
        "tests_in_flight": pause.tests_in_flight,
        "broker_health": str(health.state),
        "broker_health_seconds_remaining": health.seconds_remaining,
        "in_flight": policies.speed.in_flight(str(account.pk)),
        "queue_depth": {
            priority.label: n for priority, n in policies.speed.queue_depth(str(account.pk)).items()
        },
        "recent_events": list(SafetyEvent.objects.filter(account=account)[:20])
        + list(SafetyEvent.objects.filter(platform_id=account.platform_id)[:10]),
    }
