"""Instruments and per-server symbol catalogs of the simulated brokers.

An *instrument* is the underlying market (one price path shared by every server: XAUUSD on
'SimBroker-Demo' and GOLD on 'SimMarkets-Live' move together). A *catalog entry* is how one broker server
lists it: name, digits, contract size, volume limits, spread, stops and freeze levels, trading sessions.
All sessions are in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from execution.broker.gateways.base import TradingSession

D = Decimal

# --------------------------------------------------------------------------------------------------
# Sessions (UTC, weekday 0 = Monday)
# --------------------------------------------------------------------------------------------------


def _week(days: dict[int, list[tuple[str, str]]]) -> tuple[TradingSession, ...]:
    def minutes(text: str) -> int:
        hours, mins = text.split(":")
        return int(hours) * 60 + int(mins)

    return tuple(
        TradingSession(day, minutes(start), minutes(end))
        for day, windows in sorted(days.items())
        for start, end in windows
    )


ALL_DAY = [("00:00", "24:00")]

#: Forex 24x5: Sunday 22:00 to Friday 21:55 UTC.
FOREX_SESSIONS = _week(
    {6: [("22:00", "24:00")], 0: ALL_DAY, 1: ALL_DAY, 2: ALL_DAY, 3: ALL_DAY, 4: [("00:00", "21:55")]}
)

#: Metals 24x5 with the daily one-hour maintenance break (21:00-22:00 UTC) most brokers have.
_METAL_DAY = [("00:00", "21:00"), ("22:00", "24:00")]
METAL_SESSIONS = _week(
    {
        6: [("23:00", "24:00")],
        0: _METAL_DAY,
        1: _METAL_DAY,
        2: _METAL_DAY,
        3: _METAL_DAY,
        4: [("00:00", "20:55")],
    }
)

#: US index and energy CFDs (on futures): daily break 21:00-22:00 UTC, weekend closed.
_US_DAY = [("00:00", "21:00"), ("22:00", "24:00")]
US_FUTURES_SESSIONS = _week(
    {6: [("22:00", "24:00")], 0: _US_DAY, 1: _US_DAY, 2: _US_DAY, 3: _US_DAY, 4: [("00:00", "21:00")]}
)

#: German index cash CFD: 06:00-20:00 UTC on weekdays (closed overnight and at the weekend).
_EU_DAY = [("06:00", "20:00")]
EU_INDEX_SESSIONS = _week({0: _EU_DAY, 1: _EU_DAY, 2: _EU_DAY, 3: _EU_DAY, 4: _EU_DAY})

#: Crypto 24x7.
CRYPTO_SESSIONS = _week({day: ALL_DAY for day in range(7)})


# --------------------------------------------------------------------------------------------------
# Instruments
# --------------------------------------------------------------------------------------------------

AssetClass = Literal["forex", "metal", "index", "energy", "crypto"]


@dataclass(frozen=True)
class Instrument:
    key: str
    asset_class: AssetClass
    description: str
    base_currency: str
    profit_currency: str
    reference_price: float
    daily_volatility: float  # standard deviation of a one-day log return

    @property
    def forex_margin(self) -> bool:
        """Forex margin is taken in the base currency without the price (MT5 'Forex' calc mode)."""
        return self.asset_class == "forex"


INSTRUMENTS: dict[str, Instrument] = {
    i.key: i
    for i in [
        Instrument("EURUSD", "forex", "Euro vs US Dollar", "EUR", "USD", 1.0850, 0.005),
        Instrument("GBPUSD", "forex", "Great Britain Pound vs US Dollar", "GBP", "USD", 1.2700, 0.006),
        Instrument("USDJPY", "forex", "US Dollar vs Japanese Yen", "USD", "JPY", 151.50, 0.006),
        Instrument("AUDUSD", "forex", "Australian Dollar vs US Dollar", "AUD", "USD", 0.6600, 0.007),
        Instrument("USDCHF", "forex", "US Dollar vs Swiss Franc", "USD", "CHF", 0.8850, 0.005),
        Instrument("USDCAD", "forex", "US Dollar vs Canadian Dollar", "USD", "CAD", 1.3600, 0.004),
        Instrument("EURGBP", "forex", "Euro vs Great Britain Pound", "EUR", "GBP", 0.8550, 0.004),
        Instrument("USDTRY", "forex", "US Dollar vs Turkish Lira", "USD", "TRY", 32.50, 0.008),
        Instrument("XAUUSD", "metal", "Gold vs US Dollar", "XAU", "USD", 2350.00, 0.010),
        Instrument("XAGUSD", "metal", "Silver vs US Dollar", "XAG", "USD", 28.000, 0.018),
        Instrument("US30", "index", "Dow Jones Industrial Average", "USD", "USD", 39000.00, 0.009),
        Instrument("NAS100", "index", "Nasdaq 100", "USD", "USD", 18200.00, 0.013),
        Instrument("GER40", "index", "DAX 40", "EUR", "EUR", 18300.00, 0.010),
        Instrument("USOIL", "energy", "WTI Crude Oil", "USD", "USD", 78.00, 0.020),
        Instrument("BTCUSD", "crypto", "Bitcoin vs US Dollar", "BTC", "USD", 65000.00, 0.030),
        Instrument("ETHUSD", "crypto", "Ethereum vs US Dollar", "ETH", "USD", 3400.00, 0.035),
    ]
}


# --------------------------------------------------------------------------------------------------
# Catalogs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    instrument: str  # key in INSTRUMENTS
    digits: int
    contract_size: Decimal
    tick_size: Decimal
    volume_min: Decimal
    volume_max: Decimal
    volume_step: Decimal
    spread_points: int  # typical spread; the feed varies it between 1x and 1.5x
    sessions: tuple[TradingSession, ...]
    stops_level: int = 0
    freeze_level: int = 0  # points: no SL/TP/price change this close to the market
    trading_allowed: bool = True
    max_leverage: int | None = None  # caps the account leverage for this symbol (crypto)

    @property
    def point(self) -> Decimal:
        return Decimal(1).scaleb(-self.digits)

    @property
    def spec_instrument(self) -> Instrument:
        return INSTRUMENTS[self.instrument]


@dataclass(frozen=True)
class ServerCatalog:
    server: str
    entries: dict[str, CatalogEntry]

    def get(self, name: str) -> CatalogEntry | None:
        return self.entries.get(name)

    def names(self) -> list[str]:
        return list(self.entries)

    def by_instrument(self, instrument: str) -> CatalogEntry | None:
        for entry in self.entries.values():
            if entry.instrument == instrument:
                return entry
        return None


def _fx(
    name, instrument, spread, *, digits=None, stops=0, freeze=0, vmax="100", allowed=True
) -> CatalogEntry:
    if digits is None:
        digits = 3 if instrument.endswith("JPY") or instrument == "USDTRY" else 5
    return CatalogEntry(
        name=name,
        instrument=instrument,
        digits=digits,
        contract_size=D(100000),
        tick_size=D(1).scaleb(-digits),
        volume_min=D("0.01"),
        volume_max=D(vmax),
        volume_step=D("0.01"),
        spread_points=spread,
        sessions=FOREX_SESSIONS,
        stops_level=stops,
        freeze_level=freeze,
        trading_allowed=allowed,
    )


def _cfd(
    name,
    instrument,
    *,
    digits,
    contract,
    spread,
    sessions,
    vmin="0.01",
    vmax="50",
    step="0.01",
    tick=None,
    stops=0,
    freeze=0,
    max_leverage=None,
) -> CatalogEntry:
    return CatalogEntry(
        name=name,
        instrument=instrument,
        digits=digits,
        contract_size=D(contract),
        tick_size=D(tick) if tick is not None else D(1).scaleb(-digits),
        volume_min=D(vmin),
        volume_max=D(vmax),
        volume_step=D(step),
        spread_points=spread,
        sessions=sessions,
        stops_level=stops,
        freeze_level=freeze,
        max_leverage=max_leverage,
    )


def _catalog(server: str, entries: list[CatalogEntry]) -> ServerCatalog:
    return ServerCatalog(server, {entry.name: entry for entry in entries})


#: Plain MetaTrader names, standard account.
SIMBROKER_DEMO = _catalog(
    "SimBroker-Demo",
    [
        _fx("EURUSD", "EURUSD", 12),
        _fx("GBPUSD", "GBPUSD", 15),
        _fx("USDJPY", "USDJPY", 14),
        _fx("AUDUSD", "AUDUSD", 14),
        _fx("USDCHF", "USDCHF", 16),
        _fx("USDCAD", "USDCAD", 18),
        _fx("EURGBP", "EURGBP", 15),
        _cfd("XAUUSD", "XAUUSD", digits=2, contract=100, spread=30, sessions=METAL_SESSIONS),
        _cfd("XAGUSD", "XAGUSD", digits=3, contract=5000, spread=30, sessions=METAL_SESSIONS),
        _cfd("US30", "US30", digits=2, contract=1, spread=250, sessions=US_FUTURES_SESSIONS, vmin="0.1",
             vmax="100", step="0.1", stops=100),
        _cfd("NAS100", "NAS100", digits=2, contract=1, spread=150, sessions=US_FUTURES_SESSIONS, vmin="0.1",
             vmax="100", step="0.1", stops=100),
        _cfd("GER40", "GER40", digits=2, contract=1, spread=150, sessions=EU_INDEX_SESSIONS, vmin="0.1",
             vmax="100", step="0.1", stops=100),
        _cfd("USOIL", "USOIL", digits=2, contract=1000, spread=4, sessions=US_FUTURES_SESSIONS),
        _cfd("BTCUSD", "BTCUSD", digits=2, contract=1, spread=3000, sessions=CRYPTO_SESSIONS, vmax="10",
             max_leverage=20),
        _cfd("ETHUSD", "ETHUSD", digits=2, contract=1, spread=250, sessions=CRYPTO_SESSIONS, vmin="0.1",
             vmax="100", step="0.1", max_leverage=20),
    ],
)  # fmt: skip

#: ECN account: '.m' suffix on FX/crypto, renamed CFDs, 10-unit index contracts, raw spreads.
SIMMARKETS_LIVE = _catalog(
    "SimMarkets-Live",
    [
        _fx("EURUSD.m", "EURUSD", 2),
        _fx("GBPUSD.m", "GBPUSD", 4),
        _fx("USDJPY.m", "USDJPY", 4),
        _fx("AUDUSD.m", "AUDUSD", 4),
        _fx("USDCHF.m", "USDCHF", 5),
        _fx("USDCAD.m", "USDCAD", 5),
        _fx("EURGBP.m", "EURGBP", 5),
        _fx("USDTRY.m", "USDTRY", 400, allowed=False),  # listed, trading disabled
        _cfd("GOLD", "XAUUSD", digits=2, contract=100, spread=12, sessions=METAL_SESSIONS, vmax="100"),
        _cfd("SILVER", "XAGUSD", digits=3, contract=5000, spread=20, sessions=METAL_SESSIONS, vmax="100"),
        _cfd("DJ30", "US30", digits=1, contract=10, spread=20, sessions=US_FUTURES_SESSIONS, stops=10),
        _cfd("USTEC", "NAS100", digits=1, contract=10, spread=12, sessions=US_FUTURES_SESSIONS, stops=10),
        _cfd("DE40", "GER40", digits=1, contract=10, spread=12, sessions=EU_INDEX_SESSIONS, stops=10),
        _cfd("WTI", "USOIL", digits=3, contract=1000, spread=30, sessions=US_FUTURES_SESSIONS),
        _cfd("BTCUSD.m", "BTCUSD", digits=2, contract=1, spread=1500, sessions=CRYPTO_SESSIONS, vmax="20",
             max_leverage=10),
        _cfd("ETHUSD.m", "ETHUSD", digits=2, contract=1, spread=150, sessions=CRYPTO_SESSIONS, vmax="200",
             max_leverage=10),
    ],
)  # fmt: skip

#: 'pro' suffix on FX/metals/crypto, '.cash' on index and energy CFDs, 1-pip stops level and
#: half-pip freeze level on FX.
SIMTRADE_PRO = _catalog(
    "SimTrade-Pro",
    [
        _fx("EURUSDpro", "EURUSD", 8, stops=10, freeze=5, vmax="50"),
        _fx("GBPUSDpro", "GBPUSD", 10, stops=10, freeze=5, vmax="50"),
        _fx("USDJPYpro", "USDJPY", 10, stops=10, freeze=5, vmax="50"),
        _fx("AUDUSDpro", "AUDUSD", 10, stops=10, freeze=5, vmax="50"),
        _fx("USDCHFpro", "USDCHF", 12, stops=10, freeze=5, vmax="50"),
        _fx("USDCADpro", "USDCAD", 12, stops=10, freeze=5, vmax="50"),
        _fx("EURGBPpro", "EURGBP", 12, stops=10, freeze=5, vmax="50"),
        _cfd("XAUUSDpro", "XAUUSD", digits=2, contract=100, spread=20, sessions=METAL_SESSIONS, stops=20),
        _cfd("XAGUSDpro", "XAGUSD", digits=3, contract=5000, spread=25, sessions=METAL_SESSIONS, stops=20),
        _cfd("US30.cash", "US30", digits=2, contract=1, spread=200, sessions=US_FUTURES_SESSIONS, vmin="0.01",
             stops=200),
        _cfd("US100.cash", "NAS100", digits=2, contract=1, spread=120, sessions=US_FUTURES_SESSIONS,
             vmin="0.01", stops=200),
        _cfd("GER40.cash", "GER40", digits=2, contract=1, spread=120, sessions=EU_INDEX_SESSIONS, vmin="0.01",
             stops=200),
        _cfd("USOIL.cash", "USOIL", digits=2, contract=1000, spread=3, sessions=US_FUTURES_SESSIONS),
        _cfd("BTCUSDpro", "BTCUSD", digits=2, contract=1, spread=2000, sessions=CRYPTO_SESSIONS, vmax="5",
             max_leverage=5),
    ],
)  # fmt: skip

CATALOGS: dict[str, ServerCatalog] = {c.server: c for c in (SIMBROKER_DEMO, SIMMARKETS_LIVE, SIMTRADE_PRO)}

#: Currencies that can be converted through the feed (via USD).
USD_PAIRS: dict[str, tuple[str, bool]] = {
    # currency: (instrument, True if the currency is the base currency of the instrument)
    "EUR": ("EURUSD", True),
    "GBP": ("GBPUSD", True),
    "AUD": ("AUDUSD", True),
    "JPY": ("USDJPY", False),
    "CHF": ("USDCHF", False),
    "CAD": ("USDCAD", False),
    "TRY": ("USDTRY", False),
    "XAU": ("XAUUSD", True),
    "XAG": ("XAGUSD", True),
    "BTC": ("BTCUSD", True),
    "ETH": ("ETHUSD", True),
}
