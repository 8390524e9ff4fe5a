"""The recorded source: recordings read and checked, market-relative prices, rounds of new messages
at their due times, one player at a time per source through the lease (another takes over where
the first stopped), edits and deletions; the demo channel keeps trading; the broker seam's
reference price."""

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from execution.accounts.services import symbol_resolve
from execution.broker.registry import CONNECTORS
from execution.broker.simulator import account_key, engine
from execution.signals.models import Route, Signal, SignalSource
from execution.signals.parsing import parse
from execution.signals.sources import recorded
from execution.signals.sources.base import MessageDeleted, MessagePosted
from execution.signals.sources.recorded import (
    NoPrice,
    RecordingError,
    load_recording,
    play_due,
    recording,
    render,
)
from platforms.models import TradePlatform
from tests.factories import connected_simulated_account

CHANNEL = Path(__file__).parent / "recordings" / "channel.jsonl"
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)  # a Monday: markets open


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _recordings(monkeypatch, tmp_path):
    """The test channel beside the package's recordings; no recording or price cached across tests."""
    monkeypatch.setattr(recorded, "RECORDINGS", {**recorded.RECORDINGS, "channel": CHANNEL})
    recording.cache_clear()
    recorded._last_mid.clear()
    yield
    recording.cache_clear()
    recorded._last_mid.clear()


@pytest.fixture
def received(monkeypatch):
    """The intake, replaced: the events it was given, in order, as (source id, event)."""
    events: list = []
    monkeypatch.setattr(recorded, "receive", lambda *, source, event: events.append((source.pk, event)))
    return events


def ids(received) -> list[tuple[str, str, int]]:
    return [(type(event).__name__, event.message_id, getattr(event, "version", 0)) for _, event in received]


@pytest.fixture
def channel(organization):
    return SignalSource.objects.create(
        organization=organization, name="Channel", kind=SignalSource.RECORDED, recording="channel"
    )


def write(tmp_path, *lines) -> Path:
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines))
    return path


# ---------------------------------------------------------------------------------------------- loading


def test_a_recording_is_read_with_versions_and_replies():
    lines = load_recording(CHANNEL)

    assert [(line.number, line.at, line.message_id, line.version) for line in lines] == [
        (1, 10.0, "a", 1),
        (2, 20.0, "b", 1),
        (3, 20.0, "a", 2),
        (5, 50.0, "b", 1),  # the blank line 4 is skipped
    ]
    assert lines[1].reply_to == "a"
    assert lines[2].text.endswith("SL 2345\nTP 2356")
    assert lines[3].text is None  # a deletion


def test_an_edit_keeps_the_reply_of_the_message_it_edits(tmp_path):
    lines = load_recording(
        write(
            tmp_path,
            {"at": 0, "id": "a", "text": "BUY GOLD"},
            {"at": 1, "id": "b", "text": "SL to entry", "reply_to": "a"},
            {"at": 2, "id": "b", "edit": "SL to entry now"},
            {"at": 3, "id": "b", "edit": "SL to entry now!"},
        )
    )
    assert [(line.reply_to, line.version) for line in lines[2:]] == [("a", 2), ("a", 3)]


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        (["{not json"], 1, "not JSON"),
        (["[1, 2]"], 1, "must be a JSON object"),
        ([{"at": 1, "id": "a"}], 1, 'exactly one of "text"'),
        ([{"at": 1, "id": "a", "text": "x", "delete": True}], 1, 'exactly one of "text"'),
        ([{"at": 1, "id": "a", "text": "x", "colour": "red"}], 1, "unknown keys: colour"),
        ([{"at": 1, "id": "a", "edit": "x", "reply_to": "a"}], 1, "unknown keys: reply_to"),
        ([{"at": -1, "id": "a", "text": "x"}], 1, '"at" must be a number'),
        ([{"at": True, "id": "a", "text": "x"}], 1, '"at" must be a number'),
        ([{"at": "5", "id": "a", "text": "x"}], 1, '"at" must be a number'),
        ([{"at": 5, "id": "a", "text": "x"}, {"at": 4, "id": "b", "text": "y"}], 2, "goes back in time"),
        ([{"at": 1, "text": "x"}], 1, '"id" must be'),
        ([{"at": 1, "id": "a" * 81, "text": "x"}], 1, '"id" must be'),
        ([{"at": 1, "id": "a", "text": "  "}], 1, '"text" must be a non-empty string'),
        ([{"at": 1, "id": "a", "text": "x" * 4097}], 1, "more than 4096 characters"),
        ([{"at": 1, "id": "a", "text": "x"}, {"at": 2, "id": "a", "text": "y"}], 2, "posted already"),
        ([{"at": 1, "id": "a", "text": "x", "reply_to": "z"}], 1, '"reply_to" names no message'),
        ([{"at": 1, "id": "a", "edit": "x"}], 1, "not a message posted before"),
        (
            [
                {"at": 1, "id": "a", "text": "x"},
                {"at": 2, "id": "a", "delete": True},
                {"at": 3, "id": "a", "edit": "y"},
            ],
            3,
            "not a message posted before",
        ),
        (
            [{"at": 1, "id": "a", "text": "x"}, {"at": 2, "id": "a", "delete": "yes"}],
            2,
            '"delete" must be true',
        ),
        ([{"at": 1, "id": "a", "text": "BUY {XAUUSD +3}"}], 1, "{XAUUSD +3} is not a price"),
        ([{"at": 1, "id": "a", "text": "BUY {gold}"}], 1, "{gold} is not a price"),
    ],
)
def test_a_bad_line_is_refused_naming_it(tmp_path, lines, line, message):
    with pytest.raises(RecordingError, match=f"rec.jsonl, line {line}: .*{re.escape(message)}"):
        load_recording(write(tmp_path, *lines))


def test_an_empty_recording_or_a_round_without_length_is_refused(tmp_path):
    with pytest.raises(RecordingError, match="holds no lines"):
        load_recording(write(tmp_path, "", "  "))
    with pytest.raises(RecordingError, match="a round must last"):
        load_recording(write(tmp_path, {"at": 0, "id": "a", "text": "x"}))


def test_an_unknown_recording_names_the_known_ones():
    with pytest.raises(RecordingError, match="No recording 'nope'; there are: channel, demo"):
        recording("nope")


# ---------------------------------------------------------------------------------------------- prices


def test_placeholders_become_the_mid_plus_the_offset():
    asked = []

    def price_of(symbol):
        asked.append(symbol)
        return {"XAUUSD": Decimal("2347.3149"), "EURUSD": Decimal("1.0850372")}[symbol]

    text = render("Gold {XAUUSD} SL {XAUUSD-6} TP {XAUUSD+3.5} | EURUSD {EURUSD-0.0020} {EURUSD}", price_of)

    assert text == "Gold 2347.31 SL 2341.31 TP 2350.81 | EURUSD 1.08304 1.08504"
    assert asked == ["XAUUSD", "EURUSD"]  # once per symbol: one message, one market


def test_the_decimals_follow_the_price():
    assert render("{X} {X-0.5}", lambda symbol: Decimal("100")) == "100.00 99.50000"


def test_a_text_without_placeholders_is_unchanged():
    assert render("BUY GOLD {} @ 2350", lambda symbol: pytest.fail("no price needed")) == "BUY GOLD {} @ 2350"


def test_a_symbol_without_a_price_is_no_price():
    with pytest.raises(NoPrice) as raised:
        render("{XAUUSD} {US30}", {"XAUUSD": Decimal(2350)}.get)
    assert raised.value.symbol == "US30"


# ---------------------------------------------------------------------------------------------- playing


@pytest.mark.django_db
def test_lines_are_played_when_due(channel, received):
    assert play_due(now=at(0), player_id="A") == 0  # first seen: the round starts now
    channel.refresh_from_db()
    assert channel.replay_next_at == at(10)
    assert play_due(now=at(9.9), player_id="A") == 0
    assert received == []

    assert play_due(now=at(10), player_id="A") == 1
    assert play_due(now=at(19), player_id="A") == 0
    assert play_due(now=at(20.5), player_id="A") == 2  # two lines at the same second

    assert ids(received) == [
        ("MessagePosted", "r0-a", 1),
        ("MessagePosted", "r0-b", 1),
        ("MessagePosted", "r0-a", 2),
    ]
    channel.refresh_from_db()
    assert (channel.replay_round, channel.replay_position) == (0, 3)
    assert channel.replay_next_at == at(20.5 + 30)  # spaced from when the line was played


@pytest.mark.django_db
def test_events_carry_the_recorded_message(channel, received):
    for second in (0, 10, 20, 50):
        play_due(now=at(second), player_id="A")

    opened, reply, edit, deletion = (event for _, event in received)
    assert opened == MessagePosted(
        message_id="r0-a", posted_at=at(10), text="BUY XAUUSD now @ 2350\nSL 2344\nTP 2356"
    )
    assert (reply.text, reply.reply_to, reply.posted_at) == ("move SL to breakeven", "r0-a", at(20))
    assert (edit.message_id, edit.version, edit.text) == (
        "r0-a",
        2,
        "BUY XAUUSD now @ 2350\nSL 2345\nTP 2356",
    )
    assert deletion == MessageDeleted(message_id="r0-b", deleted_at=at(50))


@pytest.mark.django_db
def test_rounds_repeat_with_new_ids(channel, received):
    for second in (0, 10, 20, 50):  # round 0, ended by its last line at 50
        play_due(now=at(second), player_id="A")
    channel.refresh_from_db()
    assert (channel.replay_round, channel.replay_position, channel.replay_next_at) == (1, 0, at(60))

    play_due(now=at(60), player_id="A")
    play_due(now=at(70), player_id="A")

    assert ids(received)[4:] == [
        ("MessagePosted", "r1-a", 1),
        ("MessagePosted", "r1-b", 1),
        ("MessagePosted", "r1-a", 2),
    ]
    assert received[5][1].reply_to == "r1-a"


@pytest.mark.django_db
def test_a_late_pass_plays_at_most_a_round_and_keeps_the_spacing(channel, received):
    play_due(now=at(0), player_id="A")

    assert play_due(now=at(3600), player_id="A") == 1  # an hour late: the next line, not 72 rounds

    channel.refresh_from_db()
    assert channel.replay_next_at == at(3610)


@pytest.mark.django_db
def test_only_active_recorded_sources_are_played(organization, channel, received):
    paused = SignalSource.objects.create(
        organization=organization,
        name="Paused",
        kind=SignalSource.RECORDED,
        recording="channel",
        state="paused",
    )
    webhook = SignalSource.objects.create(organization=organization, name="Hook", kind=SignalSource.WEBHOOK)

    play_due(now=at(0), player_id="A")
    play_due(now=at(10), player_id="A")

    assert {source_id for source_id, _ in received} == {channel.pk}
    paused.refresh_from_db()
    webhook.refresh_from_db()
    assert paused.replay_next_at is None and webhook.replay_next_at is None


@pytest.mark.django_db
def test_a_source_with_an_unknown_recording_is_logged_and_the_others_play(
    organization, channel, received, caplog
):
    broken = SignalSource.objects.create(
        organization=organization, name="Broken", kind=SignalSource.RECORDED, recording="gone"
    )

    play_due(now=at(0), player_id="A")
    assert play_due(now=at(10), player_id="A") == 1

    assert {source_id for source_id, _ in received} == {channel.pk}
    assert f"recorded source {broken.pk} cannot be played: No recording 'gone'" in caplog.text


# ---------------------------------------------------------------------------------------------- the lease


@pytest.mark.django_db
def test_one_player_at_a_time_and_a_takeover_continues_where_it_stopped(channel, received):
    play_due(now=at(0), player_id="A")
    assert play_due(now=at(10), player_id="A") == 1  # A holds the lease until 10 + 30
    channel.refresh_from_db()
    assert (channel.replay_held_by, channel.replay_lease_until) == ("A", at(40))

    assert play_due(now=at(25), player_id="B") == 0  # due, but A's
    assert play_due(now=at(39), player_id="B") == 0

    assert play_due(now=at(41), player_id="B") == 2  # A is gone: B takes over at the position
    assert play_due(now=at(45), player_id="A") == 0  # A is back: the source is B's now

    assert ids(received) == [
        ("MessagePosted", "r0-a", 1),
        ("MessagePosted", "r0-b", 1),
        ("MessagePosted", "r0-a", 2),
    ]
    channel.refresh_from_db()
    assert (channel.replay_held_by, channel.replay_lease_until, channel.replay_position) == ("B", at(71), 3)


@pytest.mark.django_db
def test_a_line_played_after_losing_the_lease_is_rolled_back(channel, monkeypatch):
    play_due(now=at(0), player_id="A")
    event_of = recorded.event_of

    def event_while_b_takes_over(line, **kwargs):  # B takes the source over, then A hands the line in
        SignalSource.objects.filter(pk=channel.pk).update(replay_held_by="B", replay_lease_until=at(99))
        return event_of(line, **kwargs)

    def receive(*, source, event):
        Signal.objects.create(
            organization=source.organization,
            source=source,
            message_id=event.message_id,
            text=event.text,
            posted_at=event.posted_at,
            reading={},
            kind="open",
        )

    monkeypatch.setattr(recorded, "event_of", event_while_b_takes_over)
    monkeypatch.setattr(recorded, "receive", receive)

    assert play_due(now=at(10), player_id="A") == 0
    assert Signal.objects.count() == 0  # received and advanced together, or neither
    channel.refresh_from_db()
    assert (channel.replay_position, channel.replay_held_by) == (0, "B")


@pytest.mark.django_db
def test_a_line_the_intake_fails_on_is_skipped_and_logged(channel, monkeypatch, caplog):
    events = []

    def receive(*, source, event):
        if event.message_id == "r0-a":
            raise RuntimeError("the intake broke")
        events.append(event)

    monkeypatch.setattr(recorded, "receive", receive)
    play_due(now=at(0), player_id="A")

    assert play_due(now=at(10), player_id="A") == 0
    assert play_due(now=at(20), player_id="A") == 1  # r0-b; the edit of r0-a fails too

    assert [event.message_id for event in events] == ["r0-b"]
    assert caplog.text.count(f"recorded source {channel.pk}: line") == 2
    assert "the intake broke" in caplog.text
    channel.refresh_from_db()
    assert channel.replay_position == 3


# ---------------------------------------------------------------------------- prices from routed accounts


@pytest.fixture
def frozen_feed():
    engine().clock = lambda: T0
    return T0


@pytest.fixture
def gold_channel(organization, tmp_path, monkeypatch):
    path = write(
        tmp_path,
        {"at": 0, "id": "g", "text": "BUY XAUUSD now @ {XAUUSD}\nSL {XAUUSD-6}\nTP {XAUUSD+3}"},
        {"at": 10, "id": "n", "text": "Patience today."},
    )
    monkeypatch.setattr(recorded, "RECORDINGS", {"gold": path})
    return SignalSource.objects.create(
        organization=organization, name="Gold", kind=SignalSource.RECORDED, recording="gold"
    )


def quoted_mid(account) -> Decimal:
    price = engine().price(
        account_key(account.pk), symbol_resolve(account=account, name="XAUUSD").broker_symbol
    )
    return (price.bid + price.ask) / 2


@pytest.mark.django_db
def test_prices_come_from_a_routed_accounts_connector(organization, gold_channel, received, frozen_feed):
    account = connected_simulated_account(organization)
    Route.objects.create(organization=organization, source=gold_channel, account=account)

    play_due(now=at(0), player_id="A")

    [(_, event)] = received
    entry, sl, tp = (Decimal(number) for number in re.findall(r"\d+\.\d+", event.text))
    mid = quoted_mid(account)
    assert abs(entry - mid) <= Decimal("0.005")
    assert (sl, tp) == (entry - 6, entry + 3)
    reading = parse(event.text)
    assert (reading.kind, reading.side, reading.symbol) == ("open", "buy", "XAUUSD")


@pytest.mark.django_db
def test_without_an_answer_the_last_known_price_is_used(organization, gold_channel, received, frozen_feed):
    account = connected_simulated_account(organization)
    route = Route.objects.create(organization=organization, source=gold_channel, account=account)
    for second in (0, 10):  # round 0, priced by the account
        play_due(now=at(second), player_id="A")
    route.active = False
    route.save()

    play_due(now=at(10), player_id="A")  # round 1: nobody to ask

    first, _, again = (event for _, event in received)
    assert again.message_id == "r1-g"
    assert again.text == first.text


@pytest.mark.django_db
def test_a_price_never_known_skips_the_line_with_a_warning(gold_channel, received, caplog):
    caplog.set_level(logging.WARNING)

    assert play_due(now=at(0), player_id="A") == 0
    assert play_due(now=at(10), player_id="A") == 1  # the next line needs no price

    assert [event.message_id for _, event in received] == ["r0-n"]
    assert (
        f"recorded source {gold_channel.pk}: no price of XAUUSD known, line 1 of gold skipped" in caplog.text
    )


@pytest.mark.django_db
def test_the_simulated_connector_quotes_the_feeds_mid(organization, frozen_feed):
    account = connected_simulated_account(organization)
    broker_symbol = symbol_resolve(account=account, name="XAUUSD").broker_symbol
    price = engine().price(account_key(account.pk), broker_symbol)

    mid = CONNECTORS[TradePlatform.SIMULATED].reference_price(account, broker_symbol)

    assert price.bid <= mid <= price.ask
    assert CONNECTORS[TradePlatform.SIMULATED].reference_price(account, "NOT-A-SYMBOL") is None
    assert CONNECTORS[TradePlatform.METAAPI].reference_price(account, broker_symbol) is None


# ---------------------------------------------------------------------------------------------- the demo

DEMO_PRICES = {
    "XAUUSD": Decimal("2347.3149"),
    "EURUSD": Decimal("1.0850372"),
    "GBPUSD": Decimal("1.2703"),
    "BTCUSD": Decimal("65012.5"),
}
DEMO_READINGS = {  # message id -> (kind, what it does)
    "m1": ("ignore", None),
    "m2": ("open", ("buy", "market", "XAUUSD")),
    "m3": ("modify", [{"action": "breakeven"}]),
    "m4": ("open", ("sell", "limit", "EURUSD")),
    "m5": ("open", ("buy", "limit", "GBPUSD")),
    "m6": ("modify", [{"action": "close_partial", "fraction": 0.5}]),
    "m7": ("ignore", None),
    "m8": ("open", ("buy", "market", "BTCUSD")),  # trades any day: crypto never closes
    "m9": ("modify", [{"action": "breakeven"}]),
}


def test_the_demo_channel_trades():
    lines = recording("demo")
    texts: dict[str, str] = {}
    seen = []
    for line in lines:
        if line.text is None:
            continue
        text = render(line.text, DEMO_PRICES.get)
        texts[line.message_id] = text
        reading = parse(text, reply_to=texts[line.reply_to] if line.reply_to else None)
        kind, expected = DEMO_READINGS[line.message_id]
        seen.append((line.message_id, line.version))
        assert reading.kind == kind, (line.number, text)
        if kind == "open":
            contract = reading.to_contract()
            assert (contract["side"], contract["order_type"], contract["symbol"]) == expected
            assert contract["confidence"] >= 0.7 and contract["sl"] and contract["tp"], text
            below, above = (
                (contract["sl"], contract["tp"][0])
                if contract["side"] == "buy"
                else (contract["tp"][0], contract["sl"])
            )
            assert below < (contract["entry"] or DEMO_PRICES[contract["symbol"]]) < above
        elif kind == "modify":
            assert reading.to_contract()["actions"] == expected
    assert sorted(set(seen)) == sorted({*((message_id, 1) for message_id in DEMO_READINGS), ("m4", 2)})
    assert any(line.text is None and line.message_id == "m5" for line in lines)  # the pending order deleted
    assert 540 <= lines[-1].at <= 660  # about ten minutes a round
