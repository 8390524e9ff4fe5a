"""How many lots a new order trades: from the account's risk settings, never from the caller.

Promise: :func:`order_volume` reads the account's risk settings (the defaults when it has none) and
the symbol's specification, and returns the volume policy's result (``execution.safety.volume``);
an order that cannot be sent at that volume (an unknown symbol, a volume below the symbol's minimum)
raises :class:`Rejected` with the reason, and so does a setting stored out of its bounds (saved
before they were enforced, or written around them: ``RiskSettings.problems``), never a crash of the
worker. It records nothing: the pipeline does.
"""

from decimal import Decimal

from execution.accounts.models import AccountSymbol, RiskSettings, TradingAccount
from execution.safety import volume as volume_policy


class Rejected(Exception):
    """The operation cannot be sent at all (e.g. the volume is below the symbol's minimum)."""


def order_volume(
    *,
    account: TradingAccount,
    symbol: str,
    entry: Decimal,
    sl: Decimal | None,
    own_risk: dict | None = None,
    multiplier: Decimal = Decimal(1),
) -> volume_policy.VolumeResult:
    """The volume of a new order (the total of a trade of several positions). ``own_risk``
    (``{mode, fixed_lots, risk_percent}``: a signal route's own settings) replaces the account's
    mode and amounts, keeping its risk level and caps; ``multiplier`` (a route's lot multiplier)
    scales the amount before the caps."""
    account_symbol = (  # the symbol and the account's risk settings in one query
        AccountSymbol.objects.filter(account=account, name=symbol)
        .select_related("account__risk_settings")
        .first()
    )
    if account_symbol is None:
        raise Rejected(f"Unknown symbol {symbol!r} on this account.")
    try:
        settings_row = account_symbol.account.risk_settings
    except RiskSettings.DoesNotExist:
        settings_row = RiskSettings(account=account)
    effective = RiskSettings(
        mode=own_risk["mode"] if own_risk else settings_row.mode,
        risk_level=settings_row.risk_level,
        fixed_lots=(own_risk or {}).get("fixed_lots") or settings_row.fixed_lots,
        risk_percent=(own_risk or {}).get("risk_percent") or settings_row.risk_percent,
        asset_caps=settings_row.asset_caps,
    )
    problems = effective.problems()
    if problems:
        listed = "; ".join(f"{field}: {problem}" for field, problem in problems.items())
        raise Rejected(f"The risk settings cannot size an order ({listed}). Correct them and retry.")
    risk = volume_policy.RiskSettings(
        mode=volume_policy.VolumeMode(effective.mode),
        risk_level=volume_policy.RiskLevel(effective.risk_level),
        fixed_lots=Decimal(str(effective.fixed_lots)) * multiplier,
        risk_percent=Decimal(str(effective.risk_percent)) * multiplier,
        asset_caps={asset: Decimal(str(lots)) for asset, lots in effective.asset_caps.items()},
    )
    spec = volume_policy.SymbolSpec(
        tick_size=account_symbol.tick_size,
        tick_value=account_symbol.tick_value,
        volume_min=account_symbol.volume_min,
        volume_max=account_symbol.volume_max,
        volume_step=account_symbol.volume_step,
    )
    try:
        return volume_policy.compute_volume(
            settings=risk,
            balance=account.balance or Decimal(0),
            sl_distance=abs(entry - sl) if sl is not None else None,
            symbol=spec,
            asset_class=account_symbol.asset_class or None,
        )
    except volume_policy.VolumeRejected as rejection:
        raise Rejected(f"Volume rejected: {rejection.reason}") from None
