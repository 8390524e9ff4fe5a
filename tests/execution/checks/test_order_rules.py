"""The rules of a caller's own order (``ORDER_RULES``): prices above 0, a pending price on its side of
the market, SL and TPs on theirs (a market order's against the bid/ask, a pending order's against
its price), both by the symbol's stop level; without a quote only what needs none."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from execution.checks import (
    ORDER_CODES,
    ORDER_RULES,
    Context,
    Instrument,
    Levels,
    Policy,
    Quote,
    Result,
    evaluate,
)

FX = Instrument(digits=5, pip=D("0.0001"))
QUOTE = Quote(bid=D("1.08490"), ask=D("1.08500"))
NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)


def judge(side="buy", order_type="market", entry=None, sl=None, tps=(), *, quote=QUOTE, instrument=FX):
    levels = Levels(
        side=side,
        order_type=order_type,
        entry=None if entry is None else D(entry),
        zone=None,
        sl=None if sl is None else D(sl),
        tps=tuple(map(D, tps)),
    )
    return evaluate(Context(levels, Policy(), instrument, quote, NOW), rules=ORDER_RULES)


def refusal(evaluation):
    assert evaluation.stopped is not None, evaluation.steps
    assert evaluation.stopped.result is Result.FAILED
    return evaluation.stopped.code, evaluation.stopped.field


def test_every_order_code_is_declared_by_a_rule():
    assert {code for rule in ORDER_RULES for code in rule.codes} == set(ORDER_CODES)


@pytest.mark.parametrize(
    ("levels", "field"),
    [
        ({"sl": "0"}, "sl"),
        ({"sl": "-1.08"}, "sl"),
        ({"tps": ["1.09", "-1"]}, "tps"),
        ({"tps": ["NaN"]}, "tps"),
        ({"order_type": "limit", "entry": "0", "sl": "1.07"}, "entry"),
        ({"order_type": "stop", "entry": "Infinity"}, "entry"),
    ],
)
def test_a_level_that_is_not_a_price_above_zero_is_refused_even_without_a_quote(levels, field):
    assert refusal(judge(**levels, quote=None)) == ("PRICE_NOT_POSITIVE", field)


@pytest.mark.parametrize(
    ("side", "sl", "tps", "field"),
    [
        ("buy", "2.0", (), "sl"),  # issue 20's order: far above the market
        ("buy", "1.08495", (), "sl"),  # between the bid and the ask: not below the bid
        ("buy", "1.08490", (), "sl"),  # at the bid
        ("buy", None, ("1.08500",), "tps"),  # at the ask
        ("buy", "1.08", ("1.09", "1.08495"), "tps"),  # every TP is judged
        ("sell", "1.08495", (), "sl"),  # not above the ask
        ("sell", None, ("1.08495",), "tps"),  # not below the bid
    ],
)
def test_a_market_order_s_sl_and_tps_are_judged_against_the_bid_and_ask(side, sl, tps, field):
    assert refusal(judge(side, sl=sl, tps=tps)) == ("STOPS_INVALID", field)


def test_a_market_order_on_the_right_sides_passes():
    assert judge("buy", sl="1.08489", tps=("1.08501", "1.09")).ok
    assert judge("sell", sl="1.08501", tps=("1.08489", "1.08")).ok


def test_the_symbol_s_stop_level_keeps_levels_away_from_the_market():
    near = Instrument(digits=5, pip=D("0.0001"), stop_distance=D("0.00010"))
    evaluation = judge("buy", sl="1.08485", instrument=near)
    assert refusal(evaluation) == ("STOPS_INVALID", "sl")
    assert "at least 0.00010 (the symbol's stop level)" in evaluation.stopped.message
    assert judge("buy", sl="1.08480", tps=("1.08510",), instrument=near).ok
    assert refusal(judge("sell", tps=("1.08485",), instrument=near)) == ("STOPS_INVALID", "tps")


@pytest.mark.parametrize(
    ("side", "order_type", "entry"),
    [
        ("buy", "limit", "1.08500"),  # a buy limit not below the ask
        ("buy", "stop", "1.08495"),  # a buy stop not above the ask
        ("sell", "limit", "1.08490"),  # a sell limit not above the bid
        ("sell", "stop", "1.08495"),  # a sell stop not below the bid
    ],
)
def test_a_pending_price_on_the_wrong_side_of_the_market_is_refused(side, order_type, entry):
    assert refusal(judge(side, order_type, entry)) == ("PENDING_WRONG_SIDE", "entry")


def test_a_pending_price_on_its_side_passes_and_is_kept_the_stop_level_away():
    assert judge("buy", "limit", "1.08400").ok
    assert judge("buy", "stop", "1.08600").ok
    assert judge("sell", "limit", "1.08600").ok
    assert judge("sell", "stop", "1.08400").ok
    near = Instrument(digits=5, pip=D("0.0001"), stop_distance=D("0.00050"))
    assert refusal(judge("buy", "limit", "1.08460", instrument=near)) == ("PENDING_WRONG_SIDE", "entry")


@pytest.mark.parametrize(
    ("side", "order_type", "sl", "tps", "field"),
    [
        ("buy", "limit", "1.08400", ("1.09",), "sl"),  # the SL of a buy limit at 1.08400 above it
        ("buy", "limit", "1.08", ("1.08300",), "tps"),
        ("sell", "stop", "1.08300", (), "sl"),  # the SL of a sell stop at 1.08400 below it
    ],
)
def test_a_pending_order_s_sl_and_tps_are_judged_against_its_price_with_or_without_a_quote(
    side, order_type, sl, tps, field
):
    entry = "1.08400"
    for quote in (QUOTE, None):
        assert refusal(judge(side, order_type, entry, sl=sl, tps=tps, quote=quote)) == (
            "STOPS_INVALID",
            field,
        )


def test_without_a_quote_what_needs_the_market_is_deferred_not_refused():
    evaluation = judge("buy", sl="2.0", quote=None)
    assert evaluation.ok
    assert evaluation.deferred == ("STOPS_INVALID",)
    assert judge("buy", "limit", "1.09", sl="1.08", quote=None).deferred == ("PENDING_WRONG_SIDE",)
