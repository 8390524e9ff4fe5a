"""Loaded into a worker by the multi-process tests, as one more module of the ``dramatiq`` command.

It observes, and changes nothing:

* which worker process handled each ``execute_operation`` message, and when it was done: a
  middleware appends ``"<pid> <operation id> <unix time>"`` to the Redis list ``TTMT_MP_PROBE_KEY``;
* every slot speed control grants: ``SpeedControl.try_start`` is wrapped to append
  ``"<operation id> <start time>"`` (the very ``Start.started_at`` speed control decided on, as an
  exact float) to ``TTMT_MP_PROBE_KEY + ":slots"``, and returns what it returned;
* every ticket taken: ``SpeedControl.enqueue`` is wrapped to append ``"<operation id> <unix time>"``
  to ``TTMT_MP_PROBE_KEY + ":tickets"``.
"""

import os
import time

import dramatiq
import redis
from dramatiq.middleware import Middleware

from execution.safety.speed import SpeedControl, Start


class _Probe(Middleware):
    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        if message.actor_name == "execute_operation":
            self.client.rpush(self.key, f"{os.getpid()} {message.args[0]} {time.time()!r}")


def _record_slots(client: redis.Redis, key: str) -> None:
    try_start = SpeedControl.try_start

    def recording_try_start(self, account_id, op_id):
        decision = try_start(self, account_id, op_id)
        if isinstance(decision, Start):
            client.rpush(key, f"{op_id} {decision.started_at!r}")
        return decision

    SpeedControl.try_start = recording_try_start


def _record_tickets(client: redis.Redis, key: str) -> None:
    enqueue = SpeedControl.enqueue

    def recording_enqueue(self, account_id, op_id, priority, **kwargs):
        client.rpush(key, f"{op_id} {time.time()!r}")
        return enqueue(self, account_id, op_id, priority, **kwargs)

    SpeedControl.enqueue = recording_enqueue


if os.environ.get("TTMT_MP_PROBE_KEY") and os.environ.get("REDIS_URL"):
    _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    dramatiq.get_broker().add_middleware(_Probe(_client, os.environ["TTMT_MP_PROBE_KEY"]))
    _record_slots(_client, os.environ["TTMT_MP_PROBE_KEY"] + ":slots")
    _record_tickets(_client, os.environ["TTMT_MP_PROBE_KEY"] + ":tickets")
