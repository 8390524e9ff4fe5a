"""Every model of execution, collected for Django (it loads an app's models from this module).
Each is defined in the package of its concept and imported from there."""

from execution.accounts.models import (
    AccountCredential,
    AccountSymbol,
    RiskSettings,
    SymbolOverride,
    TradingAccount,
)
from execution.broker.models import SimulatorDocument
from execution.engine.models import AccountHome, EngineWorker
from execution.orders.models import IdempotencyKey, Operation, OperationAttempt
from execution.safety.models import SafetyEvent

__all__ = [
    "AccountCredential",
    "AccountHome",
    "AccountSymbol",
    "EngineWorker",
    "IdempotencyKey",
    "Operation",
    "OperationAttempt",
    "RiskSettings",
    "SafetyEvent",
    "SimulatorDocument",
    "SymbolOverride",
    "TradingAccount",
]
