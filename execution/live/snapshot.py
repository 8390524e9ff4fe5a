"""What a live socket is sent on connect and on resync: bounded reads, filtered by permission.

Also the header's trading status (green / yellow / red per account) and the cache of each
account's latest book and streaming link, which the streaming process keeps fresh.
"""

import logging

from django.core.cache import cache
from django.utils import timezone

from execution.accounts.models import TradingAccount
from execution.broker.gateways.base import GatewayError
from execution.broker.registry import connector_for
from execution.live.events import (
    STATE_EVENTS,
    account_data,
    iso_time,
    operation_data,
    order_data,
    position_data,
    safety_event_data,
)
from execution.orders.models import Operation
from execution.protection.selectors import open_trade_plans
from execution.safety.models import SafetyEvent
from execution.safety.selectors import account_safety

logger = logging.getLogger(__name__)
MAX_ACCOUNTS = 100
MAX_BOOK = 200  # positions, and orders, per account
MAX_OPERATIONS = 50
MAX_SAFETY_EVENTS = 20
BOOK_CACHE_SECONDS = 120
GREEN, YELLOW, RED = "green", "yellow", "red"
_LEVEL_ORDER = {GREEN: 0, YELLOW: 1, RED: 2}


def _accounts(organization_id: int):
    return TradingAccount.objects.filter(organization_id=organization_id).select_related("platform")[
        :MAX_ACCOUNTS
    ]


def account_status(account) -> dict:
    """One account's line of the header indicator, from ``selectors.account_safety``."""
    safety = account_safety(account)
    pause, health = safety["pause_state"], safety["broker_health"]
    level = RED if pause == "paused" or health == "paused" else YELLOW if pause == "testing" else GREEN
    return {
        "account_id": account.pk,
        "name": account.name,
        "level": level,
        "pause_state": pause,
        "seconds_to_test": safety["seconds_to_test"],
        "consecutive_failures": safety["consecutive_failures"],
        "broker_health": health,
        "broker_health_seconds_remaining": safety["broker_health_seconds_remaining"],
    }


def trading_status(organization_id: int) -> dict:
    """Green: every account trades; yellow: one is testing after a pause; red: one is paused, or
    the broker health monitor paused its platform."""
    lines = [account_status(account) for account in _accounts(organization_id)]
    level = max((line["level"] for line in lines), key=_LEVEL_ORDER.__getitem__, default=GREEN)
    return {"type": "status", "level": level, "accounts": lines, "server_time": iso_time(timezone.now())}


def _book_key(account_id: int) -> str:
    return f"ttmt:live:book:{account_id}"


def remember_book(
    account_id: int,
    *,
    positions: list[dict] | None = None,
    orders: list[dict] | None = None,
    link: dict | None = None,
) -> None:
    """Keep the account's latest positions, orders and streaming link state for snapshots (written
    by the streaming process; gone ``BOOK_CACHE_SECONDS`` after it stops refreshing them)."""
    book = cache.get(_book_key(account_id)) or {}
    for name, value in (("positions", positions), ("orders", orders), ("link", link)):
        if value is not None:
            book[name] = value
    cache.set(_book_key(account_id), book, BOOK_CACHE_SECONDS)


def account_link(account_id: int) -> dict | None:
    """The streaming link of the account ({state, reason}), None when not streamed."""
    return (cache.get(_book_key(account_id)) or {}).get("link")


def account_book(account) -> tuple[list[dict] | None, list[dict] | None]:
    """Positions and orders: the streaming process's latest, else the venue's cheap read where it
    has one (the simulated broker); None when unknown (a MetaApi account not streamed yet)."""
    book = cache.get(_book_key(account.pk)) or {}
    positions, orders = book.get("positions"), book.get("orders")
    if (positions is None or orders is None) and account.is_set_up:
        try:
            found = connector_for(account.platform).snapshot_book(account)
        except GatewayError as error:
            logger.info("snapshot: reading account %s failed: %s", account.pk, error)
        else:
            if found is not None:
                positions = [position_data(p) for p in found[0][:MAX_BOOK]]
                orders = [order_data(o) for o in found[1][:MAX_BOOK]]
    return positions, orders


def snapshot(organization, permissions: frozenset[str], *, status_only: bool = False) -> dict:
    """Everything the dashboard shows, bounded, filtered by the member's permissions."""
    data: dict = {
        "type": "snapshot",
        "organization": {"slug": organization.slug, "name": organization.name},
        "permissions": sorted(permissions),
        "can_trade": "trade" in permissions,
        "status_only": status_only,
        "server_time": iso_time(timezone.now()),
    }
    if "view_operations" in permissions:
        data["status"] = trading_status(organization.pk)
    if status_only:
        return data
    accounts = list(_accounts(organization.pk))
    if "view_accounts" in permissions:
        data["accounts"] = [account_data(account) for account in accounts]
        data["positions"], data["orders"], data["links"] = {}, {}, {}
        for account in accounts:
            positions, orders = account_book(account)
            data["positions"][str(account.pk)] = positions
            data["orders"][str(account.pk)] = orders
            data["links"][str(account.pk)] = account_link(account.pk)
        data["trades"] = open_trade_plans(organization_id=organization.pk)
    if "view_operations" in permissions:
        operations = Operation.objects.filter(organization_id=organization.pk)[:MAX_OPERATIONS]
        data["operations"] = [operation_data(op, STATE_EVENTS.get(op.state, op.state)) for op in operations]
        events = SafetyEvent.objects.filter(organization_id=organization.pk)[:MAX_SAFETY_EVENTS]
        data["safety_events"] = [safety_event_data(event) for event in events]
    return data
