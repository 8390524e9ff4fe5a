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
from execution.protection.models import ProtectionSettings, ProtectionStep, TradeProtection
from execution.safety.models import SafetyEvent
from execution.signals.models import Decision, Route, Signal, SignalSource, Trade

__all__ = [
    "AccountCredential",
    "AccountHome",
    "AccountSymbol",
    "Decision",
    "EngineWorker",
    "IdempotencyKey",
    "Operation",
    "OperationAttempt",
    "ProtectionSettings",
    "ProtectionStep",
    "RiskSettings",
    "Route",
    "SafetyEvent",
    "Signal",
    "SignalSource",
    "SimulatorDocument",
    "SymbolOverride",
    "Trade",
    "TradeProtection",
    "TradingAccount",
]
