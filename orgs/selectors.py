"""Reads scoped to the caller. Nothing here returns another organization's rows."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from guardian.models import UserObjectPermission
from guardian.shortcuts import get_perms

from accounts.models import User
from clients.models import ApiClient
from orgs import permissions as perms
from orgs.models import Invitation, Membership, Organization


def organizations_for_user(user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name", "id")


def organization_for_member(*, user: User, slug: str) -> Organization | None:
    """The organization with this slug if the user is a member; None otherwise (callers 404)."""
    if not user.is_authenticated:
        return None
    return organizations_for_user(user).filter(slug=slug).first()


def organizations_of_caller(*, user: User, client: ApiClient | None) -> QuerySet[Organization]:
    """The organizations a caller reaches: an API client its own, a person those they belong to."""
    if client is not None:
        return Organization.objects.filter(pk=client.organization_id)
    return organizations_for_user(user)


def caller_access(
    *, user: User, client: ApiClient | None, slug: str
) -> tuple[Organization | None, frozenset[str]]:
    """The organization a caller (a user, or an API client) reaches under ``slug`` and what it
    may do there; (None, empty) when it is not its organization."""
    if client is not None:
        if client.organization.slug != slug:
            return None, frozenset()
        return client.organization, perms.permissions_for_scopes(client.scopes)
    organization = organization_for_member(user=user, slug=slug)
    if organization is None:
        return None, frozenset()
    return organization, organization_permissions(user=user, organization=organization)


def organization_permissions(*, user: User, organization: Organization) -> frozenset[str]:
    """The user's permission codenames on the organization; empty for a non-member."""
    if not Membership.objects.filter(organization=organization, user=user).exists():
        return frozenset()
    return frozenset(get_perms(user, organization))


def members_with_permissions(
    organization: Organization,
    *,
    membership_id: int | None = None,
) -> list[tuple[Membership, frozenset[str]]]:
    """Members (or the one member) of the organization, each with its permission codenames,
    in two queries."""
    memberships = Membership.objects.filter(organization=organization).select_related("user")
    if membership_id is not None:
        memberships = memberships.filter(pk=membership_id)
    memberships = list(memberships.order_by("user__email"))
    rows = UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Organization),
        object_pk=str(organization.pk),
        user__in=[m.user_id for m in memberships],
    ).values_list("user_id", "permission__codename")
    by_user: dict[int, set[str]] = {}
    for user_id, codename in rows:
        by_user.setdefault(user_id, set()).add(codename)
    return [(m, frozenset(by_user.get(m.user_id, ()))) for m in memberships]


def invitations_for(organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization=organization).select_related("invited_by")
