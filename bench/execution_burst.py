"""Benchmark: a burst of order operations across N simulated accounts, through the real pipeline.

Run it (one command; PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 must be up):

    .venv/bin/python bench/execution_burst.py --accounts 1 100 1000 --orders-per-account 5 5 1

What it does, for each N:

* Production topology: a fresh PostgreSQL database (dropped and re-created, migrated with
  ``manage.py migrate`` in a subprocess), the Redis Dramatiq broker on a dedicated Redis db with its
  own safety-state prefix, and 2 worker PROCESSES started here with
  ``manage.py rundramatiq --processes 2 --threads 8 --queues execution`` (``DJANGO_DEBUG=0``,
  ``DATABASE_CONN_MAX_AGE=60``), stopped at the end with SIGTERM (``--pid-file``).
* Setup: one organization and one simulated platform per N, N accounts created and set up with the
  product's services (``account_connect`` + ``account_setup``, as ``tests/factories`` does), in 2
  forked setup processes; then a platform-wide simulated latency of 20 ms
  (``simulated_faults_set(platform=..., latency_seconds=0.02, applies_to="all")``).
* Burst: K market BUY orders of BTCUSD per account accepted here through
  ``execution.orders.accept.order_place`` (round-robin: order 1 of every account, then order 2, ...),
  then the database is polled until every operation is done or failed.
  Throughput = finished / (last finished_at - first created_at); latency = first attempt's
  ``started_at`` - operation ``created_at`` (accepted -> gateway session starts), p50/p99.
  Failures and duplicates (positions at the simulated broker vs. done operations, by client tag).
  CPU during the burst by process (workers, this process, PostgreSQL, Redis, RabbitMQ, other), also
  in ms per finished order. The simulated broker calls the workers make, counted in the worker
  processes by ``bench/gateway_calls.py`` (a ``sitecustomize`` shim on their ``PYTHONPATH``, counts
  in Redis): sessions opened (connects) per order, and every call kind per order.
* The limit, in the same run, after the burst: a bare asyncio loop in this process (no ORM:
  ``SimulatedEngine`` over ``InMemoryStateStore``, ``SimulatedGateway(run_sync=run_inline)``) making
  exactly the pipeline's measured broker calls of this run (``--limit-session measured``; or a fixed
  ``per-order`` / ``per-account`` session plan, with a warning if the pipeline's connects differ),
  with the same 20 ms latency, under the same per-account bounds (<= 5 in flight, >= 200 ms between
  starts), every order accepted at t0. Its calls are counted too and compared with the pipeline's.
  Ratio = pipeline throughput / limit throughput.
* ``--broker rabbitmq``: Dramatiq on RabbitMQ (``RABBITMQ_URL``, a dedicated vhost re-created here).

Then, workers stopped: the cost of one operation run serially here (wall, CPU, queries; the simulated
broker's share). Results: a table on stdout and ``bench/results/execution_burst-<date>.json``.
See bench/README.md for the options and the figures measured on this machine.
``--orders-per-account`` takes one value for all N or one value per N.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import platform as platform_module
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway_calls  # noqa: E402 - bench/gateway_calls.py, next to this script

LOCAL_CALLS = gateway_calls.LocalSink()  # this process's simulated broker calls (the limit, the cost)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ttmt_bench_exec"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
SAFETY_PREFIX = "ttmt:bench:safety:"
DRAMATIQ_NAMESPACE = "dramatiq"  # the RedisBroker's default key prefix
CALLS_PREFIX = "ttmt:bench:calls:"  # the simulated broker call counts (bench/gateway_calls.py)
DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/ttmt_bench_exec"  # a dedicated vhost
SERVER = "SimBroker-Demo"
SYMBOL = "BTCUSD"  # crypto sessions: the market is open any day


# ------------------------------------------------------------------------------------------------
# Environment, database, Redis, workers
# ------------------------------------------------------------------------------------------------


def bench_environment(
    database_url: str, redis_url: str, rabbitmq_url: str | None, *, streaming: bool = False
) -> dict[str, str]:
    """The production-like environment of this process and of the workers (set before Django loads).
    ``RABBITMQ_URL`` is set for ``--broker rabbitmq`` and removed otherwise (Redis broker). The
    workers' engines stream their accounts only with ``--streaming`` (the runs before the engine
    had no streaming process: off, the figures compare)."""
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.pop("RABBITMQ_URL", None)
    if rabbitmq_url:
        env["RABBITMQ_URL"] = rabbitmq_url
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DATABASE_CONN_MAX_AGE="60",
        TTMT_SAFETY_PREFIX=SAFETY_PREFIX,
        DJANGO_SETTINGS_MODULE="ttmt_site.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-" + os.urandom(24).hex(),
        TTMT_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        TTMT_LOG_LEVEL="WARNING",
        TTMT_ENGINE_STREAM="1" if streaming else "0",
        PATH=f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def recreate_database(database_url: str, env: dict[str, str]) -> float:
    """Drop and create the benchmark database, then migrate it in a subprocess. Returns seconds."""
    import psycopg
    from psycopg import sql

    started = time.perf_counter()
    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603
    return time.perf_counter() - started


def redis_client(redis_url: str):
    import redis

    return redis.Redis.from_url(redis_url)


def flush_owned_keys(redis_url: str) -> int:
    """Delete only this benchmark's keys (Dramatiq's namespace, the bench safety prefix and the call
    counts) in its db."""
    client = redis_client(redis_url)
    deleted = 0
    for pattern in (f"{DRAMATIQ_NAMESPACE}:*", f"{SAFETY_PREFIX}*", f"{CALLS_PREFIX}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 500):
            deleted += client.delete(*keys[start : start + 500])
    return deleted


# RabbitMQ (``--broker rabbitmq``): a dedicated vhost, re-created before the run and purged after it,
# through ``rabbitmqctl`` (this machine's node; no management plugin needed).


def rabbitmq_vhost(rabbitmq_url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(rabbitmq_url).path[1:]) or "/"


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(  # noqa: S603
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def rabbitmq_queues(vhost: str) -> dict[str, dict[str, int]]:
    """Queue name -> messages, consumers."""
    out = rabbitmqctl("list_queues", "-p", vhost, "name", "messages", "consumers", "--no-table-headers")
    queues = {}
    for line in out.strip().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            queues[parts[0]] = {"messages": int(parts[1]), "consumers": int(parts[2])}
    return queues


def rabbitmq_purge(vhost: str, prefixes=("execution", "account_setup")) -> int:
    """Purge the bench's queues in ``vhost`` (every queue of a dedicated vhost; only ``prefixes`` on '/')."""
    purged = 0
    for name, queue in rabbitmq_queues(vhost).items():
        if vhost != "/" or name.startswith(prefixes):
            if queue["messages"]:
                rabbitmqctl("purge_queue", "-p", vhost, name)
            purged += queue["messages"]
    return purged


def rabbitmq_prepare(rabbitmq_url: str) -> dict:
    """A fresh dedicated vhost (fresh queues: ``max_priority`` cannot change on an existing queue), or,
    on the shared default vhost '/', a purge of the bench's queues."""
    vhost = rabbitmq_vhost(rabbitmq_url)
    if vhost == "/":
        return {"vhost": vhost, "purged_messages": rabbitmq_purge(vhost)}
    existing = rabbitmqctl("list_vhosts", "name", "--no-table-headers").split()
    if vhost in existing:
        rabbitmqctl("delete_vhost", vhost)
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return {"vhost": vhost, "recreated": True}


class Workers:
    """``manage.py rundramatiq --processes 2 --threads 8 --queues execution``, started and stopped here."""

    def __init__(self, env: dict[str, str], workdir: Path, processes: int, threads: int) -> None:
        self.env, self.processes, self.threads = env, processes, threads
        self.pid_file = workdir / "dramatiq.pid"
        self.log_file = workdir / "dramatiq.log"
        self.command = [
            PYTHON,
            "manage.py",
            "rundramatiq",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--queues",
            "execution",
            "--pid-file",
            str(self.pid_file),
            "--log-file",
            str(self.log_file),
        ]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own fixed command
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_file.with_suffix(".stderr"), "w"),  # noqa: SIM115
        )

    def master_pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def wait_processes(self, timeout: float = 60.0) -> dict:
        """Wait until the master has written its pid file and ``ps`` shows ``processes`` children."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the workers exited with {self.proc.returncode}; see {self.log_file}")
            if self.pid_file.exists():
                described = self.describe()
                if described["worker_process_count"] >= self.processes:
                    return described
            time.sleep(0.2)
        raise RuntimeError(f"the worker processes did not start in {timeout:.0f} s")

    def wait_rabbitmq_consumers(self, vhost: str, timeout: float = 30.0) -> dict:
        """Informative: the consumers on the ``execution`` queue (Dramatiq: one per worker process; a
        different engine may consume differently). Waits up to ``timeout`` for ``processes``."""
        deadline = time.monotonic() + timeout
        queues: dict = {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the workers exited with {self.proc.returncode}; see {self.log_file}")
            queues = rabbitmq_queues(vhost)
            if queues.get("execution", {}).get("consumers", 0) >= self.processes:
                break
            time.sleep(1.0)
        consumers = {name: q["consumers"] for name, q in queues.items()}
        return {"expected_execution_consumers": self.processes, "consumers_by_queue": consumers}

    def wait_ready(self, redis_url: str, own_broker_id: str, timeout: float = 60.0) -> list[str]:
        """Wait until ``processes`` worker processes heartbeat on the Redis broker; their broker ids."""
        client = redis_client(redis_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the workers exited with {self.proc.returncode}; see {self.log_file}")
            now_ms = time.time() * 1000
            beats = client.zrangebyscore(f"{DRAMATIQ_NAMESPACE}:__heartbeats__", now_ms - 10_000, "+inf")
            ids = sorted(b.decode() for b in beats if b.decode() != own_broker_id)
            if self.pid_file.exists() and len(ids) >= self.processes:
                return ids
            time.sleep(0.2)
        raise RuntimeError(f"the workers did not report on the Redis broker in {timeout:.0f} s")

    def describe(self) -> dict:
        """The master and its worker processes as ``ps`` shows them."""
        master = self.master_pid()
        out = subprocess.run(  # noqa: S603
            ["/usr/bin/ps", "-o", "pid=,ppid=,rss=,args=", "--ppid", str(master), "-p", str(master)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        rows = [line.split(None, 3) for line in out.strip().splitlines()]
        children = [r for r in rows if int(r[1]) == master]
        return {
            "master_pid": master,
            "worker_pids": [int(r[0]) for r in children],
            "worker_process_count": len(children),
            "ps": [" ".join(r) for r in rows],
        }

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        pid = self.master_pid() if self.pid_file.exists() else self.proc.pid
        os.kill(pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            return self.proc.wait(10)


class ProductionWorkers(Workers):
    """The execution workers as the production topology starts them: ``bin/prod worker`` (honcho,
    the Procfile's ``worker`` line with ``TTMT_WORKER_PROCESSES`` processes), stopped through honcho."""

    def __init__(self, env: dict[str, str], workdir: Path, processes: int, threads: int) -> None:
        env = {**env, "TTMT_WORKER_PROCESSES": str(processes), "TTMT_METRICS_TOKEN": os.urandom(16).hex()}
        super().__init__(env, workdir, processes, threads)
        self.command = ["bash", "bin/prod", "worker"]
        self.pid_file = workdir / "no-pid-file"

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own fixed command
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log_file, "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not self.pid_file.exists() and time.monotonic() < deadline and self.proc.poll() is None:
            master = self._find_master()
            if master is not None:
                self.pid_file.write_text(str(master))
            else:
                time.sleep(0.2)

    @staticmethod
    def _find_master() -> int | None:
        """The Dramatiq main process consuming ``execution`` (its parent is not a Dramatiq process)."""
        out = subprocess.run(  # noqa: S603
            ["/usr/bin/ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=False
        ).stdout
        rows = [line.split(None, 2) for line in out.strip().splitlines()]
        dramatiq = {  # what manage.py rundramatiq becomes (exec): the main process and its workers
            int(r[0]): int(r[1])
            for r in rows
            if len(r) == 3 and "dramatiq --path" in r[2] and "--queues execution" in r[2]
        }
        masters = [pid for pid, parent in dramatiq.items() if parent not in dramatiq]
        with_children = [pid for pid in masters if any(parent == pid for parent in dramatiq.values())]
        return with_children[0] if len(with_children) == 1 else None

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)  # honcho stops every process it started
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


# ------------------------------------------------------------------------------------------------
# CPU accounting (read-only look at /proc: where the machine's CPU went during a burst)
# ------------------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _pid_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return 0.0


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


RABBITMQ_COMMANDS = ("beam.smp", "erl_child_setup", "inet_gethost", "epmd")  # the node, if it runs


def cpu_snapshot(worker_pids: list[int]) -> dict:
    """Cumulative CPU seconds: the whole machine (busy), this process, the workers, PostgreSQL, Redis,
    RabbitMQ (per process id, so that a process that exits between two snapshots cannot make a delta negative)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return {
        "machine_busy": (sum(fields[:8]) - idle) / TICK,
        "wall": time.monotonic(),
        "bench_process": time.process_time(),
        "workers": {pid: _pid_cpu(pid) for pid in worker_pids},
        "postgresql": {pid: _pid_cpu(pid) for pid in _pids_named("postgres")},
        "redis": {pid: _pid_cpu(pid) for pid in _pids_named("redis-server")},
        "rabbitmq": {pid: _pid_cpu(pid) for name in RABBITMQ_COMMANDS for pid in _pids_named(name)},
    }


def machine_busy_cores(window: float = 3.0) -> float:
    def busy_total() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(fields[:8]) - fields[3] - fields[4], sum(fields[:8])

    busy0, _ = busy_total()
    time.sleep(window)
    busy1, _ = busy_total()
    return (busy1 - busy0) / TICK / window


def wait_for_quiet_machine(max_wait: float, threshold: float) -> dict:
    """On a shared machine: wait (at most ``max_wait`` s) until other work uses <= ``threshold`` cores."""
    started = time.monotonic()
    busy = machine_busy_cores()
    while busy > threshold and time.monotonic() - started < max_wait:
        busy = machine_busy_cores()
    return {"busy_cores_before": round(busy, 2), "waited_s": round(time.monotonic() - started, 1)}


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU used between two snapshots. PostgreSQL backends that exited in between are not counted."""
    delta: dict[str, float] = {}
    for key, value in after.items():
        if isinstance(value, dict):
            delta[key] = sum(max(0.0, cpu - before[key].get(pid, 0.0)) for pid, cpu in value.items())
        else:
            delta[key] = value - before[key]
    wall = delta.pop("wall")
    workers = {
        pid: round(max(0.0, cpu - before["workers"].get(pid, 0.0)), 2)
        for pid, cpu in after["workers"].items()
    }
    ours = sum(delta[key] for key in ("bench_process", "workers", "postgresql", "redis", "rabbitmq"))
    delta["other_processes"] = max(0.0, delta["machine_busy"] - ours)
    result = {f"{key}_cpu_s": round(value, 2) for key, value in delta.items()}
    result["workers_cpu_s_by_pid"] = workers
    result["wall_s"] = round(wall, 2)
    result["machine_busy_cores"] = round(delta["machine_busy"] / wall, 2) if wall else None
    return result


CPU_GROUPS = (
    "workers",
    "bench_process",
    "postgresql",
    "redis",
    "rabbitmq",
    "other_processes",
    "machine_busy",
)


def cpu_ms_per_order(cpu: dict, orders: int) -> dict[str, float | None]:
    """Each group's CPU during the burst, in ms per finished order."""
    return {g: round(cpu[f"{g}_cpu_s"] * 1000 / orders, 2) if orders else None for g in CPU_GROUPS}


# ------------------------------------------------------------------------------------------------
# Statistics
# ------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (q in [0, 100])."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


# ------------------------------------------------------------------------------------------------
# Setup: N connected simulated accounts through the product's services
# ------------------------------------------------------------------------------------------------


def forget_broker_connection(close: bool = False, reopen: bool = False) -> None:
    """RabbitMQ only (a pika connection is per thread and not fork-safe; redis-py's pool is): in the
    parent, ``close=True`` closes this thread's connection (the next enqueue opens a new one, or
    ``reopen`` opens it now: one that did not idle past its heartbeat); in a forked child, drop the
    inherited state without touching the parent's socket."""
    import threading

    import dramatiq

    broker = dramatiq.get_broker()
    if type(broker).__name__ != "RabbitmqBroker":
        return
    if close:
        del broker.connection
        if reopen:
            broker.channel  # noqa: B018 - opens the connection and its channel
    else:
        broker.state, broker.connections, broker.channels = threading.local(), set(), set()


def _setup_chunk(organization_id: int, platform_id: int, logins: list[int]) -> list[int]:
    """In a forked setup process: connect and set up accounts as the setup actor would."""
    from django.db import connections

    from execution.accounts.services import account_connect
    from execution.accounts.setup import account_setup
    from orgs.models import Organization
    from platforms.models import TradePlatform

    connections.close_all()  # never share the parent's connection
    forget_broker_connection()  # nor its RabbitMQ connection (the parent closed it before forking)
    organization = Organization.objects.get(pk=organization_id)
    platform = TradePlatform.objects.get(pk=platform_id)
    ids = []
    for login in logins:
        account = account_connect(
            organization=organization,
            platform=platform,
            name=f"Bench {login}",
            type="demo",
            login=str(login),
            server=SERVER,
            password="mt-password",
        )
        account = account_setup(account_id=account.pk)
        if account.connection_state != account.CONNECTED:
            raise RuntimeError(
                f"account {account.pk} is {account.connection_state}: {account.connection_error}"
            )
        ids.append(account.pk)
    connections.close_all()
    return ids


def setup_accounts(n: int, label: str, setup_processes: int) -> tuple[object, list, dict]:
    import dramatiq
    from django.db import connections

    from accounts.models import User
    from execution.accounts.models import TradingAccount
    from orgs.services import organization_create
    from platforms.services import platform_create

    started = time.perf_counter()
    user = User.objects.create_user(f"bench-{label}@example.com", os.urandom(16).hex())
    organization = organization_create(creator=user, name=f"Bench {label}")
    platform = platform_create(
        organization=organization,
        name=f"Simulated bench {label}",
        type="mt5",
        api="simulated",
        servers=[SERVER],
    )
    logins = list(range(100_000, 100_000 + n))
    workers = max(1, min(setup_processes, n))
    chunks = [logins[i::workers] for i in range(workers)]
    connections.close_all()
    forget_broker_connection(close=True)
    if workers == 1:
        _setup_chunk(organization.pk, platform.pk, logins)
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            list(pool.map(_setup_chunk, [organization.pk] * workers, [platform.pk] * workers, chunks))
    setup_seconds = time.perf_counter() - started
    # account_connect enqueued setup messages on the (unconsumed) account_setup queue: we ran the
    # setup ourselves, so drop them (our Redis db, or our RabbitMQ vhost).
    forget_broker_connection(close=True)  # RabbitMQ: a fresh connection, idle during the setup
    dramatiq.get_broker().flush("account_setup")
    accounts = list(
        TradingAccount.objects.select_related("platform").filter(platform=platform).order_by("pk")
    )
    assert len(accounts) == n and all(a.connection_state == a.CONNECTED for a in accounts)
    return platform, accounts, {"setup_seconds": round(setup_seconds, 2), "setup_processes": workers}


# ------------------------------------------------------------------------------------------------
# The pipeline burst
# ------------------------------------------------------------------------------------------------


def accept_together(accounts: list) -> None:
    """The fan-out: one market order for every account, accepted by one service call (one
    transaction, each account its own operation), as a signal routed to every account is."""
    from execution.orders.accept import Planned, submit_many

    params = {"symbol": SYMBOL, "requested_symbol": SYMBOL, "side": "buy", "type": "market"}
    params |= {"sl": None, "tp": None, "price": None}
    submit_many(
        [Planned(account=a, kind="place_order", params=params, requested_by="bench") for a in accounts]
    )


def pipeline_burst(
    platform, accounts: list, orders_per_account: int, wait_timeout: float, *, bulk: bool = False
) -> dict:
    """K rounds of one order per account, each round accepted one order after another, or with
    ``bulk`` all at once (``accept_together``); measured on the operations accepted here."""
    from django.db.models import Count

    from execution.broker.simulator import account_key, engine
    from execution.orders.accept import order_place
    from execution.orders.models import Operation, OperationAttempt

    earlier = Operation.objects.filter(account__platform=platform)
    before_id = max(earlier.values_list("id", flat=True), default=0)
    positions_before = {a.pk: len(engine().load_account(account_key(a.pk)).positions) for a in accounts}
    # Accept, in this process (commits and enqueues).
    accept_started = time.time()
    for _ in range(orders_per_account):
        if bulk:
            accept_together(accounts)
            continue
        for account in accounts:
            order_place(account=account, symbol=SYMBOL, side="buy", type="market", requested_by="bench")
    accept_seconds = time.time() - accept_started
    total = len(accounts) * orders_per_account

    ops = Operation.objects.filter(account__platform=platform, id__gt=before_id)
    deadline = time.monotonic() + wait_timeout
    while True:
        finished = ops.filter(state__in=Operation.TERMINAL).count()
        if finished >= total or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    rows = list(ops.values("id", "account_id", "client_tag", "state", "reason", "created_at", "finished_at"))
    attempts = OperationAttempt.objects.filter(operation__in=ops)
    first_attempts = dict(attempts.filter(number=1).values_list("operation_id", "started_at"))
    durations = [d / 1000 for d in attempts.values_list("duration_ms", flat=True) if d is not None]
    attempts_total = attempts.count()
    terminal = [r for r in rows if r["state"] in Operation.TERMINAL]
    failed = [r for r in rows if r["state"] == Operation.FAILED]
    first_accept = min(r["created_at"] for r in rows)
    last_finish = max((r["finished_at"] for r in terminal), default=None)
    span = (last_finish - first_accept).total_seconds() if last_finish else None
    latencies = [
        (first_attempts[r["id"]] - r["created_at"]).total_seconds() for r in rows if r["id"] in first_attempts
    ]
    accepted_to_finished = [
        (r["finished_at"] - r["created_at"]).total_seconds() for r in terminal if r["finished_at"]
    ]

    # Duplicates: every position at the simulated broker must belong to exactly one done operation.
    done_tags_by_account: dict[int, set[str]] = {}
    for r in rows:
        if r["state"] == Operation.DONE:
            done_tags_by_account.setdefault(r["account_id"], set()).add(r["client_tag"])
    extra_positions = missing_positions = accounts_mismatched = positions_total = 0
    for account in accounts:
        state = engine().load_account(account_key(account.pk))
        tags = [p.client_tag for p in state.positions[positions_before[account.pk] :]]
        positions_total += len(tags)
        expected = done_tags_by_account.get(account.pk, set())
        extra = len(tags) - len(set(tags)) + len(set(tags) - expected)
        missing = len(expected - set(tags))
        extra_positions += extra
        missing_positions += missing
        accounts_mismatched += bool(extra or missing or len(tags) != orders_per_account)

    per_account = Counter(ops.values("account_id").annotate(n=Count("id")).values_list("n", flat=True))
    return {
        "operations": total,
        "accept_seconds": round(accept_seconds, 2),
        "accept_rate_ops_s": round(total / accept_seconds, 1),
        "finished": len(terminal),
        "done": len(terminal) - len(failed),
        "failures": len(failed),
        "failure_reasons": dict(Counter(r["reason"][:120] for r in failed).most_common(5)),
        "unfinished": total - len(terminal),
        "attempts": attempts_total,
        "span_seconds": round(span, 3) if span else None,
        "throughput_ops_s": round(len(terminal) / span, 2) if span else None,
        "throughput_done_ops_s": round((len(terminal) - len(failed)) / span, 2) if span else None,
        "latency_p50_ms": ms(percentile(latencies, 50)),
        "latency_p99_ms": ms(percentile(latencies, 99)),
        "latency_max_ms": ms(max(latencies, default=None)),
        "accepted_to_finished_p50_ms": ms(percentile(accepted_to_finished, 50)),
        "accepted_to_finished_p99_ms": ms(percentile(accepted_to_finished, 99)),
        "gateway_session_p50_ms": ms(percentile(durations, 50)),
        "gateway_session_p99_ms": ms(percentile(durations, 99)),
        "positions_at_broker": positions_total,
        "duplicates": extra_positions,
        "missing_positions": missing_positions,
        "accounts_with_positions_not_equal_orders": accounts_mismatched,
        "operations_per_account": dict(per_account),
    }


def operation_cost(accounts: list, count: int) -> dict:
    """One operation at a time, in this process, workers stopped: wall, CPU and queries of accepting
    (``order_place``) and of running (``engine().run_now``: the engine's loop and database pool, as
    in a worker), and the simulated broker's share (``SimulatedEngine.call``/``open_account``, whose
    state store is the database). Queries are counted in every thread (the engine's pool runs them)."""
    import threading

    from django.db import connection
    from django.db.backends.utils import CursorWrapper
    from django.test.utils import CaptureQueriesContext

    from execution.broker.gateways.simulated.engine import SimulatedEngine
    from execution.engine.engine import engine
    from execution.orders.accept import order_place

    executed = {"queries": 0}
    guard = threading.Lock()
    original_execute = CursorWrapper._execute_with_wrappers

    def counting_execute(self, *args, **kwargs):
        with guard:
            executed["queries"] += 1
        return original_execute(self, *args, **kwargs)

    simulator = {"cpu": 0.0, "wall": 0.0, "queries": 0, "calls": 0}

    def timed(original):
        def wrapper(self, *args, **kwargs):
            queries, cpu, wall = executed["queries"], time.thread_time(), time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                simulator["cpu"] += time.thread_time() - cpu
                simulator["wall"] += time.perf_counter() - wall
                simulator["queries"] += executed["queries"] - queries
                simulator["calls"] += 1

        return wrapper

    accounts = accounts[: count + 1]
    accept = {"cpu": 0.0, "wall": 0.0, "queries": 0}
    operations = []
    for account in accounts:
        with CaptureQueriesContext(connection) as captured:
            cpu, wall = time.process_time(), time.perf_counter()
            operations.append(order_place(account=account, symbol=SYMBOL, side="buy", type="market"))
            accept["cpu"] += time.process_time() - cpu
            accept["wall"] += time.perf_counter() - wall
        accept["queries"] += len(captured)
    engine().run_now(operations.pop(0).pk)  # warm-up (imports, caches, connections)
    calls_before = LOCAL_CALLS.snapshot()
    original_call, original_open = SimulatedEngine.call, SimulatedEngine.open_account
    SimulatedEngine.call, SimulatedEngine.open_account = timed(original_call), timed(original_open)
    CursorWrapper._execute_with_wrappers = counting_execute
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for operation in operations:
            engine().run_now(operation.pk)
        run_cpu, run_wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        SimulatedEngine.call, SimulatedEngine.open_account = original_call, original_open
        CursorWrapper._execute_with_wrappers = original_execute
    n = len(operations)
    calls = LOCAL_CALLS.snapshot() - calls_before
    return {
        "operations": n,
        "accept_wall_ms": round(accept["wall"] / len(accounts) * 1000, 1),
        "accept_cpu_ms": round(accept["cpu"] / len(accounts) * 1000, 1),
        "accept_queries": round(accept["queries"] / len(accounts), 1),
        "run_wall_ms": round(run_wall / n * 1000, 1),
        "run_cpu_ms": round(run_cpu / n * 1000, 1),
        "run_queries": round(executed["queries"] / n, 1),
        "simulator_calls": round(simulator["calls"] / n, 1),
        "simulator_wall_ms": round(simulator["wall"] / n * 1000, 1),
        "simulator_cpu_ms": round(simulator["cpu"] / n * 1000, 1),
        "simulator_queries": round(simulator["queries"] / n, 1),
        "gateway_calls_per_op": per_order(calls, n),
    }


# ------------------------------------------------------------------------------------------------
# The limit: a bare asyncio loop, the pipeline's gateway calls, same bounds
# ------------------------------------------------------------------------------------------------

NOT_COMPARED = ("connect_reused", "disconnect_noop")  # no broker round trip: reported, not compared
ORDER_KINDS = ("price", "place_order")  # a market order's own calls: once per order in the limit
EXTRA_CALLS = {  # other calls the pipeline may make, replayed by the limit in its order sessions
    "price": lambda gateway, tag: gateway.price(SYMBOL),
    "account_information": lambda gateway, tag: gateway.account_information(),
    "positions": lambda gateway, tag: gateway.positions(),
    "orders": lambda gateway, tag: gateway.orders(),
    "symbols": lambda gateway, tag: gateway.symbols(),
    "symbol_spec": lambda gateway, tag: gateway.symbol_spec(SYMBOL),
    "find_by_client_tag": lambda gateway, tag: gateway.find_by_client_tag(tag),
    "history_deals": lambda gateway, tag: gateway.history_deals(
        dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    ),
}


def spread(total: int, parts: int) -> list[int]:
    """``total`` split over ``parts`` as evenly as possible (the first ones get the remainder)."""
    base, extra = divmod(max(0, total), parts)
    return [base + (i < extra) for i in range(parts)]


def gateway_kinds(counts: Counter) -> Counter:
    """The broker calls (gateway methods) of a count, without the engine's view and the no-ops."""
    return Counter(
        {
            k: v
            for k, v in counts.items()
            if v and not k.startswith(gateway_calls.ENGINE_PREFIX) and k not in NOT_COMPARED
        }
    )


def per_order(counts: Counter, orders: int) -> dict[str, float]:
    return {k: round(v / orders, 3) for k, v in sorted(counts.items())} if orders else {}


def limit_plan(mode: str, n: int, k: int, pipeline_calls: Counter | None) -> dict:
    """Which sessions and calls the limit makes. ``per-order``: a session (connect ... disconnect) per
    order, ``per-account``: one per account for all its orders; ``measured``: exactly the pipeline's
    counts of this run (its sessions and disconnects spread over the accounts, its calls other than
    one price and one place_order per order replayed in the orders' sessions)."""
    if mode == "per-order":
        return {"mode": mode, "sessions": [k] * n, "disconnects": [k] * n, "extra_calls": {}}
    if mode == "per-account":
        return {"mode": mode, "sessions": [1] * n, "disconnects": [1] * n, "extra_calls": {}}
    calls = gateway_kinds(pipeline_calls or Counter())
    extras, not_replayed = {}, {}
    for kind, count in sorted(calls.items()):
        if kind in ("connect", "disconnect"):
            continue
        extra = count - (n * k if kind in ORDER_KINDS else 0)
        if extra > 0:
            (extras if kind in EXTRA_CALLS else not_replayed)[kind] = extra
    return {
        "mode": mode,
        "sessions": spread(calls["connect"], n),
        "disconnects": spread(calls["disconnect"], n),
        "extra_calls": extras,
        "not_replayed": not_replayed,
    }


def plan_summary(plan: dict) -> dict:
    return {
        "mode": plan["mode"],
        "sessions": sum(plan["sessions"]),
        "accounts_without_a_session_in_the_burst": plan["sessions"].count(0),
        "disconnects": sum(plan["disconnects"]),
        "extra_calls": plan["extra_calls"],
        "not_replayed": plan.get("not_replayed", {}),
    }


async def _limit(
    n: int,
    orders_per_account: int,
    latency: float,
    scope: str,
    max_in_flight: int,
    gap: float,
    seed,
    plan: dict,
    sink: gateway_calls.LocalSink,
) -> dict:
    from execution.broker.gateways.base import OrderKind, OrderRequest, Side
    from execution.broker.gateways.simulated import (
        FaultSettings,
        InMemoryStateStore,
        SimulatedEngine,
        SimulatedGateway,
        account_scope,
        platform_scope,
        run_inline,
    )

    engine = SimulatedEngine(InMemoryStateStore(), seed=seed)
    keys = [f"limit-{i}" for i in range(n)]
    with sink.paused():
        for key in keys:
            engine.open_account(
                key, server=SERVER, balance=Decimal(10000), platform="mt5", fault_group="bench"
            )
    faults = FaultSettings(latency_seconds=latency, applies_to="all")
    if scope == "platform":
        engine.set_faults(platform_scope("bench"), faults)
    else:
        for key in keys:
            engine.set_faults(account_scope(key), faults)
    volume = Decimal("0.01")  # the fixed-lots default the pipeline computes
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    finishes: list[float] = []
    sessions: list[float] = []
    errors: list[str] = []
    total = n * orders_per_account
    extra_total = {kind: count for kind, count in plan["extra_calls"].items() if count}
    left_open: list = []  # sessions the plan does not disconnect in the burst (closed after it, uncounted)

    def new_gateway(key: str):
        return SimulatedGateway(engine, key, server=SERVER, platform="mt5", run_sync=run_inline)

    def extras_for(index: int) -> list[str]:
        """The extra calls of the order with this global index (round-robin order, as accepted)."""
        return [
            kind
            for kind, count in extra_total.items()
            for _ in range((index + 1) * count // total - index * count // total)
        ]

    class Session:
        def __init__(self, gateway, size: int, connected=None) -> None:
            self.gateway, self.left, self.connecting = gateway, size, connected

    async def close(session: Session, budget: list[int]) -> None:
        if budget[0] > 0:
            budget[0] -= 1
            await session.gateway.disconnect()
        else:
            left_open.append(session.gateway)

    async def one_order(key, number, index, session, budget, slots, accepted) -> None:
        started = loop.time()
        latencies.append(started - accepted)  # accepted -> the gateway session starts
        gateway = session.gateway
        try:
            try:
                if session.connecting is None:  # the session's first order connects, inline
                    session.connecting = loop.create_future()
                    try:
                        await gateway.connect()
                    except BaseException as error:
                        session.connecting.set_exception(error)
                        raise
                    session.connecting.set_result(None)
                else:
                    await session.connecting  # done already unless its first order is connecting
                for kind in extras_for(index):
                    await EXTRA_CALLS[kind](gateway, f"lim-{key}-{number}")
                quote = await gateway.price(SYMBOL)
                assert quote.ask > 0
                await gateway.place_order(
                    OrderRequest(SYMBOL, Side.BUY, OrderKind.MARKET, volume, client_tag=f"lim-{key}-{number}")
                )
            finally:
                session.left -= 1
                if session.left == 0:
                    await close(session, budget)
        except Exception as error:  # noqa: BLE001 - counted as a failure
            errors.append(f"{type(error).__name__}: {error}")
        finally:
            now = loop.time()
            sessions.append(now - started)
            finishes.append(now)
            slots.release()

    # Each account's sessions: the orders split into contiguous groups, one session per group. An
    # account with no session in the plan uses one opened before t0 (it existed before the burst).
    plans = []
    for i, key in enumerate(keys):
        count, budget = plan["sessions"][i], [plan["disconnects"][i]]
        if count == 0:
            gateway = new_gateway(key)
            with sink.paused():
                await gateway.connect()
            opened = loop.create_future()
            opened.set_result(None)
            groups, empty = [Session(gateway, orders_per_account, opened)], 0
        else:
            sizes = spread(orders_per_account, min(count, orders_per_account))
            groups, empty = [Session(new_gateway(key), size) for size in sizes], count - len(sizes)
        by_order = [session for session in groups for _ in range(session.left)]
        plans.append((key, by_order, empty, budget))

    async def account_driver(i: int, key: str, by_order: list, empty: int, budget, accepted) -> None:
        """Start this account's orders in order: <= max_in_flight at once, >= gap between starts."""
        for _ in range(empty):  # more sessions than orders: the extra ones carry no order
            gateway = new_gateway(key)
            await gateway.connect()
            await close(Session(gateway, 0), budget)
        slots = asyncio.Semaphore(max_in_flight)
        last_start: float | None = None
        tasks = []
        for number, session in enumerate(by_order):
            await slots.acquire()
            if last_start is not None and (pause := last_start + gap - loop.time()) > 0:
                await asyncio.sleep(pause)
            last_start = loop.time()
            index = number * n + i
            tasks.append(asyncio.create_task(one_order(key, number, index, session, budget, slots, accepted)))
        await asyncio.gather(*tasks)

    accepted = loop.time()  # the whole burst is accepted at once
    await asyncio.gather(*(account_driver(i, *account, accepted) for i, account in enumerate(plans)))
    span = max(finishes) - accepted
    with sink.paused():
        for gateway in left_open:
            await gateway.disconnect()
    positions = sum(len(engine.load_account(key).positions) for key in keys)
    return {
        "operations": total,
        "failures": len(errors),
        "failure_reasons": dict(Counter(e[:120] for e in errors).most_common(3)),
        "positions_at_broker": positions,
        "span_seconds": round(span, 3),
        "throughput_ops_s": round(total / span, 2),
        "latency_p50_ms": ms(percentile(latencies, 50)),
        "latency_p99_ms": ms(percentile(latencies, 99)),
        "gateway_session_p50_ms": ms(percentile(sessions, 50)),
        "gateway_session_p99_ms": ms(percentile(sessions, 99)),
        "sessions_left_open_in_the_burst": len(left_open),
    }


def limit_run(
    n: int, orders_per_account: int, latency: float, scope: str, plan: dict, sink: gateway_calls.LocalSink
) -> dict:
    from django.conf import settings

    speed = settings.TTMT_SAFETY["speed"]
    before = sink.snapshot()
    started = time.process_time()
    result = asyncio.run(
        _limit(
            n,
            orders_per_account,
            latency,
            scope,
            speed["max_in_flight"],
            speed["min_gap"],
            settings.TTMT_SIMULATOR_SEED,
            plan,
            sink,
        )
    )
    cpu = time.process_time() - started
    calls = sink.snapshot() - before
    result["cpu_seconds"] = round(cpu, 2)
    result["cpu_ms_per_order"] = round(cpu * 1000 / result["operations"], 2)
    result["plan"] = plan_summary(plan)
    result["gateway_calls"] = dict(sorted(calls.items()))
    result["gateway_calls_per_order"] = per_order(calls, result["operations"])
    return result


def honesty(pipeline_calls: Counter, limit_calls: Counter, mode: str, n: int, k: int, failures: int) -> dict:
    """Does the limit make exactly the pipeline's broker calls? Warnings when not."""
    p, q = gateway_kinds(pipeline_calls), gateway_kinds(limit_calls)
    mismatches = {
        kind: {"pipeline": p[kind], "limit": q[kind]}
        for kind in sorted(set(p) | set(q))
        if p[kind] != q[kind]
    }
    warnings = []
    if not p:
        warnings.append("no broker calls were counted in the workers: did their sitecustomize shim load?")
    if mismatches:
        text = ", ".join(f"{kind} {m['pipeline']} vs {m['limit']}" for kind, m in mismatches.items())
        warnings.append(
            f"the limit's broker calls differ from the pipeline's (pipeline vs limit): {text}"
            + (f"; the pipeline had {failures} failed operations" if failures else "")
        )
    expected = {"per-order": n * k, "per-account": n}.get(mode)
    if expected is not None and p["connect"] != expected:
        warnings.append(
            f"--limit-session {mode} expects {expected} connects; the pipeline opened {p['connect']} "
            f"({round(p['connect'] / (n * k), 3)} per order): use --limit-session measured"
        )
    return {"honest": not warnings, "mismatches": mismatches, "warnings": warnings}


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def ratio(a, b) -> float | None:
    return None if not a or not b else round(a / b, 3)


def calls_text(calls: dict[str, float]) -> str:
    short = {"connect": "conn", "disconnect": "disc", "place_order": "place", "price": "price"}
    return " ".join(f"{short.get(k, k)} {v:g}" for k, v in calls.items()) or "-"


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'N':>5} {'K':>2} {'ops':>5} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'fail':>4} {'dup':>3}"
        f" | {'lim ops/s':>9} {'lim p50':>8} {'lim p99':>8} | {'ratio':>6} {'p50 x':>6} {'p99 x':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        p, lim = r["pipeline"], r["limit"]
        print(
            f"{r['accounts']:>5} {r['orders_per_account']:>2} {p['operations']:>5} {p['throughput_ops_s']!s:>8}"
            f" {p['latency_p50_ms']!s:>8} {p['latency_p99_ms']!s:>8} {p['failures']:>4} {p['duplicates']:>3}"
            f" | {lim['throughput_ops_s']:>9} {lim['latency_p50_ms']:>8} {lim['latency_p99_ms']:>8}"
            f" | {r['ratio_throughput']!s:>6} {r['ratio_latency_p50']!s:>6} {r['ratio_latency_p99']!s:>6}"
        )
    print("ratio = pipeline / limit (throughput: higher is better; p50 x, p99 x: latency multiples)")
    print()
    header = (
        f"{'N':>5} {'conn/order':>10} | CPU ms/order: {'workers':>7} {'accept':>6} {'pg':>5} {'redis':>5}"
        f" {'rmq':>5} {'other':>5} {'limit':>5} | honest | broker calls per order (pipeline)"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        p, lim, c = r["pipeline"], r["limit"], r["pipeline"]["cpu_ms_per_order"]
        print(
            f"{r['accounts']:>5} {p['connects']['per_order']!s:>10} |               {c['workers']!s:>7}"
            f" {c['bench_process']!s:>6} {c['postgresql']!s:>5} {c['redis']!s:>5} {c['rabbitmq']!s:>5}"
            f" {c['other_processes']!s:>5} {lim['cpu_ms_per_order']!s:>5} | {'yes' if r['limit_honesty']['honest'] else 'NO':>6}"
            f" | {calls_text(gateway_kinds_per_order(p))}"
        )
    print("conn = simulated gateway sessions opened by the workers; accept = this process; honest: the limit")
    print("made exactly the pipeline's broker calls (see the warnings above otherwise)")


def gateway_kinds_per_order(pipeline: dict) -> dict[str, float]:
    return per_order(gateway_kinds(Counter(pipeline["gateway_calls"])), pipeline["operations"])


def connects_figures(calls: Counter, n: int, operations: int) -> dict:
    total = calls["connect"]
    return {
        "total": total,
        "per_order": round(total / operations, 3) if operations else None,
        "per_account": round(total / n, 3),
        "reused_per_order": round(calls["connect_reused"] / operations, 3) if operations else None,
        # the target: an account's first order opens its session, the next ones reuse it
        "after_the_first_per_order": round(max(0, total - n) / (operations - n), 3)
        if operations > n
        else None,
    }


def measured_burst(args, workers: Workers, platform, accounts: list, k: int, *, bulk: bool = False):
    """A pipeline burst with the CPU of every process and the broker calls the workers made."""
    n = len(accounts)
    counts = redis_client(args.redis_url)
    worker_pids = [workers.master_pid(), *workers.describe()["worker_pids"]]
    gateway_calls.reset_counts(counts)
    load_before = os.getloadavg()
    cpu_before = cpu_snapshot(worker_pids)
    pipeline = pipeline_burst(platform, accounts, k, args.wait_timeout, bulk=bulk)
    pipeline["cpu"] = cpu_delta(cpu_before, cpu_snapshot(worker_pids))
    pipeline["cpu"]["loadavg_1m_before"] = round(load_before[0], 2)
    pipeline["cpu"]["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    other_cores = pipeline["cpu"]["other_processes_cpu_s"] / max(pipeline["cpu"]["wall_s"], 1e-9)
    pipeline["cpu"]["other_processes_cores"] = round(other_cores, 2)
    pipeline["cpu"]["machine_was_busy"] = other_cores > args.quiet_cores
    pipeline["cpu_ms_per_order"] = cpu_ms_per_order(pipeline["cpu"], pipeline["finished"])
    calls, by_pid = gateway_calls.read_counts(counts)
    ops = pipeline["operations"]
    pipeline["connects"] = connects_figures(calls, n, ops)
    pipeline["gateway_calls"] = dict(sorted(calls.items()))
    pipeline["gateway_calls_per_order"] = per_order(calls, ops)
    pipeline["gateway_calls_by_process"] = {
        pid: dict(sorted(gateway_kinds(c).items())) for pid, c in sorted(by_pid.items())
    }
    print(
        f"   pipeline: {pipeline['throughput_ops_s']} ops/s, p50 {pipeline['latency_p50_ms']} ms, "
        f"p99 {pipeline['latency_p99_ms']} ms, span {pipeline['span_seconds']} s, "
        f"accept {pipeline['accept_seconds']} s, failures {pipeline['failures']} "
        f"(done only: {pipeline['throughput_done_ops_s']} ops/s), "
        f"duplicates {pipeline['duplicates']}, gateway session p50 {pipeline['gateway_session_p50_ms']} ms"
    )
    c, m = pipeline["cpu"], pipeline["cpu_ms_per_order"]
    print(
        f"   cpu during the burst ({c['wall_s']} s, {os.cpu_count()} cores): machine busy "
        f"{c['machine_busy_cores']} cores; workers {c['workers_cpu_s']} s, this process (accept) "
        f"{c['bench_process_cpu_s']} s, PostgreSQL {c['postgresql_cpu_s']} s, Redis {c['redis_cpu_s']} s, "
        f"RabbitMQ {c['rabbitmq_cpu_s']} s, other processes {c['other_processes_cpu_s']} s"
    )
    print(
        f"   cpu ms per order: workers {m['workers']}, accept {m['bench_process']}, PostgreSQL "
        f"{m['postgresql']}, Redis {m['redis']}, RabbitMQ {m['rabbitmq']}, other {m['other_processes']}"
    )
    print(
        f"   broker calls per order (workers {sorted(by_pid)}): {calls_text(gateway_kinds_per_order(pipeline))}; "
        f"sessions opened {calls['connect']} ({pipeline['connects']['per_order']} per order), "
        f"reused {calls['connect_reused']}"
    )
    if pipeline["cpu"]["machine_was_busy"]:
        print(
            f"   WARNING: other processes used {round(other_cores, 2)} cores during the burst (load average "
            f"{pipeline['cpu']['loadavg_1m_after']}): the machine was busy, the figures are distorted"
        )
    if pipeline["failure_reasons"]:
        print(f"   failure reasons: {pipeline['failure_reasons']}")

    return pipeline, calls


def one_size(args, workers: Workers, index: int, n: int, k: int) -> tuple[dict, list]:
    """Set up N accounts, run the pipeline burst and the limit for them; the table row and the accounts."""
    from django.conf import settings

    from execution.broker.faults import simulated_faults_set

    print(f"\n== N={n} accounts x K={k} orders = {n * k} operations")
    platform, accounts, setup = setup_accounts(n, f"n{n}-{index}", args.setup_processes)
    print(f"   setup: {n} accounts in {setup['setup_seconds']} s ({setup['setup_processes']} processes)")
    started = time.perf_counter()
    if args.latency_scope == "platform":
        simulated_faults_set(platform=platform, latency_seconds=args.latency, applies_to="all")
    else:
        for account in accounts:
            simulated_faults_set(account=account, latency_seconds=args.latency, applies_to="all")
    setup["latency_set_seconds"] = round(time.perf_counter() - started, 2)

    quiet = wait_for_quiet_machine(args.quiet_wait, args.quiet_cores)
    print(f"   machine before: {quiet['busy_cores_before']} busy cores (waited {quiet['waited_s']} s)")
    forget_broker_connection(close=True, reopen=True)  # RabbitMQ: a fresh connection to enqueue on

    pipeline, calls = measured_burst(args, workers, platform, accounts, k, bulk=args.accept == "bulk")
    plan = limit_plan(args.limit_session, n, k, calls)
    limit_quiet = wait_for_quiet_machine(args.quiet_wait, args.quiet_cores)
    limit = limit_run(n, k, args.latency, args.latency_scope, plan, LOCAL_CALLS)
    limit["machine_before"] = limit_quiet
    print(
        f"   limit ({plan['mode']}: {sum(plan['sessions'])} sessions): {limit['throughput_ops_s']} ops/s, "
        f"p50 {limit['latency_p50_ms']} ms, p99 {limit['latency_p99_ms']} ms, span {limit['span_seconds']} s, "
        f"cpu {limit['cpu_seconds']} s ({limit['cpu_ms_per_order']} ms per order)"
    )
    honest = honesty(calls, Counter(limit["gateway_calls"]), plan["mode"], n, k, pipeline["failures"])
    for warning in honest["warnings"]:
        print(f"   WARNING: {warning}")
    if honest["honest"]:
        print("   limit honest: it made exactly the pipeline's broker calls")
    fanout = None
    if args.fanout:  # the sessions are open now: one order for every account, accepted together
        quiet = wait_for_quiet_machine(args.quiet_wait, args.quiet_cores)
        print(f"   fan-out: one order for each of {n} accounts accepted together (sessions open)")
        fanout, _calls = measured_burst(args, workers, platform, accounts, 1, bulk=True)
        fanout["machine_before"] = quiet
        print(
            f"   fan-out: accepted -> broker p50 {fanout['latency_p50_ms']} ms, p99 {fanout['latency_p99_ms']} ms, "
            f"last {fanout['latency_max_ms']} ms; accepted -> done p99 {fanout['accepted_to_finished_p99_ms']} ms"
        )
    row = {
        "accounts": n,
        "orders_per_account": k,
        "fanout": fanout,
        "speed_bound_seconds_per_account": round((k - 1) * settings.TTMT_SAFETY["speed"]["min_gap"], 2),
        "setup": setup,
        "machine_before": quiet,
        "pipeline": pipeline,
        "limit": limit,
        "limit_honesty": honest,
        "ratio_throughput": ratio(pipeline["throughput_ops_s"], limit["throughput_ops_s"]),
        "ratio_latency_p50": ratio(pipeline["latency_p50_ms"], limit["latency_p50_ms"]),
        "ratio_latency_p99": ratio(pipeline["latency_p99_ms"], limit["latency_p99_ms"]),
    }
    return row, accounts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument(
        "--orders-per-account",
        type=int,
        nargs="+",
        default=[5, 5, 1],
        help="one value, or one per --accounts",
    )
    parser.add_argument("--latency", type=float, default=0.02, help="simulated latency per call (s)")
    parser.add_argument(
        "--latency-scope",
        choices=["platform", "account"],
        default="platform",
        help="where the simulated latency is set: the platform (one fault document shared by all its "
        "accounts, as the issue asks) or each account (for comparison)",
    )
    parser.add_argument(
        "--worker-timeout-ms",
        type=int,
        default=None,
        help="set dramatiq_worker_timeout for the workers (Dramatiq's idle poll cap; default 1000 ms)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=180.0,
        help="before each burst, wait up to this long (s) for the machine to be quiet (shared machines)",
    )
    parser.add_argument("--quiet-cores", type=float, default=0.3, help="quiet: at most this many busy cores")
    parser.add_argument(
        "--op-cost", type=int, default=20, help="operations for the serial cost measurement (0: skip)"
    )
    parser.add_argument(
        "--accept",
        choices=["one", "bulk"],
        default="one",
        help="the burst's K rounds: each order accepted by itself (order_place), or each round's orders "
        "for every account by one service call (submit_many, the signal pipeline's path)",
    )
    parser.add_argument(
        "--fanout",
        action="store_true",
        help="after each burst: one order for every account accepted together (sessions open), timed",
    )
    parser.add_argument(
        "--topology",
        choices=["prod", "workers"],
        default="workers",
        help="prod: the workers as bin/prod starts them (honcho, the Procfile; needs --broker rabbitmq); "
        "workers: manage.py rundramatiq started here",
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--setup-processes", type=int, default=2)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--broker",
        choices=["redis", "rabbitmq"],
        default="redis",
        help="Dramatiq's broker: Redis (--redis-url), or RabbitMQ (RABBITMQ_URL=--rabbitmq-url for the "
        "workers and this process; Redis still holds the safety state)",
    )
    parser.add_argument(
        "--rabbitmq-url",
        default=DEFAULT_RABBITMQ_URL,
        help="with --broker rabbitmq; its vhost is deleted and re-created (on '/': the execution* and "
        "account_setup* queues are purged instead)",
    )
    parser.add_argument(
        "--limit-session",
        choices=["measured", "per-order", "per-account"],
        default="measured",
        help="the limit's gateway sessions: measured = exactly the pipeline's broker calls of the same "
        "run (default); per-order / per-account = fixed, with a warning when the pipeline differs",
    )
    parser.add_argument(
        "--streaming",
        action="store_true",
        help="let the workers' engines stream their accounts too (live dashboard), as in production",
    )
    parser.add_argument("--tag", default="", help="appended to the result file name, e.g. before-engine")
    parser.add_argument("--note", default="", help="free text stored in the JSON (e.g. the run conditions)")
    parser.add_argument("--wait-timeout", type=float, default=180.0, help="max wait for one burst (s)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if len(args.orders_per_account) == 1:
        args.orders_per_account *= len(args.accounts)
    if len(args.orders_per_account) != len(args.accounts):
        parser.error("--orders-per-account takes one value, or one per --accounts value")

    rabbitmq_url = args.rabbitmq_url if args.broker == "rabbitmq" else None
    env = bench_environment(args.database_url, args.redis_url, rabbitmq_url, streaming=args.streaming)
    if args.worker_timeout_ms is not None:
        env["dramatiq_worker_timeout"] = str(args.worker_timeout_ms)
    for name in set(os.environ) - set(env):  # e.g. RABBITMQ_URL with --broker redis
        del os.environ[name]
    os.environ.update({k: v for k, v in env.items() if k != "PATH"})
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    uptime_start = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"machine: {uptime_start}")
    print(f"database {args.database_url} (re-created), Redis {args.redis_url}, safety prefix {SAFETY_PREFIX}")
    flushed = flush_owned_keys(args.redis_url)
    rabbitmq = rabbitmq_prepare(rabbitmq_url) if rabbitmq_url else None
    if rabbitmq:
        print(f"RabbitMQ {rabbitmq_url}: {rabbitmq}")
    migrate_seconds = recreate_database(args.database_url, env)
    print(f"database created and migrated in {migrate_seconds:.1f} s; {flushed} stale Redis keys removed")

    import django

    django.setup()
    import dramatiq
    from django.conf import settings
    from django.db import connection

    gateway_calls.install(LOCAL_CALLS)
    broker = dramatiq.get_broker()
    expected_broker = {"redis": "RedisBroker", "rabbitmq": "RabbitmqBroker"}[args.broker]
    if type(broker).__name__ != expected_broker:
        raise SystemExit(
            f"--broker {args.broker}: the settings built {type(broker).__name__}, not {expected_broker}"
            + (" (do this commit's settings read RABBITMQ_URL? is pika installed?)" if rabbitmq_url else "")
        )
    assert connection.vendor == "postgresql", connection.vendor

    workdir = Path(tempfile.mkdtemp(prefix="ttmt-bench-"))
    # The workers count their simulated broker calls (a sitecustomize shim in workdir, see gateway_calls).
    worker_env = {**env, **gateway_calls.worker_environment(workdir, args.redis_url)}
    if args.topology == "prod" and not rabbitmq_url:
        raise SystemExit("--topology prod runs bin/prod, which needs RabbitMQ: add --broker rabbitmq")
    workers = (ProductionWorkers if args.topology == "prod" else Workers)(
        worker_env, workdir, args.processes, args.threads
    )
    results: dict = {
        "command": " ".join([".venv/bin/python", "bench/execution_burst.py", *sys.argv[1:]]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform_module.python_version(),
            "kernel": platform_module.release(),
            "uptime_start": uptime_start,
        },
        "note": args.note,
        "topology": {
            "database": connection.vendor,
            "database_url": args.database_url,
            "broker": f"{type(broker).__module__}.{type(broker).__name__}",
            "redis_url": args.redis_url,
            "rabbitmq_url": rabbitmq_url,
            "rabbitmq": rabbitmq,
            "limit_session": args.limit_session,
            "accept": args.accept,
            "topology": args.topology,
            "gateway_call_counting": "bench/gateway_calls.py via a PYTHONPATH sitecustomize in the workers; "
            f"Redis hash {gateway_calls.REDIS_KEY}",
            "safety_prefix": SAFETY_PREFIX,
            "worker_command": " ".join(workers.command[1:9]),
            "django_debug": settings.DEBUG,
            "conn_max_age": connection.settings_dict["CONN_MAX_AGE"],
            "speed_control": settings.TTMT_SAFETY["speed"],
            "latency_seconds": args.latency,
            "latency_scope": f"{args.latency_scope} (applies_to=all)",
            "dramatiq_worker_timeout_ms": args.worker_timeout_ms or 1000,
            "migrate_seconds": round(migrate_seconds, 2),
        },
        "runs": [],
    }
    rows: list[dict] = []
    accounts: list = []
    try:
        try:
            workers.start()
            if rabbitmq_url:
                described = workers.wait_processes()
                consumers = workers.wait_rabbitmq_consumers(rabbitmq["vhost"])
                results["topology"]["workers"] = {**described, "rabbitmq": consumers}
                found = consumers["consumers_by_queue"].get("execution", 0)
                print(f"RabbitMQ consumers by queue: {consumers['consumers_by_queue']}")
                if found != args.processes:
                    print(
                        f"   note: {found} consumers on the execution queue, {args.processes} expected with "
                        "Dramatiq's consumer per process (informative only)"
                    )
            else:
                beating = workers.wait_ready(args.redis_url, broker.broker_id)
                described = workers.describe()
                results["topology"]["workers"] = {**described, "redis_heartbeat_worker_ids": beating}
            print(f"workers: master {described['master_pid']}, worker processes {described['worker_pids']}")
            for line in described["ps"]:
                print("   ", line)
            if described["worker_process_count"] != args.processes:
                raise RuntimeError(f"expected {args.processes} worker processes, ps shows {described}")
            for index, (n, k) in enumerate(zip(args.accounts, args.orders_per_account, strict=True)):
                row, accounts = one_size(args, workers, index, n, k)
                rows.append(row)
                results["runs"].append(row)
            results["topology"]["workers_at_end"] = workers.describe()
        finally:
            results["topology"]["workers_exit_code"] = workers.stop()
        if args.op_cost and accounts:
            print(
                f"\n== cost of one operation, serial, in this process (workers stopped): {args.op_cost} ops"
            )
            cost = operation_cost(accounts, args.op_cost)
            results["operation_cost"] = cost
            print(f"   {cost}")
    finally:
        flush_owned_keys(args.redis_url)
        if rabbitmq_url:
            results["topology"]["rabbitmq_purged_after"] = rabbitmq_purge(rabbitmq["vhost"])

    results["machine"]["uptime_end"] = subprocess.run(
        ["uptime"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print()
    print_table(rows)
    name = f"execution_burst-{dt.date.today().isoformat()}{'-' + args.tag if args.tag else ''}.json"
    out = args.out or ROOT / "bench" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"\nwritten {shown}; worker log {workers.log_file}")


if __name__ == "__main__":
    main()
