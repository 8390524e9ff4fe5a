"""Symbol catalogs, sessions and the deterministic price feed."""

import random
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from execution.broker.gateways.base import is_session_open
from execution.broker.gateways.simulated import (
    CATALOGS,
    INSTRUMENTS,
    DeterministicFeed,
    InMemoryStateStore,
    SimulatedEngine,
)
from execution.broker.gateways.simulated.engine import last_open_second
from execution.broker.gateways.simulated.pricefeed import DAILY_NOISE_STD, noise
from tests.execution.broker.gateways.conftest import WEDNESDAY_NOON

# --------------------------------------------------------------------------------------------------
# Catalogs
# --------------------------------------------------------------------------------------------------


def test_three_servers_spell_the_same_instruments_differently():
    demo, live, pro = CATALOGS["SimBroker-Demo"], CATALOGS["SimMarkets-Live"], CATALOGS["SimTrade-Pro"]
    assert {
        "EURUSD",
        "GBPUSD",
        "USDJPY",
        "XAUUSD",
        "XAGUSD",
        "US30",
        "NAS100",
        "GER40",
        "USOIL",
        "BTCUSD",
    } <= set(demo.names())
    assert {"EURUSD.m", "GBPUSD.m", "GOLD", "SILVER", "DJ30", "USTEC", "DE40", "WTI", "BTCUSD.m"} <= set(
        live.names()
    )
    assert {"EURUSDpro", "XAUUSDpro", "US30.cash", "GER40.cash", "BTCUSDpro"} <= set(pro.names())
    assert demo.by_instrument("XAUUSD").name == "XAUUSD"
    assert live.by_instrument("XAUUSD").name == "GOLD"
    assert pro.by_instrument("US30").name == "US30.cash"
    names = [set(c.names()) for c in (demo, live, pro)]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])  # no name is shared
    for catalog in (demo, live, pro):
        for entry in catalog.entries.values():
            assert entry.instrument in INSTRUMENTS


@pytest.mark.parametrize(
    ("server", "symbol", "digits", "contract", "tick", "vmin", "vmax", "step"),
    [
        ("SimBroker-Demo", "EURUSD", 5, 100000, "0.00001", "0.01", "100", "0.01"),
        ("SimBroker-Demo", "USDJPY", 3, 100000, "0.001", "0.01", "100", "0.01"),
        ("SimBroker-Demo", "XAUUSD", 2, 100, "0.01", "0.01", "50", "0.01"),
        ("SimBroker-Demo", "XAGUSD", 3, 5000, "0.001", "0.01", "50", "0.01"),
        ("SimBroker-Demo", "US30", 2, 1, "0.01", "0.1", "100", "0.1"),
        ("SimBroker-Demo", "USOIL", 2, 1000, "0.01", "0.01", "50", "0.01"),
        ("SimBroker-Demo", "BTCUSD", 2, 1, "0.01", "0.01", "10", "0.01"),
        ("SimMarkets-Live", "DJ30", 1, 10, "0.1", "0.01", "50", "0.01"),
        ("SimMarkets-Live", "GOLD", 2, 100, "0.01", "0.01", "100", "0.01"),
        ("SimTrade-Pro", "US30.cash", 2, 1, "0.01", "0.01", "50", "0.01"),
    ],
)
def test_realistic_specifications(engine, server, symbol, digits, contract, tick, vmin, vmax, step):
    engine.open_account("spec", server=server)
    spec = engine.symbol_spec("spec", symbol)
    assert (spec.digits, spec.contract_size, spec.tick_size) == (digits, D(contract), D(tick))
    assert (spec.volume_min, spec.volume_max, spec.volume_step) == (D(vmin), D(vmax), D(step))
    assert spec.trading_allowed


def test_tick_values_in_account_currency(engine):
    engine.open_account("spec", server="SimBroker-Demo")
    assert engine.symbol_spec("spec", "EURUSD").tick_value == D("1.00000")
    assert engine.symbol_spec("spec", "XAUUSD").tick_value == D("1.00000")
    assert engine.symbol_spec("spec", "USOIL").tick_value == D("10.00000")
    usdjpy = engine.price("spec", "USDJPY").bid
    assert abs(engine.symbol_spec("spec", "USDJPY").tick_value - D(100) / usdjpy) < D("0.001")
    ger40 = engine.symbol_spec("spec", "GER40")
    assert ger40.profit_currency == "EUR" and D("0.009") < ger40.tick_value < D("0.013")
    eurusd = engine.symbol_spec("spec", "EURUSD")
    assert (eurusd.base_currency, eurusd.profit_currency, eurusd.margin_currency) == ("EUR", "USD", "EUR")


@pytest.mark.parametrize(
    ("symbol", "moment", "open_"),
    [
        ("EURUSD", "2024-06-05T12:00", True),
        ("EURUSD", "2024-06-07T21:54", True),
        ("EURUSD", "2024-06-07T21:55", False),
        ("EURUSD", "2024-06-08T12:00", False),
        ("EURUSD", "2024-06-09T22:00", True),
        ("XAUUSD", "2024-06-05T21:30", False),
        ("XAUUSD", "2024-06-05T22:00", True),
        ("US30", "2024-06-04T20:59", True),
        ("US30", "2024-06-04T21:00", False),
        ("US30", "2024-06-04T22:00", True),
        ("GER40", "2024-06-05T05:59", False),
        ("GER40", "2024-06-05T06:00", True),
        ("GER40", "2024-06-05T20:00", False),
        ("BTCUSD", "2024-06-08T03:00", True),
        ("BTCUSD", "2024-06-09T23:59", True),
    ],
)
def test_trading_sessions(engine, symbol, moment, open_):
    at = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    assert engine.is_market_open("SimBroker-Demo", symbol, at) is open_
    entry = CATALOGS["SimBroker-Demo"].entries[symbol]
    assert is_session_open(entry.sessions, at) is open_


def test_last_open_second_goes_back_to_the_friday_close():
    entry = CATALOGS["SimBroker-Demo"].entries["EURUSD"]
    saturday = int(datetime(2024, 6, 8, 12, 0, tzinfo=UTC).timestamp())
    friday_close = int(datetime(2024, 6, 7, 21, 55, tzinfo=UTC).timestamp()) - 1
    assert last_open_second(entry.sessions, saturday) == friday_close
    assert last_open_second(entry.sessions, friday_close) == friday_close


# --------------------------------------------------------------------------------------------------
# Prices
# --------------------------------------------------------------------------------------------------


def test_two_engines_with_the_same_seed_agree_on_every_price():
    """Like two worker processes: separate engines, separate stores, same seed."""
    a = SimulatedEngine(InMemoryStateStore(), seed=99)
    b = SimulatedEngine(InMemoryStateStore(), seed=99)
    other = SimulatedEngine(InMemoryStateStore(), seed=100)
    rng = random.Random(5)
    differ = 0
    for _ in range(200):
        moment = WEDNESDAY_NOON + timedelta(seconds=rng.randrange(-(10**7), 10**7))
        symbol = rng.choice(["EURUSD", "XAUUSD", "US30", "BTCUSD", "GER40"])
        assert a.quote("SimBroker-Demo", symbol, moment) == b.quote("SimBroker-Demo", symbol, moment)
        differ += a.quote("SimBroker-Demo", symbol, moment) != other.quote("SimBroker-Demo", symbol, moment)
    assert differ > 190


def test_prices_are_realistic_with_bid_below_ask(engine):
    for server, catalog in CATALOGS.items():
        for name, entry in catalog.entries.items():
            price = engine.quote(server, name, WEDNESDAY_NOON)
            reference = D(repr(INSTRUMENTS[entry.instrument].reference_price))
            assert price.bid < price.ask
            assert abs(price.bid / reference - 1) < D("0.2"), (name, price)
            spread_points = (price.ask - price.bid) / entry.point
            assert entry.spread_points <= spread_points <= entry.spread_points * D("1.5") + 1, (name, price)
            assert price.bid == price.bid.quantize(entry.point)


def test_price_is_constant_within_a_second_and_moves_between_seconds(engine):
    first = engine.quote("SimBroker-Demo", "EURUSD", WEDNESDAY_NOON)
    assert engine.quote("SimBroker-Demo", "EURUSD", WEDNESDAY_NOON + timedelta(milliseconds=999)) == first
    later = [
        engine.quote("SimBroker-Demo", "EURUSD", WEDNESDAY_NOON + timedelta(seconds=s)) for s in range(1, 30)
    ]
    assert len({p.bid for p in later}) > 10
    assert all(abs(p.bid - first.bid) < D("0.005") for p in later)


def test_the_same_instrument_moves_together_on_every_server(engine):
    for moment in (WEDNESDAY_NOON, WEDNESDAY_NOON + timedelta(hours=3, seconds=17)):
        gold = engine.quote("SimBroker-Demo", "XAUUSD", moment)
        renamed = engine.quote("SimMarkets-Live", "GOLD", moment)
        pro = engine.quote("SimTrade-Pro", "XAUUSDpro", moment)
        mids = [(p.bid + p.ask) / 2 for p in (gold, renamed, pro)]
        assert max(mids) - min(mids) < D("0.05")


def test_quotes_freeze_while_the_market_is_closed(engine):
    friday_last = datetime(2024, 6, 7, 21, 54, 59, tzinfo=UTC)
    saturday = datetime(2024, 6, 8, 15, 0, tzinfo=UTC)
    frozen = engine.quote("SimBroker-Demo", "EURUSD", saturday)
    assert frozen.time == friday_last
    assert (frozen.bid, frozen.ask) == (
        engine.quote("SimBroker-Demo", "EURUSD", friday_last).bid,
        engine.quote("SimBroker-Demo", "EURUSD", friday_last).ask,
    )
    btc = engine.quote("SimBroker-Demo", "BTCUSD", saturday)
    assert btc.time == saturday


def test_the_noise_is_a_random_walk_calibrated_to_the_daily_volatility():
    rng = random.Random(11)
    start = int(WEDNESDAY_NOON.timestamp())
    starts = [start + rng.randrange(0, 10**8) for _ in range(1500)]
    daily = statistics.pstdev(noise("s", "EURUSD", t + 86400) - noise("s", "EURUSD", t) for t in starts)
    hourly = statistics.pstdev(noise("s", "EURUSD", t + 3600) - noise("s", "EURUSD", t) for t in starts)
    assert 0.85 < daily / DAILY_NOISE_STD < 1.15
    assert 3.5 < daily / hourly < 6.5  # sqrt(24) ~ 4.9: variance grows linearly with the horizon


def test_feed_equality_is_by_seed():
    assert DeterministicFeed(3) == DeterministicFeed("3")
    assert DeterministicFeed(3) != DeterministicFeed(4)
    assert DeterministicFeed(3).mid("EURUSD", 1_700_000_000) == DeterministicFeed(3).mid(
        "EURUSD", 1_700_000_000
    )
