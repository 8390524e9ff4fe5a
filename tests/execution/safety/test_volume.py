import inspect
from decimal import Decimal as D

import pytest

from execution.safety.volume import (
    RiskLevel,
    RiskSettings,
    SymbolSpec,
    VolumeMode,
    VolumeRejected,
    compute_volume,
)

NORMAL, MID, HIGH = RiskLevel.NORMAL, RiskLevel.MID, RiskLevel.HIGH
FIXED, RISK = VolumeMode.FIXED, VolumeMode.RISK_PERCENT
# EURUSD, 5 digits: one tick (0.00001) of one lot is worth 1 USD.
EURUSD = SymbolSpec(D("0.00001"), D("1"), D("0.01"), D("100"), D("0.01"))
# XAUUSD: one tick (0.01) of one 100 oz lot is worth 1 USD.
XAUUSD = SymbolSpec(D("0.01"), D("1"), D("0.01"), D("50"), D("0.01"))
COARSE = SymbolSpec(D("0.00001"), D("1"), D("0.1"), D("100"), D("0.1"))
SMALL_MAX = SymbolSpec(D("0.00001"), D("1"), D("0.01"), D("2"), D("0.01"))
CAPS = {"forex": D("2.0"), "gold": D("0.50"), "indices": D("1.0"), "crypto": D("20")}


def fixed(lots: str, level: RiskLevel = NORMAL, caps=None) -> RiskSettings:
    return RiskSettings(FIXED, level, fixed_lots=D(lots), asset_caps=caps or {})


def risk(percent: str, level: RiskLevel = NORMAL, caps=None) -> RiskSettings:
    return RiskSettings(RISK, level, risk_percent=D(percent), asset_caps=caps or {})


@pytest.mark.parametrize(
    ("risk_settings", "balance", "sl", "symbol", "asset", "volume", "capped_by"),
    [
        # fixed lots, scaled by the risk level
        (fixed("0.5"), "10000", None, EURUSD, "forex", "0.50", None),
        (fixed("0.5", MID), "10000", None, EURUSD, "forex", "0.75", None),
        (fixed("0.5", HIGH), "10000", None, EURUSD, "forex", "1.00", None),
        # hard caps by risk level
        (fixed("6"), "10000", None, EURUSD, "forex", "5.00", "normal risk level hard cap"),
        (fixed("6", MID), "10000", None, EURUSD, "forex", "7.50", "mid risk level hard cap"),
        (fixed("6", HIGH), "10000", None, EURUSD, "forex", "10.00", "high risk level hard cap"),
        (fixed("4", MID), "10000", None, EURUSD, "forex", "6.00", None),
        # risk percent: 1 % of 10 000 = 100 USD over a 50 pip stop (500 ticks x 1 USD) = 0.2 lots
        (risk("1"), "10000", "0.00500", EURUSD, "forex", "0.20", None),
        (risk("1", MID), "10000", "0.00500", EURUSD, "forex", "0.30", None),
        (risk("1", HIGH), "10000", "0.00500", EURUSD, "forex", "0.40", None),
        (risk("1"), "10000", "0.00300", EURUSD, "forex", "0.33", None),  # 0.3333 rounded down
        (risk("1"), "10000", "0.00070", EURUSD, "forex", "1.42", None),  # 1.4285 rounded down, not up
        (risk("1"), "1000000", "0.00500", EURUSD, "forex", "5.00", "normal risk level hard cap"),
        (risk("2"), "5000", "5.00", XAUUSD, "gold", "0.20", None),
        # per-asset-class caps only ever lower the volume
        (fixed("2", caps=CAPS), "10000", None, XAUUSD, "gold", "0.50", "gold asset-class cap"),
        (fixed("3", caps=CAPS), "10000", None, EURUSD, "forex", "2.00", "forex asset-class cap"),
        (fixed("8", caps=CAPS), "10000", None, EURUSD, "crypto", "5.00", "normal risk level hard cap"),
        (fixed("3", caps=CAPS), "10000", None, EURUSD, "energies", "3.00", None),
        (risk("1", HIGH, CAPS), "1000000", "0.00500", EURUSD, "indices", "1.00", "indices asset-class cap"),
        # the symbol's maximum and step
        (fixed("3"), "10000", None, SMALL_MAX, "forex", "2.00", "symbol maximum volume"),
        (fixed("0.37"), "10000", None, COARSE, "forex", "0.3", None),
        (risk("1"), "10000", "0.00270", COARSE, "forex", "0.3", None),
    ],
)
def test_volume_table(risk_settings, balance, sl, symbol, asset, volume, capped_by):
    result = compute_volume(
        settings=risk_settings,
        balance=D(balance),
        sl_distance=None if sl is None else D(sl),
        symbol=symbol,
        asset_class=asset,
    )
    assert result.volume == D(volume)
    assert result.capped_by == capped_by
    assert result.volume <= result.cap
    assert isinstance(result.volume, D)


@pytest.mark.parametrize(
    ("risk_settings", "balance", "sl", "symbol", "asset", "reason"),
    [
        (risk("1"), "100", "0.00500", EURUSD, "forex", "below the symbol minimum 0.01"),
        (
            fixed("0.05"),
            "100",
            None,
            COARSE,
            "forex",
            "rounds down to 0.0 lots, below the symbol minimum 0.1",
        ),
        (fixed("1", caps={"gold": D("0.005")}), "1000", None, XAUUSD, "gold", "gold asset-class cap 0.005"),
        (risk("1"), "10000", None, EURUSD, "forex", "stop-loss distance"),
        (risk("1"), "10000", "0", EURUSD, "forex", "stop-loss distance"),
        (risk("1"), "0", "0.005", EURUSD, "forex", "balance"),
        (risk("0"), "10000", "0.005", EURUSD, "forex", "risk percent"),
        (RiskSettings(RISK), "10000", "0.005", EURUSD, "forex", "risk percent"),
        (RiskSettings(FIXED), "10000", None, EURUSD, "forex", "fixed lots"),
        (fixed("-1"), "10000", None, EURUSD, "forex", "fixed lots"),
        (fixed("1"), "10000", None, SymbolSpec(D("0.01"), D("1"), D("0.01"), D("50"), D("0")), "x", "step"),
        (
            fixed("1"),
            "10000",
            None,
            SymbolSpec(D("0.01"), D("1"), D("1"), D("0.5"), D("0.01")),
            "x",
            "maximum",
        ),
        (
            risk("1"),
            "10000",
            "1",
            SymbolSpec(D("0"), D("1"), D("0.01"), D("50"), D("0.01")),
            "x",
            "tick size",
        ),
    ],
)
def test_rejections_carry_the_reason(risk_settings, balance, sl, symbol, asset, reason):
    with pytest.raises(VolumeRejected) as caught:
        compute_volume(
            settings=risk_settings,
            balance=D(balance),
            sl_distance=None if sl is None else D(sl),
            symbol=symbol,
            asset_class=asset,
        )
    assert reason in caught.value.reason


def test_the_proposed_signal_volume_is_not_an_input():
    assert set(inspect.signature(compute_volume).parameters) == {
        "settings",
        "balance",
        "sl_distance",
        "symbol",
        "asset_class",
    }


def test_floats_are_refused():
    with pytest.raises(TypeError):
        compute_volume(
            settings=risk("1"), balance=10000.0, sl_distance=D("0.005"), symbol=EURUSD, asset_class="fx"
        )
