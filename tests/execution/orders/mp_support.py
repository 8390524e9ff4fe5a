"""Real worker processes for the crash-injection and multi-process tests.

The workers are separate processes started the way production starts them (``manage.py rundramatiq``,
or the ``dramatiq`` CLI with django_dramatiq's setup and the same task modules), on a real Redis
broker and on the test database of the running test (PostgreSQL ``test_<name>``, or the SQLite file
``test.sqlite3`` under ``TTMT_VAR_DIR``, ``var/`` by default). Hence ``django_db(transaction=True)``:
the rows must be committed to be seen by the workers.

Isolation: the workers' Redis is a dedicated database (``TEST_WORKER_REDIS_DB``, default 14, on the
server of ``tests.services.redis_url()``), emptied before each test; a lock key (in the tests' usual
Redis database) serialises these tests across test runs that share the Redis server; the safety
state (speed control, pause) lives under a key prefix unique to the test (``TTMT_SAFETY_PREFIX``).
Every process started here is stopped at the end of the test, by its process group, even on failure.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

from execution.broker.gateways.base import OrderKind, OrderRequest, Side
from execution.broker.registry import gateway_for
from execution.safety.clock import SystemClock
from execution.safety.pause import PauseConfig, SafetyPause
from execution.safety.speed import SpeedConfig, SpeedControl
from execution.safety.state import RedisStateBackend
from tests.services import redis_url

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
WORKER_REDIS_DB = int(os.environ.get("TEST_WORKER_REDIS_DB", "14"))
NAMESPACE = "dramatiq"  # the product's RedisBroker uses Dramatiq's default namespace
QUEUE = "execution"
READY = "Worker process is ready for action."
LOCK_TTL_MS = 120_000


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def worker_database_url() -> str:
    """A DATABASE_URL naming the database this test runs on (the test database, not the real one)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            pytest.fail("worker processes need a file database, not an in-memory one")
        return f"sqlite:///{Path(name).resolve()}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        credentials = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = db["HOST"] or "localhost"
        port = f":{db['PORT']}" if db["PORT"] else ""
        return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"
    pytest.fail(f"no worker DATABASE_URL for {db['ENGINE']}")


def broker_positions(account) -> list:
    async def read():
        gateway = gateway_for(account)
        await gateway.connect()
        try:
            return await gateway.positions()
        finally:
            await gateway.disconnect()

    return async_to_sync(read)()


def broker_find_by_client_tag(account, tag: str):
    async def read():
        gateway = gateway_for(account)
        await gateway.connect()
        try:
            return await gateway.find_by_client_tag(tag)
        finally:
            await gateway.disconnect()

    return async_to_sync(read)()


def open_positions(account, count: int) -> list[str]:
    """Positions opened directly at the simulated broker (test data: not through the pipeline)."""

    async def open_them():
        gateway = gateway_for(account)
        await gateway.connect()
        try:
            spec = await gateway.symbol_spec("BTCUSD")
            request = OrderRequest("BTCUSD", Side.BUY, OrderKind.MARKET, spec.volume_min)
            return [(await gateway.place_order(request)).position_id for _ in range(count)]
        finally:
            await gateway.disconnect()

    return async_to_sync(open_them)()


class WorkerProcess:
    """One worker command (a Dramatiq main process and its worker child), in its own process group."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._terminated = False
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the worker children too
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"worker {self.name} exited early ({self.proc.returncode}):\n{self.log()}")
            return READY in self.log(tail=10**6)

        wait_until(ready, timeout=timeout, what=f"worker {self.name} to be ready")

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {self.name} still running after {timeout:g} s:\n{self.log()}")

    def terminate(self) -> None:
        """Ask for a graceful Dramatiq shutdown (once: a second SIGTERM kills the worker at once)."""
        if self.proc.poll() is None and not self._terminated:
            self._terminated = True
            self._signal(signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown, SIGKILL to the group if it does not end in time; always reaped. (The
        Dramatiq main process waits for its worker children before it exits: none is left after it.)"""
        try:
            self.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)  # the whole group, while its leader still exists
                self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signum)


class Cluster:
    """The message broker, the safety state and the worker processes of one test.

    The broker is Redis, or RabbitMQ with ``rabbitmq_url`` (as in production: per-message
    priorities); Redis holds the safety state and carries the engines' wake-ups either way. In the
    test process, ``execute_operation`` is pointed at the workers' broker (so that accepting an
    operation, or a sweep, enqueues there); the safety state can be read and changed with
    :attr:`speed` and :attr:`pause`, which share the workers' keys.
    """

    def __init__(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, rabbitmq_url: str | None = None
    ) -> None:
        from execution.orders.actors import MAX_BROKER_PRIORITY, execute_operation

        self.database_url = worker_database_url()
        base = urlparse(redis_url())  # skips (or fails under CI=true) when Redis is unreachable
        self.redis_url = urlunparse(base._replace(path=f"/{WORKER_REDIS_DB}"))
        self.prefix = f"test:mp:{uuid.uuid4().hex}:"
        self.probe_key = self.prefix + "probe"
        self.workers: list[WorkerProcess] = []
        self._tmp_path = tmp_path
        self._lock_key = f"ttmt-tests:worker-redis-db:{WORKER_REDIS_DB}:lock"
        self._lock_token = uuid.uuid4().hex
        self._lock_client = redis.Redis.from_url(base.geturl())
        self.client = redis.Redis.from_url(self.redis_url)
        self.rabbitmq_url = rabbitmq_url
        if rabbitmq_url:
            self.broker = RabbitmqBroker(url=rabbitmq_url, max_priority=MAX_BROKER_PRIORITY, middleware=[])
            self.broker.declare_queue(QUEUE)
        else:
            self.broker = RedisBroker(url=self.redis_url, middleware=[])
        self._acquire_lock()
        self.client.flushdb()
        if rabbitmq_url:
            self.broker.flush_all()
        monkeypatch.setattr(execute_operation, "broker", self.broker)
        self.backend = RedisStateBackend(self.client, prefix=self.prefix)
        config = settings.TTMT_SAFETY
        self.speed = SpeedControl(self.backend, SystemClock(), SpeedConfig(**config["speed"]))
        self.pause = SafetyPause(self.backend, SystemClock(), PauseConfig(**config["pause"]))

    # -- lifecycle --------------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        wait_until(
            lambda: self._lock_client.set(self._lock_key, self._lock_token, nx=True, px=LOCK_TTL_MS),
            timeout=LOCK_TTL_MS / 1000 + 30,
            interval=0.2,
            what=f"the worker Redis database {WORKER_REDIS_DB} (used by another test run)",
        )

    def stop_workers(self) -> None:
        for worker in self.workers:  # all at once: each takes a second or two to shut down
            worker.terminate()
        for worker in self.workers:
            worker.stop()

    def close(self) -> None:
        try:
            self.stop_workers()
        finally:
            try:
                self.client.flushdb()
                if self.rabbitmq_url:
                    self.broker.flush_all()
            finally:
                if self._lock_client.get(self._lock_key) == self._lock_token.encode():
                    self._lock_client.delete(self._lock_key)
                self.broker.close()
                self.client.close()
                self._lock_client.close()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- workers ----------------------------------------------------------------------------------
    def env(self, crash_at: str | None = None) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"TTMT_CRASH_AT", "DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "TTMT_SAFETY_PREFIX"}
        }
        if self.rabbitmq_url:
            env["RABBITMQ_URL"] = self.rabbitmq_url
        env.update(
            DJANGO_SETTINGS_MODULE="ttmt_site.settings",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            TTMT_SAFETY_PREFIX=self.prefix,
            TTMT_MP_PROBE_KEY=self.probe_key,
            PYTHONUNBUFFERED="1",
        )
        if crash_at:
            env["TTMT_CRASH_AT"] = crash_at
        return env

    def start_rundramatiq(
        self, name: str, *, crash_at: str | None = None, threads: int = 1, processes: int = 1
    ) -> WorkerProcess:
        """``manage.py rundramatiq`` exactly as deployed (one worker process unless told)."""
        command = [sys.executable, "manage.py", "rundramatiq", "--processes", str(processes)]
        command += ["--threads", str(threads)]
        command += ["--worker-shutdown-timeout", "5000", "--queues", QUEUE]
        return self._start(name, command, self.env(crash_at))

    def start_dramatiq(self, name: str, *, threads: int) -> WorkerProcess:
        """The ``dramatiq`` CLI with the modules rundramatiq discovers, plus ``mp_probe`` (which
        records which process handled each message, and the slots speed control granted)."""
        command = [str(BIN / "dramatiq"), "--path", ".", "--processes", "1", "--threads", str(threads)]
        command += [
            "--worker-shutdown-timeout",
            "5000",
            *self.task_modules(),
            "tests.execution.orders.mp_probe",
        ]
        command += ["--queues", QUEUE]
        return self._start(name, command, self.env())

    @staticmethod
    def task_modules() -> list[str]:
        from django_dramatiq.management.commands.rundramatiq import Command

        with open(os.devnull, "w") as quiet:
            return Command(stdout=quiet).discover_tasks_modules()

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> WorkerProcess:
        worker = WorkerProcess(name, command, env, self._tmp_path / f"worker-{name}.log")
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(f"--- worker {w.name} (pid {w.pid}) ---\n{w.log()}" for w in self.workers)

    # -- the broker's queue -----------------------------------------------------------------------
    def _messages_key(self, queue: str) -> str:
        return f"{NAMESPACE}:{queue}.msgs"

    def unfinished_messages(self) -> int:
        """Messages enqueued, not acknowledged yet: queued, delayed, or held by a worker (dead or alive)."""
        if self.rabbitmq_url:
            return sum(self.broker.get_queue_message_counts(QUEUE))
        return sum(self.client.hlen(self._messages_key(q)) for q in (QUEUE, f"{QUEUE}.DQ"))

    def dead_lettered(self) -> int:
        return self.client.zcard(f"{NAMESPACE}:{QUEUE}.XQ")

    def unacked_by_gone_workers(self) -> list[str]:
        """Ids of the messages fetched by a worker and never acknowledged (call with no worker alive)."""
        ids: list[str] = []
        for key in self.client.scan_iter(match=f"{NAMESPACE}:__acks__.*.{QUEUE}"):
            ids += [member.decode() for member in self.client.smembers(key)]
        return ids

    def redeliver_unacked(self) -> None:
        """What Dramatiq's Redis broker does once a dead worker's heartbeat has timed out (60 s):
        its unacknowledged messages go back to the queue. Done here at once by a maintenance pass
        with a zero heartbeat timeout, which treats every worker as dead: call it only while no
        worker process is running."""
        assert all(w.proc.poll() is not None for w in self.workers), "a worker is still running"
        maintenance = RedisBroker(
            url=self.redis_url, middleware=[], maintenance_chance=MAINTENANCE_SCALE, heartbeat_timeout=0
        )
        try:
            maintenance.do_qsize(QUEUE)
        finally:
            maintenance.close()

    def drop_unacked(self) -> None:
        """Lose the unacknowledged messages of gone workers, as if the broker had lost them."""
        assert all(w.proc.poll() is not None for w in self.workers), "a worker is still running"
        for message_id in self.unacked_by_gone_workers():
            self.client.hdel(self._messages_key(QUEUE), message_id)
        for key in self.client.scan_iter(match=f"{NAMESPACE}:__acks__.*"):
            self.client.delete(key)

    # -- what the probe recorded ------------------------------------------------------------------
    def handled(self) -> list[tuple[int, int, float]]:
        """(pid, operation id, unix time) for each message handled, in the order they were done."""
        entries = [entry.decode().split() for entry in self.client.lrange(self.probe_key, 0, -1)]
        return [(int(pid), int(operation_id), float(at)) for pid, operation_id, at in entries]

    def slot_starts(self) -> list[tuple[int, float]]:
        """(operation id, start time) of every slot speed control granted (a repeated answer for a
        slot already granted is the same pair), in start order."""
        entries = {
            tuple(entry.decode().split()) for entry in self.client.lrange(self.probe_key + ":slots", 0, -1)
        }
        return sorted(((int(op_id), float(at)) for op_id, at in entries), key=lambda slot: slot[1])

    def first_tickets(self) -> dict[int, float]:
        """Operation id -> when it first took a speed-control ticket (unix time)."""
        first: dict[int, float] = {}
        for entry in self.client.lrange(self.probe_key + ":tickets", 0, -1):
            op_id, at = entry.decode().split()
            first[int(op_id)] = min(first.get(int(op_id), float("inf")), float(at))
        return first
