"""The periodic work of one process (``manage.py sweep_operations --every``, or a thread of the
embedded server): sweep operations whose message was lost (the engines also find them: this is the
net under them, e.g. while no execution worker runs); drop signal alerts whose details never came;
hourly, ask for expiring MetaApi credentials to be refreshed (on the setup queue, where the master
token is) and forget long-dead engine workers."""

import time

from execution.broker.actors import refresh_credentials
from execution.engine.homes import forget_dead_workers
from execution.orders.sweeper import sweep
from execution.signals.intake import drop_expired_alerts

CREDENTIAL_REFRESH_EVERY = 3600.0
_last_refresh = 0.0


def housekeeping() -> None:
    """One pass of the periodic work."""
    global _last_refresh
    sweep()
    drop_expired_alerts()
    if time.monotonic() - _last_refresh >= CREDENTIAL_REFRESH_EVERY:
        refresh_credentials.send()
        forget_dead_workers()
        _last_refresh = time.monotonic()
