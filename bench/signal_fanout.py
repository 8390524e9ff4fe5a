"""Benchmark: one channel message -> every routed account's operations accepted (the signal fan-out).

    .venv/bin/python bench/signal_fanout.py --accounts 1 100 1000 [--messages 5] [--broker rabbitmq]
        [--out bench/results/signal_fanout-DATE.json]

What is timed: ``execution.signals.intake.receive`` for a new message, from the call until its
transaction committed (``accepted_ms``: the parse, each route's checks, one ``open_trade``
operation per account, the trades and decisions, all durable) and until the operations' task
messages and the live events were sent after the commit (``published_ms``). Nothing runs the
operations (no worker consumes): what happens after acceptance is ``bench/execution_burst.py``'s
subject.

Setup: a fresh PostgreSQL database (``--database-url``), one organization, one simulated platform;
the first account is set up by the product's services (``account_connect`` + ``account_setup``: it
discovers the broker's symbols), the others are copies of it (the same server's symbol list,
written with bulk inserts: setting 1000 accounts up one by one would take minutes and is not what is
measured); each account is routed from one webhook source. Messages: ``--messages`` distinct BUY
signals (different symbols and entries: none is a duplicate of another) with an entry, an SL and
three TPs, so every route opens a trade of three legs. The broker of the task messages is the
in-process one (``--broker stub``, as the embedded default) or RabbitMQ (``--broker rabbitmq``, a
dedicated virtual host, as production). Queries per message are counted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ttmt_bench_signals"
RABBITMQ_VHOST = "ttmt_bench_signals"
SIGNALS = [  # (symbol, reference entry): entries near the simulated reference prices
    ("XAUUSD", 2350.0, 8.0),
    ("EURUSD", 1.085, 0.003),
    ("BTCUSD", 65000.0, 600.0),
    ("GBPUSD", 1.27, 0.003),
    ("US30", 39000.0, 150.0),
]


def environment(database_url: str, broker: str) -> None:
    from cryptography.fernet import Fernet

    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="ttmt_site.settings",
        TTMT_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        TTMT_LOG_LEVEL="WARNING",
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("RABBITMQ_URL", None)
    if broker == "rabbitmq":
        subprocess.run(["rabbitmqctl", "add_vhost", RABBITMQ_VHOST], capture_output=True)  # noqa: S607
        subprocess.run(  # noqa: S603
            ["rabbitmqctl", "set_permissions", "-p", RABBITMQ_VHOST, "guest", ".*", ".*", ".*"],  # noqa: S607
            capture_output=True,
            check=True,
        )
        os.environ["RABBITMQ_URL"] = f"amqp://guest:guest@127.0.0.1:5672/{RABBITMQ_VHOST}"
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/9"


def recreate_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def make_accounts(organization, platform_row, count: int):
    """The first account set up by the product, the others copies of it (same server, same symbols)."""
    from execution.accounts.models import AccountSymbol, TradingAccount
    from execution.accounts.services import account_connect
    from execution.accounts.setup import account_setup

    first = account_connect(
        organization=organization,
        platform=platform_row,
        name="A0",
        type="demo",
        login="100000",
        server="SimBroker-Demo",
        password="mt-password",
    )
    first = account_setup(account_id=first.pk)
    symbols = list(AccountSymbol.objects.filter(account=first))
    copies = TradingAccount.objects.bulk_create(
        [
            TradingAccount(
                organization=organization,
                platform=platform_row,
                name=f"A{index}",
                type="demo",
                login=str(100000 + index),
                server=first.server,
                connection_state=TradingAccount.CONNECTED,
                balance=first.balance,
                currency=first.currency,
            )
            for index in range(1, count)
        ]
    )
    AccountSymbol.objects.bulk_create(
        [
            AccountSymbol(
                **{
                    **{f.attname: getattr(row, f.attname) for f in AccountSymbol._meta.concrete_fields},
                    "id": None,
                    "account_id": copy.pk,
                }
            )
            for copy in copies
            for row in symbols
        ],
        batch_size=5000,
    )
    return [first, *copies]


def message(index: int) -> str:
    symbol, price, step = SIGNALS[index % len(SIGNALS)]
    entry = price * (1 + 0.0001 * index)
    digits = 5 if price < 10 else 2
    levels = [round(entry - 2 * step, digits), *(round(entry + k * step, digits) for k in (1, 2, 3))]
    return (
        f"BUY {symbol} @ {round(entry, digits)}\nSL {levels[0]}\n"
        f"TP1 {levels[1]}\nTP2 {levels[2]}\nTP3 {levels[3]}"
    )


def run(counts: list[int], messages: int) -> list[dict]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from accounts.models import User
    from execution.orders.models import Operation
    from execution.signals import intake
    from execution.signals.models import Decision, Route, SignalSource
    from execution.signals.sources.base import MessagePosted
    from orgs.services import organization_create
    from platforms.services import platform_create

    results = []
    for count in counts:
        user = User.objects.create(email=f"bench{count}@example.com")
        organization = organization_create(creator=user, name=f"Bench {count}")
        platform_row = platform_create(
            organization=organization,
            name="Simulated",
            type="mt5",
            api="simulated",
            servers=["SimBroker-Demo"],
        )
        started = time.perf_counter()
        accounts = make_accounts(organization, platform_row, count)
        source = SignalSource.objects.create(
            organization=organization, name="Channel", kind=SignalSource.WEBHOOK
        )
        Route.objects.bulk_create(
            [Route(organization=organization, source=source, account=account) for account in accounts]
        )
        setup_seconds = time.perf_counter() - started
        timings, published, queries = [], [], []
        for index in range(messages):
            event = MessagePosted(
                message_id=f"{count}-{index}", posted_at=datetime.now(UTC), text=message(index)
            )
            marks = []
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                with transaction.atomic():  # its first after-commit callback marks the COMMIT
                    transaction.on_commit(lambda marks=marks: marks.append(time.perf_counter()))
                    intake.receive(source=source, event=event)
                    transaction.on_commit(lambda marks=marks: marks.append(time.perf_counter()))
            timings.append((marks[0] - started) * 1000)
            published.append((marks[1] - started) * 1000)
            queries.append(len(captured))
        opened = Decision.objects.filter(route__source=source, outcome="opened").count()
        operations = Operation.objects.filter(organization=organization, kind="open_trade").count()
        other = dict(
            Decision.objects.filter(route__source=source)
            .exclude(outcome="opened")
            .values_list("code", "outcome")
        )
        results.append(
            {
                "accounts": count,
                "messages": messages,
                "accepted_ms": {
                    "p50": round(statistics.median(timings), 1),
                    "max": round(max(timings), 1),
                    "all": [round(t, 1) for t in timings],
                },
                "published_ms": {
                    "p50": round(statistics.median(published), 1),
                    "max": round(max(published), 1),
                },
                "per_account_ms": round(statistics.median(timings) / count, 3),
                "queries_per_message": sorted(set(queries)),
                "decisions_opened": opened,
                "open_trade_operations": operations,
                "not_opened": other,
                "setup_seconds": round(setup_seconds, 1),
            }
        )
        print(json.dumps(results[-1]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--broker", choices=["stub", "rabbitmq"], default="stub")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--out", type=Path)
    arguments = parser.parse_args()
    environment(arguments.database_url, arguments.broker)
    recreate_database(arguments.database_url)
    results = run(arguments.accounts, arguments.messages)
    report = {
        "benchmark": "signal_fanout",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "broker": arguments.broker,
        "database": "postgresql",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": results,
    }
    if arguments.out:
        arguments.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
