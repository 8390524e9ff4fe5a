"""Benchmark: live dashboard event-to-client latency with 1, 100 and 500 connected websockets, in the
production topology (daphne + channels-redis + a Dramatiq worker process).

Run it (one command; PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 must be up):

    .venv/bin/python bench/live_latency.py --clients 1 100 500

Topology, all started and stopped here, all with the same environment (``DATABASE_URL``,
``REDIS_URL``, ``DJANGO_DEBUG=0`` with a throw-away secret and encryption key,
``DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost``, ``DATABASE_CONN_MAX_AGE=60``):

* PostgreSQL database ``ttmt_bench_live``, dropped, re-created, migrated (``manage.py migrate`` in a
  subprocess).
* Redis db 11 (``--redis-url``): cache, channel layer (channels-redis) and Dramatiq broker. The db must
  hold no key but this benchmark's (checked); only its own key patterns are deleted, before and after.
* ``daphne -b 127.0.0.1 -p <free port> ttmt_site.asgi:application`` (one process).
* One worker: ``manage.py rundramatiq --processes 1 --threads 4``.

Setup (in this process, through the product's services): a user, an organization, a simulated MT5
platform and ``--accounts`` connected simulated accounts (``account_connect`` + ``account_setup``, as
``tests.factories.connected_simulated_account``). ONE session (``Client.force_login``) whose cookie is
shared by all N sockets.

Per N: N websocket clients in ONE separate client process (asyncio, ``websockets``), each sending
``Origin: http://127.0.0.1:<port>`` and the session cookie, connected in batches of
``--connect-batch``; each must receive its ``snapshot`` first (counted; the run stops otherwise), and
the members of the organization's channels-redis group are counted in Redis. A channel-layer probe (a
bare channels-redis receiver in its own process, joined to the same group) timestamps each event as
it leaves Redis, without daphne. Then three series:

1. ``spaced``: ``--events`` ``status`` events (the contract's header indicator; the payload built
   once by ``trading_status``, a fresh ``server_time`` per event as the correlation key)
   published with ``publishing.publish`` inside ``transaction.atomic()`` in this process (another process
   than daphne: the production path through the channel layer), one every ``--interval-ms``
   (default ``max(25, N/2)`` ms: daphne spends 0.25-0.4 ms of CPU per socket and event, so a
   shorter spacing at N = 500 measures a backlog, not latency).
   Origin time: an ``on_commit`` hook registered before ``publish``, i.e. right after COMMIT.
2. ``orders``: ``--orders`` market orders (BTCUSD, 0.01) accepted with ``operations.order_place``
   one every ``--order-interval-ms`` (default ``max(100, 2 N)`` ms), round-robin over the accounts.
   ``queued`` is published by this process after commit (origin: the on_commit hook), ``sent`` and
   ``done`` by the worker process (origin: the event's own ``at``, built at publish time; same clock).
3. ``burst``: ``--burst`` status events published back to back.

Latency = client receipt time (``time.time()`` when the client's reader gets the frame) - origin.
Reported per series: p50, p90, p99, max (all client x event pairs), the per-event fan-out spread (last
client - first client), the probe's latency (commit -> out of Redis), events received vs expected per
client, events no client received (dropped before daphne), sockets the server closed, and CPU seconds
of daphne (also per delivery), the worker, the client process, this process, Redis and PostgreSQL.

NOT the product configuration, on request only: ``--layer-socket-timeout 10 --layer-max-connections
1000`` run every process with a settings module written to the temporary directory that imports
``ttmt_site.settings`` and only replaces ``CHANNEL_LAYERS`` hosts with
``{"address": REDIS_URL, "socket_timeout": 10, "max_connections": 1000}`` (the fix proposed for
channels-redis 4.3 with redis-py 8; see the README). ``--profile-daphne PATH`` runs daphne under
cProfile.

Output: a table on stdout and ``bench/results/live_latency-<date>.json`` (``--out``).
Docs: the section "live_latency.py" at the end of ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import logging
import multiprocessing
import os
import platform as platform_module
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ttmt_bench_live"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
SAFETY_PREFIX = "ttmt:bench-live:safety:"
# Everything this benchmark writes to its Redis db: channels-redis ("asgi" prefix), Dramatiq, the
# Django cache (":1:" = default key prefix + version), the safety state.
OWNED_PATTERNS = ("asgi*", "dramatiq:*", ":1:*", f"{SAFETY_PREFIX}*")
SERVER = "SimBroker-Demo"
SYMBOL = "BTCUSD"  # crypto: the simulated market is open every day


# ------------------------------------------------------------------------------------------------
# The websocket clients and the channel-layer probe (separate processes; no Django in them)
# ------------------------------------------------------------------------------------------------


def event_key(data: dict):
    """What identifies one event across clients: status -> its server_time; operation -> (id, event,
    at). Other types have no key (counted only)."""
    kind = data.get("type")
    if kind == "status":
        return ("status", data.get("server_time"))
    if kind == "operation":
        op = data.get("operation") or {}
        return ("operation", op.get("id"), op.get("event"), op.get("at"))
    return None


def _collect(logs: list[list]) -> dict:
    """Parse the raw (time, text) logs of each socket: first receipt per key, duplicates, types."""
    per_socket, types, duplicates = [], Counter(), 0
    for log in logs:
        seen: dict = {}
        for received_at, text in log:
            data = json.loads(text)
            types[data.get("type")] += 1
            key = event_key(data)
            if key is None:
                continue
            if key in seen:
                duplicates += 1
            else:
                seen[key] = received_at
        per_socket.append(seen)
        log.clear()
    return {"per_socket": per_socket, "types": dict(types), "duplicates": duplicates}


def client_process(conn, url: str, origin: str, cookie: str) -> None:
    asyncio.run(_client_main(conn, url, origin, cookie))


async def _client_main(conn, url: str, origin: str, cookie: str) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    loop = asyncio.get_running_loop()
    sockets: list[dict] = []
    tasks: list[asyncio.Task] = []

    async def reader(sock: dict) -> None:
        ws, log = sock["ws"], sock["log"]
        try:
            while True:
                text = await ws.recv()
                log.append((time.time(), text))
                if text.startswith('{"type": "status"'):
                    sock["status"] += 1
        except ConnectionClosed as closed:
            sock["closed"] = closed.rcvd.code if closed.rcvd else "no close frame"
        except Exception as error:  # noqa: BLE001 - reported, not raised
            sock["closed"] = repr(error)

    async def open_one() -> dict:
        started = time.perf_counter()
        ws = await connect(
            url,
            origin=origin,
            additional_headers={"Cookie": cookie},
            open_timeout=60,
            ping_interval=None,  # like a browser: no client pings (daphne pings every 20 s)
            max_size=16 * 2**20,
            close_timeout=2,
        )
        opened = time.perf_counter()
        first = json.loads(await asyncio.wait_for(ws.recv(), 60))
        return {
            "ws": ws,
            "log": [],
            "status": 0,
            "closed": None,
            "snapshot": first.get("type") == "snapshot",
            "handshake_s": opened - started,
            "snapshot_s": time.perf_counter() - opened,
            "extensions": ws.response.headers.get("Sec-WebSocket-Extensions"),
        }

    while True:
        command, *arguments = await loop.run_in_executor(None, conn.recv)
        if command == "connect":
            count, batch = arguments
            started, errors = time.perf_counter(), []
            for first in range(0, count, batch):
                results = await asyncio.gather(
                    *(open_one() for _ in range(min(batch, count - first))), return_exceptions=True
                )
                for result in results:
                    if isinstance(result, BaseException):
                        errors.append(repr(result))
                    else:
                        sockets.append(result)
                        tasks.append(asyncio.create_task(reader(result)))
            conn.send(
                {
                    "open": sum(1 for s in sockets if s["closed"] is None),
                    "snapshots": sum(1 for s in sockets if s["snapshot"]),
                    "errors": errors[:10],
                    "error_count": len(errors),
                    "seconds": time.perf_counter() - started,
                    "handshake_s": [s["handshake_s"] for s in sockets],
                    "snapshot_s": [s["snapshot_s"] for s in sockets],
                    "extensions": sorted({str(s["extensions"]) for s in sockets}),
                }
            )
        elif command == "counts":
            conn.send(
                {
                    # open sockets only: a closed one never reaches the target
                    "status": [s["status"] for s in sockets if s["closed"] is None],
                    "total": [len(s["log"]) for s in sockets],
                    "closed": [s["closed"] for s in sockets if s["closed"] is not None],
                }
            )
        elif command == "collect":
            for s in sockets:
                s["status"] = 0
            conn.send(_collect([s["log"] for s in sockets]))
        elif command == "close":
            for task in tasks:
                task.cancel()
            await asyncio.gather(*(s["ws"].close() for s in sockets), return_exceptions=True)
            conn.send({"closed": len(sockets)})
            return


def probe_process(conn, redis_url: str, group: str) -> None:
    asyncio.run(_probe_main(conn, redis_url, group))


async def _probe_main(conn, redis_url: str, group: str) -> None:
    """A bare channels-redis receiver in the organization's group: when each event leaves Redis."""
    from channels_redis.core import RedisChannelLayer

    # Instrumentation, not the product: a socket timeout above channels-redis' 5 s blocking pop (with
    # redis-py 8's default of 5 s the receive raises TimeoutError when idle), and errors are kept.
    layer = RedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": 30}])
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    log: list = []
    errors: list = []

    async def reader() -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001
                errors.append(repr(error))
                continue
            log.append((time.time(), json.dumps(message.get("event", {}))))

    task = asyncio.create_task(reader())
    loop = asyncio.get_running_loop()
    conn.send("ready")
    while True:
        command, *_ = await loop.run_in_executor(None, conn.recv)
        if command == "counts":
            conn.send(
                {
                    "status": [sum(1 for _, t in log if t.startswith('{"type": "status"'))],
                    "total": [len(log)],
                    "closed": [],
                    "errors": errors[-5:],
                }
            )
        elif command == "collect":
            conn.send(_collect([log]))
        elif command == "close":
            task.cancel()
            await layer.group_discard(group, channel)
            await layer.close_pools()
            conn.send("closed")
            return


class Remote:
    """A child process (spawned: no Django, no inherited connections) driven through a pipe."""

    def __init__(self, target, *args) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.proc = context.Process(target=target, args=(child, *args), daemon=True)
        self.proc.start()

    def call(self, *command, timeout: float = 600):
        self.conn.send(command)
        if not self.conn.poll(timeout):
            raise RuntimeError(f"{command[0]}: no answer in {timeout} s")
        return self.conn.recv()

    def recv(self, timeout: float = 60):
        if not self.conn.poll(timeout):
            raise RuntimeError(f"no answer in {timeout} s")
        return self.conn.recv()

    def stop(self) -> None:
        try:
            self.call("close", timeout=30)
        finally:
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(5)


# ------------------------------------------------------------------------------------------------
# Environment, database, Redis, daphne, worker
# ------------------------------------------------------------------------------------------------


def bench_environment(database_url: str, redis_url: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
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
        TTMT_LOG_LEVEL="INFO",  # channels_redis reports "over capacity" at INFO
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def recreate_database(database_url: str, env: dict[str, str]) -> float:
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


def check_redis_db(redis_url: str) -> None:
    """Refuse to run on a Redis db that holds anybody else's keys."""
    import fnmatch

    client = redis_client(redis_url)
    foreign = [
        key
        for key in client.scan_iter(count=1000)
        if not any(fnmatch.fnmatchcase(key.decode(errors="replace"), p) for p in OWNED_PATTERNS)
    ]
    if foreign:
        raise SystemExit(
            f"{redis_url} holds keys that are not this benchmark's (e.g. {foreign[:3]}): use --redis-url"
        )


def flush_owned_keys(redis_url: str) -> int:
    client = redis_client(redis_url)
    deleted = 0
    for pattern in OWNED_PATTERNS:
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 500):
            deleted += client.delete(*keys[start : start + 500])
    return deleted


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daphne:
    def __init__(self, env: dict[str, str], workdir: Path, profile: str | None = None) -> None:
        self.port = free_port()
        self.log_file = workdir / "daphne.log"
        prefix = [PYTHON, "-m", "cProfile", "-o", str(Path(profile).resolve())] if profile else []
        self.command = [
            *prefix,
            str(BIN / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "--access-log",
            str(workdir / "daphne-access.log"),
            "ttmt_site.asgi:application",
        ]
        self.proc = subprocess.Popen(  # noqa: S603 - our own fixed command
            self.command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_file, "w"),  # noqa: SIM115
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"daphne exited with {self.proc.returncode}: {self.log_file.read_text()[-2000:]}"
                )
            try:  # any HTTP answer (a redirect to https with DJANGO_DEBUG=0): it serves
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/")
                connection.getresponse().read()
                connection.close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("daphne did not answer")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


class Worker:
    """``manage.py rundramatiq --processes 1 --threads 4`` (all queues)."""

    def __init__(self, env: dict[str, str], workdir: Path, processes: int = 1, threads: int = 4) -> None:
        self.pid_file = workdir / "dramatiq.pid"
        self.log_file = workdir / "dramatiq.log"
        self.processes = processes
        self.command = [
            PYTHON,
            "manage.py",
            "rundramatiq",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--pid-file",
            str(self.pid_file),
            "--log-file",
            str(self.log_file),
        ]
        self.proc = subprocess.Popen(  # noqa: S603
            self.command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "dramatiq.stderr", "w"),  # noqa: SIM115
        )

    def master_pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def pids(self) -> list[int]:
        master = self.master_pid()
        return [master, *_children(master)]

    def wait_ready(self, redis_url: str, timeout: float = 60) -> int:
        client = redis_client(redis_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.proc.returncode}; see {self.log_file}")
            beats = client.zrangebyscore("dramatiq:__heartbeats__", time.time() * 1000 - 10_000, "+inf")
            if self.pid_file.exists() and len(beats) >= self.processes:
                return len(beats)
            time.sleep(0.2)
        raise RuntimeError("the worker did not heartbeat on the Redis broker")

    def stop(self) -> int | None:
        if self.proc.poll() is not None:
            return self.proc.returncode
        pid = self.master_pid() if self.pid_file.exists() else self.proc.pid
        os.kill(pid, signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            return self.proc.wait(10)


# ------------------------------------------------------------------------------------------------
# CPU (read-only look at /proc)
# ------------------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _pid_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
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


def _machine_busy() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


class Cpu:
    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups

    def snapshot(self) -> dict[str, float]:
        snap = {name: sum(_pid_cpu(p) for p in pids) for name, pids in self.groups.items()}
        snap["bench_process"] = time.process_time()
        snap["redis"] = sum(_pid_cpu(p) for p in _pids_named("redis-server"))
        snap["postgresql_all"] = sum(_pid_cpu(p) for p in _pids_named("postgres"))
        snap["machine_busy"] = _machine_busy()
        snap["wall"] = time.monotonic()
        return snap

    @staticmethod
    def delta(before: dict, after: dict) -> dict:
        wall = after["wall"] - before["wall"]
        out = {f"{k}_cpu_s": round(after[k] - before[k], 2) for k in before if k != "wall"}
        out["wall_s"] = round(wall, 2)
        out["machine_busy_cores"] = (
            round((after["machine_busy"] - before["machine_busy"]) / wall, 2) if wall else None
        )
        out["daphne_cores"] = round((after["daphne"] - before["daphne"]) / wall, 2) if wall else None
        return out


def machine_busy_cores(window: float = 2.0) -> float:
    before = _machine_busy()
    time.sleep(window)
    return (_machine_busy() - before) / window


# ------------------------------------------------------------------------------------------------
# Statistics
# ------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def distribution(values: list[float]) -> dict:
    return {
        "count": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p90_ms": ms(percentile(values, 90)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(max(values)) if values else None,
        "min_ms": ms(min(values)) if values else None,
    }


def series_stats(origins: dict, clients: dict, probe: dict | None, *, by=None) -> dict:
    """Latency (receipt - origin) over all client x event pairs, fan-out spread per event, losses."""
    expected = len(origins)
    latencies, received, first, last = [], [], {}, {}
    grouped: dict[str, list[float]] = defaultdict(list)
    for seen in clients["per_socket"]:
        got = 0
        for key, at in seen.items():
            origin = origins.get(key)
            if origin is None:
                continue
            got += 1
            latencies.append(at - origin)
            if by is not None:
                grouped[by(key)].append(at - origin)
            first[key] = min(first.get(key, at), at)
            last[key] = max(last.get(key, at), at)
        received.append(got)
    spreads = [last[k] - first[k] for k in first]
    deliveries = sum(received)
    window = (max(last.values()) - min(origins.values())) if last and origins else None
    out = {
        "expected_events_per_client": expected,
        "clients": len(received),
        "deliveries": deliveries,
        # an event no socket got was lost before daphne's sockets (e.g. the channel over capacity in Redis)
        "events_received_by_no_client": sum(1 for key in origins if key not in first),
        "events_missing_for_some_clients": sum(
            1 for key in origins if sum(1 for seen in clients["per_socket"] if key in seen) < len(received)
        ),
        "active_window_s": round(window, 3) if window else None,
        "received_per_client_min": min(received) if received else 0,
        "received_per_client_max": max(received) if received else 0,
        "clients_with_losses": sum(1 for r in received if r < expected),
        "lost_deliveries": sum(expected - r for r in received),
        "duplicate_deliveries": clients["duplicates"],
        "message_types": clients["types"],
        "latency": distribution(latencies),
        "fanout_spread": distribution(spreads),
    }
    if by is not None:
        out["latency_by_event"] = {name: distribution(values) for name, values in sorted(grouped.items())}
    if probe is not None:
        seen = probe["per_socket"][0]
        out["probe_received"] = sum(1 for k in seen if k in origins)
        out["probe_latency"] = distribution([at - origins[k] for k, at in seen.items() if k in origins])
    return out


# ------------------------------------------------------------------------------------------------
# The benchmark
# ------------------------------------------------------------------------------------------------


class Counting(logging.Handler):
    """Counts this process's channel-layer warnings (over capacity, dropped pushes, failures)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "capacity" in message or "dropped" in message or "failed" in message:
            self.records[f"{record.name}: {message[:120]}"] += 1

    def total(self, word: str) -> int:
        return sum(count for text, count in self.records.items() if word in text)


def setup_data(accounts: int):
    from django.test import Client

    from accounts.models import User
    from execution.accounts.services import account_connect
    from execution.accounts.setup import account_setup
    from orgs.services import organization_create
    from platforms.services import platform_create

    user = User.objects.create_user("bench-live@example.com", os.urandom(16).hex())
    organization = organization_create(creator=user, name="Bench live")
    platform = platform_create(
        organization=organization, name="Simulated bench live", type="mt5", api="simulated", servers=[SERVER]
    )
    created = []
    for index in range(accounts):
        account = account_connect(
            organization=organization,
            platform=platform,
            name=f"Bench {index + 1}",
            type="demo",
            login=str(200_000 + index),
            server=SERVER,
            password="mt-password",
        )
        account = account_setup(account_id=account.pk)
        if account.connection_state != account.CONNECTED:
            raise RuntimeError(f"account {account.pk}: {account.connection_state} {account.connection_error}")
        created.append(account)
    client = Client()
    client.force_login(user)
    from django.conf import settings

    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return user, organization, created, cookie


def publish_status(organization_id: int, base: dict, origins: dict) -> None:
    """One status event through the product's publishing path (after commit, this process)."""
    from django.db import transaction
    from django.utils import timezone

    from execution.live.publishing import publish

    event = dict(base, server_time=timezone.now().isoformat())
    committed: list[float] = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.time()))  # runs first: right after COMMIT
        publish(organization_id, event)
    origins[("status", event["server_time"])] = committed[0]


def paced(count: int, interval: float, action) -> float:
    """Run ``action(i)`` ``count`` times, one every ``interval`` s (0: back to back). Returns seconds."""
    started = time.perf_counter()
    for index in range(count):
        if interval:
            delay = started + index * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        action(index)
    return time.perf_counter() - started


def wait_delivered(
    remotes: list[Remote], *, status_target: int | None, quiet: float, timeout: float, stall: float = 10.0
) -> dict:
    """Until every socket has ``status_target`` status events (when given), then until no socket
    receives anything for ``quiet`` s; or nothing arrived for ``stall`` s (losses); or ``timeout``."""
    started = time.monotonic()
    last_total, last_change = None, time.monotonic()
    while True:
        counts = [r.call("counts") for r in remotes]
        status = [n for c in counts for n in c["status"]]
        total = sum(n for c in counts for n in c["total"])
        now = time.monotonic()
        if total != last_total:
            last_total, last_change = total, now
        target_met = status_target is None or not status or min(status) >= status_target
        closed = sum(len(c["closed"]) for c in counts)
        if (target_met and now - last_change >= quiet) or now - last_change >= stall:
            return {
                "waited_s": round(now - started, 2),
                "timed_out": False,
                "target_met": bool(target_met),
                "sockets_closed_so_far": closed,
            }
        if now - started > timeout:
            return {"waited_s": round(now - started, 2), "timed_out": True, "sockets_closed_so_far": closed}
        time.sleep(0.1)


def parse_at(value: str) -> float:
    return dt.datetime.fromisoformat(value).timestamp()


def per_n(values: list[float], index: int) -> float:
    """One value for every N, or one value per N."""
    return values[index] if len(values) > 1 else values[0]


def cpu_figures(before: dict, after: dict, stats: dict, counting: Counting, warnings_before: int) -> dict:
    """CPU of the series, per delivery, and daphne's cores over the active window (first publish to
    last receipt; the wait afterwards is idle). Plus this process's over-capacity warnings."""
    delta = Cpu.delta(before, after)
    deliveries, window = stats["deliveries"], stats["active_window_s"]
    if deliveries:
        delta["daphne_us_per_delivery"] = round(delta["daphne_cpu_s"] / deliveries * 1e6, 1)
        delta["clients_us_per_delivery"] = round(delta["clients_cpu_s"] / deliveries * 1e6, 1)
    if window:
        delta["daphne_cores_in_active_window"] = round(delta["daphne_cpu_s"] / window, 2)
    stats["bench_process_over_capacity_warnings"] = counting.total("capacity") - warnings_before
    return delta


def run_n(n: int, index: int, args, ctx: dict) -> dict:
    from django.db import close_old_connections

    from execution.live.audience import org_group
    from execution.live.snapshot import trading_status
    from execution.orders.accept import order_place
    from execution.orders.models import Operation

    organization, accounts, counting = ctx["organization"], ctx["accounts"], ctx["counting"]
    interval_ms, order_interval_ms = per_n(args.interval_ms, index), per_n(args.order_interval_ms, index)
    port = ctx["daphne"].port
    url = f"ws://127.0.0.1:{port}/ws/orgs/{organization.slug}/live/"
    origin = f"http://127.0.0.1:{port}"
    result: dict = {"clients": n}

    if args.quiet_wait:
        started = time.monotonic()
        busy = machine_busy_cores()
        while busy > args.quiet_cores and time.monotonic() - started < args.quiet_wait:
            busy = machine_busy_cores()
        result["machine_before"] = {
            "busy_cores": round(busy, 2),
            "waited_s": round(time.monotonic() - started, 1),
        }

    print(f"\n== N = {n}: connecting {n} websockets to {url} (batches of {args.connect_batch})", flush=True)
    clients = Remote(client_process, url, origin, ctx["cookie"])
    probe = None
    try:
        connected = clients.call("connect", n, args.connect_batch, timeout=1800)
        result["connect"] = {
            "open": connected["open"],
            "snapshots": connected["snapshots"],
            "errors": connected["error_count"],
            "error_examples": connected["errors"],
            "seconds": round(connected["seconds"], 2),
            "handshake": distribution(connected["handshake_s"]),
            "snapshot": distribution(connected["snapshot_s"]),
            "websocket_extensions": connected["extensions"],
        }
        group_key = f"asgi:group:{org_group(organization.pk)}"
        members = redis_client(args.redis_url).zcard(group_key)
        result["connect"]["redis_group_members"] = members
        print(
            f"   connected: {connected['open']} open, {connected['snapshots']} snapshots received, "
            f"{connected['error_count']} errors, in {connected['seconds']:.1f} s; channels-redis group "
            f"{group_key!r} in {args.redis_url} has {members} members",
            flush=True,
        )
        if connected["snapshots"] != n:
            raise RuntimeError(
                f"only {connected['snapshots']} of {n} sockets got their snapshot: {connected['errors']}"
            )

        remotes = [clients]
        if not args.no_probe:
            probe = Remote(probe_process, args.redis_url, org_group(organization.pk))
            probe.recv(60)
            remotes.append(probe)
            result["connect"]["redis_group_members_with_probe"] = redis_client(args.redis_url).zcard(
                group_key
            )

        base = trading_status(organization.pk)
        pids = {
            "daphne": [ctx["daphne"].proc.pid],
            "worker": ctx["worker"].pids(),
            "clients": [clients.proc.pid],
        }
        if probe is not None:
            pids["probe"] = [probe.proc.pid]
        cpu = Cpu(pids)

        def collect() -> tuple[dict, dict | None]:
            return clients.call("collect", timeout=600), (probe.call("collect") if probe else None)

        # warm-up (first sends open connections, JIT nothing, but fill caches); discarded
        warm: dict = {}
        paced(5, 0.05, lambda i: publish_status(organization.pk, base, warm))
        wait_delivered(remotes, status_target=5, quiet=0.5, timeout=30)
        collect()

        # 1. spaced status events
        origins: dict = {}
        before, warnings = cpu.snapshot(), counting.total("capacity")
        publish_s = paced(
            args.events, interval_ms / 1000, lambda i: publish_status(organization.pk, base, origins)
        )
        waited = wait_delivered(remotes, status_target=args.events, quiet=args.quiet, timeout=args.timeout)
        after = cpu.snapshot()
        data, probe_data = collect()
        spaced = series_stats(origins, data, probe_data)
        spaced.update(
            publish_seconds=round(publish_s, 2),
            interval_ms=interval_ms,
            wait=waited,
            cpu=cpu_figures(before, after, spaced, counting, warnings),
        )
        result["spaced"] = spaced
        report("spaced", n, spaced)

        if args.orders:  # 2. orders
            # 2. orders: queued (this process), sent/done (the worker process)
            close_old_connections()
            queued_at: dict[int, float] = {}
            placed: list[int] = []

            def place(index: int) -> None:
                from django.db import transaction

                committed: list[float] = []
                with transaction.atomic():
                    transaction.on_commit(lambda: committed.append(time.time()))
                    op = order_place(
                        account=accounts[index % len(accounts)],
                        symbol=SYMBOL,
                        side="buy",
                        type="market",
                        requested_by="bench-live",
                    )
                queued_at[op.pk] = committed[0]
                placed.append(op.pk)

            before, warnings = cpu.snapshot(), counting.total("capacity")
            publish_s = paced(args.orders, order_interval_ms / 1000, place)
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                if Operation.objects.filter(pk__in=placed, state__in=Operation.TERMINAL).count() >= len(
                    placed
                ):
                    break
                time.sleep(0.2)
            states = Counter(Operation.objects.filter(pk__in=placed).values_list("state", flat=True))
            waited = wait_delivered(remotes, status_target=None, quiet=args.quiet, timeout=args.timeout)
            after = cpu.snapshot()
            data, probe_data = collect()
            keys = set().union(*data["per_socket"], *(probe_data["per_socket"] if probe_data else []))
            op_origins = {}
            for key in keys:
                if key[0] != "operation" or key[1] not in queued_at:
                    continue
                op_origins[key] = queued_at[key[1]] if key[2] == "queued" else parse_at(key[3])
            events_per_op = Counter(key[2] for key in op_origins)
            orders = series_stats(op_origins, data, probe_data, by=lambda key: key[2])
            orders.update(
                orders=len(placed),
                operation_states=dict(states),
                events_seen_by_anyone=dict(events_per_op),
                ops_without_queued_or_done=sum(
                    1
                    for pk in placed
                    if not any(k[1] == pk and k[2] == "queued" for k in op_origins)
                    or not any(k[1] == pk and k[2] == "done" for k in op_origins)
                ),
                publish_seconds=round(publish_s, 2),
                interval_ms=order_interval_ms,
                wait=waited,
                cpu=cpu_figures(before, after, orders, counting, warnings),
                origin_note="queued: on_commit hook in the bench process; sent/done: the event's 'at' (worker)",
            )
            result["orders"] = orders
            report("orders", n, orders)

        if args.burst:  # 3. burst
            # 3. burst of status events, back to back
            origins = {}
            before, warnings = cpu.snapshot(), counting.total("capacity")
            publish_s = paced(args.burst, 0, lambda i: publish_status(organization.pk, base, origins))
            waited = wait_delivered(remotes, status_target=args.burst, quiet=args.quiet, timeout=args.timeout)
            after = cpu.snapshot()
            data, probe_data = collect()
            burst = series_stats(origins, data, probe_data)
            last_receipt = max((t for seen in data["per_socket"] for t in seen.values()), default=None)
            first_origin = min(origins.values())
            burst.update(
                publish_seconds=round(publish_s, 3),
                wait=waited,
                cpu=cpu_figures(before, after, burst, counting, warnings),
                first_publish_to_last_receipt_s=round(last_receipt - first_origin, 3)
                if last_receipt
                else None,
                deliveries_per_second=round(
                    sum(len(s) for s in data["per_socket"]) / (last_receipt - first_origin), 1
                )
                if last_receipt
                else None,
            )
            result["burst"] = burst
            report("burst", n, burst)
        result["closed_during_run"] = clients.call("counts")["closed"][:10]
    finally:
        if probe is not None:
            probe.stop()
        clients.stop()
    return result


def report(name: str, n: int, s: dict) -> None:
    lat, spread = s["latency"], s["fanout_spread"]
    probe = s.get("probe_latency") or {}
    cpu = s.get("cpu", {})
    print(
        f"   {name:7} N={n:<4} events {s['expected_events_per_client']:>4}  recv/client "
        f"{s['received_per_client_min']}-{s['received_per_client_max']}  lost {s['lost_deliveries']}  "
        f"p50 {lat['p50_ms']} ms  p99 {lat['p99_ms']} ms  max {lat['max_ms']} ms  | spread p50 "
        f"{spread['p50_ms']} p99 {spread['p99_ms']} ms | probe p50 {probe.get('p50_ms')} p99 "
        f"{probe.get('p99_ms')} ms | daphne {cpu.get('daphne_cpu_s')} s CPU ({cpu.get('daphne_cores')} cores), "
        f"clients {cpu.get('clients_cpu_s')} s, machine {cpu.get('machine_busy_cores')} cores",
        flush=True,
    )
    print(
        f"           message types: {s['message_types']}; sockets closed by the server so far: "
        f"{s['wait'].get('sockets_closed_so_far')}",
        flush=True,
    )
    if "latency_by_event" in s:
        for event, d in s["latency_by_event"].items():
            print(
                f"           {event:8} n={d['count']:<7} p50 {d['p50_ms']} ms  p99 {d['p99_ms']} ms  max {d['max_ms']} ms"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 100, 500])
    parser.add_argument("--events", type=int, default=200, help="spaced status events per N")
    parser.add_argument(
        "--interval-ms",
        type=float,
        nargs="+",
        default=None,
        help="spacing of the spaced status events, one value or one per N (default: max(25, N/2) ms, "
        "so that daphne's fan-out stays well under one core: latency, not a backlog)",
    )
    parser.add_argument("--orders", type=int, default=100, help="orders per N (about 3 events each)")
    parser.add_argument(
        "--order-interval-ms",
        type=float,
        nargs="+",
        default=None,
        help="spacing of the orders, one value or one per N (default: max(100, 2 N) ms)",
    )
    parser.add_argument("--accounts", type=int, default=5, help="simulated accounts the orders go round")
    parser.add_argument("--burst", type=int, default=200, help="status events back to back per N")
    parser.add_argument("--connect-batch", type=int, default=20)
    parser.add_argument("--quiet", type=float, default=1.5, help="s without traffic = delivered")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--no-probe", action="store_true")
    parser.add_argument(
        "--quiet-wait", type=float, default=0, help="wait up to this long for a quiet machine"
    )
    parser.add_argument("--quiet-cores", type=float, default=0.3)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--out", default=None)
    parser.add_argument("--keep-logs", action="store_true", help="keep daphne's and the worker's logs")
    parser.add_argument(
        "--layer-socket-timeout",
        default=None,
        help="NOT the product configuration: run everything with a settings module (written to the "
        "temporary directory) that gives the channel layer's Redis connections this socket_timeout "
        "(seconds, or 'none'), the fix proposed for channels-redis 4.3 + redis-py 8 (see README)",
    )
    parser.add_argument(
        "--layer-max-connections",
        type=int,
        default=None,
        help="NOT the product configuration: the same settings module, with this max_connections for "
        "the channel layer's Redis pool (redis-py 8 defaults to 100 and then raises)",
    )
    parser.add_argument(
        "--profile-daphne",
        default=None,
        metavar="PATH",
        help="run daphne under cProfile and write its stats to PATH (slows daphne down)",
    )
    args = parser.parse_args()
    if args.interval_ms is None:
        args.interval_ms = [max(25.0, n / 2) for n in args.clients]
    if args.order_interval_ms is None:
        args.order_interval_ms = [max(100.0, 2.0 * n) for n in args.clients]
    for name in ("interval_ms", "order_interval_ms"):
        if len(getattr(args, name)) not in (1, len(args.clients)):
            parser.error(f"--{name.replace('_', '-')}: one value, or one per N")

    env = bench_environment(args.database_url, args.redis_url)
    workdir = Path(tempfile.mkdtemp(prefix="ttmt-live-latency-"))
    layer_fix: dict = {}
    if args.layer_socket_timeout is not None:
        value = args.layer_socket_timeout
        layer_fix["socket_timeout"] = None if value.lower() == "none" else float(value)
    if args.layer_max_connections is not None:
        layer_fix["max_connections"] = args.layer_max_connections
    if layer_fix:
        options = ", ".join(f'"{key}": {value!r}' for key, value in layer_fix.items())
        (workdir / "bench_live_settings.py").write_text(
            '"""live_latency.py --layer-*: the product settings + the proposed channel layer fix."""\n'
            "from ttmt_site.settings import *  # noqa: F403\n\n"
            "CHANNEL_LAYERS = {\n"
            '    "default": {\n'
            '        "BACKEND": "channels_redis.core.RedisChannelLayer",\n'
            f'        "CONFIG": {{"hosts": [{{"address": REDIS_URL, {options}}}]}},  # noqa: F405\n'
            "    }\n"
            "}\n"
        )
        env["DJANGO_SETTINGS_MODULE"] = "bench_live_settings"
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(workdir), str(ROOT), env.get("PYTHONPATH", "")) if p
        )
        sys.path.insert(0, str(workdir))
    check_redis_db(args.redis_url)
    flush_owned_keys(args.redis_url)
    migrate_s = recreate_database(args.database_url, env)
    os.environ.update(env, TTMT_LOG_LEVEL="WARNING")  # this process: quiet console (subprocesses: INFO)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    counting = Counting()
    for name in ("channels_redis", "execution.live.publishing"):
        logging.getLogger(name).addHandler(counting)
        logging.getLogger(name).setLevel(logging.INFO)

    layer = settings.CHANNEL_LAYERS["default"]
    print(
        f"channel layer: {layer['BACKEND']} {layer['CONFIG']}  (REDIS_URL={settings.REDIS_URL})", flush=True
    )
    if layer_fix:
        print(
            f"NOTE: NOT the product configuration: settings module {settings.SETTINGS_MODULE} "
            f"(channel layer Redis options {layer_fix})",
            flush=True,
        )
    if layer["BACKEND"] != "channels_redis.core.RedisChannelLayer" or not settings.REDIS_URL:
        raise SystemExit("not channels-redis: REDIS_URL is not in effect")

    started = time.perf_counter()
    user, organization, accounts, cookie = setup_data(args.accounts)
    setup_s = time.perf_counter() - started
    # account_connect enqueued setup messages; we ran the setup here: drop them (our db only)
    redis_client(args.redis_url).delete("dramatiq:account_setup", "dramatiq:account_setup.msgs")
    from django.db import connections

    connections.close_all()

    daphne = worker = None
    result: dict = {
        "command": " ".join([".venv/bin/python", "bench/live_latency.py", *sys.argv[1:]]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform_module.python_version(),
            "kernel": platform_module.release(),
        },
    }
    try:
        daphne = Daphne(env, workdir, args.profile_daphne)
        worker = Worker(env, workdir)
        daphne.wait_ready()
        heartbeats = worker.wait_ready(args.redis_url)
        print(
            f"daphne pid {daphne.proc.pid} on 127.0.0.1:{daphne.port}; worker pids {worker.pids()}; logs in {workdir}",
            flush=True,
        )
        result["topology"] = {
            "database_url": args.database_url,
            "redis_url": args.redis_url,
            "channel_layer": layer["BACKEND"],
            "channel_layer_config": {"hosts": layer["CONFIG"]["hosts"], "capacity": 100, "expiry": 60},
            "settings_module": settings.SETTINGS_MODULE,
            "product_configuration": not layer_fix,
            "layer_override": layer_fix,
            "daphne_profiled": args.profile_daphne,
            "redis_py": __import__("redis").__version__,
            "channels_redis": __import__("importlib.metadata").metadata.version("channels_redis"),
            "daphne_command": " ".join(daphne.command),
            "worker_command": " ".join(worker.command),
            "worker_processes": worker.pids(),
            "worker_heartbeats": heartbeats,
            "django_debug": settings.DEBUG,
            "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
            "migrate_seconds": round(migrate_s, 2),
            "setup_seconds": round(setup_s, 2),
            "accounts": len(accounts),
            "session": "one session (force_login) shared by all sockets",
            "client_processes": 1,
            "speed_control": settings.TTMT_SAFETY["speed"],
        }
        ctx = {
            "counting": counting,
            "organization": organization,
            "accounts": accounts,
            "cookie": cookie,
            "daphne": daphne,
            "worker": worker,
        }
        result["runs"] = []
        for index, n in enumerate(args.clients):
            result["runs"].append(run_n(n, index, args, ctx))
            if daphne.proc.poll() is not None:
                raise RuntimeError("daphne died")
    finally:
        if worker is not None:
            result.setdefault("topology", {})["worker_exit"] = worker.stop()
        if daphne is not None:
            result.setdefault("topology", {})["daphne_exit"] = daphne.stop()
        for name in ("daphne.log", "dramatiq.log", "dramatiq.stderr"):
            path = workdir / name
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()
                flagged = [
                    line
                    for line in lines
                    if any(w in line for w in ("ERROR", "Traceback", "capacity", "dropped", "WARNING"))
                ]
                result.setdefault("logs", {})[name] = {"lines": len(lines), "flagged": flagged[:30]}
        result["bench_process_channel_warnings"] = dict(counting.records)
        flush_owned_keys(args.redis_url)
        connections.close_all()
        out = (
            Path(args.out)
            if args.out
            else ROOT
            / "bench"
            / "results"
            / (
                f"live_latency-{dt.date.today().isoformat()}"
                + ("-layer-fix" if layer_fix else "")
                + ("-profiled" if args.profile_daphne else "")
                + ".json"
            )
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1, default=str))  # also a partial result on failure

    print_table(result)
    if args.keep_logs:
        print(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nwritten {out}")
    return 0


def print_table(result: dict) -> None:
    print(
        "\n    N  series   events  recv/client  lost   p50 ms   p99 ms   max ms  spread p99  probe p99  daphne cores"
    )
    for run in result.get("runs", []):
        for name in ("spaced", "orders", "burst"):
            s = run.get(name)
            if not s:
                continue
            lat = s["latency"]
            print(
                f"{run['clients']:5}  {name:7} {s['expected_events_per_client']:7}  "
                f"{s['received_per_client_min']:>5}-{s['received_per_client_max']:<5} {s['lost_deliveries']:5} "
                f"{lat['p50_ms']:8} {lat['p99_ms']:8} {lat['max_ms']:8} {s['fanout_spread']['p99_ms']:10} "
                f"{(s.get('probe_latency') or {}).get('p99_ms')!s:>10} {s['cpu'].get('daphne_cores')!s:>12}"
            )


if __name__ == "__main__":
    sys.exit(main())
