"""The simulated trade server: fills, triggers, SL/TP, money, rejections, market hours."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from execution.broker.gateways.base import (
    CloseReason,
    DealEntry,
    GatewayError,
    OrderCancelled,
    OrderFilled,
    OrderKind,
    OrderRequest,
    PendingOrderType,
    PositionClosed,
    PositionModified,
    PositionOpened,
    Side,
)
from execution.broker.gateways.simulated import SimulatedEngine
from tests.execution.broker.gateways.conftest import WEDNESDAY_NOON

ACC = "acc-1"


def sec(moment: datetime) -> int:
    return int(moment.timestamp())


def market(symbol, side, volume, **kwargs) -> OrderRequest:
    return OrderRequest(symbol, Side(side), OrderKind.MARKET, D(volume), **kwargs)


def pending(symbol, kind: PendingOrderType, volume, price, **kwargs) -> OrderRequest:
    return OrderRequest(symbol, kind.side, kind.kind, D(volume), price=D(price), **kwargs)


def rejected(call, *args) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call(*args)
    return caught.value


@pytest.fixture
def sim(scripted_engine, scripted):
    """Scripted prices: EURUSD mid 1.10000 -> bid 1.09994 / ask 1.10006 (12 points spread on SimBroker)."""
    scripted.set("EURUSD", 1.10000)
    scripted.set("XAUUSD", 2300.00)
    scripted.set("USDJPY", 150.000)
    scripted.set("US30", 39000.00)
    scripted.set("BTCUSD", 60000.00)
    scripted_engine.open_account(ACC, server="SimBroker-Demo", balance=10000, leverage=100)
    return scripted_engine


# --------------------------------------------------------------------------------------------------
# Fills and bookkeeping
# --------------------------------------------------------------------------------------------------


def test_scripted_quote_is_mid_plus_minus_half_spread(sim):
    price = sim.price(ACC, "EURUSD")
    assert (price.bid, price.ask) == (D("1.09994"), D("1.10006"))
    assert price.time == WEDNESDAY_NOON


def test_market_buy_fills_at_ask_and_sell_at_bid(sim):
    buy = sim.place_order(ACC, market("EURUSD", "buy", "0.10", client_tag="b"))
    sell = sim.place_order(ACC, market("EURUSD", "sell", "0.20"))
    assert (buy.price, buy.code, buy.string_code) == (D("1.10006"), 10009, "TRADE_RETCODE_DONE")
    assert sell.price == D("1.09994")
    positions = {p.id: p for p in sim.positions(ACC)}
    assert positions[buy.position_id].side is Side.BUY and positions[buy.position_id].volume == D("0.10")
    assert positions[sell.position_id].side is Side.SELL and positions[sell.position_id].open_price == D(
        "1.09994"
    )
    assert buy.position_id == buy.order_id  # MT5 hedging: position id = opening order ticket
    deals = sim.history_deals(ACC, WEDNESDAY_NOON)
    assert [(d.entry, d.side, d.price, d.client_tag) for d in deals] == [
        (DealEntry.IN, Side.BUY, D("1.10006"), "b"),
        (DealEntry.IN, Side.SELL, D("1.09994"), None),
    ]


def test_fresh_position_shows_the_spread_as_loss(sim):
    sim.place_order(ACC, market("EURUSD", "buy", "1"))
    (position,) = sim.positions(ACC)
    assert position.current_price == D("1.09994")
    assert position.profit == D("-12.00")  # 12 points * 1 USD per point per lot
    info = sim.account_information(ACC)
    assert info.equity == D("9988.00")


def test_profit_follows_the_price_and_is_booked_on_close(sim, clock, scripted):
    result = sim.place_order(ACC, market("EURUSD", "buy", "0.5"))
    clock.advance(60)
    scripted.set("EURUSD", 1.10500, at=sec(clock()))
    (position,) = sim.positions(ACC)
    assert position.current_price == D("1.10494")
    assert position.profit == D("244.00")  # (1.10494 - 1.10006) * 50000
    closed = sim.close_position(ACC, result.position_id)
    assert closed.price == D("1.10494")
    assert sim.account_information(ACC).balance == D("10244.00")
    assert sim.positions(ACC) == []
    out = [d for d in sim.history_deals(ACC, WEDNESDAY_NOON) if d.entry is DealEntry.OUT]
    assert [(d.side, d.profit, d.reason) for d in out] == [(Side.SELL, D("244.00"), CloseReason.CLIENT)]


def test_profit_in_a_foreign_currency_is_converted_to_the_account_currency(sim, clock, scripted):
    sim.place_order(ACC, market("USDJPY", "sell", "1"))  # at bid 149.993 (14 points spread)
    clock.advance(10)
    scripted.set("USDJPY", 149.000, at=sec(clock()))  # ask 149.007
    (position,) = sim.positions(ACC)
    jpy = (D("149.993") - D("149.007")) * 100000  # 98600 JPY
    assert position.profit == (jpy / D(149)).quantize(D("0.01"))  # 661.74 USD at USDJPY 149


def test_partial_close_keeps_the_position_id_and_books_the_closed_part(sim, clock, scripted):
    result = sim.place_order(ACC, market("EURUSD", "buy", "1.00"))
    scripted.set("EURUSD", 1.10106, at=sec(clock()) + 1)
    clock.advance(1)
    sim.close_position(ACC, result.position_id, D("0.30"))
    (position,) = sim.positions(ACC)
    assert (position.id, position.volume) == (result.position_id, D("0.70"))
    assert sim.account_information(ACC).balance == D("10000") + D("0.3") * 100000 * (
        D("1.10100") - D("1.10006")
    )


def test_partial_close_rejects_volumes_that_do_not_fit(sim):
    result = sim.place_order(ACC, market("EURUSD", "buy", "0.10"))
    for volume in ("0.11", "0.095", "0.005"):
        error = rejected(sim.close_position, ACC, result.position_id, D(volume))
        assert error.code == 10014
    assert sim.positions(ACC)[0].volume == D("0.10")


def test_modify_position_without_changes_reports_no_changes(sim):
    result = sim.place_order(ACC, market("EURUSD", "buy", "0.10", sl=D("1.09000")))
    again = sim.modify_position(ACC, result.position_id, D("1.09000"), None)
    assert (again.code, again.string_code) == (10025, "TRADE_RETCODE_NO_CHANGES")


def test_trade_operations_log_events(sim):
    before = sim.load_account(ACC).event_seq
    result = sim.place_order(ACC, market("EURUSD", "buy", "0.10", client_tag="ev"))
    sim.modify_position(ACC, result.position_id, D("1.09000"), D("1.11000"))
    order = sim.place_order(ACC, pending("EURUSD", PendingOrderType.BUY_LIMIT, "0.10", "1.09000"))
    sim.cancel_order(ACC, order.order_id)
    sim.close_position(ACC, result.position_id)
    events, _ = sim.events_since(ACC, before)
    kinds = [type(e) for _, e in events]
    assert kinds == [OrderFilled, PositionOpened, PositionModified, OrderCancelled, PositionClosed]
    assert events[-1][1].reason is CloseReason.CLIENT and events[-1][1].client_tag == "ev"


# --------------------------------------------------------------------------------------------------
# Pending orders trigger
# --------------------------------------------------------------------------------------------------

# EURUSD at 1.10000 (bid 1.09994 / ask 1.10006), then the mid moves to `move`, which triggers the order.
TRIGGERS = [
    # kind, order price, mid that triggers, expected fill
    (PendingOrderType.BUY_LIMIT, "1.09900", 1.09850, D("1.09856")),  # ask <= price; fills at ask (better)
    (PendingOrderType.SELL_LIMIT, "1.10100", 1.10150, D("1.10144")),  # bid >= price; fills at bid (better)
    (PendingOrderType.BUY_STOP, "1.10100", 1.10150, D("1.10156")),  # ask >= price; fills at ask (slips)
    (PendingOrderType.SELL_STOP, "1.09900", 1.09850, D("1.09844")),  # bid <= price; fills at bid (slips)
]


@pytest.mark.parametrize(("kind", "price", "move", "fill"), TRIGGERS, ids=[t[0].value for t in TRIGGERS])
def test_pending_orders_trigger_when_the_market_reaches_them(sim, clock, scripted, kind, price, move, fill):
    placed = sim.place_order(ACC, pending("EURUSD", kind, "0.10", price, client_tag="p"))
    assert (placed.code, placed.string_code) == (10008, "TRADE_RETCODE_PLACED")
    clock.advance(30)
    assert sim.evaluate(ACC) == []  # not reached yet
    assert len(sim.orders(ACC)) == 1
    trigger = sec(clock()) + 5
    scripted.set("EURUSD", move, at=trigger)
    clock.advance(60)
    events = sim.evaluate(ACC)
    assert [type(e) for e in events] == [OrderFilled, PositionOpened]
    assert events[0].price == fill and events[0].order_id == placed.order_id
    assert sim.orders(ACC) == []
    (position,) = sim.positions(ACC)
    assert (position.id, position.side, position.open_price) == (placed.order_id, kind.side, fill)
    assert position.opened_at == datetime.fromtimestamp(trigger, UTC)
    assert position.client_tag == "p"


def test_a_limit_touched_between_two_calls_still_fills(sim, clock, scripted):
    """Evaluation replays every second since the last call, not just the current price."""
    sim.place_order(ACC, pending("EURUSD", PendingOrderType.BUY_LIMIT, "0.10", "1.09900"))
    t = sec(clock())
    scripted.set("EURUSD", 1.09850, at=t + 100)
    scripted.set("EURUSD", 1.10000, at=t + 101)
    clock.advance(600)
    assert sim.price(ACC, "EURUSD").bid == D("1.09994")  # back where it was
    (position,) = sim.positions(ACC)
    assert position.open_price == D("1.09856")


def test_a_triggered_order_without_money_is_cancelled(sim, clock, scripted):
    placed = sim.place_order(ACC, pending("EURUSD", PendingOrderType.BUY_STOP, "50", "1.10100"))
    scripted.set("EURUSD", 1.10200, at=sec(clock()) + 1)
    clock.advance(2)
    events = sim.evaluate(ACC)
    assert [(type(e), e.reason) for e in events] == [(OrderCancelled, "no_money")]
    assert events[0].order_id == placed.order_id
    assert sim.orders(ACC) == [] and sim.positions(ACC) == []


def test_pending_orders_do_not_trigger_while_the_market_is_closed(sim, clock, scripted):
    sim.place_order(ACC, pending("US30", PendingOrderType.BUY_LIMIT, "1", "38900.00"))
    tuesday_break = datetime(2024, 6, 11, 21, 30, tzinfo=UTC)  # inside the 21:00-22:00 break
    clock.set(tuesday_break - timedelta(minutes=31))
    sim.evaluate(ACC)
    scripted.set("US30", 38800.00, at=sec(tuesday_break))
    scripted.set("US30", 39000.00, at=sec(tuesday_break) + 60)
    clock.set(tuesday_break + timedelta(minutes=40))  # 22:10, open again, price back up
    sim.evaluate(ACC)
    assert sim.positions(ACC) == [] and len(sim.orders(ACC)) == 1


# --------------------------------------------------------------------------------------------------
# SL / TP / stop-out
# --------------------------------------------------------------------------------------------------


def test_stop_loss_closes_a_buy_with_the_loss(sim, clock, scripted):
    result = sim.place_order(
        ACC, market("EURUSD", "buy", "1", sl=D("1.09500"), tp=D("1.11000"), client_tag="sl")
    )
    scripted.set("EURUSD", 1.09490, at=sec(clock()) + 10)  # bid 1.09484 <= SL
    clock.advance(20)
    events = sim.evaluate(ACC)
    (closed,) = [e for e in events if isinstance(e, PositionClosed)]
    assert (closed.reason, closed.close_price, closed.client_tag) == (CloseReason.SL, D("1.09484"), "sl")
    assert closed.profit == D("-522.00")  # (1.09484 - 1.10006) * 100000
    assert closed.position_id == result.position_id
    assert sim.positions(ACC) == []
    assert sim.account_information(ACC).balance == D("9478.00")


def test_take_profit_closes_a_sell_with_the_gain(sim, clock, scripted):
    sim.place_order(ACC, market("XAUUSD", "sell", "0.50", tp=D("2290.00")))  # sells at bid 2299.85
    scripted.set("XAUUSD", 2289.00, at=sec(clock()) + 3)  # ask 2289.15 <= TP
    clock.advance(5)
    assert sim.positions(ACC) == []
    (out,) = [d for d in sim.history_deals(ACC, WEDNESDAY_NOON) if d.entry is DealEntry.OUT]
    assert (out.reason, out.price) == (CloseReason.TP, D("2289.15"))
    assert out.profit == D("535.00")  # (2299.85 - 2289.15) * 100 * 0.5
    assert sim.account_information(ACC).balance == D("10535.00")


def test_sl_and_tp_are_checked_from_the_trigger_second_on(sim, clock, scripted):
    sim.place_order(ACC, market("EURUSD", "sell", "0.10", sl=D("1.10200")))
    scripted.set("EURUSD", 1.10300, at=sec(clock()) + 30)
    clock.advance(29)
    assert len(sim.positions(ACC)) == 1
    clock.advance(1)
    assert sim.positions(ACC) == []


def test_stop_out_closes_the_worst_position_when_margin_level_falls_below_50(
    scripted_engine, scripted, clock
):
    scripted.set("EURUSD", 1.10000)
    scripted_engine.open_account("small", server="SimBroker-Demo", balance=1000, leverage=100)
    scripted_engine.place_order("small", market("EURUSD", "buy", "0.80"))  # margin 880
    scripted.set("EURUSD", 1.09000, at=sec(clock()) + 1)  # loss ~ 805: equity 195 < 50% of 880
    clock.advance(2)
    events = scripted_engine.evaluate("small")
    assert [e.reason for e in events if isinstance(e, PositionClosed)] == [CloseReason.STOP_OUT]
    assert scripted_engine.positions("small") == []


# --------------------------------------------------------------------------------------------------
# Margin
# --------------------------------------------------------------------------------------------------


def test_margin_and_free_margin(sim):
    sim.place_order(ACC, market("EURUSD", "buy", "1"))  # 100000 EUR / 100 = 1000 EUR = 1100 USD
    sim.place_order(ACC, market("XAUUSD", "sell", "0.10"))  # 10 oz * 2299.85 / 100
    sim.place_order(ACC, market("BTCUSD", "buy", "0.10"))  # crypto leverage capped at 1:20
    info = sim.account_information(ACC)
    btc_ask = sim.price(ACC, "BTCUSD").ask
    expected = D("1100.00") + D("229.99") + (D("0.1") * btc_ask / 20).quantize(D("0.01"))
    assert info.margin == expected
    assert info.free_margin == info.equity - info.margin
    assert info.margin_level == (info.equity / info.margin * 100).quantize(D("0.01"))


def test_leverage_changes_the_margin(scripted_engine, scripted):
    scripted.set("EURUSD", 1.10000)
    for key, leverage in (("l30", 30), ("l500", 500)):
        scripted_engine.open_account(key, server="SimBroker-Demo", balance=100000, leverage=leverage)
        scripted_engine.place_order(key, market("EURUSD", "buy", "1"))
    assert scripted_engine.account_information("l30").margin == D("3666.67")
    assert scripted_engine.account_information("l500").margin == D("220.00")


def test_no_money_is_rejected_with_10019(sim):
    error = rejected(sim.place_order, ACC, market("EURUSD", "buy", "10"))  # 11000 USD margin > 10000
    assert (error.code, error.string_code, error.source) == (10019, "TRADE_RETCODE_NO_MONEY", "mt5")
    assert sim.positions(ACC) == []


# --------------------------------------------------------------------------------------------------
# Rejections
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "volume"),
    [
        ("EURUSD", "0.001"),  # below min 0.01
        ("EURUSD", "100.01"),  # above max 100
        ("EURUSD", "0.015"),  # not a multiple of 0.01
        ("US30", "0.05"),  # index: min 0.1
        ("US30", "0.15"),  # index: step 0.1
        ("BTCUSD", "11"),  # crypto: max 10
        ("EURUSD", "-1"),
    ],
)
def test_invalid_volume_is_rejected_with_10014(sim, symbol, volume):
    error = rejected(sim.place_order, ACC, market(symbol, "buy", volume))
    assert (error.code, error.string_code, error.source) == (10014, "TRADE_RETCODE_INVALID_VOLUME", "mt5")


def test_float_volume_is_rejected(sim):
    error = rejected(sim.place_order, ACC, OrderRequest("EURUSD", Side.BUY, OrderKind.MARKET, 0.1))
    assert error.code == 10014


@pytest.mark.parametrize(
    ("kind", "price"),
    [
        (PendingOrderType.BUY_LIMIT, "1.10100"),  # above ask
        (PendingOrderType.SELL_LIMIT, "1.09900"),  # below bid
        (PendingOrderType.BUY_STOP, "1.09900"),  # below ask
        (PendingOrderType.SELL_STOP, "1.10100"),  # above bid
        (PendingOrderType.BUY_LIMIT, "1.100005"),  # not on the tick grid
    ],
)
def test_pending_price_on_the_wrong_side_is_rejected_with_10015(sim, kind, price):
    error = rejected(sim.place_order, ACC, pending("EURUSD", kind, "0.10", price))
    assert (error.code, error.string_code) == (10015, "TRADE_RETCODE_INVALID_PRICE")
    assert sim.orders(ACC) == []


def test_pending_order_without_price_is_rejected(sim):
    error = rejected(sim.place_order, ACC, OrderRequest("EURUSD", Side.BUY, OrderKind.LIMIT, D("0.10")))
    assert error.code == 10015


@pytest.mark.parametrize(
    ("side", "sl", "tp"),
    [
        ("buy", "1.09995", None),  # SL above bid 1.09994
        ("buy", None, "1.09990"),  # TP below bid
        ("sell", "1.10000", None),  # SL below ask 1.10006
        ("sell", None, "1.10010"),  # TP above ask
    ],
)
def test_stops_on_the_wrong_side_are_rejected_with_10016(sim, side, sl, tp):
    request = market("EURUSD", side, "0.10", sl=sl and D(sl), tp=tp and D(tp))
    error = rejected(sim.place_order, ACC, request)
    assert (error.code, error.string_code) == (10016, "TRADE_RETCODE_INVALID_STOPS")


def test_stops_too_close_for_the_stops_level_are_rejected(scripted_engine, scripted):
    scripted.set("EURUSD", 1.10000)
    scripted_engine.open_account("pro", server="SimTrade-Pro")  # EURUSDpro: 8 points spread, stops level 10
    # bid 1.09996: an SL 5 points away is too close, 10 points is fine
    error = rejected(scripted_engine.place_order, "pro", market("EURUSDpro", "buy", "0.10", sl=D("1.09991")))
    assert error.code == 10016
    assert (
        scripted_engine.place_order("pro", market("EURUSDpro", "buy", "0.10", sl=D("1.09986"))).code == 10009
    )
    error = rejected(
        scripted_engine.place_order,
        "pro",
        pending("EURUSDpro", PendingOrderType.BUY_LIMIT, "0.10", "1.09999"),
    )
    assert error.code == 10015


def test_modify_position_checks_stops_against_the_current_price(sim):
    result = sim.place_order(ACC, market("EURUSD", "buy", "0.10"))
    error = rejected(sim.modify_position, ACC, result.position_id, D("1.10000"), None)
    assert error.code == 10016
    assert sim.positions(ACC)[0].sl is None


@pytest.mark.parametrize(
    ("symbol", "moment"),
    [
        ("EURUSD", datetime(2024, 6, 8, 12, 0, tzinfo=UTC)),  # Saturday
        ("EURUSD", datetime(2024, 6, 7, 22, 0, tzinfo=UTC)),  # Friday after 21:55
        ("EURUSD", datetime(2024, 6, 9, 21, 59, tzinfo=UTC)),  # Sunday before 22:00
        ("US30", datetime(2024, 6, 11, 21, 30, tzinfo=UTC)),  # Tuesday daily break
        ("XAUUSD", datetime(2024, 6, 12, 21, 15, tzinfo=UTC)),  # metals daily break
        ("GER40", datetime(2024, 6, 5, 5, 0, tzinfo=UTC)),  # before the German open
    ],
)
def test_market_closed_is_rejected_with_10018(sim, clock, symbol, moment):
    clock.set(moment)
    assert not sim.is_market_open("SimBroker-Demo", symbol)
    error = rejected(sim.place_order, ACC, market(symbol, "buy", "1"))
    assert (error.code, error.string_code) == (10018, "TRADE_RETCODE_MARKET_CLOSED")


def test_open_positions_cannot_be_closed_or_modified_while_the_market_is_closed(sim, clock):
    result = sim.place_order(ACC, market("EURUSD", "buy", "0.10"))
    clock.set(datetime(2024, 6, 8, 12, 0, tzinfo=UTC))
    assert rejected(sim.close_position, ACC, result.position_id).code == 10018
    assert rejected(sim.modify_position, ACC, result.position_id, D("1.05000"), None).code == 10018


def test_crypto_trades_at_the_weekend_and_us30_again_after_the_break(sim, clock):
    clock.set(datetime(2024, 6, 8, 12, 0, tzinfo=UTC))
    assert sim.place_order(ACC, market("BTCUSD", "buy", "0.01")).code == 10009
    clock.set(datetime(2024, 6, 11, 22, 0, tzinfo=UTC))
    assert sim.place_order(ACC, market("US30", "buy", "0.1")).code == 10009


def test_trading_disabled_symbol_is_rejected(scripted_engine):
    scripted_engine.open_account("live", server="SimMarkets-Live")
    error = rejected(scripted_engine.place_order, "live", market("USDTRY.m", "buy", "0.10"))
    assert (error.code, error.string_code) == (10017, "TRADE_RETCODE_TRADE_DISABLED")


def test_unknown_symbol_and_tickets(sim):
    assert (
        rejected(sim.place_order, ACC, market("EURUSD.m", "buy", "0.10")).code == 4301
    )  # other server's name
    assert rejected(sim.symbol_spec, ACC, "GOLD").string_code == "ERR_MARKET_UNKNOWN_SYMBOL"
    error = rejected(sim.close_position, ACC, "123")
    assert (error.code, error.string_code) == (4753, "ERR_TRADE_POSITION_NOT_FOUND")
    error = rejected(sim.cancel_order, ACC, "123")
    assert (error.code, error.string_code) == (4754, "ERR_TRADE_ORDER_NOT_FOUND")


def test_mt4_accounts_report_mt4_codes(scripted_engine, scripted):
    scripted.set("EURUSD", 1.10000)
    scripted_engine.open_account("mt4", server="SimBroker-Demo", platform="mt4", balance=1000)
    engine = scripted_engine
    cases = [
        (
            lambda: engine.place_order("mt4", market("EURUSD", "buy", "0.001")),
            131,
            "ERR_INVALID_TRADE_VOLUME",
        ),
        (
            lambda: engine.place_order("mt4", pending("EURUSD", PendingOrderType.BUY_LIMIT, "0.1", "1.2")),
            129,
            "ERR_INVALID_PRICE",
        ),
        (
            lambda: engine.place_order("mt4", market("EURUSD", "buy", "0.1", sl=D("1.2"))),
            130,
            "ERR_INVALID_STOPS",
        ),
        (lambda: engine.place_order("mt4", market("EURUSD", "buy", "5")), 134, "ERR_NOT_ENOUGH_MONEY"),
        (lambda: engine.close_position("mt4", "1"), 4108, "ERR_INVALID_TICKET"),
    ]
    for call, code, name in cases:
        with pytest.raises(GatewayError) as caught:
            call()
        assert (caught.value.source, caught.value.code, caught.value.string_code) == ("mt4", code, name)
    result = engine.place_order("mt4", market("EURUSD", "buy", "0.1"))
    assert (result.code, result.string_code) == (0, "ERR_NO_ERROR")


def test_client_tags(sim):
    assert rejected(sim.place_order, ACC, market("EURUSD", "buy", "0.10", client_tag="x" * 27)).code == 10013
    sim.place_order(ACC, market("EURUSD", "buy", "0.10", client_tag="x" * 26))
    order = sim.place_order(
        ACC, pending("EURUSD", PendingOrderType.SELL_LIMIT, "0.1", "1.2", client_tag="sig-42")
    )
    match = sim.find_by_client_tag(ACC, "sig-42")
    assert [o.id for o in match.orders] == [order.order_id] and not match.positions and not match.deals
    assert not sim.find_by_client_tag(ACC, "sig-43")


def test_find_by_client_tag_history_window(sim, clock):
    result = sim.place_order(ACC, market("EURUSD", "buy", "0.10", client_tag="old"))
    sim.close_position(ACC, result.position_id)
    clock.advance(days=8)  # Thursday a week later; the default window is 7 days
    assert not sim.find_by_client_tag(ACC, "old")
    match = sim.find_by_client_tag(ACC, "old", WEDNESDAY_NOON - timedelta(minutes=1))
    assert [d.entry for d in match.deals] == [DealEntry.IN, DealEntry.OUT]


def test_long_gaps_are_evaluated_in_bounded_steps(store, clock, scripted):
    engine = SimulatedEngine(store, clock=clock, feed=scripted, max_scan_steps=100)
    scripted.set("EURUSD", 1.10000)
    engine.open_account(ACC, server="SimBroker-Demo")
    engine.place_order(ACC, pending("EURUSD", PendingOrderType.SELL_LIMIT, "0.10", "1.10500"))
    scripted.set("EURUSD", 1.11000, at=sec(clock()) + 3000)
    clock.advance(hours=5)
    assert len(engine.positions(ACC)) == 1


def test_deposit(sim):
    assert sim.deposit(ACC, D("500")) == D("10500.00")
    assert sim.account_information(ACC).balance == D("10500.00")


def test_open_account_validates_and_is_idempotent(engine):
    with pytest.raises(ValueError):
        engine.open_account("x", server="NoSuchServer")
    first = engine.open_account("x", server="SimBroker-Demo", balance=5000)
    again = engine.open_account("x", server="SimBroker-Demo", balance=99999)
    assert first.balance == again.balance == D("5000.00")
