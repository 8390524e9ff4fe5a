"""``bin/prod`` and its ``Procfile``: every process of the production design, each command one that
exists with arguments it accepts; started for real against PostgreSQL, Redis and RabbitMQ, it
becomes ready, and a SIGTERM to honcho stops every process it started."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from daphne.cli import CommandLineInterface
from django.core.management import get_commands, load_command_class
from django.utils.module_loading import import_string
from honcho.environ import parse_procfile

from execution.queues import EXECUTION_QUEUE, SETUP_QUEUE
from tests.execution.orders.mp_support import Cluster, WorkerProcess, wait_until
from tests.services import rabbitmq_url

ROOT = Path(__file__).resolve().parents[2]
TOKEN_FREE = ["env", "-u", "TTMT_METAAPI_TOKEN"]
GRACEFUL = "bin/_graceful"


def procfile() -> dict[str, str]:
    return dict(parse_procfile((ROOT / "Procfile").read_text()).processes)


def argv(line: str) -> list[str]:
    """The command line the shell runs for a Procfile line (its expansions done, as honcho's sh)."""
    assert line.startswith("exec ")
    script = f'set -- {line.removeprefix("exec ")}; printf "%s\\0" "$@"'
    env = {"PATH": os.environ["PATH"], "PORT": "8000"}
    out = subprocess.run(["sh", "-c", script], env=env, capture_output=True, check=True).stdout
    return out.decode().split("\0")[:-1]


WEB_SERVER = ["python", "-m", "ttmt_site.web_server"]


def test_the_procfile_starts_every_process_of_the_production_design():
    assert list(procfile()) == ["web", "worker", "setup", "housekeeping", "recordings"]


def test_only_the_setup_worker_keeps_the_metaapi_master_token():
    for name, line in procfile().items():
        assert (argv(line)[:3] == TOKEN_FREE) is (name != "setup"), name


def test_every_procfile_command_exists_and_accepts_its_arguments():
    commands, queues = get_commands(), {}
    for name, line in procfile().items():
        args = argv(line)
        if args[:3] == TOKEN_FREE:
            args = args[3:]
        if args[0] == GRACEFUL:  # a Dramatiq command stopped cleanly by one SIGTERM
            args = args[1:]
            assert "rundramatiq" in args, name
        if args[:3] == WEB_SERVER:
            options = CommandLineInterface().parser.parse_args(args[3:])
            assert options.port == 8000
            import_string(options.application.replace(":", "."))
            continue
        assert args[:2] == ["python", "manage.py"], name
        command = args[2]
        assert command in commands, f"{name}: no management command {command}"
        parser = load_command_class(commands[command], command).create_parser("manage.py", command)
        options = parser.parse_args(args[3:])
        if command == "rundramatiq":
            queues[name] = options.queues
            assert options.processes >= 1
    assert queues == {"worker": [EXECUTION_QUEUE], "setup": [SETUP_QUEUE]}
    assert all(GRACEFUL in line for name, line in procfile().items() if name in queues)


def test_bin_prod_refuses_to_start_without_the_services(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "RABBITMQ_URL"}}
    env.update(REDIS_URL="redis://127.0.0.1:6379/0", TTMT_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [str(ROOT / "bin" / "prod")], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2
    assert "not started: set DATABASE_URL RABBITMQ_URL" in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local URL
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


@pytest.mark.service("redis")
@pytest.mark.service("rabbitmq")
def test_bin_prod_starts_ready_and_a_sigterm_to_honcho_stops_every_process(
    transactional_db, tmp_path, monkeypatch
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Cluster(tmp_path, monkeypatch, rabbitmq_url=rabbitmq_url()) as cluster:
        env = cluster.env() | {
            "TTMT_PORT": str(port),
            "TTMT_WORKER_PROCESSES": "2",
            "TTMT_VAR_DIR": str(tmp_path / "var"),
        }
        env.pop("DJANGO_DEBUG", None)
        prod = WorkerProcess("prod", [str(ROOT / "bin" / "prod")], env, tmp_path / "prod.log")
        cluster.workers.append(prod)  # stopped with the cluster whatever happens
        started = time.monotonic()

        def ready():
            if prod.proc.poll() is not None:
                pytest.fail(f"bin/prod exited ({prod.proc.returncode}):\n{prod.log()}")
            return get(f"{base}/health/ready")[0] == 200

        wait_until(ready, timeout=90, interval=0.5, what=f"/health/ready to be 200\n{prod.log()}")
        ready_after = time.monotonic() - started
        wait_until(
            lambda: b"\nttmt_engine_workers_alive 2.0\n" in get(f"{base}/metrics")[1],
            timeout=30,
            interval=0.5,
            what=f"both execution worker processes to heartbeat\n{prod.log()}",
        )
        honcho = psutil.Process(prod.pid)
        assert honcho.cmdline()[1].endswith("honcho")  # bin/prod became honcho (exec)
        children = honcho.children(recursive=True)
        names = " ".join(" ".join(child.cmdline()) for child in children)
        for expected in (
            "ttmt_site.web_server",
            "--queues execution",
            "--queues account_setup",
            "sweep_operations",
        ):
            assert expected in names
        assert "play_recordings" in names

        os.kill(prod.pid, signal.SIGTERM)  # the process only, not its group: honcho stops the rest
        prod.wait_exit(timeout=20)
        gone, alive = psutil.wait_procs(children, timeout=5)
        assert alive == [], [p.cmdline() for p in alive]
        log = prod.log(tail=10**6)
        assert "SIGTERM received" in log
        assert log.count("Worker has been shut down.") == 3  # 2 execution, 1 setup: each cleanly
        assert "Killing worker process" not in log
        assert prod.proc.returncode == 143
        print(f"bin/prod ready after {ready_after:.1f} s")
