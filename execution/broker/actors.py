"""The MetaApi credential refresh actor, on the setup queue (where the master token is)."""

import dramatiq

from execution.broker.metaapi import refresh_expiring_credentials
from execution.queues import SETUP_QUEUE


@dramatiq.actor(queue_name=SETUP_QUEUE, max_retries=0, time_limit=30 * 60_000)
def refresh_credentials() -> None:
    """Narrow fresh tokens before the current ones expire (sent hourly by the housekeeping)."""
    refresh_expiring_credentials()
