"""The signal parser, field by field: the shared corpora, this product's own sets, and the shapes
channels write that the issue names (replies, several actions, number and symbol spellings)."""

import json

import pytest

from execution.signals.parsing import Kind, ParserOptions, parse
from execution.signals.parsing.parser import DEFAULT_THRESHOLD
from execution.signals.parsing.reading import PROBLEMS, problem
from tests.execution.signals.parsing import corpora

# the hold-out sets are tested too, once measured (see bench/signal_parser.py for their first figures)
ALL_CASES = corpora.all_cases()


def contract(text, reply_to=None, **options):
    return parse(text, reply_to=reply_to, options=ParserOptions(**options) if options else None).to_contract()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_every_corpus_message_is_read_right(case):
    reading = contract(case.text, case.reply_to)
    assert corpora.compared(reading, case.expected) == case.expected


def test_the_corpora_hold_every_kind_and_the_shared_ones_are_all_there():
    assert len(corpora.shared_cases()) == 16 + 16
    kinds = {c.expected["kind"] for c in ALL_CASES}
    assert kinds == {"open", "details", "modify", "ignore"}


@pytest.mark.parametrize(
    "case", [c for c in ALL_CASES if c.expected["kind"] == "ignore"], ids=lambda c: c.name
)
def test_noise_is_never_read_as_a_trade_or_a_change(case):
    reading = parse(case.text, reply_to=case.reply_to)
    assert reading.kind == Kind.IGNORE
    assert len(reading.problems) == 1 and reading.problems[0].code in PROBLEMS


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Gold could buy from 2300 if it holds, watch it", "commentary"),
        ("Last week we sold EURUSD for +80 pips", "report"),
        ("TP2 hit on XAUUSD buy ✅ +60 pips", "report"),
        ("GOLD 2330 BUY ZONE REACHED", "report"),
        ("Stopped out at breakeven on the gold sell", "report"),
        ("Once TP1 hits, move SL to breakeven", "no_signal"),
        ("Hold tight, don't close early 🙏", "no_signal"),
        ("Close your charts and enjoy the weekend", "no_signal"),
        ("🚀 Join our VIP channel for 90% accurate signals! t.me/vipgold", "promotion"),
        ("Today's recap: XAUUSD buy +120 pips, EURUSD sell +40 pips", "report"),
        ("Sell EURUSD if price breaks 1.0800", "commentary"),
        ("If EURUSD loses 1.0850 we might sell the retest, SL around 1.0880, TP 1.0800.", "commentary"),
        ("Is the NAS100 buy limit at 20,880 still valid? 😅", "commentary"),
        ("Close half at 2,345 or hold for TP2? What do you think 🤔", "no_signal"),
        ("FX DESK | Weekly tally\n9 trades, 6 wins, 2 losses, 1 breakeven. +164 pips net.", "report"),
        ("Tip 💡 don't put your SL exactly on round numbers like 2,300 — give it a few pips.", "no_signal"),
    ],
)
def test_hard_noise_naming_a_market_is_ignored_with_its_reason(text, reason):
    reading = parse(text)
    assert reading.kind == Kind.IGNORE
    assert reading.problem_codes == (reason,)


def test_details_complete_the_alert_they_reply_to():
    alert = "GOLD BUY NOW"
    reading = contract("Entry 4438-4433\nSL 4428\nTP1 4443\nTP2 4448", reply_to=alert)
    assert reading["kind"] == "details"
    assert (reading["side"], reading["symbol"]) == (None, None)  # they come from the alert
    assert reading["entry"] == {"low": 4433, "high": 4438}
    assert (reading["sl"], reading["tp"]) == (4428, [4443, 4448])
    assert reading["problems"] == []


def test_a_reply_repeating_the_alerts_side_and_symbol_with_levels_is_its_details_not_a_second_trade():
    reading = contract("GOLD BUY 2330\nSL 2320\nTP 2340", reply_to="GOLD BUY NOW")
    assert reading["kind"] == "details"
    assert (reading["entry"], reading["sl"], reading["tp"]) == (2330, 2320, [2340])
    # without the alert, the same text is a trade of its own
    assert contract("GOLD BUY 2330\nSL 2320\nTP 2340")["kind"] == "open"


def test_details_without_the_alert_say_so_and_fall_below_the_threshold():
    reading = parse("SL 2320\nTP 2340")
    assert reading.kind == Kind.DETAILS
    assert "no_alert" in reading.problem_codes
    assert reading.confidence < DEFAULT_THRESHOLD + 0.1
    assert parse("SL 2320\nTP 2340", reply_to="XAUUSD BUY NOW").confidence > reading.confidence


def test_a_stop_moved_to_a_target_of_the_signal_replied_to_takes_that_targets_price():
    signal = "XAUUSD BUY 2330 SL 2320 TP1 2340 TP2 2350"
    assert contract("Move SL to TP1", reply_to=signal)["actions"] == [{"action": "move_sl", "sl": 2340}]
    unresolved = parse("Move SL to TP1")
    assert unresolved.actions[0].sl is None and unresolved.actions[0].target == 1
    assert "reference_unresolved" in unresolved.problem_codes
    assert unresolved.confidence < DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("text", "actions"),
    [
        (
            "TP1 hit, close half and move SL to entry",
            [{"action": "close_partial", "fraction": 0.5}, {"action": "breakeven"}],
        ),
        (
            "Everyone move sl to 2340 and close 70%",
            [{"action": "move_sl", "sl": 2340}, {"action": "close_partial", "fraction": 0.7}],
        ),
        (
            "Move stop loss to 2335 and take profit 2 to 2360",
            [{"action": "move_sl", "sl": 2335}, {"action": "move_tp", "tp": 2360}],
        ),
        ("Close 1/3 now, SL to BE", [{"action": "close_partial", "fraction": 0.33}, {"action": "breakeven"}]),
        ("Cancel the buy limit and close all gold", [{"action": "cancel"}, {"action": "close_all"}]),
        (
            "Lock in profits at 2,392 and close 25%",
            [{"action": "move_sl", "sl": 2392}, {"action": "close_partial", "fraction": 0.25}],
        ),  # fmt: skip
        ("Kill the limit order on silver", [{"action": "cancel"}]),
        ("Fermez la moitié de la position", [{"action": "close_partial", "fraction": 0.5}]),
    ],
)
def test_several_actions_in_one_message_come_in_the_order_written(text, actions):
    got = contract(text)
    assert got["kind"] == "modify"
    assert corpora.compared(got, {"actions": actions})["actions"] == actions


def test_a_partial_close_that_does_not_say_how_much_leaves_the_fraction_to_the_route():
    reading = contract("Secure partials and let the rest run")
    assert reading["actions"] == [{"action": "close_partial"}]
    assert [p["code"] for p in reading["problems"]] == ["fraction_unstated"]


@pytest.mark.parametrize(
    ("text", "entry", "sl", "tp"),
    [
        ("US30 buy 39,120.50 sl 39,050 tp 39,250", 39120.5, 39050, [39250]),
        ("EUR/USD buy 1,0850 sl 1,0820 tp 1,0880", 1.085, 1.082, [1.088]),
        ("NAS100 SELL @ 18.450,50 SL 18.500 TP 18.350", 18450.5, 18500, [18350]),
        ("US30 SELL 38\u2009900\nSL 39\u2009050\nTP 38\u2009650", 38900, 39050, [38650]),
        ("NIKKEI BUY 38\u00a0450\nSL 38\u00a0200\nTP 38\u00a0900", 38450, 38200, [38900]),
        ("GER40 BUY 18 450 SL 18 400 TP 18 520", 18450, 18400, [18520]),
        ("Buy gold 2330 sl 2322 tp 2338, 2345, 2350", 2330, 2322, [2338, 2345, 2350]),
        ("XAUUSD BUY 2330 SL 2320 TP 2340/2345/2350", 2330, 2320, [2340, 2345, 2350]),
        ("XAUUSD BUY 2330 SL 2320 TP 2340 - 2345 - 2350", 2330, 2320, [2340, 2345, 2350]),
        ("XAUUSD BUY 2330 | SL 2320 | TP 2340", 2330, 2320, [2340]),
        ("🟢 BUY 🟢\nXAUUSD\nEntry ➡️ 2331.5\nSL ➡️ 2321.5\nTP ➡️ 2341.5", 2331.5, 2321.5, [2341.5]),
        ("#GOLD #SELL\n2345/2348\n🎯2340\n🎯2335\n🛑2352", {"low": 2345, "high": 2348}, 2352, [2340, 2335]),
        ("GOLD BUY 2330 — 2325\nSL 2318\nTP1 2335", {"low": 2325, "high": 2330}, 2318, [2335]),
        ("Buy EURUSD 1.0850/60 SL 1.0820 TP 1.0900", {"low": 1.085, "high": 1.086}, 1.082, [1.09]),
        ("XAUUSD BUY\nTP 1️⃣ 2340\nTP 2️⃣ 2345\nSL 2320", None, 2320, [2340, 2345]),
        ("SELL XAUUSD 2345\nSL: 2352 (70 pips)\nTP1: 2340 (+50 pips)", 2345, 2352, [2340]),
        ("Gold sell 2345 sl2352 tp2340", 2345, 2352, [2340]),
        ("BTCUSD BUY @ 67k SL 66.5k TP 69k", 67000, 66500, [69000]),
        (
            "BTC short @ market\nstop 101,800\ntargets 99,000 / 97,500 / 95,000\nLev 50x",
            None,
            101800,
            [99000, 97500, 95000],
        ),  # fmt: skip
        ("XAUUSD BUY\nEntry: 2330\nSL: 2320\nTP:\n2340\n2350", 2330, 2320, [2340, 2350]),
    ],
)
def test_numbers_read_through_commas_spaces_emojis_and_separators(text, entry, sl, tp):
    reading = contract(text)
    assert reading["kind"] == "open"
    assert (reading["entry"], reading["sl"], reading["tp"]) == (entry, sl, tp)


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("EUR/USD BUY NOW", "EURUSD"),
        ("XAU/USD BUY NOW", "XAUUSD"),
        ("XAUUSD.m BUY NOW", "XAUUSD"),
        ("EURUSDm SELL NOW", "EURUSD"),
        ("US30.cash SELL NOW", "US30"),
        ("#GBPJPY buy now", "GBPJPY"),
        ("GOLD BUY NOW", "XAUUSD"),
        ("Sell silver now", "XAGUSD"),
        ("DJ30 SELL NOW", "US30"),
        ("WS30 SELL NOW", "US30"),
        ("USTEC BUY NOW", "NAS100"),
        ("SPX500 BUY NOW", "US500"),
        ("DAX SELL NOW", "GER40"),
        ("WTI BUY NOW", "USOIL"),
        ("XAUUSDSELL NOW", "XAUUSD"),
        ("BUYGBPUSD NOW", "GBPUSD"),
    ],
)
def test_symbols_written_with_slashes_suffixes_and_aliases(text, symbol):
    reading = parse(text)
    assert reading.kind == Kind.OPEN
    assert reading.symbol == symbol


@pytest.mark.parametrize(
    ("text", "side", "tp"),
    [
        ("COMPRA XAUUSD 2330 SL 2320 TP 2340", "buy", [2340]),
        ("VENTE EURUSD 1.0900\nStop loss 1.0930\nObjectif 1.0850", "sell", [1.085]),
        ("GOLD KAUFEN jetzt\nEinstieg 2330\nSL 2320\nZiel 1: 2340\nZiel 2: 2350", "buy", [2340, 2350]),
        ("Venda EURUSD agora\nEntrada: 1.0900\nStop: 1.0930\nAlvo 1: 1.0870", "sell", [1.087]),
    ],
)
def test_the_side_and_targets_in_spanish_portuguese_french_and_german(text, side, tp):
    reading = contract(text)
    assert (reading["kind"], reading["side"], reading["tp"]) == ("open", side, tp)


def test_a_complete_signal_wrapped_in_results_and_adverts_is_read_but_a_repost_with_its_hits_is_not():
    wrapped = (
        "Yesterday's results: +85 pips ✅\n\nToday's trade 👇\nAUDJPY BUY 98.40\nSL 97.90\nTP 99.00\n\n"
        "Join VIP t.me/x"
    )
    assert contract(wrapped)["kind"] == "open"
    repost = "XAUUSD BUY 2330 SL 2320 TP1 2340 ✅ TP2 2350 ✅"
    assert parse(repost).problem_codes == ("report",)


def test_layered_and_ordinal_entries_make_a_zone():
    reading = contract("NAS100 BUY LIMIT\n1st entry 19,540\n2nd entry 19,480\nSL 19,420\nTP 19,680")
    assert (reading["order_type"], reading["entry"]) == ("limit", {"low": 19480, "high": 19540})
    card = (
        "#BTC/USD Long\nEntry Targets:\n1) 64,200\n2) 63,700\nTake-Profit Targets:\n1) 65,000\n"
        "Stop Targets:\n1) 62,900"
    )
    reading = contract(card)
    assert (reading["entry"], reading["sl"], reading["tp"]) == ({"low": 63700, "high": 64200}, 62900, [65000])


def test_the_volume_written_in_a_signal_is_never_read():
    reading = parse("XAUUSD BUY 2330\nSL 2320\nTP 2340\nLot size: 0.50\nRisk 2%")
    contract_ = reading.to_contract()
    assert "volume_ignored" in reading.problem_codes
    assert 0.5 not in (contract_["entry"], contract_["sl"], *contract_["tp"])
    assert not {"volume", "lot", "lots"} & set(contract_)


def test_a_source_can_add_keywords_aliases_and_a_default_symbol():
    text = "G kopen 2330 doel 2340 sl 2320"  # Dutch: not in the default vocabulary
    assert parse(text).kind != Kind.OPEN
    reading = contract(text, keywords={"kopen": "buy", "doel": "tp"}, aliases={"G": "XAUUSD"})
    assert (reading["kind"], reading["side"], reading["symbol"]) == ("open", "buy", "XAUUSD")
    assert (reading["entry"], reading["sl"], reading["tp"]) == (2330, 2320, [2340])
    single_instrument = contract("BUY NOW 2330 SL 2320 TP 2340", default_symbol="xauusd")
    assert single_instrument["symbol"] == "XAUUSD"
    assert "symbol_missing" not in [p["code"] for p in single_instrument["problems"]]
    with pytest.raises(ValueError, match="unknown meaning"):
        parse("x", options=ParserOptions(keywords={"achat": "purchase"}))


def test_confidence_is_high_for_complete_signals_and_below_the_threshold_when_a_field_is_guessed():
    complete = parse("XAUUSD BUY 2330\nSL 2320\nTP 2340")
    assert complete.confidence >= 0.9
    guessed = {
        "side_inferred": "XAUUSD 2330 SL 2320 TP 2340",
        "symbol_missing": "BUY 2330 SL 2320 TP 2340",
        "levels_inconsistent": "XAUUSD BUY 2330 SL 2340 TP 2320",
    }
    for code, text in guessed.items():
        reading = parse(text)
        assert reading.kind == Kind.OPEN, text
        assert code in reading.problem_codes, (text, reading.problem_codes)
        assert reading.confidence < DEFAULT_THRESHOLD, (text, reading.confidence)


def test_a_soft_hedge_beside_a_complete_signal_costs_a_little_and_a_condition_makes_it_commentary():
    soft = parse("XAUUSD BUY 2330 SL 2320 TP 2340\nWe expect a move up after the news")
    assert soft.kind == Kind.OPEN and "hedged" in soft.problem_codes
    assert DEFAULT_THRESHOLD <= soft.confidence < parse("XAUUSD BUY 2330 SL 2320 TP 2340").confidence
    conditional = parse("If gold comes back to 2300, buy it, SL 2290 TP 2320")
    assert conditional.kind == Kind.IGNORE and conditional.problem_codes == ("commentary",)


def test_changes_beside_an_incomplete_trade_are_changes():
    reading = contract("⚡️ #ETH/USD short: take 50% profit here and move stop-loss to 3,690")
    assert reading["kind"] == "modify"
    assert reading["actions"] == [
        {"action": "close_partial", "fraction": 0.5},
        {"action": "move_sl", "sl": 3690},
    ]


def test_every_right_corpus_reading_of_a_trade_is_at_or_above_the_threshold():
    for case in ALL_CASES:
        reading = parse(case.text, reply_to=case.reply_to)
        if reading.kind in (Kind.OPEN, Kind.MODIFY) and not reading.problems:
            assert reading.confidence >= DEFAULT_THRESHOLD, case.name


def test_the_side_is_inferred_from_the_levels_only_when_they_agree():
    assert parse("XAUUSD 2330 SL 2320 TP 2340").side == "buy"
    assert parse("XAUUSD 2330 SL 2340 TP 2320").side == "sell"
    assert parse("XAUUSD 2330 SL 2320 TP 2310").kind == Kind.IGNORE  # SL and TP on one side


def test_the_contract_is_json_with_numbers_as_numbers():
    reading = contract("Sell GBPUSD @ 1.2800 - 1.2810\nStop loss: 1.2840\nTake profit: 1.2760")
    assert json.loads(json.dumps(reading)) == reading
    assert reading["entry"] == {"low": 1.28, "high": 1.281}
    assert isinstance(reading["sl"], float) and isinstance(reading["tp"][0], float)
    assert isinstance(contract("XAUUSD BUY 2330 SL 2320 TP 2340")["sl"], int)
    fields = "kind side order_type symbol entry sl tp runner actions confidence problems"
    assert set(reading) == set(fields.split())
    assert 0 <= reading["confidence"] <= 1


def test_problems_have_stable_codes():
    with pytest.raises(KeyError):
        problem("not_a_code")
    assert problem("sl_missing").message == PROBLEMS["sl_missing"]


def test_more_than_six_targets_keeps_the_first_six():
    reading = parse("BUY XAUUSD 4329\nSL 4320\n" + "\n".join(f"TP {4334 + 5 * i}" for i in range(8)))
    assert reading.tp == (4334, 4339, 4344, 4349, 4354, 4359)
    assert "too_many_targets" in reading.problem_codes


@pytest.mark.parametrize(
    "text",
    [
        "BUY GOLD " + "9" * 400,
        "move sl to " + "9" * 400,
        "XAUUSD BUY 2300 SL 2290 TP " + "9" * 400,
        "BUY US30 " + "\u2009".join(["1"] + ["000"] * 120),
        "GOLD BUY 2\u00a0\u00a0300",
        "1\u2009\u20092",
        "1\u2009,5",
        "BUY EURUSD 1.0850 1.5k",
        "BUY BTC 1.5k 518.500",
        "",
        "🔥🔥🔥",
        "%",
        "k",
        "TP",
        "((((((SL))))))",
        "\r\n".join(["XAUUSD BUY 2330", "SL 2320", "TP 2340"]),
        "שלום BUY GOLD 2330",
    ],
)
def test_no_input_breaks_the_reader_or_the_contract(text):
    body = json.dumps(parse(text, reply_to=text).to_contract(), allow_nan=False)
    assert set(json.loads(body)) >= {"kind", "confidence", "problems"}


def test_a_move_to_target_zero_or_beyond_the_signals_targets_is_unresolved():
    signal = "GOLD BUY 2300 SL 2290 TP1 2310 TP2 2320"
    for text in ("sl to tp0", "move sl to tp 0", "move SL to TP3"):
        reading = parse(text, reply_to=signal)
        assert all(a.sl is None for a in reading.actions), text  # never the last target's price
        assert reading.kind == Kind.IGNORE or reading.confidence < DEFAULT_THRESHOLD, text


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("USOIL BUY 80.5-81 SL 79 TP 83", {"low": 80.5, "high": 81}),  # a zone, not a date
        ("XAGUSD BUY 30.5/31 SL 30 TP 32", {"low": 30.5, "high": 31}),
        ("GOLD BUY 2345.50/40 SL 2330 TP 2360", 2345.5),  # not shorthand: no zone 40-2345.5
        ("GOLD BUY 1,1,1,1", 1),  # a zone with equal edges is a price
        ("GOLD BUY ١٢٣٤ SL ١٢٠٠ TP ١٣٠٠", 1234),  # Arabic-Indic digits
    ],
)
def test_entries_that_a_naive_reader_gets_wrong(text, entry):
    got = contract(text)
    assert got["kind"] == "open"
    assert got["entry"] == entry


def test_a_zone_with_equal_edges_is_a_price_and_zero_is_never_a_price():
    assert contract("GOLD BUY 2330-2330 SL 2320 TP 2340")["entry"] == 2330
    assert contract("BUY GOLD 2300 SL 0 TP 2310")["sl"] is None
    assert contract("SELL GOLD 2300 SL 2310 TP 0")["tp"] == []
    assert all(a.sl is None for a in parse("move sl to 0").actions)


def test_closing_all_or_nothing_of_a_position_is_not_a_partial_close():
    assert contract("close 100%")["actions"] == [{"action": "close_all"}]
    assert contract("close 0%")["kind"] == "ignore"


def test_sl_and_tp_to_come_are_an_alert_not_a_stop_moved_to_a_target():
    reading = contract("XAUUSD BUY NOW\nSL TP coming soon")
    assert (reading["kind"], reading["side"], reading["symbol"]) == ("open", "buy", "XAUUSD")


def test_a_sources_keywords_of_many_words_match_and_unmatchable_ones_are_refused():
    reading = contract("ik koop nu direct GOLD 2330 SL 2320 TP 2340", keywords={"ik koop nu direct": "buy"})
    assert (reading["kind"], reading["side"]) == ("open", "buy")
    with pytest.raises(ValueError, match="letters and digits"):
        parse("x", options=ParserOptions(keywords={"s-l": "sl"}))
