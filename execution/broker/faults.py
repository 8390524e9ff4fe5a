"""Fault injection on a venue that has it (the simulated broker), per account or trade platform.

The settings' format is the simulator's (:class:`FaultSettings`, applying to ``FAULT_OPERATIONS``):
forms and serializers describe it from here.
"""

from core.errors import ServiceError
from execution.accounts.models import TradingAccount
from execution.broker.connector import FaultInjection
from execution.broker.gateways.simulated.state import (
    FAULT_OPERATIONS,
    SCRIPTED_TRANSPORT_FAULTS,
    FaultSettings,
)
from execution.broker.registry import connector_for
from platforms.models import TradePlatform

# Bounds of the settings, for the forms and serializers that accept them.
MAX_FAULT_LATENCY_SECONDS = 60
MAX_FAULT_CODE = 99_999  # broker codes: MT5 10004..10046, MT4 up to 4 digits, -2 (not found)
MAX_RETRY_AFTER_SECONDS = 3600
MAX_SCRIPTED_ERRORS = 1000


def _injection(*, account: TradingAccount | None, platform: TradePlatform | None) -> FaultInjection:
    faults = connector_for(platform or account.platform).faults
    if faults is None:
        raise ServiceError("Faults can be injected on simulated platforms only.", code="not_simulated")
    return faults


def simulated_faults(
    *, account: TradingAccount | None = None, platform: TradePlatform | None = None
) -> FaultSettings:
    return _injection(account=account, platform=platform).get(account=account, platform=platform)


def simulated_faults_set(
    *, account: TradingAccount | None = None, platform: TradePlatform | None = None, **settings
) -> FaultSettings:
    """Replace the fault settings of a simulated account or platform (fields not given: defaults)."""
    return _injection(account=account, platform=platform).set(account=account, platform=platform, **settings)


def supports_faults(platform: TradePlatform) -> bool:
    return connector_for(platform).faults is not None


__all__ = [
    "FAULT_OPERATIONS",
    "SCRIPTED_TRANSPORT_FAULTS",
    "FaultSettings",
    "simulated_faults",
    "simulated_faults_set",
    "supports_faults",
]
