"""Access to the real services tests need (Redis, MariaDB/MySQL, RabbitMQ).

Outside CI a test whose service is unreachable is skipped with the reason; under ``CI=true`` it
fails instead, so CI can never go green by skipping.
"""

import functools
import os
import shutil
import socket
import subprocess
from urllib.parse import unquote, urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/")
# a virtual host of its own: the tests' queues never meet a running product's or a benchmark's
TEST_RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/ttmt_test")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> str:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    if not _reachable(host, port):
        reason = f"{name} is not reachable at {host}:{port} ({url})"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true service tests must run, not skip")
        pytest.skip(reason)
    return url


def redis_url() -> str:
    return require_service("Redis", TEST_REDIS_URL, 6379)


def mysql_url() -> str:
    return require_service("MariaDB/MySQL", TEST_MYSQL_URL, 3306)


def rabbitmq_url() -> str:
    url = require_service("RabbitMQ", TEST_RABBITMQ_URL, 5672)
    _ensure_vhost(url)
    return url


@functools.cache
def _ensure_vhost(url: str) -> None:
    """Create the URL's virtual host (and let its user in) when this machine runs the server:
    ``rabbitmqctl`` is idempotent here. Elsewhere the host must exist already."""
    parsed = urlparse(url)
    vhost = unquote(parsed.path.lstrip("/")) or "/"
    if vhost == "/" or shutil.which("rabbitmqctl") is None:
        return
    user = parsed.username or "guest"
    for command in (["add_vhost", vhost], ["set_permissions", "-p", vhost, user, ".*", ".*", ".*"]):
        subprocess.run(["rabbitmqctl", *command], check=True, capture_output=True, timeout=60)
