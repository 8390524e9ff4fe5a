"""Protection driven by the market, end to end: a routed 3-TP signal on the simulated broker, its
prices scripted second by second, the engine streaming the account as it does in the product (the
watcher follows the stream on the account's session) and running the moves it asks for."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from execution.broker.faults import simulated_faults_set
from execution.broker.gateways.base import CloseReason, DealEntry
from execution.broker.market import simulated_market_set
from execution.broker.registry import gateway_for
from execution.live import streaming
from execution.orders.models import Operation
from execution.protection.models import ProtectionSettings, ProtectionStep, TradeProtection
from execution.protection.watcher import TradeWatcher
from execution.signals.models import Trade
from tests.execution.signals.test_intake import broker, positions

pytestmark = pytest.mark.django_db(transaction=True)
ENTRY = Decimal(65000)  # the pinned mid of the ``market`` fixture
BUFFER = Decimal(2)  # the default 2 pips of BTCUSD (a crypto pip is 1.0)


@pytest.fixture(autouse=True)
def _quick_stream(settings):
    """The engine's streams pump the simulated broker every 0.1 s (1 s in the product)."""
    settings.TTMT_LIVE_STREAM = {
        "pump_every": 0.1,
        "positions_every": 0.1,
        "book_every": 0.5,
        "relist_every": 0.5,
    }


def wait_until(predicate, what: str, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)
    return found


def path(market, *moves: tuple[float, float]) -> None:
    """BTCUSD's mid from ``delay`` seconds from now on, for each (delay, mid)."""
    now = time.time()
    for delay, mid in moves:
        market.set("BTCUSD", mid, at=int(now + delay))


def breakeven_done() -> Operation:
    return wait_until(
        lambda: Operation.objects.filter(kind="manage_trade", state__in=Operation.TERMINAL).first(),
        "the breakeven operation to end",
    )


def at_breakeven(account, count: int):
    found = positions(account)
    return len(found) == count and all(p.sl == p.open_price + BUFFER for p in found) and found


def closed_deals(account, reason):
    deals = broker(account, lambda g: g.history_deals(datetime.now(UTC) - timedelta(hours=1)))
    return [deal for deal in deals if deal.entry is DealEntry.OUT and deal.reason is reason]


def test_tp1_moves_the_others_to_breakeven_verified_then_tp2_closes_the_next(account, trade, market):
    path(market, (1, 65450.0))  # through TP1

    left = wait_until(lambda: at_breakeven(account, 2), "the two others at entry + 2 pips")

    assert [p.tp for p in left] == [Decimal(65800), Decimal(66200)]
    breakeven = breakeven_done()
    assert (breakeven.state, breakeven.priority) == ("done", 0), breakeven.reason  # high priority
    assert TradeProtection.objects.get(trade=trade).reached == 1
    steps = list(ProtectionStep.objects.filter(trade=trade).values_list("kind", flat=True))
    assert steps == ["tp_reached", "breakeven"]

    path(market, (1, 65850.0))  # through TP2
    last = wait_until(lambda: at_breakeven(account, 1), "TP2 closed, the last at breakeven")
    assert last[0].tp == Decimal(66200)
    assert len(closed_deals(account, CloseReason.TP)) == 2
    wait_until(lambda: TradeProtection.objects.get(trade=trade).reached == 2, "TP2 recorded")
    assert Operation.objects.filter(kind="manage_trade").count() == 1  # TP2 asks nothing more


def test_a_reversal_after_tp1_closes_the_rest_at_breakeven_not_at_the_original_sl(account, trade, market):
    path(market, (1, 65450.0), (4, 65300.0), (5, 65100.0), (6, 64990.0))  # TP1, then back below the entry

    wait_until(lambda: not positions(account), "the rest closed")

    stopped = closed_deals(account, CloseReason.SL)
    assert len(stopped) == 2
    # at the first bid under entry + 2 pips (a 30.00 spread), not at the original 63500
    assert all(deal.price > ENTRY - 50 for deal in stopped), [deal.price for deal in stopped]
    moved = ProtectionStep.objects.get(trade=trade, kind="breakeven").at
    assert moved.timestamp() < trade.created_at.timestamp() + 6  # before the path was back at the entry


def test_a_broker_rejecting_the_first_two_breakeven_attempts_is_retried_until_done(account, trade, market):
    simulated_faults_set(account=account, scripted_errors=[10004, 10004], applies_to="trading")  # requotes
    path(market, (1, 65450.0))

    wait_until(lambda: at_breakeven(account, 2), "the two others at breakeven")

    breakeven = breakeven_done()
    assert breakeven.state == "done"
    assert [a.category for a in breakeven.attempts.order_by("number")] == [
        "transient",
        "transient",
        "success",
    ]


@pytest.fixture
def unwatched_trade(request, monkeypatch) -> Trade:
    """A trade whose account's stream has no watcher: only the check run by the test sees it."""
    monkeypatch.setattr(streaming, "_OBSERVERS", [])
    return request.getfixturevalue("trade")


def test_the_background_check_catches_a_tp_fill_the_stream_missed(
    account, unwatched_trade, market, run_queued
):
    trade = unwatched_trade
    path(market, (1, 65450.0))
    time.sleep(1.2)  # TP1 passed while nothing was watching the stream (no events reach this watcher)
    watcher = TradeWatcher(account.pk, time.monotonic)

    async def check():
        async with gateway_for(account) as gateway:
            await watcher.refresh()
            await gateway.positions()  # the broker evaluates up to now: TP1 fills
            await watcher.check(gateway)

    async_to_sync(check)()
    run_queued()

    assert TradeProtection.objects.get(trade=trade).reached == 1
    step = ProtectionStep.objects.filter(trade=trade, kind="tp_reached").get()
    assert "background check" in step.message
    wait_until(lambda: at_breakeven(account, 2), "the two others at breakeven")


def test_never_as_the_trigger_moves_nothing(account, trade, market):
    ProtectionSettings.objects.create(account=account, breakeven_at=0)
    path(market, (1, 65450.0))

    wait_until(lambda: len(positions(account)) == 2, "TP1 closed")
    time.sleep(1.0)  # the watcher had time to act, had it been asked to

    assert not Operation.objects.filter(kind="manage_trade").exists()
    assert {p.sl for p in positions(account)} == {Decimal(63500)}


def test_a_trailing_stop_follows_the_price_up_and_never_back(account, trade, market):
    ProtectionSettings.objects.create(
        account=account,
        breakeven_at=0,
        trailing=True,
        trailing_activation_pips=100,
        trailing_distance_pips=150,
        trailing_step_pips=50,
    )
    path(market, (1, 65300.0))  # 285 in profit at the bid (a 30.00 spread): active
    bid = Decimal(65285)

    wait_until(lambda: {p.sl for p in positions(account)} == {bid - 150}, "the stop 150 behind the bid")
    path(market, (1, 65250.0))  # back a little: the stop stays
    time.sleep(1.5)

    assert {p.sl for p in positions(account)} == {bid - 150}
    moves = ProtectionStep.objects.filter(trade=trade, kind="trailing")
    assert [step.message for step in moves] == [f"Trailing stop to {bid - 150:.2f}."]


def test_the_platform_s_market_path_drives_the_trade_through_tp1(account, trade):
    """What a user does on the demo: "move BTCUSD to 65450 over 2 s" on the account's platform."""
    simulated_market_set(platform=account.platform, instrument="BTCUSD", move_to=65450, over_seconds=2)

    wait_until(lambda: at_breakeven(account, 2), "the two others at breakeven")
    assert TradeProtection.objects.get(trade=trade).reached == 1
