"""Symbol mapping: what a person or signal writes -> this broker's symbol (execution.symbols)."""

import pytest

from execution.accounts.symbols import (
    AmbiguousSymbol,
    AssetClass,
    InvalidOverride,
    MatchedBy,
    Resolution,
    SymbolError,
    UnknownSymbol,
    asset_class_of,
    canonicalize,
    resolve,
)

FX, METALS, INDICES, ENERGIES, CRYPTO, STOCKS = (
    AssetClass.FOREX,
    AssetClass.METALS,
    AssetClass.INDICES,
    AssetClass.ENERGIES,
    AssetClass.CRYPTO,
    AssetClass.STOCKS,
)
OVERRIDE, EXACT, ALIAS, VARIANT = MatchedBy.OVERRIDE, MatchedBy.EXACT, MatchedBy.ALIAS, MatchedBy.VARIANT

# ------------------------------------------------------------------------------ broker symbol lists

ICMARKETS = [
    "EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCAD", "USDCHF", "NZDUSD", "EURGBP", "EURJPY", "GBPJPY",
    "XAUUSD", "XAGUSD", "XPTUSD", "XPDUSD", "XAUEUR",
    "US30", "USTEC", "US500", "DE40", "UK100", "JP225", "F40", "STOXX50", "AUS200",
    "XTIUSD", "XBRUSD", "XNGUSD",
    "BTCUSD", "ETHUSD", "LTCUSD",
]  # fmt: skip

SUFFIX_M = [
    "EURUSD.m", "GBPUSD.m", "USDJPY.m", "EURGBP.m", "XAUUSD.m", "XAGUSD.m",
    "US30.m", "NAS100.m", "SPX500.m", "GER40.m", "UK100.m", "USOIL.m", "UKOIL.m", "BTCUSD.m", "ETHUSD.m",
]  # fmt: skip

EXNESS_ATTACHED = ["EURUSDm", "GBPUSDm", "XAUUSDm", "US30m", "USTECm", "DE30m", "USOILm", "BTCUSDm", "AAPLm"]

PRO_SUFFIX = ["EURUSDpro", "GBPJPYpro", "XAUUSDpro", "XAGUSDpro", "US500pro", "NAS100pro", "USOILpro"]

FTMO_CASH = [
    "EURUSD", "GBPUSD", "XAUUSD", "US30.cash", "US100.cash", "US500.cash", "GER40.cash",
    "UK100.cash", "JP225.cash", "USOIL.cash", "UKOIL.cash", "BTCUSD",
]  # fmt: skip

NAMED = [
    ("EURUSD", "Euro vs US Dollar"),
    ("GBPUSD", "Great Britain Pound vs US Dollar"),
    ("GOLD", "Gold vs US Dollar"),
    ("SILVER", "Silver vs US Dollar"),
    ("DJ30", "Dow Jones Industrial Average"),
    ("USTEC", "US Tech 100 Index"),
    ("DE40", "Germany 40 Index"),
    ("SP500", "S&P 500 Index"),
    ("JPN225", "Nikkei 225 Index"),
    ("FTSE100", "UK 100 Index"),
    ("WTI", "Crude Oil WTI"),
    ("BRENT", "Crude Oil Brent"),
    ("NATGAS", "Natural Gas"),
]

STOCKS_HASH = [
    ("EURUSD", None),
    ("XAUUSD", "Gold vs US Dollar"),
    ("US30", "Dow Jones Industrial Average"),
    ("#AAPL", "Apple Inc."),
    ("#MSFT", "Microsoft Corporation"),
    ("#TSLA", "Tesla, Inc."),
    ("#NVDA", "NVIDIA Corporation"),
    ("#BRK.B", "Berkshire Hathaway Inc. Class B"),
    ("#GOLD", "Barrick Gold Corp"),
    ("#DOW", "Dow Inc."),
]

CRYPTO_HEAVY = [
    "BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "SOL/USD", "DOGE/USD", "ADA/USD",
    "BTC/EUR", "ETH/BTC", "BTCUSDT", "EUR/USD",
]  # fmt: skip

ADMIRALS_BRACKETS = ["EURUSD", "GOLD", "[DJI30]", "[NQ100]", "[DAX40]", "[SP500]", "WTI"]
XM_CASH = ["EURUSD", "GOLD", "SILVER", "US30Cash", "US100Cash", "GER40Cash", "OILCash", "BRENTCash", "BTCUSD"]

# ------------------------------------------------------------------------------ resolution tables

# (broker list, what the user writes, broker symbol, canonical, asset class, matched by)
CASES = [
    # ICMarkets-like plain list
    (ICMARKETS, "EURUSD", "EURUSD", "EURUSD", FX, EXACT),
    (ICMARKETS, "eurusd", "EURUSD", "EURUSD", FX, EXACT),
    (ICMARKETS, "EUR/USD", "EURUSD", "EURUSD", FX, EXACT),
    (ICMARKETS, " gbp/jpy ", "GBPJPY", "GBPJPY", FX, EXACT),
    (ICMARKETS, "cable", "GBPUSD", "GBPUSD", FX, ALIAS),
    (ICMARKETS, "GOLD", "XAUUSD", "XAUUSD", METALS, ALIAS),
    (ICMARKETS, "xau", "XAUUSD", "XAUUSD", METALS, ALIAS),
    (ICMARKETS, "Silver", "XAGUSD", "XAGUSD", METALS, ALIAS),
    (ICMARKETS, "goldeur", "XAUEUR", "XAUEUR", METALS, ALIAS),
    (ICMARKETS, "DOW", "US30", "US30", INDICES, ALIAS),
    (ICMARKETS, "NAS100", "USTEC", "NAS100", INDICES, ALIAS),
    (ICMARKETS, "nasdaq", "USTEC", "NAS100", INDICES, ALIAS),
    (ICMARKETS, "US100", "USTEC", "NAS100", INDICES, ALIAS),
    (ICMARKETS, "SPX500", "US500", "US500", INDICES, ALIAS),
    (ICMARKETS, "S&P 500", "US500", "US500", INDICES, ALIAS),
    (ICMARKETS, "DAX", "DE40", "GER40", INDICES, ALIAS),
    (ICMARKETS, "GER30", "DE40", "GER40", INDICES, ALIAS),
    (ICMARKETS, "nikkei", "JP225", "JP225", INDICES, ALIAS),
    (ICMARKETS, "CAC40", "F40", "FRA40", INDICES, ALIAS),
    (ICMARKETS, "OIL", "XTIUSD", "USOIL", ENERGIES, ALIAS),
    (ICMARKETS, "wti", "XTIUSD", "USOIL", ENERGIES, ALIAS),
    (ICMARKETS, "USOIL", "XTIUSD", "USOIL", ENERGIES, ALIAS),
    (ICMARKETS, "Brent", "XBRUSD", "UKOIL", ENERGIES, ALIAS),
    (ICMARKETS, "natgas", "XNGUSD", "NATGAS", ENERGIES, ALIAS),
    (ICMARKETS, "BTC", "BTCUSD", "BTCUSD", CRYPTO, ALIAS),
    (ICMARKETS, "bitcoin", "BTCUSD", "BTCUSD", CRYPTO, ALIAS),
    (ICMARKETS, "XBTUSD", "BTCUSD", "BTCUSD", CRYPTO, ALIAS),
    (ICMARKETS, "eth", "ETHUSD", "ETHUSD", CRYPTO, ALIAS),
    # ".m" suffix list
    (SUFFIX_M, "EURUSD", "EURUSD.m", "EURUSD", FX, VARIANT),
    (SUFFIX_M, "eur/usd", "EURUSD.m", "EURUSD", FX, VARIANT),
    (SUFFIX_M, "EURUSD.m", "EURUSD.m", "EURUSD", FX, EXACT),
    (SUFFIX_M, "eurusd.M", "EURUSD.m", "EURUSD", FX, EXACT),
    (SUFFIX_M, "GOLD", "XAUUSD.m", "XAUUSD", METALS, VARIANT),
    (SUFFIX_M, "US30", "US30.m", "US30", INDICES, VARIANT),
    (SUFFIX_M, "WS30", "US30.m", "US30", INDICES, VARIANT),
    (SUFFIX_M, "USTEC", "NAS100.m", "NAS100", INDICES, VARIANT),
    (SUFFIX_M, "US500", "SPX500.m", "US500", INDICES, VARIANT),
    (SUFFIX_M, "DE40", "GER40.m", "GER40", INDICES, VARIANT),
    (SUFFIX_M, "FTSE", "UK100.m", "UK100", INDICES, VARIANT),
    (SUFFIX_M, "oil", "USOIL.m", "USOIL", ENERGIES, VARIANT),
    (SUFFIX_M, "XBRUSD", "UKOIL.m", "UKOIL", ENERGIES, VARIANT),
    (SUFFIX_M, "btc", "BTCUSD.m", "BTCUSD", CRYPTO, VARIANT),
    # attached lower-case suffix (Exness-like)
    (EXNESS_ATTACHED, "EURUSD", "EURUSDm", "EURUSD", FX, VARIANT),
    (EXNESS_ATTACHED, "xauusd", "XAUUSDm", "XAUUSD", METALS, VARIANT),
    (EXNESS_ATTACHED, "DJ30", "US30m", "US30", INDICES, VARIANT),
    (EXNESS_ATTACHED, "NASDAQ", "USTECm", "NAS100", INDICES, VARIANT),
    (EXNESS_ATTACHED, "GER40", "DE30m", "GER40", INDICES, VARIANT),
    (EXNESS_ATTACHED, "WTI", "USOILm", "USOIL", ENERGIES, VARIANT),
    (EXNESS_ATTACHED, "AAPL", "AAPLm", "AAPL", STOCKS, VARIANT),
    # "pro" suffix list
    (PRO_SUFFIX, "EURUSD", "EURUSDpro", "EURUSD", FX, VARIANT),
    (PRO_SUFFIX, "gbpjpy", "GBPJPYpro", "GBPJPY", FX, VARIANT),
    (PRO_SUFFIX, "Gold", "XAUUSDpro", "XAUUSD", METALS, VARIANT),
    (PRO_SUFFIX, "XAG", "XAGUSDpro", "XAGUSD", METALS, VARIANT),
    (PRO_SUFFIX, "SPX500", "US500pro", "US500", INDICES, VARIANT),
    (PRO_SUFFIX, "US100", "NAS100pro", "NAS100", INDICES, VARIANT),
    (PRO_SUFFIX, "CL", "USOILpro", "USOIL", ENERGIES, VARIANT),
    # ".cash" list (FTMO-like)
    (FTMO_CASH, "US30", "US30.cash", "US30", INDICES, VARIANT),
    (FTMO_CASH, "dow", "US30.cash", "US30", INDICES, VARIANT),
    (FTMO_CASH, "NAS100", "US100.cash", "NAS100", INDICES, VARIANT),
    (FTMO_CASH, "DAX", "GER40.cash", "GER40", INDICES, VARIANT),
    (FTMO_CASH, "JPN225", "JP225.cash", "JP225", INDICES, VARIANT),
    (FTMO_CASH, "OIL", "USOIL.cash", "USOIL", ENERGIES, VARIANT),
    (FTMO_CASH, "brent", "UKOIL.cash", "UKOIL", ENERGIES, VARIANT),
    (FTMO_CASH, "XAUUSD", "XAUUSD", "XAUUSD", METALS, EXACT),
    # named list: GOLD / SILVER / DJ30 / USTEC / DE40 / WTI ...
    (NAMED, "XAUUSD", "GOLD", "XAUUSD", METALS, ALIAS),
    (NAMED, "gold", "GOLD", "XAUUSD", METALS, EXACT),
    (NAMED, "XAU", "GOLD", "XAUUSD", METALS, ALIAS),
    (NAMED, "xagusd", "SILVER", "XAGUSD", METALS, ALIAS),
    (NAMED, "US30", "DJ30", "US30", INDICES, ALIAS),
    (NAMED, "DOW", "DJ30", "US30", INDICES, ALIAS),
    (NAMED, "NAS100", "USTEC", "NAS100", INDICES, ALIAS),
    (NAMED, "GER40", "DE40", "GER40", INDICES, ALIAS),
    (NAMED, "SPX500", "SP500", "US500", INDICES, ALIAS),
    (NAMED, "JP225", "JPN225", "JP225", INDICES, ALIAS),
    (NAMED, "UK100", "FTSE100", "UK100", INDICES, ALIAS),
    (NAMED, "USOIL", "WTI", "USOIL", ENERGIES, ALIAS),
    (NAMED, "XTIUSD", "WTI", "USOIL", ENERGIES, ALIAS),
    (NAMED, "UKOIL", "BRENT", "UKOIL", ENERGIES, ALIAS),
    (NAMED, "ngas", "NATGAS", "NATGAS", ENERGIES, ALIAS),
    # stocks with '#' prefix, next to instruments whose aliases are also tickers
    (STOCKS_HASH, "AAPL", "#AAPL", "AAPL", STOCKS, VARIANT),
    (STOCKS_HASH, "aapl", "#AAPL", "AAPL", STOCKS, VARIANT),
    (STOCKS_HASH, "#msft", "#MSFT", "MSFT", STOCKS, EXACT),
    (STOCKS_HASH, "NVDA", "#NVDA", "NVDA", STOCKS, VARIANT),
    (STOCKS_HASH, "BRK.B", "#BRK.B", "BRK.B", STOCKS, VARIANT),
    (STOCKS_HASH, "GOLD", "XAUUSD", "XAUUSD", METALS, ALIAS),  # not Barrick Gold (#GOLD)
    (STOCKS_HASH, "#GOLD", "#GOLD", "GOLD", STOCKS, EXACT),
    (STOCKS_HASH, "DOW", "US30", "US30", INDICES, ALIAS),  # not Dow Inc. (#DOW)
    (STOCKS_HASH, "#DOW", "#DOW", "DOW", STOCKS, EXACT),
    # crypto-heavy list, slash-separated
    (CRYPTO_HEAVY, "BTC", "BTC/USD", "BTCUSD", CRYPTO, ALIAS),
    (CRYPTO_HEAVY, "BTCUSD", "BTC/USD", "BTCUSD", CRYPTO, EXACT),
    (CRYPTO_HEAVY, "Bitcoin", "BTC/USD", "BTCUSD", CRYPTO, ALIAS),
    (CRYPTO_HEAVY, "XBTUSD", "BTC/USD", "BTCUSD", CRYPTO, ALIAS),
    (CRYPTO_HEAVY, "ethereum", "ETH/USD", "ETHUSD", CRYPTO, ALIAS),
    (CRYPTO_HEAVY, "ethbtc", "ETH/BTC", "ETHBTC", CRYPTO, EXACT),
    (CRYPTO_HEAVY, "btc/eur", "BTC/EUR", "BTCEUR", CRYPTO, EXACT),
    (CRYPTO_HEAVY, "BTCUSDT", "BTCUSDT", "BTCUSDT", CRYPTO, EXACT),
    (CRYPTO_HEAVY, "sol", "SOL/USD", "SOLUSD", CRYPTO, ALIAS),
    (CRYPTO_HEAVY, "DOGE", "DOGE/USD", "DOGEUSD", CRYPTO, ALIAS),
    (CRYPTO_HEAVY, "ripple", "XRP/USD", "XRPUSD", CRYPTO, ALIAS),
    (CRYPTO_HEAVY, "EURUSD", "EUR/USD", "EURUSD", FX, EXACT),
    # bracketed (Admirals-like) and attached "Cash" (XM-like)
    (ADMIRALS_BRACKETS, "US30", "[DJI30]", "US30", INDICES, VARIANT),
    (ADMIRALS_BRACKETS, "NASDAQ", "[NQ100]", "NAS100", INDICES, VARIANT),
    (ADMIRALS_BRACKETS, "GER40", "[DAX40]", "GER40", INDICES, VARIANT),
    (XM_CASH, "US30", "US30Cash", "US30", INDICES, VARIANT),
    (XM_CASH, "US100", "US100Cash", "NAS100", INDICES, VARIANT),
    (XM_CASH, "WTI", "OILCash", "USOIL", ENERGIES, VARIANT),
    (XM_CASH, "UKOIL", "BRENTCash", "UKOIL", ENERGIES, VARIANT),
    (XM_CASH, "XAUUSD", "GOLD", "XAUUSD", METALS, ALIAS),
]


@pytest.mark.parametrize(("broker", "written", "symbol", "canonical", "asset_class", "matched_by"), CASES)
def test_resolve(broker, written, symbol, canonical, asset_class, matched_by):
    assert resolve(written, broker) == Resolution(symbol, canonical, asset_class, matched_by)


# Each group names one instrument as different brokers list it: every spelling finds every other.
ALIAS_GROUPS = [
    ["XAUUSD", "GOLD", "XAUUSD.m"],
    ["XAGUSD", "SILVER"],
    ["US30", "DJ30", "WS30", "DJI30", "US30.cash"],
    ["NAS100", "USTEC", "US100", "NDX100"],
    ["GER40", "DE40", "GER30", "DAX40"],
    ["USOIL", "WTI", "XTIUSD", "CL"],
    ["UKOIL", "BRENT", "XBRUSD"],
    ["BTCUSD", "BTC/USD", "XBTUSD"],
    ["SPX500", "US500", "SP500"],
    ["UK100", "FTSE100"],
    ["JP225", "JPN225", "NIKKEI"],
]
ALIAS_PAIRS = [
    (written, listed) for group in ALIAS_GROUPS for written in group for listed in group if written != listed
]


@pytest.mark.parametrize(("written", "listed"), ALIAS_PAIRS)
def test_aliases_find_each_other(written, listed):
    assert resolve(written, ["EURUSD", "USDJPY", "GBPJPY.m", listed]).broker_symbol == listed


@pytest.mark.parametrize(
    "listed",
    [
        "EURUSD.m", "EURUSDm", "EURUSD.pro", "EURUSDpro", "EURUSD.r", "EURUSD_i", "EURUSD#", "EURUSD+",
        "m.EURUSD", "EURUSD.ecn", "EURUSDmicro", "EURUSD-ECN", "EURUSD'", "EUR_USD",
    ],
)  # fmt: skip
def test_broker_decorations_of_eurusd(listed):
    other = listed.replace("EUR", "GBP", 1)
    result = resolve("EURUSD", [other, listed, "USDJPY"])
    assert (result.broker_symbol, result.canonical, result.asset_class) == (listed, "EURUSD", FX)


@pytest.mark.parametrize(
    ("written", "broker"),
    [
        ("EURUSD", ["EURUSDX", "GBPUSD"]),  # an upper-case letter is part of a name, not a suffix
        ("USO", ["USOil", "UKOil"]),  # the ETF is not FXCM's "USOil"
        ("XAU", ["XAU_EUR", "XAG_USD"]),  # gold in euros is not "XAU" + suffix
        ("BTC", ["BTC/EUR", "ETH/USD"]),
        ("US30", ["US300", "US3000"]),
        ("NAS100", ["NAS1000"]),
    ],
)
def test_look_alikes_are_not_variants(written, broker):
    with pytest.raises(UnknownSymbol):
        resolve(written, broker)


# ----------------------------------------------------------------------- plain vs variants, ambiguity


def test_plain_symbol_preferred_over_its_own_variants():
    assert resolve("EURUSD", ["EURUSD.m", "EURUSD", "EURUSD.pro"]) == Resolution(
        "EURUSD", "EURUSD", FX, EXACT
    )
    assert resolve("fiber", ["EURUSD.m", "EURUSD", "EURUSD.pro"]).broker_symbol == "EURUSD"
    assert resolve("XAUUSD", ["GOLD.m", "GOLD", "SILVER"]) == Resolution("GOLD", "XAUUSD", METALS, ALIAS)


@pytest.mark.parametrize(
    ("written", "broker", "candidates"),
    [
        ("EURUSD", ["EURUSD.m", "EURUSD.pro", "GBPUSD.m"], ("EURUSD.m", "EURUSD.pro")),
        ("eur/usd", ["EURUSDm", "EURUSD.ecn"], ("EURUSDm", "EURUSD.ecn")),
        ("XAUUSD", ["GOLD", "XAUUSD.m"], ("GOLD", "XAUUSD.m")),
        ("xau", ["GOLD", "XAUUSD.m", "XAGUSD.m"], ("GOLD", "XAUUSD.m")),
        ("gold", ["GOLD.m", "GOLD.pro"], ("GOLD.m", "GOLD.pro")),
        ("US30", ["DJ30", "WS30"], ("DJ30", "WS30")),
        ("DOW", ["US30.cash", "US30.f"], ("US30.cash", "US30.f")),
        ("OIL", ["WTI", "XTIUSD.m"], ("WTI", "XTIUSD.m")),
        ("BRK", ["#BRK.A", "#BRK.B"], ("#BRK.A", "#BRK.B")),
    ],
)
def test_ambiguous_names_every_candidate(written, broker, candidates):
    with pytest.raises(AmbiguousSymbol) as caught:
        resolve(written, broker)
    error = caught.value
    assert error.name == written
    assert error.candidates == candidates
    for candidate in candidates:
        assert repr(candidate) in str(error)
    assert "override" in str(error)
    assert isinstance(error, SymbolError) and isinstance(error, ValueError)


def test_exact_name_wins_over_an_ambiguous_alias_set():
    # the user wrote the broker's own name: no ambiguity even though XAUUSD.m is gold too
    assert resolve("GOLD", ["GOLD", "XAUUSD.m"]).broker_symbol == "GOLD"
    assert resolve("xauusd.m", ["GOLD", "XAUUSD.m"]).broker_symbol == "XAUUSD.m"


def test_canonical_name_wins_over_other_plain_aliases():
    assert resolve("xau", ["GOLD", "XAUUSD"]).broker_symbol == "XAUUSD"
    assert resolve("NASDAQ", ["USTEC", "NAS100"]).broker_symbol == "NAS100"


def test_company_shares_are_not_taken_for_an_index_alias():
    with pytest.raises(UnknownSymbol) as caught:
        resolve("DOW", [("#DOW", "Dow Inc."), ("EURUSD", None)])
    assert caught.value.candidates == ("#DOW",)


# ----------------------------------------------------------------------------------------- overrides


def test_override_wins_over_an_exact_match():
    broker = ["EURUSD", "EURUSD.pro", "XAUUSD"]
    result = resolve("eurusd", broker, overrides={"EURUSD": "EURUSD.pro"})
    assert result == Resolution("EURUSD.pro", "EURUSD", FX, OVERRIDE)
    # without the override the plain symbol is chosen
    assert resolve("eurusd", broker).broker_symbol == "EURUSD"


def test_override_settles_an_ambiguity_and_covers_aliases_of_the_same_instrument():
    broker = ["EURUSD.m", "EURUSD.pro", "XAUUSD.m", "XAUUSD.pro"]
    overrides = {"gold": "XAUUSD.pro", "EUR/USD": "EURUSD.m"}
    for written in ("GOLD", "Gold", "xau", "XAUUSD", "xauusd"):
        assert resolve(written, broker, overrides=overrides) == Resolution(
            "XAUUSD.pro", "XAUUSD", METALS, OVERRIDE
        )
    assert resolve("eurusd", broker, overrides=overrides).broker_symbol == "EURUSD.m"
    with pytest.raises(AmbiguousSymbol):
        resolve("XAGUSD", [*broker, "XAGUSD.m", "XAGUSD.pro"], overrides=overrides)


def test_override_target_is_case_insensitive_and_returns_the_brokers_spelling():
    result = resolve("GOLD", ["XAUUSD.m", "XAUUSD.pro"], overrides={"Gold": "xauusd.PRO"})
    assert result.broker_symbol == "XAUUSD.pro"


def test_override_can_name_a_symbol_no_alias_would_find():
    result = resolve("apple", ["#AAPL", "#MSFT"], overrides={"APPLE": "#AAPL"})
    assert result == Resolution("#AAPL", "AAPL", STOCKS, OVERRIDE)
    result = resolve("GOLD", ["XAU.spot", "XAUUSD.m"], overrides={"gold": "XAU.spot"})
    assert (result.broker_symbol, result.canonical, result.asset_class) == ("XAU.spot", "XAUUSD", METALS)


def test_literal_override_key_beats_an_alias_key():
    overrides = {"XAUUSD": "XAUUSD.pro", "GOLD": "GOLD"}
    broker = ["GOLD", "XAUUSD.pro"]
    assert resolve("gold", broker, overrides=overrides).broker_symbol == "GOLD"
    assert resolve("xauusd", broker, overrides=overrides).broker_symbol == "XAUUSD.pro"
    with pytest.raises(AmbiguousSymbol) as caught:  # "xau" is neither key; the two disagree
        resolve("xau", broker, overrides=overrides)
    assert caught.value.candidates == ("GOLD", "XAUUSD.pro")


def test_override_to_a_missing_symbol_is_an_error():
    with pytest.raises(InvalidOverride) as caught:
        resolve("GOLD", ["XAUUSD", "XAUUSD.m"], overrides={"gold": "XAUUSD.pro"})
    error = caught.value
    assert isinstance(error, UnknownSymbol) and isinstance(error, SymbolError)
    assert (error.name, error.target) == ("GOLD", "XAUUSD.pro")
    assert "XAUUSD.m" in error.candidates
    assert "'XAUUSD.pro'" in str(error) and "does not list" in str(error)


def test_override_for_another_name_does_not_apply():
    assert resolve("EURUSD", ICMARKETS, overrides={"GBPUSD": "GBPUSD.x"}).matched_by == EXACT


# ----------------------------------------------------------------------------------------- unknown


@pytest.mark.parametrize(
    ("written", "broker", "expected_candidate"),
    [
        ("EURUSX", ICMARKETS, "EURUSD"),
        ("EURUSX", SUFFIX_M, "EURUSD.m"),
        ("XAUUSX", NAMED, None),
        ("AAPL", ICMARKETS, None),
        ("GOLD", ["EURUSD", "GBPUSD"], None),
        ("NAS100", ["NAS1000"], "NAS1000"),
        ("MSFTT", STOCKS_HASH, "#MSFT"),
        ("ZZZZZZ", ICMARKETS, None),
    ],
)
def test_unknown_names(written, broker, expected_candidate):
    with pytest.raises(UnknownSymbol) as caught:
        resolve(written, broker)
    error = caught.value
    assert error.name == written
    assert repr(written) in str(error)
    if expected_candidate is not None:
        assert expected_candidate in error.candidates
        assert repr(expected_candidate) in str(error)


def test_unknown_without_close_matches_says_so():
    with pytest.raises(UnknownSymbol) as caught:
        resolve("ZZZZZZ", ["EURUSD", "XAUUSD"])
    assert caught.value.candidates == ()
    assert "No close matches" in str(caught.value)


@pytest.mark.parametrize("written", ["", "   ", "/"])
def test_empty_name_is_unknown(written):
    with pytest.raises(UnknownSymbol):
        resolve(written, ICMARKETS)


def test_broker_symbols_must_be_a_sequence_not_a_string():
    with pytest.raises(TypeError):
        resolve("EURUSD", "EURUSD")


def test_descriptions_are_accepted_with_plain_names():
    broker = [("EURUSD.m", "Euro vs US Dollar"), "XAUUSD.m", ("US30.m", None)]
    assert resolve("eurusd", broker).broker_symbol == "EURUSD.m"
    assert resolve("gold", broker).broker_symbol == "XAUUSD.m"
    assert resolve("dow", broker).broker_symbol == "US30.m"


# ------------------------------------------------------------------------------------- asset classes


@pytest.mark.parametrize(
    ("name", "description", "expected"),
    [
        ("EURUSD", None, FX),
        ("eurusd.m", None, FX),
        ("EUR/USD", None, FX),
        ("USDJPYpro", None, FX),
        ("m.GBPUSD", None, FX),
        ("EUR_TRY", None, FX),
        ("CABLE", None, FX),
        ("XAUUSD", None, METALS),
        ("GOLD", None, METALS),
        ("xag", None, METALS),
        ("XPTUSD", None, METALS),
        ("XPDUSD.m", None, METALS),
        ("XAUEUR", None, METALS),
        ("GOLDm", None, METALS),
        ("US30", None, INDICES),
        ("DJ30", None, INDICES),
        ("US30.cash", None, INDICES),
        ("USTECm", None, INDICES),
        ("[DJI30]", None, INDICES),
        ("NASDAQ", None, INDICES),
        ("DAX", None, INDICES),
        ("GER40Cash", None, INDICES),
        ("NIKKEI", None, INDICES),
        ("SPX500", None, INDICES),
        ("USOIL", None, ENERGIES),
        ("WTI", None, ENERGIES),
        ("XBRUSD", None, ENERGIES),
        ("OILCash", None, ENERGIES),
        ("USOil", None, ENERGIES),
        ("XNGUSD", None, ENERGIES),
        ("BTCUSD", None, CRYPTO),
        ("BTC", None, CRYPTO),
        ("XBTUSD", None, CRYPTO),
        ("ETH/BTC", None, CRYPTO),
        ("Bitcoin", None, CRYPTO),
        ("DOGEUSDT", None, CRYPTO),
        ("#AAPL", None, STOCKS),
        ("AAPL.NAS", None, STOCKS),
        ("TSLA", None, STOCKS),
        ("VOW3.DE", None, STOCKS),
        ("BRK.B", None, STOCKS),
        ("#DOW", "Dow Inc.", STOCKS),
        ("#GOLD", "Barrick Gold Corp", STOCKS),
        ("Apple", "Apple Inc.", STOCKS),
        ("SPDR500", "SPDR S&P 500 ETF Trust", STOCKS),
        ("XYZCOIN1", "Bitcoin Cash vs US Dollar", CRYPTO),
        ("SPOTAU999", "Gold 999 spot", METALS),
        ("CRUDEX", "Crude Oil Light", ENERGIES),
        ("MYINDEX50", "Some 50 Index", INDICES),
        ("COFFEE", None, None),
        ("CORN", None, None),
        ("SOMETHINGLONG", None, None),
    ],
)
def test_asset_class_of(name, description, expected):
    assert asset_class_of(name, description) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gold", "XAUUSD"),
        ("XAUUSD.m", "XAUUSD"),
        ("US30.cash", "US30"),
        ("USTECm", "NAS100"),
        ("EUR/USD", "EURUSD"),
        ("xbt", "BTCUSD"),
        ("BTC/EUR", "BTCEUR"),
        ("#AAPL", "AAPL"),
        ("AAPL.NAS", "AAPL"),
        ("BRK.B", "BRK.B"),
    ],
)
def test_canonicalize(name, expected):
    assert canonicalize(name) == expected
