"""Where the metrics of every process meet, so that any web process on any host can answer a scrape.

Promise: :func:`add` (a counter) and :func:`change_gauge` (this process's share of a gauge) never
wait on I/O: they change this process's memory under a lock. With ``REDIS_URL`` set, one background
thread per process sends them to Redis about once a second: counters are added to one hash per family
(``HINCRBYFLOAT``: every process and host adds to the same totals, which survive the process), and
this process's gauge values are written with an expiry, renewed while it lives, so that the share
of a process that died disappears within :data:`GAUGE_TTL` seconds. Without ``REDIS_URL`` (the
embedded default: web and workers are threads of one process) both stay in this process's memory.
:func:`totals` and :func:`gauge_sum` read what every process sent; :func:`flush` sends now.
"""

import atexit
import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from functools import cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

FLUSH_EVERY = 1.0  # seconds between two sends of one process
GAUGE_TTL = 30.0  # a process's gauge values count this long after its last send
GAUGE_RENEW = 10.0  # a process renews its gauge values this often even when unchanged


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def redis_client() -> redis.Redis:
    """This process's client of ``REDIS_URL`` for metrics and health (short timeouts)."""
    return _client(settings.REDIS_URL)


def _key(family: str) -> str:
    return settings.TTMT_METRICS_PREFIX + family


class _Process:
    """This process's unsent counts and its gauge values (a forked child starts afresh)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.name = f"{socket.gethostname()}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.lock = threading.Lock()
        self.pending: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.gauges: dict[str, float] = {}
        self.gauges_sent_at = 0.0
        self.gauges_changed = False
        self.sender: threading.Thread | None = None
        self.warned_at = -60.0

    def start_sender(self) -> None:
        with self.lock:
            if self.sender is not None:
                return
            self.sender = threading.Thread(target=self._send_forever, name="ttmt-metrics", daemon=True)
        self.sender.start()
        atexit.register(self._send_or_warn)

    def _send_forever(self) -> None:
        while _process is self:  # until replaced (a test starts afresh)
            time.sleep(FLUSH_EVERY)
            self._send_or_warn()

    def _send_or_warn(self) -> None:
        try:
            self.send()
        except redis.RedisError as error:  # kept for the next send
            if time.monotonic() - self.warned_at >= 60:
                self.warned_at = time.monotonic()
                logger.warning("metrics not sent to Redis (kept for the next try): %s", error)

    def send(self) -> None:
        if not settings.REDIS_URL:
            return
        with self.lock:
            pending, self.pending = self.pending, defaultdict(lambda: defaultdict(float))
            renew = self.gauges_changed or time.time() - self.gauges_sent_at >= GAUGE_RENEW
            gauges = dict(self.gauges) if renew else {}
            self.gauges_changed = False
        expires = time.time() + GAUGE_TTL
        try:
            with redis_client().pipeline(transaction=False) as pipe:
                for family, fields in pending.items():
                    for field, amount in fields.items():
                        pipe.hincrbyfloat(_key(family), field, amount)
                for family, value in gauges.items():
                    pipe.hset(_key(family), self.name, f"{value:g} {expires}")
                pipe.execute()
        except redis.RedisError:
            with self.lock:  # put back what was not sent
                for family, fields in pending.items():
                    for field, amount in fields.items():
                        self.pending[family][field] += amount
                self.gauges_changed = self.gauges_changed or bool(gauges)
            raise
        if gauges:
            self.gauges_sent_at = time.time()


_process = _Process()


def _here() -> _Process:
    global _process
    if _process.pid != os.getpid():  # a forked child: the parent's counts and thread are not its own
        _process = _Process()
    if settings.REDIS_URL and _process.sender is None:
        _process.start_sender()
    return _process


def add(family: str, field: str, amount: float = 1.0) -> None:
    """Add ``amount`` to the counter ``field`` of ``family``."""
    here = _here()
    with here.lock:
        here.pending[family][field] += amount


def change_gauge(family: str, delta: float) -> None:
    """Change this process's share of the gauge ``family`` by ``delta``."""
    here = _here()
    with here.lock:
        here.gauges[family] = here.gauges.get(family, 0.0) + delta
        here.gauges_changed = True


def flush() -> None:
    """Send this process's counts and gauge values now (no-op without Redis)."""
    _here().send()


def totals(family: str) -> dict[str, float]:
    """Every process's counters of ``family``, added up (as sent: up to a second behind)."""
    if not settings.REDIS_URL:
        here = _here()
        with here.lock:
            return dict(here.pending.get(family, {}))
    raw = redis_client().hgetall(_key(family))
    return {field.decode(): float(value) for field, value in raw.items()}


def gauge_sum(family: str) -> float:
    """The gauge ``family`` summed over the live processes (a dead process's share expired)."""
    if not settings.REDIS_URL:
        here = _here()
        with here.lock:
            return here.gauges.get(family, 0.0)
    client, now = redis_client(), time.time()
    total, expired = 0.0, []
    for process, entry in client.hgetall(_key(family)).items():
        value, expires = entry.split()
        if float(expires) > now:
            total += float(value)
        else:
            expired.append(process)
    if expired:
        client.hdel(_key(family), *expired)
    return total
