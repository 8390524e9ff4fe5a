"""The signal pipeline end to end: a source's message -> every route's decision -> operations run
by the engine on the simulated broker -> positions with the right volumes, SLs and TPs; replies,
edits and deletions applied to the right trade; duplicates, held readings and paused routes."""

import time
from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from execution.accounts.models import RiskSettings
from execution.accounts.services import account_remove
from execution.broker.registry import gateway_for
from execution.orders.models import Operation
from execution.signals import intake
from execution.signals.models import Decision, Route, Signal, SignalSource, Trade
from execution.signals.sources.base import MessageDeleted, MessagePosted
from tests.factories import connected_simulated_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("market")]
_ids = count(1)


def broker(account, read):
    async def run():
        async with gateway_for(account) as gateway:
            return await read(gateway)

    return async_to_sync(run)()


def positions(account):
    return sorted(broker(account, lambda g: g.positions()), key=lambda p: p.client_tag)


def pending(account):
    return sorted(broker(account, lambda g: g.orders()), key=lambda o: o.client_tag)


def mid(account, symbol="BTCUSD"):
    quote = broker(account, lambda g: g.price(symbol))
    return ((quote.bid + quote.ask) / 2).quantize(Decimal("1"))


@pytest.fixture
def source(organization):
    return SignalSource.objects.create(
        organization=organization, name="VIP channel", kind=SignalSource.MANUAL
    )


@pytest.fixture
def demo(organization):
    account = connected_simulated_account(organization, name="Demo", server="SimBroker-Demo")
    RiskSettings.objects.create(account=account, mode="fixed", fixed_lots="0.03")
    return account


@pytest.fixture
def live(organization):
    account = connected_simulated_account(
        organization, name="Live", login="7001", server="SimMarkets-Live", type="live"
    )
    RiskSettings.objects.create(account=account, mode="fixed", fixed_lots="0.06")
    return account


def route(source, account, **settings):
    return Route.objects.create(organization=source.organization, source=source, account=account, **settings)


def post(source, text, *, message_id=None, reply_to=None, version=1, posted_at=None):
    event = MessagePosted(
        message_id=message_id or f"m{next(_ids)}",
        posted_at=posted_at or timezone.now(),
        text=text,
        reply_to=reply_to,
        version=version,
    )
    return intake.receive(source=source, event=event)


def buy_signal(price: Decimal) -> str:
    return f"BUY BTCUSD now\nSL {price - 1500}\nTP1 {price + 400}\nTP2 {price + 800}\nTP3 {price + 1200}"


def test_a_signal_becomes_one_position_per_tp_on_every_routed_account(source, demo, live, run_queued):
    route(source, demo)
    route(source, live)
    price = mid(demo)

    signal = post(source, buy_signal(price), message_id="101")
    run_queued()

    assert signal.kind == "open"
    for account, leg_volume, symbol in (
        (demo, Decimal("0.01"), "BTCUSD"),
        (live, Decimal("0.02"), "BTCUSD.m"),
    ):
        decision = Decision.objects.get(signal=signal, account=account)
        assert decision.outcome == "opened", decision.reason
        operation = Operation.objects.get(pk=decision.operations[0])
        assert (operation.kind, operation.state) == ("open_trade", "done"), operation.reason
        opened = positions(account)
        assert [p.symbol for p in opened] == [symbol] * 3
        assert [p.volume for p in opened] == [leg_volume] * 3
        assert {p.sl for p in opened} == {price - 1500}
        assert [p.tp for p in opened] == [price + 400, price + 800, price + 1200]
        assert [p.client_tag for p in opened] == [f"{operation.client_tag}.{i}" for i in range(3)]
        stages = [step["stage"] for step in decision.trace]
        assert stages[0] == "parse" and "sl_side" in stages
        assert [step["stage"] for step in operation.params["checks"]][-1] == "trading_hours"


def test_the_same_message_delivered_twice_makes_one_trade_per_account(source, demo, live, run_queued):
    route(source, demo)
    route(source, live)
    text = buy_signal(mid(demo))

    first = post(source, text, message_id="7")
    again = post(source, text, message_id="7")
    run_queued()

    assert first is not None and again is None
    assert Trade.objects.count() == 2
    assert len(positions(demo)) == 3 and len(positions(live)) == 3


def test_the_same_trade_repeated_within_the_window_is_a_duplicate(source, demo, run_queued):
    route(source, demo)
    text = f"BUY BTCUSD @ {mid(demo)}\nSL {mid(demo) - 1500}\nTP {mid(demo) + 500}"

    post(source, text)
    repeated = post(source, text)

    decision = Decision.objects.get(signal=repeated)
    assert (decision.outcome, decision.code) == ("rejected", "DUPLICATE_SIGNAL")
    assert Trade.objects.count() == 1


def test_a_reply_moves_the_trade_it_replies_to_to_breakeven(source, demo, market, run_queued):
    route(source, demo)
    post(source, buy_signal(mid(demo)), message_id="201")
    other = post(source, buy_signal(mid(demo) + 1), message_id="202")  # a second trade, not replied to
    run_queued()
    assert other is not None

    market.set("BTCUSD", 65100.0, at=int(time.time()))  # in profit by more than the spread
    reply = post(source, "TP1 hit, move SL to breakeven", reply_to="201")
    run_queued()

    decision = Decision.objects.get(signal=reply)
    assert decision.outcome == "applied", decision.reason
    assert decision.trade.signal.message_id == "201"
    operation = Operation.objects.get(pk=decision.operations[0])
    assert (operation.kind, operation.state) == ("manage_trade", "done"), operation.reason
    tags = set(decision.trade.leg_tags)
    buffer = Decimal(2)  # the account's default breakeven buffer: 2 pips of BTCUSD (a crypto pip is 1.0)
    for position in positions(demo):
        if position.client_tag in tags:
            assert position.sl == position.open_price + buffer
        else:
            assert position.sl != position.open_price + buffer


def test_a_breakeven_leaves_a_position_not_yet_in_profit_and_says_so(source, demo, run_queued):
    route(source, demo)
    post(source, buy_signal(mid(demo)), message_id="211")
    run_queued()

    reply = post(source, "move SL to entry", reply_to="211")
    run_queued()

    operation = Operation.objects.get(pk=Decision.objects.get(signal=reply).operations[0])
    assert operation.state == "done", operation.reason  # not an "invalid stops" failure
    assert all(change.startswith("left ") for change in operation.result["changes"])
    assert len(operation.result["changes"]) == 3
    assert all(position.sl != position.open_price for position in positions(demo))


def test_close_half_closes_half_of_the_open_volume(source, demo, run_queued):
    RiskSettings.objects.filter(account=demo).update(fixed_lots="0.04")
    route(source, demo)
    price = mid(demo)
    post(source, f"BUY BTCUSD now\nSL {price - 1500}\nTP1 {price + 400}\nTP2 {price + 800}", message_id="301")
    run_queued()
    assert sum(p.volume for p in positions(demo)) == Decimal("0.04")

    post(source, "close half", reply_to="301")
    run_queued()

    left = positions(demo)
    assert sum(p.volume for p in left) == Decimal("0.02")
    assert [p.tp for p in left] == [price + 800]  # the nearest TP's position closed first


def test_an_edit_changes_the_levels_of_the_trade_it_opened(source, demo, run_queued):
    route(source, demo)
    price = mid(demo)
    post(source, buy_signal(price), message_id="401")
    run_queued()

    edited = f"BUY BTCUSD now\nSL {price - 1000}\nTP1 {price + 400}\nTP2 {price + 900}\nTP3 {price + 1300}"
    signal = post(source, edited, message_id="401", version=2)
    run_queued()

    assert Decision.objects.get(signal=signal).outcome == "applied"
    assert Trade.objects.count() == 1
    opened = positions(demo)
    assert {p.sl for p in opened} == {price - 1000}
    assert [p.tp for p in opened] == [price + 400, price + 900, price + 1300]


def test_a_deleted_message_cancels_the_pending_orders_it_opened(source, demo, run_queued):
    route(source, demo)
    price = mid(demo)
    post(
        source,
        f"BUY LIMIT BTCUSD @ {price - 800}\nSL {price - 2000}\nTP1 {price}\nTP2 {price + 400}",
        message_id="501",
    )
    run_queued()
    assert len(pending(demo)) == 2

    intake.receive(source=source, event=MessageDeleted(message_id="501", deleted_at=timezone.now()))
    run_queued()

    assert pending(demo) == []
    assert Signal.objects.get(message_id="501").deleted_at is not None
    decision = Decision.objects.get(signal__message_id="501")
    assert decision.trace[-1]["stage"] == "deleted"
    assert Operation.objects.get(pk=decision.operations[-1]).state == "done"


def test_a_low_confidence_reading_is_held_not_traded(source, demo, run_queued):
    route(source, demo)  # the default threshold, 0.70

    signal = post(source, "BUY SELL BTCUSD now\nSL 63500\nTP1 65400")  # both sides written: 0.60

    decision = Decision.objects.get(signal=signal)
    assert (decision.outcome, decision.code) == ("held", "LOW_CONFIDENCE")
    assert decision.operations == [] and not Operation.objects.exists()


def test_paused_routes_filters_multiplier_and_reverse(organization, source, demo, live, run_queued):
    third = connected_simulated_account(organization, name="Third", login="9001", server="SimBroker-Demo")
    RiskSettings.objects.create(account=third, mode="fixed", fixed_lots="0.03")
    route(source, demo, active=False)
    route(source, live, symbol_filter=Route.EXCLUDE, symbols=["BTCUSD"])
    route(source, third, lot_multiplier=Decimal("2"), reverse=True)
    price = mid(demo)

    signal = post(source, buy_signal(price))
    run_queued()

    outcomes = {d.account_id: (d.outcome, d.code) for d in Decision.objects.filter(signal=signal)}
    assert outcomes[demo.pk] == ("skipped", "ROUTE_PAUSED")
    assert outcomes[live.pk] == ("skipped", "SYMBOL_FILTERED")
    assert outcomes[third.pk][0] == "opened"
    assert positions(demo) == [] and positions(live) == []
    reversed_positions = positions(third)
    assert [p.side.value for p in reversed_positions] == ["sell"] * 3
    assert [p.volume for p in reversed_positions] == [Decimal("0.02")] * 3  # 0.03 x 2 over three TPs
    entry = Decimal(Operation.objects.get(kind="open_trade").params["plan"]["entry"])
    assert {p.sl for p in reversed_positions} == {2 * entry - (price - 1500)}


def test_an_alert_waits_for_its_details_on_a_complete_only_route(source, demo, run_queued):
    route(source, demo)
    price = mid(demo)
    alert = post(source, "BTCUSD buy now", message_id="601")
    waiting = Decision.objects.get(signal=alert)
    assert (waiting.outcome, waiting.code) == ("waiting", "SIGNAL_INCOMPLETE")
    assert waiting.wait_until > timezone.now() + timedelta(minutes=4)

    details = post(source, f"SL {price - 1500}\nTP1 {price + 400}\nTP2 {price + 800}", reply_to="601")
    run_queued()

    assert Decision.objects.get(signal=details).outcome == "opened"
    waiting.refresh_from_db()
    assert waiting.outcome == "opened" and waiting.trade.signal_id == alert.pk
    assert [p.tp for p in positions(demo)] == [price + 400, price + 800]


def test_an_alert_whose_details_never_come_is_dropped_with_the_reason(source, demo):
    route(source, demo, alert_wait_seconds=60)
    alert = post(source, "BTCUSD buy now", message_id="651")
    Decision.objects.filter(signal=alert).update(wait_until=timezone.now() - timedelta(seconds=1))

    assert intake.drop_expired_alerts() == 1

    dropped = Decision.objects.get(signal=alert)
    assert dropped.outcome == "skipped" and "did not arrive" in dropped.reason
    late = post(source, "SL 63500\nTP1 65400", reply_to="651")
    assert Decision.objects.get(signal=late).code == "NO_OPEN_TRADE"
    assert not Operation.objects.exists()


def test_an_alert_opens_with_the_route_defaults_on_execute_on_alert(source, demo, run_queued):
    route(
        source,
        demo,
        mode=Route.EXECUTE_ON_ALERT,
        default_sl_pips=Decimal("1000"),
        default_tp_pips=Decimal("500"),
    )

    signal = post(source, "BTCUSD buy now", message_id="701")
    run_queued()

    assert Decision.objects.get(signal=signal).outcome == "opened"
    (position,) = positions(demo)
    assert position.sl is not None and position.tp is not None
    assert position.sl < position.open_price < position.tp


def test_a_signal_on_a_disconnected_account_is_rejected_before_any_broker_call(source, demo):
    route(source, demo)
    demo.set_state("disconnected", "stream lost")
    demo.save(update_fields=demo.STATE_FIELDS)

    signal = post(source, buy_signal(Decimal("65000")))

    decision = Decision.objects.get(signal=signal)
    assert (decision.outcome, decision.code) == ("rejected", "ACCOUNT_NOT_READY")
    assert not Operation.objects.exists()


def test_the_queries_of_a_message_do_not_grow_with_its_routes(organization, source):
    accounts = [
        connected_simulated_account(organization, name=f"A{i}", login=str(8000 + i), server="SimBroker-Demo")
        for i in range(12)
    ]
    for account in accounts[:3]:
        route(source, account)
    with CaptureQueriesContext(connection) as three:
        post(source, buy_signal(Decimal("65000")))
    for account in accounts[3:]:
        route(source, account)
    with CaptureQueriesContext(connection) as twelve:
        post(source, "SELL BTCUSD now\nSL 66500\nTP1 64600")
    assert Decision.objects.filter(outcome="opened").count() == 15
    assert len(twelve) == len(three)


def wait_until(predicate, seconds: float = 15.0) -> None:
    """An operation waiting for another one is picked up by the engine's search for due work."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_close_accepted_before_the_opening_ran_waits_for_it_and_closes_every_leg(source, demo, run_queued):
    route(source, demo)
    post(source, buy_signal(mid(demo)), message_id="801")
    close = post(source, "close all now", reply_to="801")  # before any worker ran the opening

    operation = Operation.objects.get(pk=Decision.objects.get(signal=close).operations[0])
    assert operation.after_id == Trade.objects.get().open_operation_id
    run_queued()
    wait_until(lambda: Operation.objects.get(pk=operation.pk).state == "done")

    assert Operation.objects.get(kind="open_trade").state == "done"
    assert positions(demo) == []
    assert Trade.objects.get().state == "closed"


def test_an_edit_never_opens_what_its_first_version_did_not(source, demo):
    route(source, demo)
    held = post(source, "BUY SELL BTCUSD now\nSL 63500\nTP1 65400", message_id="811")
    assert Decision.objects.get(signal=held).outcome == "held"

    edit = post(source, buy_signal(Decimal("65000")), message_id="811", version=2)

    decision = Decision.objects.get(signal=edit)
    assert (decision.outcome, decision.code) == ("skipped", "NO_OPEN_TRADE")
    assert not Operation.objects.exists()


def test_an_edit_of_a_closed_trade_does_not_open_another(source, demo, run_queued):
    route(source, demo)
    post(source, buy_signal(mid(demo)), message_id="821")
    post(source, "close all", reply_to="821")
    run_queued()
    wait_until(lambda: not Operation.objects.exclude(state__in=Operation.TERMINAL).exists())

    edit = post(source, buy_signal(mid(demo)) + "\nTP1 hit ✅", message_id="821", version=2)

    assert Decision.objects.get(signal=edit).outcome == "skipped"
    assert Trade.objects.count() == 1


def test_details_that_leave_the_alert_incomplete_keep_it_waiting_for_the_rest(source, demo, run_queued):
    route(source, demo)
    alert = post(source, "BTCUSD buy now", message_id="831")

    partial = post(source, "SL 63500", reply_to="831")

    assert Decision.objects.get(signal=partial).outcome == "waiting"
    assert Decision.objects.get(signal=alert).outcome == "waiting"
    rest = post(source, "SL 63500\nTP1 65400", reply_to="831")
    run_queued()
    assert Decision.objects.get(signal=rest).outcome == "opened"
    assert Decision.objects.get(signal=alert).outcome == "opened"
    assert Trade.objects.count() == 1


def test_a_pending_alert_without_its_price_waits_instead_of_failing(source, demo):
    route(source, demo, mode=Route.EXECUTE_ON_ALERT, default_sl_pips=Decimal("1000"))

    signal = post(source, "BUY LIMIT BTCUSD")

    decision = Decision.objects.get(signal=signal)
    assert (decision.outcome, decision.code) == ("waiting", "SIGNAL_INCOMPLETE")
    assert not Operation.objects.exists()


def test_a_deleted_alert_is_dropped_and_its_details_open_nothing(source, demo):
    route(source, demo)
    alert = post(source, "BTCUSD buy now", message_id="841")
    intake.receive(source=source, event=MessageDeleted(message_id="841", deleted_at=timezone.now()))

    assert Decision.objects.get(signal=alert).outcome == "skipped"
    details = post(source, "SL 63500\nTP1 65400", reply_to="841")
    assert Decision.objects.get(signal=details).code == "NO_OPEN_TRADE"
    assert not Operation.objects.exists()


def test_duplicates_are_found_on_a_route_reading_its_own_symbol_names(source, demo):
    route(source, demo, aliases={"BTX": "BTCUSD"})
    text = "BUY BTX @ 65000\nSL 63500\nTP 65500"

    post(source, text)
    repeated = post(source, text)

    assert Trade.objects.get().instrument == "BTCUSD"
    assert Decision.objects.get(signal=repeated).code == "DUPLICATE_SIGNAL"


def test_a_change_read_with_low_confidence_is_held(source, demo, run_queued):
    route(source, demo, confidence_threshold=Decimal("0.95"))
    post(source, buy_signal(mid(demo)), message_id="851")
    run_queued()

    change = post(source, "close partial", reply_to="851")  # how much is unstated: 0.90

    decision = Decision.objects.get(signal=change)
    assert (decision.outcome, decision.code) == ("held", "LOW_CONFIDENCE")
    assert decision.operations == []


def test_an_account_with_signal_trades_can_be_removed(source, demo, run_queued):
    route(source, demo)
    post(source, buy_signal(mid(demo)))
    run_queued()
    assert Trade.objects.exists()

    account_remove(account=demo)

    assert not Trade.objects.exists() and not Route.objects.exists()
    assert Signal.objects.count() == 1  # the source's messages stay
