"""What each organization permission allows, and the role presets: the one place that says so.

Permissions are django-guardian object permissions on an Organization, named ``orgs.<codename>``.
A role is a preset: applying it sets exactly its permissions; an administrator may then adjust
each member's permissions one by one.
"""

from types import MappingProxyType

# codename -> what it allows (also the text shown in forms and the admin)
PERMISSIONS = MappingProxyType(
    {
        "view_organization": "See the organization, its members and invitations",
        "change_organization": "Rename the organization",
        "manage_members": "Invite people, change what members may do, remove members",
        "view_platforms": "See trade platforms and read their report databases",
        "manage_platforms": "Add, edit and delete trade platforms and their credentials",
        "manage_clients": "Create, rotate and revoke API clients",
        "view_accounts": "See trading accounts, positions, orders and symbols",
        "manage_accounts": "Connect, edit and remove trading accounts",
        "trade": "Place, modify, close and cancel orders",
        "view_operations": "See broker operations and the safety state",
    }
)

ADMINISTRATOR = "administrator"
TRADER = "trader"
VIEWER = "viewer"
CUSTOM = "custom"

ROLES = MappingProxyType(
    {
        ADMINISTRATOR: frozenset(PERMISSIONS),
        TRADER: frozenset(
            {"view_organization", "view_platforms", "view_accounts", "trade", "view_operations"}
        ),
        VIEWER: frozenset({"view_organization", "view_platforms", "view_accounts", "view_operations"}),
    }
)
ROLE_CHOICES = [
    (ADMINISTRATOR, "Administrator"),
    (TRADER, "Trader"),
    (VIEWER, "Viewer"),
    (CUSTOM, "Custom"),
]
PRESET_ROLE_CHOICES = [choice for choice in ROLE_CHOICES if choice[0] != CUSTOM]
PERMISSION_CHOICES = list(PERMISSIONS.items())


# API client scopes (``<resource>:<action>``) -> the permission each grants. A client never gets
# organization, member, invitation or client management: no scope maps to those.
SCOPES = MappingProxyType(
    {
        "platforms:read": "view_platforms",
        "platforms:write": "manage_platforms",
        "accounts:read": "view_accounts",
        "accounts:write": "manage_accounts",
        "accounts:trade": "trade",
        "operations:read": "view_operations",
    }
)
SCOPE_CHOICES = [(scope, f"{scope} ({PERMISSIONS[permission]})") for scope, permission in SCOPES.items()]


def permissions_for_scopes(scopes) -> frozenset[str]:
    return frozenset(SCOPES[scope] for scope in scopes if scope in SCOPES)


def role_for(permissions: frozenset[str]) -> str:
    """The preset whose permissions are exactly these, else ``custom``."""
    for role, preset in ROLES.items():
        if preset == permissions:
            return role
    return CUSTOM


def unknown_permissions(permissions: set[str] | frozenset[str]) -> set[str]:
    return set(permissions) - set(PERMISSIONS)
