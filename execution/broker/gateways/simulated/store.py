"""Where simulated account state lives: behind :class:`SimStateStore`, shared by every process.

A store keeps JSON documents under string keys and offers an exclusive per-key lock that holds across
processes. The engine always does ``with store.transaction(key): load -> change -> save``.

To add a store (e.g. a database table ``(key text primary key, document text)`` with
``select_for_update`` inside ``transaction.atomic()`` as the lock) implement the three primitives
``read``, ``write`` and ``lock``; ``load``/``save``/``load_faults``/``save_faults`` and
``load_market``/``save_market`` (a group's scripted price paths) are built on them.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from execution.broker.gateways.simulated.paths import PricePath
from execution.broker.gateways.simulated.state import FaultSettings, SimAccountState

ACCOUNT_PREFIX = "account:"
FAULTS_PREFIX = "faults:"
MARKET_PREFIX = "market:"


def platform_scope(platform: str) -> str:
    return f"platform:{platform}"


def account_scope(account_key: str) -> str:
    return f"account:{account_key}"


class SimStateStore(abc.ABC):
    # -- primitives ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def read(self, key: str) -> str | None:
        """The JSON document stored under ``key``, or None."""

    @abc.abstractmethod
    def write(self, key: str, document: str) -> None:
        """Store ``document`` under ``key`` (atomically: readers see the old or the new document)."""

    @abc.abstractmethod
    def lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock on ``key``, across threads and processes. Not reentrant."""

    # -- typed API ----------------------------------------------------------------------------------
    def transaction(self, account_key: str) -> contextlib.AbstractContextManager[None]:
        """Hold this while loading, changing and saving an account."""
        return self.lock(ACCOUNT_PREFIX + account_key)

    def load(self, account_key: str) -> SimAccountState | None:
        document = self.read(ACCOUNT_PREFIX + account_key)
        return None if document is None else SimAccountState.from_json(document)

    def save(self, account_key: str, state: SimAccountState) -> None:
        state.version += 1
        self.write(ACCOUNT_PREFIX + account_key, state.to_json())

    def faults_transaction(self, scope: str) -> contextlib.AbstractContextManager[None]:
        return self.lock(FAULTS_PREFIX + scope)

    def load_faults(self, scope: str) -> FaultSettings | None:
        """Fault settings of a scope such as ``platform:mt5`` (account faults live in the account state)."""
        document = self.read(FAULTS_PREFIX + scope)
        return None if document is None else FaultSettings.from_json(document)

    def save_faults(self, scope: str, faults: FaultSettings) -> None:
        self.write(FAULTS_PREFIX + scope, faults.to_json())

    def market_transaction(self, group: str) -> contextlib.AbstractContextManager[None]:
        return self.lock(MARKET_PREFIX + group)

    def load_market(self, group: str) -> dict[str, PricePath]:
        """The scripted price paths of a group of accounts (instrument -> path; empty: none)."""
        document = self.read(MARKET_PREFIX + group)
        paths = json.loads(document)["paths"] if document else {}
        return {instrument: PricePath.of(points) for instrument, points in paths.items()}

    def save_market(self, group: str, paths: dict[str, PricePath]) -> None:
        document = {"paths": {instrument: path.to_list() for instrument, path in sorted(paths.items())}}
        self.write(MARKET_PREFIX + group, json.dumps(document))


class InMemoryStateStore(SimStateStore):
    """One process only (tests, a single dev server)."""

    def __init__(self) -> None:
        self._documents: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def read(self, key: str) -> str | None:
        return self._documents.get(key)

    def write(self, key: str, document: str) -> None:
        self._documents[key] = document

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        with self._guard:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            yield

    def keys(self) -> list[str]:
        return sorted(self._documents)


class JsonFileStateStore(SimStateStore):
    """One JSON file per key in ``directory``; ``flock`` on a sidecar lock file serializes processes.

    Writes go to a temporary file that replaces the document, so a crash never leaves half a document.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:80]
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        return self.directory / f"{slug}-{digest}.json"

    def read(self, key: str) -> str | None:
        try:
            return self._path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(self, key: str, document: str) -> None:
        path = self._path(key)
        fd, temp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(document)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        lock_path = self._path(key).with_suffix(".lock")
        with open(lock_path, "a+b") as handle:  # a fresh open file description per holder
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def keys(self) -> list[str]:
        return sorted(p.name for p in self.directory.glob("*.json"))
