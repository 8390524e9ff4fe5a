"""SDK dicts -> interface dataclasses: numbers, times, ids, sessions in broker time."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from execution.broker.gateways.base import CloseReason, DealEntry, PendingOrderType, Side, TradingSession
from execution.broker.gateways.metaapi import convert
from execution.broker.gateways.simulated import CATALOGS, SimulatedEngine
from tests.execution.broker.gateways.metaapi.fakes import price_dict, spec_dict

NOW = datetime(2024, 6, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, Decimal("0.1")),
        (1.08512, Decimal("1.08512")),
        (100, Decimal(100)),
        ("0.01", Decimal("0.01")),
        (None, None),
    ],
)
def test_numbers_become_exact_decimals(value, expected):
    result = convert.dec(value)
    assert result == expected
    if expected is not None:
        assert str(result) == str(expected)


@pytest.mark.parametrize("value", [True, "abc", float("nan")])
def test_bad_numbers_are_malformed(value):
    with pytest.raises(convert.MalformedData):
        convert.dec(value)


def test_zero_levels_mean_no_level():
    assert convert.level(0) is None and convert.level(0.0) is None and convert.level(None) is None
    assert convert.level(1.1) == Decimal("1.1")


@pytest.mark.parametrize(
    "value",
    [
        NOW,
        NOW.replace(tzinfo=None),  # naive: UTC
        NOW.astimezone(timezone(timedelta(hours=3))),
        "2024-06-05T12:00:00.000Z",
        "2024-06-05T15:00:00+03:00",
        NOW.timestamp(),
    ],
)
def test_times_become_aware_utc(value):
    moment = convert.utc(value)
    assert moment == NOW and moment.tzinfo is UTC


def test_position_uses_the_floating_part_of_the_profit_and_string_ids():
    raw = {
        "id": 46214692,
        "type": "POSITION_TYPE_SELL",
        "symbol": "EURUSD",
        "time": NOW,
        "openPrice": 1.1,
        "currentPrice": 1.0995,
        "volume": 0.05,
        "profit": 12.5,  # includes 10.0 realized by a partial close
        "unrealizedProfit": 2.5,
        "unrealizedSwap": -0.3,
        "stopLoss": 0,
        "takeProfit": 1.09,
        "clientId": "tag-1",
    }
    position = convert.position(raw)
    assert position.id == "46214692"
    assert position.side is Side.SELL
    assert position.profit == Decimal("2.2")
    assert (position.sl, position.tp) == (None, Decimal("1.09"))
    assert position.client_tag == "tag-1"
    del raw["unrealizedProfit"]
    assert convert.position(raw).profit == Decimal("12.5")


def test_orders_the_interface_cannot_represent_are_skipped():
    base = {"id": "7", "symbol": "EURUSD", "time": NOW, "openPrice": 1.1, "volume": 0.1, "currentVolume": 0.1}
    assert convert.pending_order({**base, "type": "ORDER_TYPE_BUY_STOP_LIMIT"}) is None
    assert convert.pending_order({**base, "type": "ORDER_TYPE_BUY"}) is None
    order = convert.pending_order({**base, "type": "ORDER_TYPE_SELL_STOP", "currentVolume": 0.04})
    assert order.type is PendingOrderType.SELL_STOP and order.volume == Decimal("0.04")


def _deal(**changes):
    raw = {
        "id": "9",
        "type": "DEAL_TYPE_SELL",
        "entryType": "DEAL_ENTRY_OUT",
        "symbol": "EURUSD",
        "time": NOW,
        "volume": 0.1,
        "price": 1.1,
        "profit": 10.0,
        "swap": -1.25,
        "commission": -0.7,
        "positionId": "5",
        "orderId": "8",
        "reason": "DEAL_REASON_SL",
    }
    raw.update(changes)
    return raw


def test_deals_book_profit_swap_and_commission_and_keep_the_reason():
    deal = convert.deal(_deal())
    assert deal.entry is DealEntry.OUT and deal.side is Side.SELL
    assert deal.profit == Decimal("8.05")
    assert deal.reason is CloseReason.SL
    assert convert.deal(_deal(reason="DEAL_REASON_SO")).reason is CloseReason.STOP_OUT
    assert convert.deal(_deal(reason="DEAL_REASON_EXPERT")).reason is CloseReason.CLIENT
    assert convert.deal(_deal(entryType="DEAL_ENTRY_IN")).reason is None
    assert convert.deal(_deal(type="DEAL_TYPE_BALANCE")) is None


def test_closing_deals_inherit_the_tag_of_their_opening_deal():
    opening = _deal(id="1", type="DEAL_TYPE_BUY", entryType="DEAL_ENTRY_IN", clientId="t", time=NOW)
    closing = _deal(id="2", time=NOW + timedelta(minutes=1))
    other = _deal(id="3", positionId="6", time=NOW + timedelta(minutes=2))
    deals = convert.deals([other, closing, opening])
    assert [d.id for d in deals] == ["1", "2", "3"]
    assert [d.client_tag for d in deals] == ["t", "t", None]


def test_account_information():
    info = convert.account_info(
        {"balance": 1000.0, "equity": 1010.5, "margin": 20.25, "currency": "EUR", "leverage": 500.0}
    )
    assert info.free_margin == Decimal("990.25")
    assert info.leverage == 500 and isinstance(info.leverage, int)


def test_broker_offset_from_server_time():
    assert convert.broker_offset_minutes({"time": NOW, "brokerTime": "2024-06-05 15:00:00.123"}) == 180
    assert convert.broker_offset_minutes({"time": NOW, "brokerTime": "2024-06-05 14:59:58.000"}) == 180
    assert convert.broker_offset_minutes({"time": NOW, "brokerTime": "2024-06-05 12:00:01.000"}) == 0
    assert convert.broker_offset_minutes({"time": NOW, "brokerTime": "2024-06-05 06:30:00.000"}) == -330


def test_sessions_move_from_broker_time_to_utc():
    broker = {
        "MONDAY": [{"from": "00:00:00.000", "to": "23:59:59.999"}],
        "FRIDAY": [{"from": "01:05:00.000", "to": "23:55:00.000"}],
    }
    sessions = convert.sessions_from_metaapi(broker, 180)
    assert sessions == (
        TradingSession(0, 0, 1260),  # Monday 00:00-21:00 UTC
        TradingSession(3, 1325, 1440),  # Friday 01:05 broker = Thursday 22:05 UTC
        TradingSession(4, 0, 1255),  # ... until Friday 20:55 UTC
        TradingSession(6, 1260, 1440),  # Monday 00:00 broker = Sunday 21:00 UTC
    )
    assert convert.sessions_from_metaapi({"MONDAY": [{"from": "08.30.00.000", "to": "09.00.00.000"}]}, 0) == (
        TradingSession(0, 510, 540),
    )
    assert convert.sessions_from_metaapi(None, 0) is None
    assert convert.sessions_from_metaapi({}, 0) == ()


@pytest.mark.parametrize("offset_hours", [0, 2, 3, -5])
@pytest.mark.parametrize("server", sorted(CATALOGS))
def test_symbol_specs_round_trip_through_metaapi_shapes(server, offset_hours):
    """What a broker shows through MetaApi (sessions in its own time) comes back as the same SymbolSpec."""
    engine = SimulatedEngine(clock=lambda: NOW)
    engine.open_account("convert", server=server)
    offset = timedelta(hours=offset_hours)
    for name in engine.symbols("convert"):
        spec = engine.symbol_spec("convert", name)
        raw_spec = spec_dict(spec, offset)
        raw_price = price_dict(engine.price("convert", name), spec.tick_value, offset)
        assert convert.symbol_spec(raw_spec, raw_price, offset_hours * 60) == spec


def test_a_spec_without_sessions_is_open_all_week_and_close_only_is_not_tradable():
    engine = SimulatedEngine(clock=lambda: NOW)
    engine.open_account("convert", server="SimBroker-Demo")
    spec = engine.symbol_spec("convert", "EURUSD")
    raw = spec_dict(spec, timedelta(0))
    del raw["tradeSessions"]
    raw["tradeMode"] = "SYMBOL_TRADE_MODE_CLOSEONLY"
    converted = convert.symbol_spec(raw, {"profitTickValue": 1.0}, 0)
    assert converted.sessions == convert.ALL_WEEK
    assert converted.trading_allowed is False
    with pytest.raises(convert.MalformedData):
        convert.symbol_spec(raw, {}, 0)
