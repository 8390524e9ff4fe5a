"""The pip table."""

from decimal import Decimal as D

import pytest

from execution.checks import pip_size


@pytest.mark.parametrize(
    "digits, asset_class, symbol, pip",
    [
        (5, "forex", "EURUSD", "0.0001"),
        (3, "forex", "USDJPY", "0.01"),
        (4, "forex", "EURUSD", "0.0001"),
        (2, "forex", "USDJPY", "0.01"),
        (5, None, None, "0.0001"),
        (3, "unknown", None, "0.01"),
        (2, "metals", "XAUUSD", "0.1"),
        (3, "metals", "GOLD.m", "0.1"),
        (2, "metals", None, "0.1"),
        (3, "metals", "XAGUSD", "0.01"),
        (3, "metals", None, "0.01"),
        (2, "indices", "US30", "1.0"),
        (2, "energies", "USOIL", "0.01"),
        (2, "crypto", "BTCUSD", "1.0"),
        (2, "stocks", "AAPL", "0.01"),
    ],
)
def test_pip_size(digits, asset_class, symbol, pip):
    assert pip_size(digits=digits, asset_class=asset_class, symbol=symbol) == D(pip)
