"""Volume computation from the account's risk settings; the volume a signal proposes is never an input.

Promise: the volume is computed (in Decimal) from the settings alone: fixed lots, or a percentage of
the balance risked over the stop-loss distance; scaled by the risk level (normal x1, mid x1.5,
high x2); capped by the risk level's hard cap (5.0 / 7.5 / 10.0 lots), by a per-asset-class cap
(which can only lower it) and by the symbol's maximum; rounded DOWN to the symbol's volume step.
A result below the symbol's minimum raises :class:`VolumeRejected` with the reason, never rounds up.
The result is the total volume of the trade: a caller splitting it across positions splits it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from types import MappingProxyType


class VolumeMode(StrEnum):
    FIXED = "fixed"
    RISK_PERCENT = "risk_percent"


class RiskLevel(StrEnum):
    NORMAL = "normal"
    MID = "mid"
    HIGH = "high"


RISK_MULTIPLIER: Mapping[RiskLevel, Decimal] = MappingProxyType(
    {RiskLevel.NORMAL: Decimal("1"), RiskLevel.MID: Decimal("1.5"), RiskLevel.HIGH: Decimal("2")}
)
HARD_CAP: Mapping[RiskLevel, Decimal] = MappingProxyType(
    {RiskLevel.NORMAL: Decimal("5.0"), RiskLevel.MID: Decimal("7.5"), RiskLevel.HIGH: Decimal("10.0")}
)


@dataclass(frozen=True)
class RiskSettings:
    mode: VolumeMode
    risk_level: RiskLevel = RiskLevel.NORMAL
    fixed_lots: Decimal | None = None
    risk_percent: Decimal | None = None  # of the balance, e.g. Decimal("1") for 1 %
    asset_caps: Mapping[str, Decimal] = field(default_factory=dict)  # asset class -> max lots


@dataclass(frozen=True)
class SymbolSpec:
    tick_size: Decimal
    tick_value: Decimal  # account-currency value of one tick for one lot
    volume_min: Decimal
    volume_max: Decimal
    volume_step: Decimal


@dataclass(frozen=True)
class VolumeResult:
    volume: Decimal
    uncapped: Decimal  # computed from the settings, before caps and rounding
    cap: Decimal
    capped_by: str | None  # which cap lowered the volume, if any


class VolumeRejected(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _positive(value: Decimal | None, what: str) -> Decimal:
    if value is None or not value > 0:
        raise VolumeRejected(f"{what} must be positive, got {value}")
    return value


def compute_volume(
    *,
    settings: RiskSettings,
    balance: Decimal,
    sl_distance: Decimal | None,
    symbol: SymbolSpec,
    asset_class: str,
) -> VolumeResult:
    """The lots to trade, or :class:`VolumeRejected`. ``sl_distance`` is in price units."""
    step = _positive(symbol.volume_step, "symbol volume step")
    volume_min = _positive(symbol.volume_min, "symbol minimum volume")
    if symbol.volume_max < volume_min:
        raise VolumeRejected(f"symbol maximum volume {symbol.volume_max} is below its minimum {volume_min}")
    multiplier = RISK_MULTIPLIER[settings.risk_level]
    if settings.mode is VolumeMode.FIXED:
        uncapped = _positive(settings.fixed_lots, "fixed lots") * multiplier
    else:
        percent = _positive(settings.risk_percent, "risk percent")
        risk_money = _positive(balance, "balance") * percent / 100 * multiplier
        distance = _positive(sl_distance, "stop-loss distance (risk_percent needs a stop loss)")
        ticks = distance / _positive(symbol.tick_size, "symbol tick size")
        uncapped = risk_money / (ticks * _positive(symbol.tick_value, "symbol tick value"))

    caps = [(HARD_CAP[settings.risk_level], f"{settings.risk_level} risk level hard cap")]
    if asset_class in settings.asset_caps:
        caps.append((settings.asset_caps[asset_class], f"{asset_class} asset-class cap"))
    caps.append((symbol.volume_max, "symbol maximum volume"))
    cap, cap_name = min(caps, key=lambda item: item[0])
    capped_by = cap_name if uncapped > cap else None

    volume = (min(uncapped, cap) / step).to_integral_value(rounding=ROUND_FLOOR) * step
    if volume < volume_min:
        limit = f"{cap_name} {cap}" if capped_by else f"computed volume {uncapped:.6f}"
        raise VolumeRejected(
            f"{limit} rounds down to {volume} lots, below the symbol minimum {volume_min} "
            f"(step {step}); not rounding up"
        )
    return VolumeResult(volume=volume, uncapped=uncapped, cap=cap, capped_by=capped_by)
