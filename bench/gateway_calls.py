"""Bench-only instrumentation: count the simulated broker calls, in any process, without product changes.

It wraps the methods of ``SimulatedGateway`` (what the pipeline asks the broker) and of
``SimulatedEngine`` (``open_account``, ``events_since``, ``call`` by kind: what each costs) with a
counter. ``connect`` counts only the sessions it actually opens (``connect_reused`` when the gateway
was already connected and ``connect()`` returns at once); ``disconnect`` counts only sessions it
closes (``disconnect_noop`` otherwise).

* In the worker processes: ``execution_burst.py`` writes a ``sitecustomize.py`` to its temporary
  directory and puts that directory first on the workers' ``PYTHONPATH`` (with ``TTMT_BENCH_CALLS_*``
  set). Python imports it at start-up; it loads this file and calls :func:`install_from_environment`,
  which patches the two classes when their modules are imported. Each process keeps its counts in
  memory and adds them every 0.2 s to the Redis hash ``ttmt:bench:calls:gateway`` (the benchmark's
  Redis db) as ``<pid>:<name>`` fields. :func:`read_counts` sums them, :func:`reset_counts` clears them.
* In the benchmark process (the limit, the serial cost): :func:`install` with a :class:`LocalSink`.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.abc
import os
import sys
import threading
import time
from collections import Counter

ENV_REDIS_URL = "TTMT_BENCH_CALLS_REDIS_URL"
ENV_MODULE = "TTMT_BENCH_CALLS_MODULE"
REDIS_KEY = "ttmt:bench:calls:gateway"
FLUSH_INTERVAL = 0.2

GATEWAY_MODULE = "execution.broker.gateways.simulated.gateway"
ENGINE_MODULE = "execution.broker.gateways.simulated.engine"
GATEWAY_METHODS = (
    "account_information",
    "positions",
    "orders",
    "symbols",
    "symbol_spec",
    "price",
    "history_deals",
    "find_by_client_tag",
    "place_order",
    "modify_position",
    "modify_order",
    "cancel_order",
    "close_position",
    "subscribe_prices",
    "pump",
)
ENGINE_PREFIX = "engine."


class LocalSink:
    """Counts in this process (thread-safe); ``paused()`` stops counting for a block."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._paused = 0

    def record(self, name: str) -> None:
        if not self._paused:
            with self._lock:
                self.counts[name] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    @contextlib.contextmanager
    def paused(self):
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1


class RedisSink(LocalSink):
    """Counts in memory, added to the Redis hash by a daemon thread (started in the process that counts,
    so a forked or spawned worker gets its own)."""

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        self.redis_url = redis_url
        self._pid: int | None = None
        self._client = None  # created in the process that counts

    def record(self, name: str) -> None:
        if self._pid != os.getpid():
            self._start()
        super().record(name)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self.counts.clear()  # counts inherited through a fork belong to the parent
        import redis  # now: importing it at exit fails

        self._client = redis.Redis.from_url(self.redis_url)
        threading.Thread(target=self._loop, name="bench-gateway-calls", daemon=True).start()
        atexit.register(self._final_flush)

    def _final_flush(self) -> None:
        with contextlib.suppress(Exception):
            self.flush()

    def _loop(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL)
            with contextlib.suppress(Exception):  # never disturb the worker
                self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self.counts = self.counts, Counter()
        if not pending:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for name, count in pending.items():
                pipe.hincrby(REDIS_KEY, f"{os.getpid()}:{name}", count)
            pipe.execute()
        except Exception:
            with self._lock:
                self.counts.update(pending)  # retried at the next flush
            raise


def _patch_gateway(cls, sink: LocalSink) -> None:
    if getattr(cls, "_ttmt_bench_counted", False):
        return
    cls._ttmt_bench_counted = True

    def counted(name, original):
        @functools.wraps(original)
        async def wrapper(self, *args, **kwargs):
            sink.record(name)
            return await original(self, *args, **kwargs)

        return wrapper

    for name in GATEWAY_METHODS:
        if name in cls.__dict__:
            setattr(cls, name, counted(name, cls.__dict__[name]))

    original_connect, original_disconnect = cls.connect, cls.disconnect

    @functools.wraps(original_connect)
    async def connect(self, *args, **kwargs):
        sink.record("connect_reused" if self.connected else "connect")
        return await original_connect(self, *args, **kwargs)

    @functools.wraps(original_disconnect)
    async def disconnect(self, *args, **kwargs):
        sink.record("disconnect" if getattr(self, "_connected", True) else "disconnect_noop")
        return await original_disconnect(self, *args, **kwargs)

    cls.connect, cls.disconnect = connect, disconnect


def _patch_engine(cls, sink: LocalSink) -> None:
    if getattr(cls, "_ttmt_bench_counted", False):
        return
    cls._ttmt_bench_counted = True
    original_open, original_events, original_call = cls.open_account, cls.events_since, cls.call

    @functools.wraps(original_open)
    def open_account(self, *args, **kwargs):
        sink.record(ENGINE_PREFIX + "open_account")
        return original_open(self, *args, **kwargs)

    @functools.wraps(original_events)
    def events_since(self, *args, **kwargs):
        sink.record(ENGINE_PREFIX + "events_since")
        return original_events(self, *args, **kwargs)

    @functools.wraps(original_call)
    def call(self, account_key, kind, *args, **kwargs):
        sink.record(f"{ENGINE_PREFIX}call:{kind}")
        return original_call(self, account_key, kind, *args, **kwargs)

    cls.open_account, cls.events_since, cls.call = open_account, events_since, call


def _patch_module(module, sink: LocalSink) -> None:
    if module.__name__ == GATEWAY_MODULE:
        _patch_gateway(module.SimulatedGateway, sink)
    elif module.__name__ == ENGINE_MODULE:
        _patch_engine(module.SimulatedEngine, sink)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, sink: LocalSink) -> None:
        self._loader, self._sink = loader, sink

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _patch_module(module, self._sink)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Patches the two modules right after they are first imported."""

    def __init__(self, sink: LocalSink) -> None:
        self._sink = sink

    def find_spec(self, fullname, path, target=None):
        if fullname not in (GATEWAY_MODULE, ENGINE_MODULE):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _Loader(spec.loader, self._sink)
                return spec
        return None


def install(sink: LocalSink) -> LocalSink:
    """Count into ``sink``: patch now if the modules are imported, otherwise when they are."""
    pending = False
    for name in (GATEWAY_MODULE, ENGINE_MODULE):
        if name in sys.modules:
            _patch_module(sys.modules[name], sink)
        else:
            pending = True
    if pending and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder(sink))
    return sink


def install_from_environment() -> None:
    url = os.environ.get(ENV_REDIS_URL)
    if url:
        install(RedisSink(url))


# -- the benchmark's side ----------------------------------------------------------------------------


def reset_counts(client) -> None:
    client.delete(REDIS_KEY)


def read_counts(client, settle: float = 3.0) -> tuple[Counter[str], dict[int, Counter[str]]]:
    """The counts of every process (totals and by pid), once they stop changing (flushes are periodic)."""
    previous = None
    deadline = time.monotonic() + settle
    while True:
        time.sleep(FLUSH_INTERVAL * 2.5)
        raw = {k.decode(): int(v) for k, v in client.hgetall(REDIS_KEY).items()}
        if raw == previous or time.monotonic() > deadline:
            break
        previous = raw
    totals: Counter[str] = Counter()
    by_pid: dict[int, Counter[str]] = {}
    for field, count in raw.items():
        pid, name = field.split(":", 1)
        totals[name] += count
        by_pid.setdefault(int(pid), Counter())[name] += count
    return totals, by_pid


SITECUSTOMIZE = '''\
"""Written by bench/execution_burst.py: count simulated broker calls in this process (bench only)."""
import importlib.util as _util
import os as _os
import sys as _sys

_here = _os.path.dirname(_os.path.abspath(__file__))
_spec = _util.spec_from_file_location("ttmt_bench_gateway_calls", _os.environ["{module_env}"])
_module = _util.module_from_spec(_spec)
_sys.modules[_spec.name] = _module
_spec.loader.exec_module(_module)
_module.install_from_environment()

# Chain to the sitecustomize this one shadows, if any.
for _entry in _sys.path:
    _path = _os.path.join(_entry or ".", "sitecustomize.py")
    if _os.path.abspath(_entry or ".") != _here and _os.path.isfile(_path):
        with open(_path) as _file:
            exec(compile(_file.read(), _path, "exec"), {{"__name__": "sitecustomize", "__file__": _path}})
        break
'''


def write_sitecustomize(directory) -> str:
    """Write the shim to ``directory`` (to put first on PYTHONPATH); returns the directory."""
    path = os.path.join(str(directory), "sitecustomize.py")
    with open(path, "w") as file:
        file.write(SITECUSTOMIZE.format(module_env=ENV_MODULE))
    return str(directory)


def worker_environment(directory, redis_url: str) -> dict[str, str]:
    """The environment variables that make a Python process count into ``redis_url``."""
    shim = write_sitecustomize(directory)
    existing = os.environ.get("PYTHONPATH")
    return {
        "PYTHONPATH": shim + (os.pathsep + existing if existing else ""),
        ENV_REDIS_URL: redis_url,
        ENV_MODULE: os.path.abspath(__file__),
    }
