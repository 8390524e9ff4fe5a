"""The level checks' registry: every code, every correction, deferral, order and hours."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from execution.checks import (
    CODES,
    RULES,
    Context,
    Facts,
    Instrument,
    Levels,
    Policy,
    Quote,
    Result,
    Step,
    evaluate,
)

FX = Instrument(digits=5, pip=D("0.0001"))
GOLD = Instrument(digits=2, pip=D("0.1"))
WEDNESDAY_NOON = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)
FX_QUOTE = Quote(bid=D("1.08490"), ask=D("1.08500"))
GOLD_QUOTE = Quote(bid=D("2349.90"), ask=D("2350.10"))  # mid 2350.00
# Forex hours: Sunday 22:05 to Friday 22:00 UTC.
FX_SESSIONS = ((0, 0, 1440), (1, 0, 1440), (2, 0, 1440), (3, 0, 1440), (4, 0, 1320), (6, 1325, 1440))


def levels(side="buy", order_type="limit", entry="1.08500", zone=None, sl="1.08000", tps=("1.09000",)):
    return Levels(
        side=side,
        order_type=order_type,
        entry=None if entry is None else D(entry),
        zone=None if zone is None else (D(zone[0]), D(zone[1])),
        sl=None if sl is None else D(sl),
        tps=tuple(map(D, tps)),
    )


def context(lv="default", *, instrument=FX, quote=None, now=WEDNESDAY_NOON, facts=Facts(), **policy):
    lv = levels() if lv == "default" else lv
    return Context(lv, Policy(**policy), instrument, quote, now, facts)


def step(evaluation, stage) -> Step:
    return next(s for s in evaluation.steps if s.stage == stage)


def stages(evaluation):
    return [s.stage for s in evaluation.steps]


# (context, the stopping or acting stage, its result, its code, words its message contains)
SCENARIOS = {
    "route paused": (
        context(facts=Facts(paused_route=True)),
        "route",
        Result.FAILED,
        "ROUTE_PAUSED",
        "The route is paused.",
    ),
    "too old": (
        context(facts=Facts(too_old="posted 12 min ago; the source's maximum age is 5 min")),
        "age",
        Result.FAILED,
        "MESSAGE_TOO_OLD",
        "posted 12 min ago; the source's maximum age is 5 min",
    ),
    "low confidence": (
        context(facts=Facts(confidence=0.55, threshold=0.7)),
        "confidence",
        Result.HELD,
        "LOW_CONFIDENCE",
        "read with confidence 0.55, below the route's 0.70: held",
    ),
    "symbol filtered": (
        context(facts=Facts(symbol_filtered="XAUUSD is not in the route's symbols")),
        "symbol_filter",
        Result.FAILED,
        "SYMBOL_FILTERED",
        "XAUUSD is not in the route's symbols",
    ),
    "symbol not mapped": (
        context(None, instrument=None, facts=Facts(symbol_error="the broker lists no GER40")),
        "symbol",
        Result.FAILED,
        "SYMBOL_NOT_MAPPED",
        "the broker lists no GER40",
    ),
    "account not ready": (
        context(facts=Facts(account_problem="the account is disconnected")),
        "account",
        Result.FAILED,
        "ACCOUNT_NOT_READY",
        "the account is disconnected",
    ),
    "no open trade": (
        context(None, instrument=None, facts=Facts(no_trade="no open trade of this route on XAUUSD")),
        "trade",
        Result.FAILED,
        "NO_OPEN_TRADE",
        "no open trade of this route on XAUUSD",
    ),
    "duplicate": (
        context(facts=Facts(duplicate_of="same as signal #41, 2 min earlier")),
        "duplicate",
        Result.FAILED,
        "DUPLICATE_SIGNAL",
        "same as signal #41, 2 min earlier",
    ),
    "incomplete": (
        context(facts=Facts(incomplete="no SL")),
        "complete",
        Result.WAITING,
        "SIGNAL_INCOMPLETE",
        "no SL: waiting for its details",
    ),
    "decimal slip": (
        context(levels(entry="2350.00", sl="23.45", tps=("2360.00",)), instrument=GOLD, quote=GOLD_QUOTE),
        "sanitizer",
        Result.CORRECTED,
        "PRICE_DECIMAL_SLIP",
        "SL 23.45 read as 2345.00: a decimal slip, corrected by 10^2",
    ),
    "implausible": (
        context(levels(entry="2350.00", sl="2340.00", tps=("7050",)), instrument=GOLD, quote=GOLD_QUOTE),
        "sanitizer",
        Result.FAILED,
        "PRICE_IMPLAUSIBLE",
        "TP1 7050 implausible: more than 30% from the mid 2350.00 and not a decimal slip",
    ),
    "zone inverted": (
        context(levels(entry=None, zone=("1.08500", "1.08400"))),
        "zone",
        Result.FAILED,
        "ZONE_MALFORMED",
        "zone 1.08500-1.08400: its low is not below its high",
    ),
    "zone too wide": (
        context(levels(entry=None, zone=("1.00000", "1.10000"))),
        "zone",
        Result.FAILED,
        "ZONE_MALFORMED",
        "zone 1.00000-1.10000 is 9.5% of its midpoint wide, more than 5%",
    ),
    "sl wrong side rejected": (
        context(levels(sl="1.09000", tps=("1.09500",)), sl_policy="reject"),
        "sl_side",
        Result.FAILED,
        "SL_WRONG_SIDE",
        "SL 1.09000 is not below the entry 1.08500 for a buy and the route rejects it",
    ),
    "sl wrong side mirrored": (
        context(levels(sl="1.09000", tps=("1.09500",)), sl_policy="correct"),
        "sl_side",
        Result.CORRECTED,
        "SL_WRONG_SIDE",
        "SL 1.09000 is not below the entry 1.08500 for a buy: mirrored to 1.08000",
    ),
    "no sl": (
        context(levels(sl=None)),
        "sl_missing",
        Result.FAILED,
        "NO_SL_PROVIDED",
        "no SL and the route's default SL is 0",
    ),
    "no tp": (
        context(levels(tps=()), default_tp_pips=D(40)),
        "tp_missing",
        Result.CORRECTED,
        "NO_TP_PROVIDED",
        "no TP: the route's default TP, 40 pips above 1.08500: 1.08900",
    ),
    "tp wrong side": (
        context(levels(tps=("1.09000", "1.08400"))),
        "tp_side",
        Result.FAILED,
        "TP_WRONG_SIDE",
        "TP2 1.08400 is not above the entry 1.08500 for a buy",
    ),
    "tp order": (
        context(levels(tps=("1.09500", "1.09000", "1.09500"))),
        "tp_order",
        Result.CORRECTED,
        "TP_ORDER",
        "TPs 1.09500, 1.09000, 1.09500 sorted nearest first, duplicates removed: 1.09000, 1.09500",
    ),
    "sl too far": (
        context(levels(sl="1.07900", tps=("1.08600",))),
        "sl_distance",
        Result.FAILED,
        "SL_TOO_FAR",
        "SL 60.0 pips from the entry, the farthest TP 10.0: the SL is more than 5x as far",
    ),
    "entry too far": (
        context(quote=Quote(D("1.08790"), D("1.08800")), max_entry_distance_pips=D(20)),
        "entry_distance",
        Result.FAILED,
        "ENTRY_TOO_FAR",
        "the ask 1.08800 is 30.0 pips from the entry 1.08500, more than the route's 20 pips",
    ),
    "spread too wide": (
        context(quote=Quote(D("1.08470"), D("1.08500")), max_spread_pips=D(2)),
        "spread",
        Result.FAILED,
        "SPREAD_TOO_WIDE",
        "the spread is 3.0 pips, wider than the route's 2",
    ),
    "market closed": (
        context(instrument=replace(FX, sessions=FX_SESSIONS), now=datetime(2025, 6, 7, 10, 0, tzinfo=UTC)),
        "market_hours",
        Result.FAILED,
        "MARKET_CLOSED",
        "the market is closed; it opens Sun 2025-06-08 22:05 UTC",
    ),
    "outside trading hours": (
        context(hours=(480, 1020), now=datetime(2025, 6, 4, 17, 0, tzinfo=UTC)),
        "trading_hours",
        Result.FAILED,
        "OUTSIDE_TRADING_HOURS",
        "17:00 UTC is outside the route's trading hours 08:00-17:00 UTC",
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_code_with_its_result_and_message(name):
    ctx, stage, result, code, message = SCENARIOS[name]
    evaluation = evaluate(ctx)
    got = step(evaluation, stage)
    assert (got.result, got.code) == (result, code)
    assert message in got.message
    if result in (Result.FAILED, Result.HELD, Result.WAITING):
        assert evaluation.stopped == got
        assert evaluation.steps[-1] == got
        assert not evaluation.ok


def test_every_code_is_in_the_table_and_produced():
    declared = {code for rule in RULES for code in rule.codes}
    assert declared == set(CODES)
    assert {code for _, _, _, code, _ in SCENARIOS.values()} == set(CODES)
    assert len({rule.stage for rule in RULES}) == len(RULES)


def test_a_clean_trade_passes_every_rule_in_order():
    evaluation = evaluate(context(quote=FX_QUOTE))
    assert evaluation.ok and evaluation.deferred == () and evaluation.wait_until is None
    assert stages(evaluation) == [rule.stage for rule in RULES]
    assert {s.result for s in evaluation.steps} == {Result.PASSED}
    assert evaluation.levels == levels()


def test_a_failure_stops_the_later_rules():
    evaluation = evaluate(context(levels(sl="1.09000", tps=("1.08000",)), sl_policy="reject"))
    assert stages(evaluation)[-1] == "sl_side"
    assert "tp_side" not in stages(evaluation)
    first = evaluate(context(facts=Facts(paused_route=True, too_old="old", account_problem="gone")))
    assert stages(first) == ["route"]


def test_without_levels_only_the_facts_and_the_hours_run():
    evaluation = evaluate(context(None, instrument=None))
    assert evaluation.ok and evaluation.levels is None
    assert stages(evaluation) == [r.stage for r in RULES if not r.needs_levels and not r.needs_instrument]


def test_the_incomplete_signal_waits_without_a_time():
    assert evaluate(SCENARIOS["incomplete"][0]).wait_until is None


def test_confidence_at_the_threshold_passes():
    assert evaluate(context(facts=Facts(confidence=0.7, threshold=0.7))).ok


# Deferral


def test_without_a_quote_the_quote_rules_defer_and_the_rest_runs():
    ctx = context(max_entry_distance_pips=D(20), max_spread_pips=D(2))
    evaluation = evaluate(ctx)
    assert evaluation.ok
    assert stages(evaluation) == [rule.stage for rule in RULES]
    assert evaluation.deferred == ("PRICE_IMPLAUSIBLE", "ENTRY_TOO_FAR", "SPREAD_TOO_WIDE")
    for stage in ("sanitizer", "entry_distance", "spread"):
        assert step(evaluation, stage).result is Result.DEFERRED
        assert step(evaluation, stage).message == "deferred: needs the live bid/ask"
    assert evaluate(replace(ctx, quote=FX_QUOTE)).deferred == ()


def test_a_market_order_without_a_price_defers_what_needs_the_entry():
    lv = levels(order_type="market", entry=None)
    evaluation = evaluate(context(lv, reverse=True))
    assert evaluation.ok
    deferred = ("PRICE_IMPLAUSIBLE", "reverse", "SL_WRONG_SIDE", "TP_WRONG_SIDE", "SL_TOO_FAR")
    assert evaluation.deferred == deferred
    assert step(evaluation, "sl_side").message == "deferred: needs the entry, known only from the live quote"
    assert evaluation.levels == lv
    with_quote = evaluate(context(lv, quote=FX_QUOTE, reverse=True))
    assert with_quote.ok and with_quote.deferred == ()
    assert with_quote.levels.entry == D("1.08500")  # the ask, mirrored around
    assert with_quote.levels.side == "sell"


def test_a_market_order_without_a_price_defers_the_default_levels():
    lv = levels(order_type="market", entry=None, sl=None, tps=())
    ctx = context(lv, default_sl_pips=D(20), default_tp_pips=D(40))
    assert evaluate(ctx).deferred == ("PRICE_IMPLAUSIBLE", "NO_SL_PROVIDED", "NO_TP_PROVIDED")
    with_quote = evaluate(replace(ctx, quote=FX_QUOTE))
    assert with_quote.ok
    assert (with_quote.levels.sl, with_quote.levels.tps) == (D("1.08300"), (D("1.08900"),))


def test_a_zone_is_checked_then_deferred():
    evaluation = evaluate(context(levels(entry=None, zone=("1.08400", "1.08500"))))
    assert evaluation.ok
    assert step(evaluation, "zone").result is Result.DEFERRED
    assert "ZONE_MALFORMED" in evaluation.deferred


# Zone resolution


@pytest.mark.parametrize(
    "side, bid, ask, order_type, entry",
    [
        ("buy", "1.08440", "1.08450", "market", "1.08450"),  # inside
        ("buy", "1.08290", "1.08300", "market", "1.08300"),  # already below the low
        ("buy", "1.08590", "1.08600", "limit", "1.08500"),  # not reached: the high
        ("sell", "1.08450", "1.08460", "market", "1.08450"),  # inside
        ("sell", "1.08600", "1.08610", "market", "1.08600"),  # already above the high
        ("sell", "1.08300", "1.08310", "limit", "1.08400"),  # not reached: the low
    ],
)
def test_a_zone_resolves_to_the_market_or_a_limit_at_its_near_edge(side, bid, ask, order_type, entry):
    sl, tps = ("1.08000", ("1.09500",)) if side == "buy" else ("1.09000", ("1.07500",))
    lv = levels(side=side, order_type="market", entry=None, zone=("1.08400", "1.08500"), sl=sl, tps=tps)
    evaluation = evaluate(context(lv, quote=Quote(D(bid), D(ask))))
    assert evaluation.ok
    assert (evaluation.levels.order_type, evaluation.levels.entry, evaluation.levels.zone) == (
        order_type,
        D(entry),
        None,
    )
    assert step(evaluation, "zone").result is Result.PASSED
    assert f"{order_type} at" in step(evaluation, "zone").message


# Reverse


def test_reverse_flips_the_side_and_mirrors_the_levels_around_the_entry():
    evaluation = evaluate(context(levels(tps=("1.09000", "1.09500")), reverse=True))
    assert evaluation.ok
    assert evaluation.levels == levels(side="sell", sl="1.09000", tps=("1.08000", "1.07500"))
    reverse = step(evaluation, "reverse")
    assert (reverse.result, reverse.code) == (Result.CORRECTED, "")
    assert reverse.message == (
        "reversed: buy -> sell at 1.08500; SL 1.08000 -> 1.09000; TPs 1.09000, 1.09500 -> 1.08000, 1.07500"
    )


# Sanitizer


@pytest.mark.parametrize(
    "lv, fixed, note",
    [
        (
            levels(entry="2350.00", sl="2340.00", tps=("236.00",)),
            {"tps": (D("2360.00"),)},
            "TP1 236.00 read as 2360.00",
        ),
        (levels(entry="2350.00", sl="23.40", tps=("2360.00",)), {"sl": D("2340.00")}, "by 10^2"),
        (levels(entry="23400", sl="2330.00", tps=("2360.00",)), {"entry": D("2340.00")}, "by 10^-1"),
        (
            levels(entry=None, zone=("234.00", "235.00"), sl="2330.00", tps=("2360.00",)),
            {"zone": None, "entry": D("2350.00"), "order_type": "limit"},  # the ask 2350.10 is past the zone
            "zone low 234.00 read as 2340.00",
        ),
    ],
)
def test_a_decimal_slip_is_corrected(lv, fixed, note):
    evaluation = evaluate(context(lv, instrument=GOLD, quote=GOLD_QUOTE))
    assert evaluation.ok
    assert step(evaluation, "sanitizer").result is Result.CORRECTED
    assert note in step(evaluation, "sanitizer").message
    assert evaluation.levels == replace(lv, **fixed)


@pytest.mark.parametrize(
    "sl",
    [
        "783.00",  # a factor 3
        "2.35",  # a factor 1000: a slip larger than 10^2 is not corrected
        "7.83",  # a factor of about 300: no power of ten brings it within the band
        "0",
        "-2340",
    ],
)
def test_an_implausible_price_fails(sl):
    lv = levels(entry="2350.00", sl=sl, tps=("2360.00",))
    got = step(evaluate(context(lv, instrument=GOLD, quote=GOLD_QUOTE)), "sanitizer")
    assert (got.result, got.code) == (Result.FAILED, "PRICE_IMPLAUSIBLE")
    assert got.message.startswith(f"SL {sl} implausible")


def test_a_price_within_the_band_is_left_alone():
    lv = levels(entry="2350.00", sl="1700.00", tps=("3000.00",))  # 27.7% below, 27.7% above
    evaluation = evaluate(context(lv, instrument=GOLD, quote=GOLD_QUOTE, sl_max_tp_multiple=D(5)))
    assert step(evaluation, "sanitizer").result is Result.PASSED
    assert evaluation.levels == lv


# SL and TP corrections


def test_a_wrong_side_sl_takes_the_default_sl():
    evaluation = evaluate(context(levels(sl="1.09000", tps=("1.09500",)), default_sl_pips=D(30)))
    got = step(evaluation, "sl_side")
    assert (got.result, got.code) == (Result.CORRECTED, "SL_WRONG_SIDE")
    assert got.message.endswith("replaced by the route's default SL, 30 pips away: 1.08200")
    assert evaluation.levels.sl == D("1.08200")


def test_a_wrong_side_sl_fails_without_a_default_sl():
    got = evaluate(context(levels(sl="1.09000", tps=("1.09500",)))).stopped
    assert (got.stage, got.code) == ("sl_side", "SL_WRONG_SIDE")
    assert got.message.endswith("and the route's default SL is 0")


def test_an_sl_at_the_entry_cannot_be_mirrored():
    got = evaluate(context(levels(sl="1.08500"), sl_policy="correct")).stopped
    assert (got.stage, got.result) == ("sl_side", Result.FAILED)
    assert got.message.endswith("it is the entry itself: nothing to mirror")


def test_a_sell_with_no_sl_takes_the_default_sl_above():
    lv = levels(side="sell", sl=None, tps=("1.08000",))
    evaluation = evaluate(context(lv, default_sl_pips=D(25)))
    got = step(evaluation, "sl_missing")
    assert (got.result, got.code) == (Result.CORRECTED, "NO_SL_PROVIDED")
    assert got.message == "no SL: the route's default SL, 25 pips above 1.08500: 1.08750"
    assert evaluation.levels.sl == D("1.08750")


def test_no_tp_and_no_default_passes():
    evaluation = evaluate(context(levels(tps=())))
    assert evaluation.ok and evaluation.levels.tps == ()
    assert step(evaluation, "tp_missing").result is Result.PASSED


def test_a_sells_tps_are_sorted_downwards():
    evaluation = evaluate(context(levels(side="sell", sl="1.09000", tps=("1.07000", "1.08000"))))
    assert step(evaluation, "tp_order").result is Result.CORRECTED
    assert evaluation.levels.tps == (D("1.08000"), D("1.07000"))


def test_an_sl_exactly_at_the_multiple_passes():
    evaluation = evaluate(context(levels(sl="1.08000", tps=("1.08600",))))  # 50 pips, 5 x 10
    assert evaluation.ok


def test_entry_distance_applies_only_to_a_given_entry():
    market = levels(order_type="market", entry=None, tps=("1.11000",))
    far = Quote(D("1.09990"), D("1.10000"))
    evaluation = evaluate(context(market, quote=far, max_entry_distance_pips=D(20)))
    assert evaluation.ok
    assert step(evaluation, "entry_distance").message == "no entry given: the trade takes the market's price"
    assert evaluation.levels.entry == D("1.10000")


def test_entry_distance_measures_a_zone_from_its_near_edge():
    lv = levels(side="sell", entry=None, zone=("1.08400", "1.08500"), sl="1.09000", tps=("1.07500",))
    evaluation = evaluate(context(lv, quote=Quote(D("1.08100"), D("1.08110")), max_entry_distance_pips=D(20)))
    assert evaluation.stopped.code == "ENTRY_TOO_FAR"
    assert evaluation.stopped.message.startswith("the bid 1.08100 is 30.0 pips from the entry 1.08400")


# Hours


@pytest.mark.parametrize(
    "now, opening",
    [
        (datetime(2025, 6, 6, 22, 0, tzinfo=UTC), datetime(2025, 6, 8, 22, 5, tzinfo=UTC)),  # Friday's close
        (datetime(2025, 6, 8, 22, 4, 59, tzinfo=UTC), datetime(2025, 6, 8, 22, 5, tzinfo=UTC)),
    ],
)
def test_a_closed_market_waits_for_the_next_opening(now, opening):
    ctx = context(instrument=replace(FX, sessions=FX_SESSIONS), now=now, market_closed="wait")
    evaluation = evaluate(ctx)
    assert (evaluation.stopped.result, evaluation.stopped.code) == (Result.WAITING, "MARKET_CLOSED")
    assert evaluation.wait_until == opening
    opens = f"{opening:%a %Y-%m-%d %H:%M} UTC"
    assert evaluation.stopped.message == f"the market is closed; it opens {opens}: waiting"


def test_the_next_opening_may_be_a_week_away():
    instrument = replace(FX, sessions=((0, 600, 900),))  # Mondays 10:00-15:00
    monday_evening = datetime(2025, 6, 2, 16, 0, tzinfo=UTC)
    evaluation = evaluate(context(instrument=instrument, now=monday_evening, market_closed="wait"))
    assert evaluation.wait_until == datetime(2025, 6, 9, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "now", [datetime(2025, 6, 6, 21, 59, tzinfo=UTC), datetime(2025, 6, 8, 22, 5, tzinfo=UTC), WEDNESDAY_NOON]
)
def test_an_open_market_passes(now):
    assert evaluate(context(instrument=replace(FX, sessions=FX_SESSIONS), now=now)).ok


@pytest.mark.parametrize(
    "hour, minute, inside",
    [
        (22, 0, True),
        (23, 59, True),
        (0, 0, True),
        (5, 59, True),
        (6, 0, False),
        (12, 0, False),
        (21, 59, False),
    ],
)
def test_trading_hours_may_wrap_midnight(hour, minute, inside):
    now = datetime(2025, 6, 4, hour, minute, tzinfo=UTC)
    evaluation = evaluate(context(hours=(1320, 360), now=now))
    assert evaluation.ok is inside
    assert "trading hours 22:00-06:00 UTC" in step(evaluation, "trading_hours").message


def test_equal_trading_hours_mean_all_day():
    assert evaluate(context(hours=(0, 0))).ok


# Model


def test_a_step_serialises_for_json_traces():
    got = Step("spread", Result.FAILED, "SPREAD_TOO_WIDE", "too wide").to_dict()
    assert got == {"stage": "spread", "result": "failed", "code": "SPREAD_TOO_WIDE", "message": "too wide"}


@pytest.mark.parametrize(
    "build",
    [
        lambda: levels(side="long"),
        lambda: levels(zone=("1.08400", "1.08500")),  # with an entry
        lambda: levels(order_type="limit", entry=None),
        lambda: Policy(sl_policy="ignore"),
        lambda: Context(levels(), Policy(), None, None, WEDNESDAY_NOON),
    ],
)
def test_inputs_that_cannot_be_checked_are_refused(build):
    with pytest.raises(ValueError):
        build()
