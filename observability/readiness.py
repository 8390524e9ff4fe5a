"""Whether this deployment can take work: its database answers, Redis answers (when configured),
the Dramatiq broker this process sends to is reachable, and at least one execution worker is
heartbeating.

Promise: :func:`readiness` runs every check once, cheaply (one query, one Redis ping, a look at the
broker connection this process already holds), and says each check's state without any secret: an
error is named by its class, never by a message that could hold a URL.
"""

from dataclasses import dataclass, field

import dramatiq
import pika.exceptions
import redis
from django.conf import settings
from django.db import DatabaseError
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from observability import store
from observability.selectors import alive_workers

UP, DOWN, UNKNOWN, NOT_CONFIGURED = "up", "down", "unknown", "not_configured"
READY_STATES = (UP, NOT_CONFIGURED)


@dataclass(frozen=True)
class Check:
    state: str
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state in READY_STATES

    def as_json(self) -> dict:
        return {"state": self.state, **self.details}


def _failed(error: Exception, **details) -> Check:
    return Check(DOWN, {**details, "error": type(error).__name__})


def _database_and_workers() -> tuple[Check, Check]:
    try:
        alive = alive_workers()
    except DatabaseError as error:
        return _failed(error), Check(UNKNOWN)
    return Check(UP), Check(UP if alive else DOWN, {"alive": alive})


def _redis() -> Check:
    if not settings.REDIS_URL:
        return Check(NOT_CONFIGURED)
    try:
        store.redis_client().ping()
    except redis.RedisError as error:
        return _failed(error)
    return Check(UP)


def broker_check(broker: dramatiq.Broker) -> Check:
    """Whether ``broker`` can take a message now: RabbitMQ through the connection this thread sends
    on (opened if there is none or it was lost; dropped if it fails now), Redis by a ping; the
    in-process broker of the embedded default always can."""
    if isinstance(broker, StubBroker):
        return Check(UP, {"broker": "in-process"})
    if isinstance(broker, RedisBroker):
        try:
            broker.client.ping()
        except redis.RedisError as error:
            return _failed(error, broker="redis")
        return Check(UP, {"broker": "redis"})
    if isinstance(broker, RabbitmqBroker):
        try:
            if broker.connection.is_closed:  # lost since it was last used: a new one, as a send would
                del broker.connection
            broker.connection.process_data_events(time_limit=0)
        except (pika.exceptions.AMQPError, OSError) as error:
            del broker.connection
            return _failed(error, broker="rabbitmq")
        return Check(UP, {"broker": "rabbitmq"})
    return Check(UNKNOWN, {"broker": type(broker).__name__})


def readiness() -> dict[str, Check]:
    """Each check by name: ``database``, ``redis``, ``broker``, ``workers``."""
    database, workers = _database_and_workers()
    return {
        "database": database,
        "redis": _redis(),
        "broker": broker_check(dramatiq.get_broker()),
        "workers": workers,
    }
