"""The one registry of audit event kinds and the text each is shown with.

A kind is ``<subject>.<what happened>``; its text reads after the actor's name ("ada@example.com
changed a member's permissions"). A new auditable action adds its kind here and calls
``audit.services.record_audit_event`` with it.
"""

from types import MappingProxyType

MEMBER_JOINED = "member.joined"
MEMBER_PERMISSIONS_CHANGED = "member.permissions_changed"
MEMBER_REMOVED = "member.removed"
INVITATION_CREATED = "invitation.created"
INVITATION_REVOKED = "invitation.revoked"
PLATFORM_CREDENTIALS_CHANGED = "platform.credentials_changed"
PLATFORM_CREDENTIALS_CLEARED = "platform.credentials_cleared"
CLIENT_CREATED = "client.created"
CLIENT_SECRET_ROTATED = "client.secret_rotated"
CLIENT_SCOPES_CHANGED = "client.scopes_changed"
CLIENT_REVOKED = "client.revoked"
ACCOUNT_CREDENTIALS_CHANGED = "account.credentials_changed"
ACCOUNT_RISK_SETTINGS_CHANGED = "account.risk_settings_changed"
KILL_SWITCH_ENGAGED = "kill_switch.engaged"
KILL_SWITCH_RELEASED = "kill_switch.released"

KINDS = MappingProxyType(
    {
        MEMBER_JOINED: "joined the organization (accepted an invitation)",
        MEMBER_PERMISSIONS_CHANGED: "changed a member's permissions",
        MEMBER_REMOVED: "removed a member",
        INVITATION_CREATED: "invited a person",
        INVITATION_REVOKED: "revoked an invitation",
        PLATFORM_CREDENTIALS_CHANGED: "changed a trade platform's credentials",
        PLATFORM_CREDENTIALS_CLEARED: "cleared a trade platform's credentials",
        CLIENT_CREATED: "created an API client",
        CLIENT_SECRET_ROTATED: "rotated an API client's secret",
        CLIENT_SCOPES_CHANGED: "changed an API client's scopes",
        CLIENT_REVOKED: "revoked an API client",
        ACCOUNT_CREDENTIALS_CHANGED: "changed a trading account's credentials",
        ACCOUNT_RISK_SETTINGS_CHANGED: "changed a trading account's risk settings",
        KILL_SWITCH_ENGAGED: "engaged the kill switch",
        KILL_SWITCH_RELEASED: "released the kill switch",
    }
)
KIND_CHOICES = list(KINDS.items())
