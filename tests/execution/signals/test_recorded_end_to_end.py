"""A recorded channel replayed end to end on the simulated broker, routed to a Demo and a Live
account: a signal with three TPs, a pending order, an edit of the signal, a breakeven reply and the
deletion of the pending order's message, each on the right positions of both accounts."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from execution.accounts.models import RiskSettings
from execution.broker.registry import gateway_for
from execution.signals.models import Decision, Route, Signal, SignalSource
from execution.signals.sources import recorded
from tests.factories import connected_simulated_account

pytestmark = pytest.mark.django_db(transaction=True)

SIGNAL = "BUY BTCUSD now @ {BTCUSD}\nSL {BTCUSD-%d}\nTP1 {BTCUSD+400}\nTP2 {BTCUSD+800}\nTP3 {BTCUSD+1200}"
PENDING = "BTCUSD BUY LIMIT {BTCUSD-800}\nSL {BTCUSD-2000}\nTP1 {BTCUSD}\nTP2 {BTCUSD+400}"
BREAKEVEN_BUFFER = Decimal(2)  # the default 2 pips of BTCUSD (a crypto pip is 1.0), as protection moves it
LINES = [
    {"at": 1, "id": "o1", "text": SIGNAL % 1500},
    {"at": 2, "id": "p1", "text": PENDING},
    {"at": 3, "id": "o1", "edit": SIGNAL % 1000},
    {"at": 4, "id": "b1", "reply_to": "o1", "text": "TP1 hit ✅ move SL to breakeven"},
    {"at": 5, "id": "p1", "delete": True},
]


@pytest.fixture
def channel(organization, tmp_path, monkeypatch):
    path = tmp_path / "channel.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    monkeypatch.setattr(recorded, "RECORDINGS", {**recorded.RECORDINGS, "e2e": path})
    recorded.recording.cache_clear()
    yield SignalSource.objects.create(
        organization=organization, name="Recorded", kind=SignalSource.RECORDED, recording="e2e"
    )
    recorded.recording.cache_clear()


def book(account):
    async def read():
        async with gateway_for(account) as gateway:
            return await gateway.positions(), await gateway.orders()

    positions, orders = async_to_sync(read)()
    return sorted(positions, key=lambda p: p.client_tag), orders


def test_a_recorded_channel_trades_on_a_demo_and_a_live_account(organization, channel, market, run_queued):
    demo = connected_simulated_account(organization, name="Demo", server="SimBroker-Demo")
    live = connected_simulated_account(
        organization, name="Live", login="7001", server="SimMarkets-Live", type="live"
    )
    RiskSettings.objects.create(account=demo, mode="fixed", fixed_lots="0.03")
    RiskSettings.objects.create(account=live, mode="fixed", fixed_lots="0.06")
    for account in (demo, live):
        Route.objects.create(organization=organization, source=channel, account=account)
    start = timezone.now()

    def play_until(second: int) -> None:
        recorded.play_due(now=start + timedelta(seconds=second), player_id="player-1")
        run_queued()

    play_until(0)  # the source starts its first round
    play_until(1)  # the signal
    play_until(2)  # the pending order
    for account, leg, symbol in ((demo, Decimal("0.01"), "BTCUSD"), (live, Decimal("0.02"), "BTCUSD.m")):
        positions, orders = book(account)
        assert [(p.symbol, p.volume) for p in positions] == [(symbol, leg)] * 3
        assert {p.sl for p in positions} == {Decimal("63500")}
        assert [p.tp for p in positions] == [Decimal("65400"), Decimal("65800"), Decimal("66200")]
        assert sorted(o.price for o in orders) == [Decimal("64200")] * 2
        assert {o.sl for o in orders} == {Decimal("63000")}

    play_until(3)  # the edit moves the SL of the trade it opened
    for account in (demo, live):
        assert {p.sl for p in book(account)[0]} == {Decimal("64000")}
    market.set("BTCUSD", 65100.0, at=int(timezone.now().timestamp()))
    play_until(4)  # the reply moves that trade's positions to breakeven
    play_until(5)  # the pending order's message is deleted

    assert Signal.objects.filter(source=channel).count() == 4  # a deletion is no new version
    assert Signal.objects.get(message_id="r0-p1").deleted_at is not None
    for account in (demo, live):
        positions, orders = book(account)
        assert len(positions) == 3
        assert all(p.sl == p.open_price + BREAKEVEN_BUFFER for p in positions)
        assert orders == []
        outcomes = list(
            Decision.objects.filter(account=account).order_by("id").values_list("outcome", flat=True)
        )
        assert outcomes == ["opened", "opened", "applied", "applied"]
