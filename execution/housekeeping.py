"""The periodic work of one process (``manage.py sweep_operations --every``, or a thread of the
embedded server): sweep operations whose message was lost; hourly, ask for expiring MetaApi
credentials to be refreshed (on the setup queue, where the master token is)."""

import time

from execution.broker.actors import refresh_credentials
from execution.orders.sweeper import sweep

CREDENTIAL_REFRESH_EVERY = 3600.0
_last_refresh = 0.0


def housekeeping() -> None:
    """One pass of the periodic work."""
    global _last_refresh
    sweep()
    if time.monotonic() - _last_refresh >= CREDENTIAL_REFRESH_EVERY:
        refresh_credentials.send()
        _last_refresh = time.monotonic()
