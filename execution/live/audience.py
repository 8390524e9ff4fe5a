"""Who receives what: the one place deciding which member's sockets get which live event.

Groups: every event of an organization goes to ``org_group(org)``; a member's sockets on that
organization also join ``user_group(org, user)``, which only ever receives a *kick* (the membership
was removed: the socket closes). A socket needs one of ``CONNECT_PERMISSIONS``; each event type
needs the permission ``EVENT_PERMISSION`` names; a status-only socket (the header indicator)
receives ``STATUS_ONLY_TYPES`` alone.
"""

KICK_CLOSE_CODE = 4403


# What a member needs to receive each event type (anything not listed needs only membership).
EVENT_PERMISSION = {
    "account": "view_accounts",
    "account_removed": "view_accounts",
    "link": "view_accounts",
    "positions": "view_accounts",
    "orders": "view_accounts",
    "tick": "view_accounts",
    "signal": "view_accounts",
    "protection": "view_accounts",
    "trade": "view_accounts",
    "operation": "view_operations",
    "safety": "view_operations",
    "status": "view_operations",
}


# The header indicator alone (``?status=1``) receives only these.
STATUS_ONLY_TYPES = frozenset({"status", "safety", "kick"})
CONNECT_PERMISSIONS = frozenset({"view_accounts", "view_operations"})  # any one of them


def org_group(organization_id: int) -> str:
    return f"ttmt-live.org.{organization_id}"


def user_group(organization_id: int, user_id: int) -> str:
    return f"ttmt-live.org.{organization_id}.user.{user_id}"


def allowed(event_type: str, permissions: frozenset[str], *, status_only: bool = False) -> bool:
    if status_only and event_type not in STATUS_ONLY_TYPES:
        return False
    needed = EVENT_PERMISSION.get(event_type)
    return needed is None or needed in permissions
