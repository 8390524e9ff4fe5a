"""An organization's security policy: whether its members must use two-factor login.

Only a member holding ``manage_members`` sets it, and only once they use two-factor login
themselves (so requiring it never locks the person requiring it out). A member of a requiring
organization who has no two-factor login must set it up before using that organization.
"""

from allauth.mfa.utils import is_mfa_enabled

from accounts.models import User
from core.errors import ServiceError
from orgs.models import Organization

MFA_SETUP_MESSAGE = "This organization requires two-factor authentication: set it up to continue."


def organization_set_mfa_required(*, organization: Organization, actor: User, required: bool) -> Organization:
    """The caller has checked ``actor`` holds ``manage_members`` on the organization."""
    if required and not is_mfa_enabled(actor):
        raise ServiceError(
            "Turn on two-factor authentication for yourself before requiring it of members.",
            field="mfa_required",
            code="mfa_not_enabled",
        )
    organization.mfa_required = required
    organization.save(update_fields=["mfa_required"])
    return organization


def mfa_setup_required(*, user: User, organization: Organization) -> bool:
    """True when the organization requires two-factor login and this person has none yet."""
    return organization.mfa_required and not is_mfa_enabled(user)


def member_needs_mfa_setup(*, user: User, slug: str) -> bool:
    """True when ``user`` is a member of the organization ``slug`` and must set up two-factor
    login first; False for anyone else (a non-member's request gets its 404 from the view)."""
    if not user.is_authenticated:
        return False
    requiring = Organization.objects.filter(slug=slug, memberships__user=user, mfa_required=True)
    return requiring.exists() and not is_mfa_enabled(user)  # one query unless the organization requires it
