"""Splitting a total volume across the positions of a trade, nearest TP first."""

from decimal import Decimal as D

import pytest

from execution.checks import split_volume


@pytest.mark.parametrize(
    "total, legs, volume_min, volume_step, expected",
    [
        ("0.04", 4, "0.01", "0.01", ("0.01", "0.01", "0.01", "0.01")),
        ("0.03", 4, "0.01", "0.01", ("0.01", "0.01", "0.01", "0")),
        ("0.05", 3, "0.01", "0.01", ("0.02", "0.02", "0.01")),
        ("0.01", 3, "0.01", "0.01", ("0.01", "0", "0")),
        ("1.00", 3, "0.01", "0.01", ("0.34", "0.33", "0.33")),
        ("0.019", 2, "0.01", "0.01", ("0.01", "0")),  # rounded down to the step first
        ("0.5", 3, "0.1", "0.1", ("0.2", "0.2", "0.1")),
        ("0.25", 3, "0.1", "0.1", ("0.1", "0.1", "0")),
        ("0.10", 2, "0.05", "0.01", ("0.05", "0.05")),
        ("0.09", 2, "0.05", "0.01", ("0.09", "0")),  # two legs would be 0.04 each, below the minimum
        ("0.005", 2, "0.01", "0.01", ("0", "0")),  # below the minimum: the caller rejects
        ("0.30", 0, "0.01", "0.01", ("0.30",)),  # no TP: one position
        ("2", 2, "0", "0.5", ("1.0", "1.0")),
    ],
)
def test_split_volume(total, legs, volume_min, volume_step, expected):
    got = split_volume(total=D(total), legs=legs, volume_min=D(volume_min), volume_step=D(volume_step))
    assert got == tuple(map(D, expected))
    if any(got):
        assert sum(got) == (D(total) // D(volume_step)) * D(volume_step)
