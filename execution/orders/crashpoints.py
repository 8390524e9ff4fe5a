"""Crash injection for the crash tests: ``TTMT_CRASH_AT=<point>`` makes a worker process die there.

The points mark the moments where a crash could duplicate or lose an operation: before the broker
call, after it but before its outcome is recorded, and once the operation is finished (a later
look at it must leave it alone). Unset (always, outside those tests), a point does nothing.
"""

import os

POINTS = ("before_send", "after_send", "after_done")


def crash_point(name: str) -> None:
    if os.environ.get("TTMT_CRASH_AT") == name:
        os._exit(70)  # like a SIGKILL: no cleanup, no acknowledgement
