"""The deployment's Prometheus metrics, in the text exposition format, built when scraped.

Promise: every series is the whole deployment's, whichever web process (on whichever host) answers
the scrape: counters are the totals every process sent to the shared store
(``observability.store``), the rest is read at scrape time from the database (a fixed number of
aggregate queries) and the safety state (one Redis round trip).

- ``ttmt_operation_latency_seconds{kind,state}`` (histogram): acceptance to end of each operation,
  by kind and end state (done, failed, cancelled);
- ``ttmt_operation_attempts_total{category}`` (counter): broker calls by outcome category;
- ``ttmt_operation_queue_depth{priority,state}`` (gauge): operations waiting to run (accepted, or
  waiting out a retry, speed control or a pause), by priority;
- ``ttmt_engine_workers_alive`` (gauge): execution workers whose heartbeat is current;
- ``ttmt_safety_pause_state{account,organization,platform}`` (gauge): 0 trading, 1 testing, 2 paused;
- ``ttmt_broker_health_state{platform}`` (gauge): 0 healthy, 1 paused;
- ``ttmt_websockets_open`` (gauge): live dashboard sockets open, over every web process.
"""

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from execution.safety.health import HealthState
from execution.safety.pause import PauseState
from observability import recording, selectors, store

PAUSE_CODES = {PauseState.TRADING: 0, PauseState.TESTING: 1, PauseState.PAUSED: 2}
HEALTH_CODES = {HealthState.HEALTHY: 0, HealthState.PAUSED: 1}


def _latency() -> Metric:
    family = HistogramMetricFamily(
        "ttmt_operation_latency_seconds",
        "Operations from acceptance to their end, by kind and end state.",
        labels=["kind", "state"],
    )
    counts: defaultdict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for field, value in store.totals(recording.LATENCY).items():
        kind, state, bucket = field.split("|")
        counts[(kind, state)][bucket] = value
    for labels, values in sorted(counts.items()):
        cumulative, buckets = 0.0, []
        for bound in recording.LATENCY_BUCKETS:
            cumulative += values.get(f"{bound:g}", 0.0)
            buckets.append((floatToGoString(bound), cumulative))
        family.add_metric(list(labels), buckets, values.get("sum", 0.0))
    return family


def _attempts() -> Metric:
    family = CounterMetricFamily(
        "ttmt_operation_attempts", "Broker calls by outcome category.", labels=["category"]
    )
    for category, value in sorted(store.totals(recording.ATTEMPTS).items()):
        family.add_metric([category], value)
    return family


def _queue_depth() -> Metric:
    family = GaugeMetricFamily(
        "ttmt_operation_queue_depth",
        "Operations waiting to run (accepted, or waiting: a retry, speed control, a pause), by priority.",
        labels=["priority", "state"],
    )
    for (priority, state), count in selectors.queue_depth().items():
        family.add_metric([priority, state], count)
    return family


def _safety() -> Iterator[Metric]:
    states = selectors.safety_states()
    pauses = GaugeMetricFamily(
        "ttmt_safety_pause_state",
        "Safety pause of each trading account: 0 trading, 1 testing, 2 paused.",
        labels=["account", "organization", "platform"],
    )
    for account in states.accounts:
        labels = [str(account.account_id), str(account.organization_id), str(account.platform_id)]
        pauses.add_metric(labels, PAUSE_CODES[account.state])
    yield pauses
    health = GaugeMetricFamily(
        "ttmt_broker_health_state",
        "Broker health of each platform: 0 healthy, 1 paused.",
        labels=["platform"],
    )
    for platform_id, state in states.platforms.items():
        health.add_metric([str(platform_id)], HEALTH_CODES[state])
    yield health


class _Deployment(Collector):
    def collect(self) -> Iterator[Metric]:
        yield _latency()
        yield _attempts()
        yield _queue_depth()
        yield GaugeMetricFamily(
            "ttmt_engine_workers_alive",
            "Execution workers whose heartbeat is current.",
            value=selectors.alive_workers(),
        )
        yield from _safety()
        yield GaugeMetricFamily(
            "ttmt_websockets_open",
            "Live dashboard websockets open, over every web process.",
            value=store.gauge_sum(recording.WEBSOCKETS),
        )


_registry = CollectorRegistry(auto_describe=False)
_registry.register(_Deployment())


def exposition() -> bytes:
    """Every series, in the Prometheus text format."""
    return generate_latest(_registry)
