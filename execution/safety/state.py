"""State backends for the safety policies: atomic read-modify-write of one small JSON document per key.

Promise: ``transact(key, update)`` runs ``update(current_document)`` and stores its result as one
atomic step, both in memory (a lock; for unit tests and single-process use) and in Redis (optimistic
WATCH/MULTI, shared by every worker process; keys namespaced by a prefix). Each policy is therefore
written once, as a pure function of its document, and behaves the same on both backends.
``update`` must be pure: on Redis it is re-run when another process changed the key meanwhile.
"""

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar

import redis

Doc = dict[str, Any]
T = TypeVar("T")
Update = Callable[[Doc | None], tuple[Doc, T]]


class StateBackend(Protocol):
    def transact(self, key: str, update: Update[T]) -> T:
        """Atomically replace the document at ``key`` by ``update(doc)[0]``; return ``update(doc)[1]``."""
        ...


def _dump(doc: Doc) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


class MemoryStateBackend:
    """Thread-safe in-process backend. Documents are stored as JSON text, exactly like Redis."""

    def __init__(self) -> None:
        self._docs: dict[str, str] = {}
        self._lock = threading.Lock()

    def transact(self, key: str, update: Update[T]) -> T:
        with self._lock:
            raw = self._docs.get(key)
            new, result = update(None if raw is None else json.loads(raw))
            self._docs[key] = _dump(new)
            return result


class RedisStateBackend:
    """Redis backend shared by all processes; every key is ``prefix + key``."""

    def __init__(self, client: redis.Redis, prefix: str = "ttmt:safety:") -> None:
        self._client = client
        self._prefix = prefix

    def transact(self, key: str, update: Update[T]) -> T:
        name = self._prefix + key
        with self._client.pipeline(transaction=True) as pipe:
            while True:  # a WatchError means another writer committed, so the system made progress
                try:
                    pipe.watch(name)
                    raw = pipe.get(name)
                    if isinstance(raw, bytes):
                        raw = raw.decode()
                    new, result = update(None if raw is None else json.loads(raw))
                    text = _dump(new)
                    if text == raw:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    pipe.set(name, text)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue


@dataclass(frozen=True)
class Transition:
    """One state change of a policy subject (an account or a platform)."""

    subject: str
    at: float
    from_state: str
    to_state: str
    cause: str

    def to_json(self) -> Doc:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Doc) -> "Transition":
        return cls(**data)


def append_log(log: list[Doc], transitions: list[Transition], size: int) -> list[Doc]:
    """The bounded transition log kept inside a document: newest last, at most ``size`` entries."""
    return (log + [t.to_json() for t in transitions])[-size:] if size > 0 else []
