"""Dramatiq actors. They take ids, reload, and are safe to run twice.

``setup_account`` runs on its own queue (``account_setup``): only the workers consuming that queue
need the MetaApi master token in their environment; execution workers run without it.
"""

import dramatiq

from execution import pipeline, provisioning, services
from execution.crashpoints import crash_point

SETUP_QUEUE = "account_setup"
EXECUTION_QUEUE = "execution"


@dramatiq.actor(queue_name=SETUP_QUEUE, max_retries=3, min_backoff=2_000, time_limit=10 * 60_000)
def setup_account(account_id: int) -> None:
    services.account_setup(account_id=account_id)


@dramatiq.actor(queue_name=EXECUTION_QUEUE, max_retries=0, time_limit=2 * 3600_000)
def execute_operation(operation_id: int) -> None:
    """Run an operation through the pipeline (its retries happen inside, by its profile)."""
    pipeline.run_operation(operation_id)
    crash_point("before_ack")


@dramatiq.actor(queue_name=SETUP_QUEUE, max_retries=0, time_limit=30 * 60_000)
def refresh_credentials() -> None:
    """Narrow fresh tokens before the current ones expire (send it periodically, e.g. hourly)."""
    provisioning.refresh_expiring_credentials()
