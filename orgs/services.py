"""Everything that changes organizations, memberships and invitations.

Rules kept here: an organization always keeps at least one full administrator (a member holding
every permission); nobody grants a permission they do not hold, nor changes or removes a member
holding one they do not hold (only members at or below one's own permissions); removing a member
revokes their permissions in the same transaction; an invitation is used at most once, before it
expires, and only by a person logged in with the invited email (a new person's account gets an
emailed password, which they log in with: opening the link never logs anyone in).
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm

from accounts.models import User
from accounts.services import email_is_registered, user_signup
from audit import kinds
from audit.services import AnyRequest, field_changes, record_audit_event
from core.errors import ServiceError
from orgs import permissions as perms
from orgs.models import Invitation, Membership, Organization, hash_token
from orgs.selectors import organization_permissions


class InvitationInvalid(ServiceError):
    """The invitation link cannot be used; ``code`` says why (shown to the person)."""


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60].strip("-") or "org"
    return f"{base}-{secrets.token_hex(3)}"


def _set_member_permissions(*, organization: Organization, user: User, permissions: frozenset[str]) -> None:
    _clear_member_permissions(organization=organization, user=user)
    for codename in sorted(permissions):
        assign_perm(f"orgs.{codename}", user, organization)


def _clear_member_permissions(*, organization: Organization, user: User) -> None:
    UserObjectPermission.objects.filter(
        user=user,
        content_type=ContentType.objects.get_for_model(Organization),
        object_pk=str(organization.pk),
    ).delete()


def _holds_everything(permissions: frozenset[str]) -> bool:
    return permissions >= frozenset(perms.PERMISSIONS)


def _others_hold_everything(organization: Organization, *, excluding: User) -> bool:
    """Whether a member other than ``excluding`` holds every permission."""
    return (
        UserObjectPermission.objects.filter(
            content_type=ContentType.objects.get_for_model(Organization),
            object_pk=str(organization.pk),
            permission__codename__in=list(perms.PERMISSIONS),
            user__memberships__organization=organization,
        )
        .exclude(user=excluding)
        .values("user")
        .annotate(held=Count("permission", distinct=True))
        .filter(held=len(perms.PERMISSIONS))
        .exists()
    )


def _check_keeps_a_full_administrator(
    *, organization: Organization, member: User, held: frozenset[str], after: frozenset[str]
) -> None:
    """Refuse a change that would leave no member holding every permission (``after`` is what the
    member will hold: empty when they leave or are removed)."""
    gives_up_everything = _holds_everything(held) and not _holds_everything(after)
    if gives_up_everything and not _others_hold_everything(organization, excluding=member):
        raise ServiceError(
            "An organization must keep at least one administrator holding every permission.",
            code="last_administrator",
        )


def _check_outranks(*, actor: User, organization: Organization, held: frozenset[str], verb: str) -> None:
    """Refuse to change or remove a member holding a permission the actor does not hold."""
    beyond = held - organization_permissions(user=actor, organization=organization)
    if beyond:
        raise ServiceError(
            f"You cannot {verb} a member who holds permissions you do not hold: {', '.join(sorted(beyond))}.",
            code="permission_denied",
        )


def _check_grantable(
    *, actor: User, organization: Organization, permissions: frozenset[str], field: str
) -> None:
    unknown = perms.unknown_permissions(permissions)
    if unknown:
        raise ServiceError(f"Unknown permissions: {', '.join(sorted(unknown))}.", field=field)
    beyond = permissions - organization_permissions(user=actor, organization=organization)
    if beyond:
        raise ServiceError(
            f"You cannot grant permissions you do not hold: {', '.join(sorted(beyond))}.",
            field=field,
            code="permission_denied",
        )


def _resolve_permissions(role: str, permissions: list[str] | None) -> tuple[str, frozenset[str]]:
    if permissions is None:
        if role not in perms.ROLES:
            raise ServiceError(
                "Choose a role (administrator, trader, viewer) or list permissions.", field="role"
            )
        return role, perms.ROLES[role]
    chosen = frozenset(permissions)
    return perms.role_for(chosen), chosen


@transaction.atomic
def person_signup(*, email: str, user: User | None = None) -> User:
    """A person signs up on their own: their account (password generated and emailed) and their
    first organization, of which they are the administrator."""
    user = user_signup(email=email, user=user)
    local_part = user.email.split("@", 1)[0]
    organization_create(creator=user, name=f"{local_part}'s organization")
    return user


def organization_create(*, creator: User, name: str) -> Organization:
    name = name.strip()
    if not name:
        raise ServiceError("A name is required.", field="name")
    organization = Organization.objects.create(name=name, slug=_unique_slug(name))
    membership_create(organization=organization, user=creator, permissions=perms.ROLES[perms.ADMINISTRATOR])
    return organization


@transaction.atomic
def membership_create(*, organization: Organization, user: User, permissions: frozenset[str]) -> Membership:
    """Make the user a member holding exactly these permissions. No grant check here: the
    callers are organization creation and invitation acceptance, whose grants were checked
    when the invitation was made."""
    membership = Membership.objects.create(
        organization=organization, user=user, role=perms.role_for(permissions)
    )
    _set_member_permissions(organization=organization, user=user, permissions=permissions)
    return membership


def organization_rename(*, organization: Organization, name: str) -> Organization:
    name = name.strip()
    if not name:
        raise ServiceError("A name is required.", field="name")
    organization.name = name
    organization.save(update_fields=["name"])
    return organization


@transaction.atomic
def membership_update(
    *,
    actor: User,
    membership: Membership,
    role: str | None = None,
    permissions: list[str] | None = None,
    request: AnyRequest | None = None,
) -> Membership:
    """Apply a role preset, or an explicit permission list (which wins over ``role``)."""
    organization = Organization.objects.select_for_update().get(pk=membership.organization_id)
    if role is None and permissions is None:
        raise ServiceError("Give a role or a list of permissions.")
    role, chosen = _resolve_permissions(role or perms.CUSTOM, permissions)
    _check_grantable(
        actor=actor,
        organization=organization,
        permissions=chosen,
        field="permissions" if permissions is not None else "role",
    )
    held = organization_permissions(user=membership.user, organization=organization)
    _check_outranks(actor=actor, organization=organization, held=held, verb="change")
    _check_keeps_a_full_administrator(
        organization=organization, member=membership.user, held=held, after=chosen
    )
    before = {"role": membership.role, "permissions": sorted(held)}
    _set_member_permissions(organization=organization, user=membership.user, permissions=chosen)
    membership.role = role
    membership.save(update_fields=["role"])
    changes = field_changes(before, {"role": role, "permissions": sorted(chosen)})
    if changes:
        record_audit_event(
            organization=organization,
            actor=actor,
            kind=kinds.MEMBER_PERMISSIONS_CHANGED,
            target=membership,
            changes=changes,
            request=request,
        )
    return membership


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership, request: AnyRequest | None = None) -> None:
    """Remove a member (``actor`` is the member themselves when they leave)."""
    organization = Organization.objects.select_for_update().get(pk=membership.organization_id)
    held = organization_permissions(user=membership.user, organization=organization)
    _check_outranks(actor=actor, organization=organization, held=held, verb="remove")
    _check_keeps_a_full_administrator(
        organization=organization, member=membership.user, held=held, after=frozenset()
    )
    record_audit_event(
        organization=organization,
        actor=actor,
        kind=kinds.MEMBER_REMOVED,
        target=membership,
        changes={
            "role": {"before": membership.role, "after": None},
            "permissions": {"before": sorted(held), "after": None},
        },
        request=request,
    )
    _clear_member_permissions(organization=organization, user=membership.user)
    membership.delete()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


@transaction.atomic
def invitation_create(
    *,
    organization: Organization,
    invited_by: User,
    email: str,
    role: str | None = None,
    permissions: list[str] | None = None,
    request: AnyRequest | None = None,
) -> Invitation:
    email = email.strip().lower()
    role, chosen = _resolve_permissions(role or perms.CUSTOM, permissions)
    _check_grantable(
        actor=invited_by,
        organization=organization,
        permissions=chosen,
        field="permissions" if permissions is not None else "role",
    )
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ServiceError("This person is already a member.", field="email", code="already_member")
    pending = Invitation.objects.select_for_update().filter(
        organization=organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    if pending.exists():
        raise ServiceError(
            "An invitation to this email is already pending: resend or revoke it.",
            field="email",
            code="already_invited",
        )
    token, token_hash = _new_token()
    now = timezone.now()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        permissions=sorted(chosen),
        token_hash=token_hash,
        invited_by=invited_by,
        created_at=now,
        sent_at=now,
        expires_at=now + timedelta(days=settings.TTMT_INVITATION_TTL_DAYS),
    )
    record_audit_event(
        organization=organization,
        actor=invited_by,
        kind=kinds.INVITATION_CREATED,
        target=invitation,
        changes={
            "email": {"before": None, "after": email},
            "permissions": {"before": None, "after": sorted(chosen)},
        },
        request=request,
    )
    transaction.on_commit(lambda: _send_invitation_email(invitation=invitation, token=token))
    return invitation


def _require_pending(invitation: Invitation) -> None:
    if invitation.status != Invitation.PENDING:
        raise ServiceError(f"This invitation is {invitation.status}.", code=invitation.status)


@transaction.atomic
def invitation_revoke(
    *, invitation: Invitation, actor: User, request: AnyRequest | None = None
) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    _require_pending(invitation)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record_audit_event(
        organization=invitation.organization,
        actor=actor,
        kind=kinds.INVITATION_REVOKED,
        target=invitation,
        changes={"email": {"before": invitation.email, "after": None}},
        request=request,
    )
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation) -> Invitation:
    """Send a fresh link (the old one stops working) and restart the expiry clock.
    An expired invitation can be resent; an accepted or revoked one cannot."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise ServiceError(f"This invitation is {invitation.status}.", code=invitation.status)
    token, invitation.token_hash = _new_token()
    invitation.sent_at = timezone.now()
    invitation.expires_at = invitation.sent_at + timedelta(days=settings.TTMT_INVITATION_TTL_DAYS)
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    transaction.on_commit(lambda: _send_invitation_email(invitation=invitation, token=token))
    return invitation


INVALID_MESSAGES = {
    "not_found": "This invitation link is not valid. It may have been replaced by a newer one.",
    Invitation.EXPIRED: "This invitation has expired. Ask the organization for a new one.",
    Invitation.REVOKED: "This invitation was revoked.",
    Invitation.ACCEPTED: "This invitation has already been used.",
}


def invitation_for_token(token: str, *, user: User | None = None, lock: bool = False) -> Invitation:
    """The pending invitation behind a link, or InvitationInvalid saying why it is unusable:
    unknown, expired, revoked, used, or (given a logged-in ``user``) meant for another email."""
    queryset = Invitation.objects.select_related("organization", "invited_by")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    invitation = queryset.filter(token_hash=hash_token(token)).first()
    if invitation is None:
        raise InvitationInvalid(INVALID_MESSAGES["not_found"], code="not_found")
    if invitation.status != Invitation.PENDING:
        raise InvitationInvalid(INVALID_MESSAGES[invitation.status], code=invitation.status)
    if user is not None and user.is_authenticated:
        if invitation.email.lower() != user.email.lower():
            raise InvitationInvalid(
                f"This invitation was sent to {invitation.email}, but you are logged in as "
                f"{user.email}. Log out and open the link again.",
                code="wrong_user",
            )
        if Membership.objects.filter(organization=invitation.organization, user=user).exists():
            raise InvitationInvalid("You are already a member of this organization.", code="already_member")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = invitation_for_token(token, user=user, lock=True)
    membership = membership_create(
        organization=invitation.organization,
        user=user,
        permissions=frozenset(invitation.permissions),
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    record_audit_event(
        organization=invitation.organization,
        actor=user,
        kind=kinds.MEMBER_JOINED,
        target=membership,
        changes={"permissions": {"before": None, "after": sorted(invitation.permissions)}},
    )
    return membership


@transaction.atomic
def invitation_signup(*, token: str) -> User:
    """A person without an account creates one from the link: it gets a generated password,
    emailed to the invited address. They join once they log in with it and accept (reading that
    email is what proves the address; holding the link alone proves nothing)."""
    invitation = invitation_for_token(token, lock=True)
    if email_is_registered(invitation.email):
        raise InvitationInvalid(
            "An account with this email already exists: log in to accept.", code="account_exists"
        )
    return user_signup(email=invitation.email, record_email_address=True)


def _send_invitation_email(*, invitation: Invitation, token: str) -> None:
    context = {
        "invitation": invitation,
        "organization": invitation.organization,
        "invited_by": invitation.invited_by,
        "url": settings.TTMT_BASE_URL + reverse("invitations:open", args=[token]),
        "permissions": [perms.PERMISSIONS[p] for p in invitation.permissions],
    }
    send_mail(
        subject=render_to_string("orgs/email/invitation_subject.txt", context).strip(),
        message=render_to_string("orgs/email/invitation_message.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )
