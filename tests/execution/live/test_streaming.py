"""The streaming loop: broker events of each connected account turned into database updates (figures)
and live pushes (figures, positions with live profit, orders, ticks, link state), one task per
account, re-listed periodically, surviving disconnects with the Connection retry profile."""

import asyncio
import contextlib
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer

from execution.accounts.models import TradingAccount
from execution.broker.faults import simulated_faults_set
from execution.broker.gateways.base import GatewayError, OrderKind, OrderRequest, Side
from execution.broker.registry import gateway_for
from execution.live import streaming as streaming_module
from execution.live.audience import org_group
from execution.live.publishing import serve_from_this_loop
from execution.live.snapshot import account_book
from execution.live.streaming import StreamConfig, Streamer
from execution.safety.errors import Category
from execution.safety.models import SafetyEvent
from execution.safety.runtime import safety
from tests.factories import connected_simulated_account

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async
FAST = StreamConfig(
    relist_every=0.3, safety_every=0.05, pump_every=0.05, positions_every=0.05, book_every=0.5
)


@pytest.fixture(autouse=True)
def _fresh_layer():
    """The in-memory layer outlives tests: no group of an earlier test's sockets is left."""

    def flush():
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            async_to_sync(layer.flush)()

    flush()
    yield
    flush()


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization, server="SimBroker-Demo")


def place(account, volume="0.01", **extra) -> str:
    async def run():
        gateway = gateway_for(account)
        await gateway.connect()
        request = OrderRequest("BTCUSD", Side.BUY, OrderKind.MARKET, Decimal(volume), **extra)
        return (await gateway.place_order(request)).position_id

    return async_to_sync(run)()


class Listener:
    """What the organization's members would receive."""

    def __init__(self, organization_id: int):
        self.organization_id = organization_id
        self.layer = get_channel_layer()
        self.seen: list[dict] = []

    async def __aenter__(self):
        serve_from_this_loop()
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(org_group(self.organization_id), self.channel)
        return self

    async def __aexit__(self, *exc):
        await self.layer.group_discard(org_group(self.organization_id), self.channel)

    async def until(self, predicate, timeout: float = 10.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no matching event; saw {[e['type'] for e in self.seen]}")
            try:
                message = await asyncio.wait_for(self.layer.receive(self.channel), remaining)
            except TimeoutError:
                continue
            event = message["event"]
            self.seen.append(event)
            if predicate(event):
                return event


@contextlib.asynccontextmanager
async def streaming(streamer: Streamer):
    stop = asyncio.Event()
    task = asyncio.create_task(streamer.run(stop))
    try:
        yield streamer
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_figures_are_saved_and_the_book_pushed_with_live_profit(organization, account):
    first = await db(place)(account)
    async with Listener(organization.pk) as listener, streaming(Streamer(FAST)):
        figures = await listener.until(lambda e: e["type"] == "account" and e["account"]["id"] == account.pk)
        assert Decimal(figures["account"]["balance"]) == Decimal("10000")
        book = await listener.until(lambda e: e["type"] == "positions")
        assert [p["id"] for p in book["positions"]] == [first]
        assert book["positions"][0]["profit"] is not None
        tick = await listener.until(lambda e: e["type"] == "tick")
        assert (tick["account_id"], tick["symbol"]) == (account.pk, "BTCUSD")

        second = await db(place)(account)  # another process trades: the stream sees the new position
        book = await listener.until(lambda e: e["type"] == "positions" and len(e["positions"]) == 2)
        assert {p["id"] for p in book["positions"]} == {first, second}

    saved = await db(TradingAccount.objects.get)(pk=account.pk)
    assert saved.figures_at > account.figures_at
    assert saved.equity is not None and saved.margin > 0
    # the snapshot reads the streamed book
    positions, orders = await db(account_book)(saved)
    assert {p["id"] for p in positions} == {first, second} and orders == []


async def test_a_pending_order_is_pushed_and_its_removal_too(organization, account):
    async def place_limit():
        gateway = gateway_for(account)
        await gateway.connect()
        price = ((await gateway.price("BTCUSD")).bid / 2).quantize(Decimal("0.01"))
        result = await gateway.place_order(
            OrderRequest("BTCUSD", Side.BUY, OrderKind.LIMIT, Decimal("0.01"), price=price)
        )
        return result.order_id, gateway

    async with Listener(organization.pk) as listener, streaming(Streamer(FAST)):
        await listener.until(lambda e: e["type"] == "orders" and e["orders"] == [])
        order_id, gateway = await db(async_to_sync(place_limit))()
        book = await listener.until(lambda e: e["type"] == "orders" and e["orders"])
        assert [o["id"] for o in book["orders"]] == [order_id]
        await db(async_to_sync(gateway.cancel_order))(order_id)
        await listener.until(lambda e: e["type"] == "orders" and e["orders"] == [])


async def test_a_lost_broker_link_is_pushed_and_the_stream_recovers(organization, account):
    async with Listener(organization.pk) as listener, streaming(Streamer(FAST)):
        await listener.until(lambda e: e["type"] == "link" and e["state"] == "up")
        await db(simulated_faults_set)(account=account, disconnected=True)
        down = await listener.until(lambda e: e["type"] == "link" and e["state"] == "down")
        assert down["account_id"] == account.pk
        await db(simulated_faults_set)(account=account, disconnected=False)
        await listener.until(lambda e: e["type"] == "link" and e["state"] == "up")
    # the link is the stream's: whether operations are accepted stays with the account's setup
    saved = await db(TradingAccount.objects.get)(pk=account.pk)
    assert saved.connection_state == TradingAccount.CONNECTED


async def test_a_link_down_too_long_reconnects_with_the_connection_profile(organization, account):
    delays: list[float] = []

    async def sleep(seconds):
        delays.append(seconds)
        if len(delays) == 2:  # the broker is back after two failed reconnections
            await db(simulated_faults_set)(account=account, disconnected=False)
        await asyncio.sleep(0)

    config = StreamConfig(**{**FAST.__dict__, "relink_after": 0.3})
    async with Listener(organization.pk) as listener, streaming(Streamer(config, sleep=sleep)):
        await listener.until(lambda e: e["type"] == "link" and e["state"] == "up")
        await db(simulated_faults_set)(account=account, disconnected=True)
        down = await listener.until(lambda e: e["type"] == "link" and "reconnecting in 2 s" in e["reason"])
        assert "down for 0.3 s" in down["reason"]
        await listener.until(lambda e: e["type"] == "link" and e["state"] == "up")
    assert delays == [2.0, 4.0]  # the Connection profile: 2 s doubling


async def test_scripted_faults_are_left_for_the_operations(organization, account):
    """The stream's reads never consume faults injected for the next operations."""
    await db(place)(account)
    await db(simulated_faults_set)(account=account, scripted_errors=[10019, 10019])
    async with Listener(organization.pk) as listener, streaming(Streamer(FAST)):
        await listener.until(lambda e: e["type"] == "positions")
        await listener.until(lambda e: e["type"] == "tick")
    from execution.broker.faults import simulated_faults

    assert (await db(simulated_faults)(account=account)).scripted_errors == [10019, 10019]


async def test_a_failed_connection_is_retried_with_the_connection_profile(organization, account):
    delays: list[float] = []
    left = {"failures": 3}

    def flaky(account):
        gateway = gateway_for(account)
        connect = gateway.connect

        async def failing_connect():
            if left["failures"]:
                left["failures"] -= 1
                raise GatewayError("broker unreachable", source="transport", string_code="not_connected")
            await connect()

        gateway.connect = failing_connect
        return gateway

    async def sleep(seconds):
        delays.append(seconds)
        await asyncio.sleep(0)

    async with (
        Listener(organization.pk) as listener,
        streaming(Streamer(FAST, gateway_factory=flaky, sleep=sleep)),
    ):
        down = await listener.until(lambda e: e["type"] == "link" and e["state"] == "down")
        assert "broker unreachable" in down["reason"]
        await listener.until(lambda e: e["type"] == "link" and e["state"] == "up")
    assert delays == [2.0, 4.0, 8.0]  # the Connection profile: 2 s doubling, up to 60 s


async def test_accounts_are_relisted(organization, account):
    other = await db(connected_simulated_account)(organization, login="5002")
    streamer = Streamer(FAST)
    try:
        await streamer.relist()
        assert set(streamer.tasks) == {account.pk, other.pk}
        await db(TradingAccount.objects.filter(pk=other.pk).update)(connection_state=TradingAccount.ERROR)
        await db(TradingAccount.objects.filter(pk=account.pk).delete)()
        third = await db(connected_simulated_account)(organization, login="5003")
        await streamer.relist()
        assert set(streamer.tasks) == {third.pk}
    finally:
        await streamer.stop_all()
    assert streamer.tasks == {}


async def test_the_safety_poll_moves_a_paused_account_to_testing_and_it_is_pushed(
    settings, organization, account
):
    settings.TTMT_SAFETY = {
        **settings.TTMT_SAFETY,
        "pause": {**settings.TTMT_SAFETY["pause"], "cooldown": 0.2},
    }
    safety.cache_clear()

    def pause():
        policy = safety().pause
        for _ in range(2):
            policy.record(policy.acquire(str(account.pk)), Category.PERMANENT)

    async with Listener(organization.pk) as listener:
        await db(pause)()
        status = await listener.until(lambda e: e["type"] == "status")
        assert status["level"] == "red"
        async with streaming(Streamer(FAST)):
            event = await listener.until(
                lambda e: e["type"] == "safety" and e["safety"]["to_state"] == "testing"
            )
            assert event["safety"]["account_id"] == account.pk
            status = await listener.until(lambda e: e["type"] == "status")
            assert status["level"] == "yellow"
            assert status["accounts"][0]["pause_state"] == "testing"
    assert await db(SafetyEvent.objects.filter(account=account, to_state="testing").exists)()


class _Recording:
    """A stream observer that records what it is given, and fails on every event."""

    def __init__(self, account_id, now):
        self.account_id, self.events, self.books, self.idles = account_id, [], [], 0

    async def on_event(self, event, gateway):
        self.events.append(type(event).__name__)
        raise RuntimeError("an observer's bug")

    def on_book(self, positions):
        self.books.append([position.id for position in positions])

    async def on_idle(self, gateway):
        self.idles += 1


async def test_observers_get_the_events_books_and_idle_passes_and_their_failures_never_end_the_stream(
    organization, account, monkeypatch
):
    made = []

    def make(account_id, now):
        made.append(_Recording(account_id, now))
        return made[-1]

    monkeypatch.setattr(streaming_module, "_OBSERVERS", [])
    streaming_module.observe_streams(make)
    first = await db(place)(account)
    async with Listener(organization.pk) as listener, streaming(Streamer(FAST)):
        await listener.until(lambda e: e["type"] == "tick")
        second = await db(place)(account)  # after the observer failed on every event so far
        await listener.until(lambda e: e["type"] == "positions" and len(e["positions"]) == 2)

    (observer,) = made
    assert observer.account_id == account.pk
    assert "PriceTick" in observer.events and observer.idles > 0
    assert [first] in observer.books and [first, second] in [sorted(book) for book in observer.books]
