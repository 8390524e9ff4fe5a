"""The state backends: atomic read-modify-write of JSON documents, memory and Redis alike."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from execution.safety.state import RedisStateBackend, Transition, append_log


def test_a_missing_document_is_none_and_the_result_is_returned(backend):
    assert backend.transact("k", lambda doc: ({"n": 1}, doc)) is None
    assert backend.transact("k", lambda doc: (doc, doc)) == {"n": 1}


def test_documents_are_copies_not_shared_objects(backend):
    kept = {"items": [1]}
    backend.transact("k", lambda doc: (kept, None))
    kept["items"].append(2)
    assert backend.transact("k", lambda doc: (doc, doc)) == {"items": [1]}


def test_documents_must_be_json(backend):
    with pytest.raises(TypeError):
        backend.transact("k", lambda doc: ({"when": object()}, None))


def test_concurrent_updates_are_not_lost(backend):
    def bump(_: int) -> None:
        backend.transact("counter", lambda doc: ({"n": (doc or {"n": 0})["n"] + 1}, None))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bump, range(200)))
    assert backend.transact("counter", lambda doc: (doc, doc)) == {"n": 200}


def test_redis_keys_are_namespaced_by_the_prefix(redis_namespace):
    client, _, prefix = redis_namespace
    RedisStateBackend(client, prefix).transact("pause:a", lambda doc: ({"x": 1}, None))
    assert client.get(prefix + "pause:a") == b'{"x":1}'
    assert client.get("pause:a") is None


def test_transition_log_keeps_the_newest_entries():
    entries = [Transition("a", float(i), "x", "y", str(i)) for i in range(5)]
    log = append_log([], entries[:3], 4)
    log = append_log(log, entries[3:], 4)
    assert [Transition.from_json(e) for e in log] == entries[1:]
    assert append_log(log, entries, 0) == []
