import logging

import pytest

from execution.safety.errors import TABLE, Category, PauseEffect, classify

T, P, IN, MC, RL, C, S, U = (
    Category.TRANSIENT,
    Category.PERMANENT,
    Category.INVALID_INPUT,
    Category.MARKET_CLOSED,
    Category.RATE_LIMITED,
    Category.CONNECTION,
    Category.SUCCESS,
    Category.UNKNOWN,
)

# "Error Code Mapping (Selected)", verbatim from the spec (seeds/ttmt-execution-safety.txt).
SEED_TABLE = """
| 10004 | Requote | TRANSIENT |
| 10006 | Request rejected | PERMANENT |
| 10010 | Request confirmed | SUCCESS |
| 10013 | Invalid request | PERMANENT |
| 10014 | Invalid volume | PERMANENT |
| 10015 | Invalid price | TRANSIENT |
| 10016 | Invalid stops | PERMANENT |
| 10018 | Market closed | MARKET_CLOSED |
| 10019 | Insufficient funds | PERMANENT |
| 10024 | Too many requests | RATE_LIMITED |
| 10030 | Order already filled | PERMANENT |
| -2 | Position not found | PERMANENT |
| 4753 | Position not found (variant) | PERMANENT |
"""


# The request's own stops, volume and price: the seed's PERMANENT (or TRANSIENT) refined to
# INVALID_INPUT, final but no broker fault (issue 20: such rejections paused accounts).
REFINED = {10014: IN, 10015: IN, 10016: IN}


def _seed_rows() -> list[tuple[int, Category]]:
    rows = []
    for line in SEED_TABLE.strip().splitlines():
        code, _, category = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((int(code), REFINED.get(int(code), Category[category])))
    return rows


def test_seed_table_is_read():
    assert len(_seed_rows()) == 13


@pytest.mark.parametrize(("code", "category"), _seed_rows())
def test_every_seed_code_has_the_seed_category(code, category):
    result = classify(source="mt5", code=code)
    assert result.category is category
    assert not result.unknown


MT5 = [
    (10004, T), (10006, P), (10007, P), (10008, S), (10009, S), (10010, S), (10011, T), (10012, T),
    (10013, P), (10014, IN), (10015, IN), (10016, IN), (10017, P), (10018, MC), (10019, P), (10020, T),
    (10021, T), (10022, P), (10023, T), (10024, RL), (10025, S), (10026, P), (10027, P), (10028, T),
    (10029, T), (10030, P), (10031, C), (10032, P), (10033, P), (10034, P), (10035, P), (10036, P),
    (10038, IN), (10039, P), (10040, P), (10041, P), (10042, P), (10043, P), (10044, P), (10045, P),
    (10046, P), (-2, P), (4301, P), (4753, P), (4754, P), (4756, T),
]  # fmt: skip
MT4 = [
    (0, S), (1, S), (2, P), (3, P), (4, T), (6, C), (8, RL), (9, P), (64, P), (65, P), (128, T),
    (129, T), (130, IN), (131, IN), (132, MC), (133, P), (134, P), (135, T), (136, T), (137, T),
    (138, T), (139, T), (141, RL), (145, T), (146, T), (147, P), (148, P),
]  # fmt: skip
TRANSPORT = [
    ("timeout", T), ("connection_lost", C), ("not_connected", C), ("not_synchronized", C),
    ("network_error", C),
    ("http_429", RL), ("http_5xx", T), ("unauthorized", P), ("validation", P), ("not_found", P),
]  # fmt: skip
METAAPI = [
    ("ERR_NO_ERROR", S), ("ERR_TRADE_POSITION_NOT_FOUND", P), ("ERR_TRADE_ORDER_NOT_FOUND", P),
    ("ERR_MARKET_UNKNOWN_SYMBOL", P), ("ERR_TRADE_DISABLED", P), ("ERR_TRADE_CONTEXT_BUSY", T),
    ("ERR_REQUOTE", T), ("ERR_NO_CONNECTION", C),
]  # fmt: skip
CASES = (
    [("mt5", c, cat) for c, cat in MT5]
    + [("mt4", c, cat) for c, cat in MT4]
    + [("transport", c, cat) for c, cat in TRANSPORT]
    + [("metaapi", c, cat) for c, cat in METAAPI]
)


def test_at_least_sixty_metatrader_codes_are_checked_here():
    assert len(MT5) + len(MT4) >= 60
    assert sum(1 for source, _ in TABLE if source in ("mt5", "mt4")) >= 60


@pytest.mark.parametrize(("source", "code", "category"), CASES)
def test_classification_table(source, code, category):
    result = classify(source=source, code=code)
    assert (result.category, result.unknown, result.source) == (category, False, source)
    assert result.label


# MetaApi TradeException.stringCode -> MT5 number: each name must classify like its number.
RETCODE_NUMBERS = {
    "REQUOTE": 10004, "REJECT": 10006, "CANCEL": 10007, "PLACED": 10008, "DONE": 10009,
    "DONE_PARTIAL": 10010, "ERROR": 10011, "TIMEOUT": 10012, "INVALID": 10013, "INVALID_VOLUME": 10014,
    "INVALID_PRICE": 10015, "INVALID_STOPS": 10016, "TRADE_DISABLED": 10017, "MARKET_CLOSED": 10018,
    "NO_MONEY": 10019, "PRICE_CHANGED": 10020, "PRICE_OFF": 10021, "INVALID_EXPIRATION": 10022,
    "ORDER_CHANGED": 10023, "TOO_MANY_REQUESTS": 10024, "NO_CHANGES": 10025, "SERVER_DISABLES_AT": 10026,
    "CLIENT_DISABLES_AT": 10027, "LOCKED": 10028, "FROZEN": 10029, "INVALID_FILL": 10030,
    "CONNECTION": 10031, "ONLY_REAL": 10032, "LIMIT_ORDERS": 10033, "LIMIT_VOLUME": 10034,
    "INVALID_ORDER": 10035, "POSITION_CLOSED": 10036, "INVALID_CLOSE_VOLUME": 10038,
    "CLOSE_ORDER_EXIST": 10039, "LIMIT_POSITIONS": 10040, "REJECT_CANCEL": 10041, "LONG_ONLY": 10042,
    "SHORT_ONLY": 10043, "CLOSE_ONLY": 10044, "FIFO_CLOSE": 10045, "HEDGE_PROHIBITED": 10046,
}  # fmt: skip


@pytest.mark.parametrize(("name", "number"), sorted(RETCODE_NUMBERS.items()))
def test_metaapi_retcode_names_classify_like_their_numbers(name, number):
    by_name = classify(source="metaapi", code=f"TRADE_RETCODE_{name}")
    assert not by_name.unknown
    assert by_name.category is classify(source="mt5", code=number).category


def test_metaapi_success_codes_are_the_sdk_success_codes():
    # metaapi_websocket_client.trade() raises TradeException for everything but these.
    sdk_success = {
        "ERR_NO_ERROR",
        "TRADE_RETCODE_PLACED",
        "TRADE_RETCODE_DONE",
        "TRADE_RETCODE_DONE_PARTIAL",
        "TRADE_RETCODE_NO_CHANGES",
    }
    ours = {code for (source, code), (category, _) in TABLE.items() if source == "metaapi" and category is S}
    assert sdk_success <= ours


def test_every_mt5_trade_return_code_in_range_is_mapped():
    missing = [c for c in range(10004, 10047) if c not in (10005, 10037) and ("mt5", c) not in TABLE]
    assert missing == []


def test_mt4_and_mt5_numbers_are_keyed_by_source():
    assert classify(source="mt4", code=132).category is MC
    assert classify(source="mt5", code=132).category is U
    assert classify(source="mt4", code=10018).category is U


def test_numeric_strings_are_accepted_for_numeric_sources():
    assert classify(source="mt5", code="10018").category is MC
    assert classify(source="mt5", code=" 10018 ").code == 10018


def test_unknown_code_is_unknown_and_logged_for_investigation(caplog):
    with caplog.at_level(logging.WARNING, logger="execution.safety.errors"):
        result = classify(source="mt5", code=99999)
    assert result.category is U and result.unknown and result.retryable and result.trips_pause
    assert "99999" in result.label
    assert any("investigation" in r.getMessage() and "99999" in r.getMessage() for r in caplog.records)


def test_unknown_metaapi_string_code_is_unknown():
    assert classify(source="metaapi", code="TRADE_RETCODE_FROM_THE_FUTURE").unknown


def test_known_codes_do_not_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="execution.safety.errors"):
        classify(source="mt5", code=10004)
    assert caplog.records == []


def test_invalid_source_is_refused():
    with pytest.raises(ValueError, match="source"):
        classify(source="mt6", code=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "category", "retryable", "effect"),
    [
        (10004, T, True, PauseEffect.TRANSIENT),
        (10024, RL, True, PauseEffect.TRANSIENT),
        (10031, C, True, PauseEffect.TRANSIENT),
        (424242, U, True, PauseEffect.TRANSIENT),
        (10019, P, False, PauseEffect.PERMANENT),
        (10014, IN, False, PauseEffect.NONE),
        (10016, IN, False, PauseEffect.NONE),
        (10018, MC, False, PauseEffect.NONE),
        (10009, S, False, PauseEffect.RESET),
    ],
)
def test_category_semantics(code, category, retryable, effect):
    result = classify(source="mt5", code=code)
    assert result.category is category
    assert result.retryable is retryable
    assert result.pause_effect is effect
    assert result.trips_pause is (effect in (PauseEffect.TRANSIENT, PauseEffect.PERMANENT))
