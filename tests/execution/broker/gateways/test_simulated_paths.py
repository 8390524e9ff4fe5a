"""Scripted market paths (per group of accounts, shared through the store) and the freeze level."""

from datetime import timedelta
from decimal import Decimal as D

import pytest

from execution.broker.gateways.base import (
    CloseReason,
    DealEntry,
    GatewayError,
    OrderKind,
    OrderRequest,
    PendingOrderType,
    Side,
)
from execution.broker.gateways.simulated import JsonFileStateStore, ManualClock, PricePath, SimulatedEngine
from execution.broker.gateways.simulated.paths import MAX_POINTS, PathSource
from execution.safety.errors import Category, classify_gateway_error
from tests.execution.broker.gateways.conftest import WEDNESDAY_NOON

NOON = int(WEDNESDAY_NOON.timestamp())


def market(symbol, side, volume, **kwargs) -> OrderRequest:
    return OrderRequest(symbol, Side(side), OrderKind.MARKET, D(volume), **kwargs)


def rejected(call, *args) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call(*args)
    return caught.value


# --------------------------------------------------------------------------------------------------
# PricePath
# --------------------------------------------------------------------------------------------------


def test_a_path_interpolates_between_points_and_holds_the_last_price():
    path = PricePath.of([(100, 10), (110, 20), (120, 15)])
    assert [path.mid(s) for s in (100, 105, 110, 115, 120, 121, 10**9)] == [10, 15, 20, 17.5, 15, 15, 15]


def test_a_path_does_not_apply_before_its_first_point():
    path = PricePath.of([(100, 10)])
    assert path.mid(99) is None and path.mid(100) == 10.0
    source = PathSource(ScriptedFallback(), {"BTCUSD": path})
    assert (source.mid("BTCUSD", 99), source.mid("BTCUSD", 100), source.mid("ETHUSD", 100)) == (
        1.0,
        10.0,
        1.0,
    )
    assert source.cacheable is False


class ScriptedFallback:
    def mid(self, instrument, second):
        return 1.0

    def spread_factor(self, instrument, second):
        return 1.25


def test_a_move_goes_from_the_current_price_to_the_target_over_the_seconds_then_holds():
    path = PricePath.move(start=NOON, from_price=65000.0, to_price=65300.0, over_seconds=30)
    assert path.points == ((NOON, 65000.0), (NOON + 30, 65300.0))
    assert path.mid(NOON + 10) == pytest.approx(65100.0)
    assert path.mid(NOON + 3600) == 65300.0
    at_once = PricePath.move(start=NOON, from_price=65000.0, to_price=64000.0, over_seconds=0)
    assert (at_once.mid(NOON - 1), at_once.mid(NOON)) == (None, 64000.0)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([], "at least one point"),
        ([(100, 0)], "above 0"),
        ([(100, -5)], "above 0"),
        ([(100, float("nan"))], "above 0"),
        ([(100, 1), (100, 2)], "increase strictly"),
        ([(100, 1), (90, 2)], "increase strictly"),
        ([(100, "x")], "both numbers"),
        ([(s, 1) for s in range(MAX_POINTS + 1)], f"at most {MAX_POINTS} points"),
    ],
)
def test_a_path_is_validated(points, message):
    with pytest.raises(ValueError, match=message):
        PricePath.of(points)


@pytest.mark.parametrize("seconds", [-1, 86401])
def test_a_move_lasts_0_to_one_day(seconds):
    with pytest.raises(ValueError, match="0 to 86400 seconds"):
        PricePath.move(start=NOON, from_price=1.0, to_price=2.0, over_seconds=seconds)


# --------------------------------------------------------------------------------------------------
# Paths in the engine
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def sim(scripted_engine, scripted):
    """BTCUSD mid 60000 (3000 points spread on SimBroker-Demo: bid 59985.00 / ask 60015.00), two
    accounts in two groups (two trade platforms)."""
    scripted.set("BTCUSD", 60000.00)
    scripted_engine.open_account("a1", server="SimBroker-Demo", fault_group="tp1")
    scripted_engine.open_account("a2", server="SimBroker-Demo", fault_group="tp2")
    return scripted_engine


def test_a_path_drives_a_take_profit_at_the_expected_second(sim, clock):
    result = sim.place_order("a1", market("BTCUSD", "buy", "0.10", tp=D("60500.00")))
    assert result.price == D("60015.00")
    # 60000 -> 61000 over 100 s: bid 60495 at +51 s, 60505 at +52 s (the first at or above the TP)
    sim.set_path("tp1", "BTCUSD", PricePath.of([(NOON, 60000), (NOON + 100, 61000)]))
    clock.advance(51)
    assert len(sim.positions("a1")) == 1
    clock.advance(1)
    assert sim.positions("a1") == []
    (out,) = [d for d in sim.history_deals("a1", WEDNESDAY_NOON) if d.entry is DealEntry.OUT]
    assert (out.reason, out.price, out.time) == (
        CloseReason.TP,
        D("60505.00"),
        WEDNESDAY_NOON + timedelta(seconds=52),
    )


def test_a_path_of_one_group_leaves_the_other_group_on_the_feed(sim, clock):
    sim.set_path("tp1", "BTCUSD", PricePath.of([(NOON, 62000)]))
    assert sim.price("a1", "BTCUSD").bid == D("61985.00")
    assert sim.price("a2", "BTCUSD").bid == D("59985.00")
    first = sim.place_order("a1", market("BTCUSD", "buy", "0.10"))
    second = sim.place_order("a2", market("BTCUSD", "buy", "0.10"))
    assert (first.price, second.price) == (D("62015.00"), D("60015.00"))
    assert sim.quote("SimBroker-Demo", "BTCUSD").bid == D("59985.00")  # no group: the feed
    assert sim.quote("SimBroker-Demo", "BTCUSD", group="tp1").bid == D("61985.00")
    assert sim.paths("tp2") == {}


def test_a_path_prices_every_symbol_of_its_instrument_and_the_conversions(sim, scripted):
    sim.open_account("live", server="SimMarkets-Live", fault_group="tp1", currency="EUR")
    scripted.set("EURUSD", 1.25)
    sim.set_path("tp1", "EURUSD", PricePath.of([(NOON, 1.0)]))
    assert sim.price("live", "EURUSD.m").bid == D("0.99999")  # 2 points spread
    assert sim.rate("USD", "EUR", NOON, "tp1") == 1
    assert sim.rate("USD", "EUR", NOON) == D("0.8")


def test_another_engine_over_the_same_store_sees_a_path_after_its_refresh_interval(
    sim, store, scripted, clock
):
    other_clock = ManualClock(WEDNESDAY_NOON)
    other = SimulatedEngine(store, clock=other_clock, feed=scripted)
    assert other.price("a1", "BTCUSD").bid == D("59985.00")  # reads (and caches) the group's paths

    sim.set_path("tp1", "BTCUSD", PricePath.of([(NOON, 63000)]))
    assert sim.price("a1", "BTCUSD").bid == D("62985.00")  # at once in the process that set it
    other_clock.advance(0.5)
    assert other.price("a1", "BTCUSD").bid == D("59985.00")  # not yet re-read
    other_clock.advance(0.5)
    assert other.paths("tp1") == sim.paths("tp1")
    assert other.price("a1", "BTCUSD").bid == D("62985.00")


def test_clearing_a_path_restores_the_feed(sim):
    sim.set_path("tp1", "BTCUSD", PricePath.of([(NOON, 62000)]))
    sim.set_path("tp1", "ETHUSD", PricePath.of([(NOON, 4000)]))
    sim.clear_path("tp1", "BTCUSD")
    assert sim.price("a1", "BTCUSD").bid == D("59985.00")
    assert set(sim.paths("tp1")) == {"ETHUSD"}
    sim.clear_path("tp1")
    assert sim.paths("tp1") == {}


def test_paths_need_a_known_instrument_and_a_group(sim):
    with pytest.raises(ValueError, match="unknown instrument 'GOLD'"):
        sim.set_path("tp1", "GOLD", PricePath.of([(NOON, 1)]))
    with pytest.raises(ValueError, match="group"):
        sim.set_path("", "BTCUSD", PricePath.of([(NOON, 1)]))


def test_market_mid_follows_the_path_of_the_group(sim, clock):
    sim.set_path("tp1", "BTCUSD", PricePath.of([(NOON, 60000), (NOON + 10, 61000)]))
    clock.advance(5)
    assert (sim.market_mid("tp1", "BTCUSD"), sim.market_mid("tp2", "BTCUSD")) == (60500.0, 60000.0)


# --------------------------------------------------------------------------------------------------
# Freeze level
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def pro(scripted_engine, scripted):
    """EURUSDpro on SimTrade-Pro: 8 points spread, stops level 10, freeze level 5 points."""
    scripted.set("EURUSD", 1.10000)  # bid 1.09996 / ask 1.10004
    scripted_engine.open_account("pro", server="SimTrade-Pro")
    scripted_engine.open_account("pro4", server="SimTrade-Pro", platform="mt4")
    return scripted_engine


def test_the_freeze_level_is_in_the_symbol_spec(pro):
    assert pro.symbol_spec("pro", "EURUSDpro").freeze_level == 5
    assert pro.symbol_spec("pro", "GBPUSDpro").stops_level == 10


def test_a_position_whose_stop_is_within_the_freeze_level_cannot_be_modified(pro, scripted, clock):
    result = pro.place_order("pro", market("EURUSDpro", "buy", "0.10", sl=D("1.09980")))  # 16 points away
    assert pro.modify_position("pro", result.position_id, D("1.09982"), None).code == 10009
    clock.advance(1)
    scripted.set("EURUSD", 1.09990, at=int(clock().timestamp()))  # bid 1.09986: 4 points from the SL
    error = rejected(pro.modify_position, "pro", result.position_id, D("1.09900"), None)
    assert (error.code, error.string_code) == (10029, "TRADE_RETCODE_FROZEN")
    assert "freeze level" in str(error)
    assert pro.positions("pro")[0].sl == D("1.09982")
    classification = classify_gateway_error(error)
    assert classification.category is Category.TRANSIENT and classification.retryable


def test_a_take_profit_within_the_freeze_level_freezes_the_position_too(pro, scripted, clock):
    result = pro.place_order("pro", market("EURUSDpro", "sell", "0.10", tp=D("1.09980")))  # ask 1.10004
    clock.advance(1)
    scripted.set("EURUSD", 1.09980, at=int(clock().timestamp()))  # ask 1.09984: 4 points from the TP
    error = rejected(pro.modify_position, "pro", result.position_id, None, D("1.09900"))
    assert error.code == 10029


def test_a_pending_order_within_the_freeze_level_cannot_be_modified(pro, scripted, clock):
    request = OrderRequest(
        "EURUSDpro", Side.BUY, OrderKind.LIMIT, D("0.10"), price=D("1.09980")
    )  # ask 1.10004: 24 points above
    order = pro.place_order("pro", request)
    assert pro.modify_order("pro", order.order_id, D("1.09981"), None, None).code == 10009
    clock.advance(1)
    scripted.set("EURUSD", 1.09981, at=int(clock().timestamp()))  # ask 1.09985: 4 points above
    error = rejected(pro.modify_order, "pro", order.order_id, D("1.09900"), None, None)
    assert error.code == 10029
    assert pro.orders("pro")[0].price == D("1.09981")
    assert pro.orders("pro")[0].type is PendingOrderType.BUY_LIMIT


def test_mt4_reports_a_frozen_position_as_145(pro, scripted, clock):
    result = pro.place_order("pro4", market("EURUSDpro", "buy", "0.10", sl=D("1.09980")))
    clock.advance(1)
    scripted.set("EURUSD", 1.09988, at=int(clock().timestamp()))  # bid 1.09984: 4 points from the SL
    error = rejected(pro.modify_position, "pro4", result.position_id, D("1.09900"), None)
    assert (error.code, error.string_code, error.source) == (145, "ERR_TRADE_MODIFY_DENIED", "mt4")
    assert classify_gateway_error(error).category is Category.TRANSIENT


def test_no_freeze_level_no_freeze(scripted_engine, scripted, clock):
    scripted.set("EURUSD", 1.10000)  # SimBroker-Demo: bid 1.09994
    scripted_engine.open_account("demo", server="SimBroker-Demo")
    result = scripted_engine.place_order("demo", market("EURUSD", "buy", "0.10", sl=D("1.09993")))
    assert scripted_engine.modify_position("demo", result.position_id, D("1.09990"), None).code == 10009


def test_paths_survive_a_file_store_round_trip(tmp_path, clock, scripted):
    store = JsonFileStateStore(tmp_path)
    SimulatedEngine(store, clock=clock, feed=scripted).set_path("tp1", "BTCUSD", PricePath.of([(NOON, 1.5)]))
    assert store.load_market("tp1") == {"BTCUSD": PricePath.of([(NOON, 1.5)])}
    assert store.load_market("tp2") == {}
