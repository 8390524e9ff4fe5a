"""The account setup actor, on the setup queue (where the MetaApi master token is). Takes an id,
reloads, and is safe to run twice."""

import dramatiq

from execution.accounts.setup import account_setup
from execution.queues import SETUP_QUEUE


@dramatiq.actor(queue_name=SETUP_QUEUE, max_retries=3, min_backoff=2_000, time_limit=10 * 60_000)
def setup_account(account_id: int) -> None:
    account_setup(account_id=account_id)
