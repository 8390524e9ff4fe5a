"""The size of one pip, the unit route settings (default SL/TP, maximum spread/distance) are in.

Promise: ``pip_size(digits=..., asset_class=..., symbol=...)`` returns a Decimal from this table
(a "point" is one unit of the last digit, ``10 ** -digits``):

===============  =============================================================================
asset class      pip
===============  =============================================================================
forex            10 points on 5- and 3-digit symbols (0.0001 / 0.01); 1 point otherwise
metals           0.1 for gold (symbol containing XAU or GOLD; with no symbol, 2 digits or fewer);
                 0.01 for silver and the others
indices          1.0
energies         0.01
crypto           1.0
stocks           0.01
None / unknown   like forex
===============  =============================================================================

Pure: no I/O, no Django.
"""

from decimal import Decimal

_FIXED = {
    "indices": Decimal("1.0"),
    "energies": Decimal("0.01"),
    "crypto": Decimal("1.0"),
    "stocks": Decimal("0.01"),
}


def pip_size(*, digits: int, asset_class: str | None, symbol: str | None = None) -> Decimal:
    if asset_class in _FIXED:
        return _FIXED[asset_class]
    if asset_class == "metals":
        name = (symbol or "").upper()
        gold = "XAU" in name or "GOLD" in name or (symbol is None and digits <= 2)
        return Decimal("0.1") if gold else Decimal("0.01")
    point = Decimal(1).scaleb(-digits)
    return point * 10 if digits in (3, 5) else point
