"""Dramatiq actors. They take ids, reload, and are safe to run twice.

``setup_account`` runs on its own queue (``account_setup``): only the workers consuming that queue
need the MetaApi master token in their environment; execution workers run without it.
"""

import dramatiq

from execution import services

SETUP_QUEUE = "account_setup"


@dramatiq.actor(queue_name=SETUP_QUEUE, max_retries=3, min_backoff=2_000, time_limit=10 * 60_000)
def setup_account(account_id: int) -> None:
    services.account_setup(account_id=account_id)
