"""Every Dramatiq actor of execution, collected for the workers (``rundramatiq`` imports each
app's ``actors`` module; the embedded server imports this one). Queues: ``execution.queues``."""

from execution.accounts.actors import setup_account
from execution.broker.actors import refresh_credentials
from execution.orders.actors import execute_operation, execute_operations

__all__ = ["execute_operation", "execute_operations", "refresh_credentials", "setup_account"]
