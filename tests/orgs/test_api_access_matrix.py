"""Every organization-scoped API route x method, for callers who must not get through.

The routes are enumerated from the URL resolver: a new endpoint without a row in EXPECTED fails
``test_every_route_has_a_row``.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from orgs.models import Invitation, Membership, Organization
from orgs.services import invitation_create
from tests.factories import UserFactory, add_member, organization_with_admin

pytestmark = pytest.mark.django_db

# (route name, method) -> (permission needed, request body)
EXPECTED = {
    ("organization-detail", "GET"): ("view_organization", None),
    ("organization-detail", "PATCH"): ("change_organization", {"name": "Renamed"}),
    ("member-list", "GET"): ("view_organization", None),
    ("member-detail", "GET"): ("view_organization", None),
    ("member-detail", "PATCH"): ("manage_members", {"role": "viewer"}),
    ("member-detail", "DELETE"): ("manage_members", None),
    ("invitation-list", "GET"): ("view_organization", None),
    ("invitation-list", "POST"): ("manage_members", {"email": "new@example.com", "role": "viewer"}),
    ("invitation-detail", "DELETE"): ("manage_members", None),
    ("invitation-resend", "POST"): ("manage_members", None),
}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def organization_routes():
    """(route name, method) for every API route that takes an organization slug."""
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/") or not re.search(r"<(slug:)?slug>|\(\?P<slug>", route):
            continue
        actions = getattr(pattern.callback, "actions", None) or {}
        for method in actions:
            if method not in {"head", "options"}:
                yield pattern.name, method.upper()


def test_every_route_has_a_row():
    assert set(organization_routes()) == set(EXPECTED)


@pytest.fixture
def world():
    """Two organizations, each with an administrator, a second member and an invitation."""
    target_admin = UserFactory()
    target = organization_with_admin(target_admin, "Target")
    other_admin = UserFactory()
    other = organization_with_admin(other_admin, "Other")
    objects = {}
    for organization, admin in ((target, target_admin), (other, other_admin)):
        member = add_member(organization, role="viewer")
        invitation = invitation_create(
            organization=organization,
            invited_by=admin,
            email=f"invitee@{organization.slug}.example",
            role="viewer",
        )
        objects[organization.pk] = {"member": member.pk, "invitation": invitation.pk}
    return {
        "target": target,
        "target_admin": target_admin,
        "other": other,
        "other_admin": other_admin,
        "ids": objects,
    }


def url_for(name, organization, ids):
    base = f"/api/v1/orgs/{organization.slug}/"
    return {
        "organization-detail": base,
        "member-list": base + "members/",
        "member-detail": base + f"members/{ids['member']}/",
        "invitation-list": base + "invitations/",
        "invitation-detail": base + f"invitations/{ids['invitation']}/",
        "invitation-resend": base + f"invitations/{ids['invitation']}/resend/",
    }[name]


def snapshot():
    return (
        list(Organization.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values()),
        list(Invitation.objects.order_by("pk").values()),
    )


def call(api, method, url, body):
    return getattr(api, method.lower())(url, body, format="json")


CASES = sorted(EXPECTED)


@pytest.mark.parametrize(("name", "method"), CASES)
def test_a_user_of_another_organization_gets_404_and_changes_nothing(api, world, name, method):
    _, body = EXPECTED[(name, method)]
    api.force_authenticate(world["other_admin"])
    before = snapshot()

    response = call(api, method, url_for(name, world["target"], world["ids"][world["target"].pk]), body)

    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "method"),
    [c for c in CASES if "detail" in c[0] and c[0] != "organization-detail"]
    + [("invitation-resend", "POST")],
)
def test_an_object_of_another_organization_is_404_under_ones_own_slug(api, world, name, method):
    _, body = EXPECTED[(name, method)]
    api.force_authenticate(world["target_admin"])
    before = snapshot()

    response = call(api, method, url_for(name, world["target"], world["ids"][world["other"].pk]), body)

    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(("name", "method"), CASES)
def test_a_member_without_the_permission_gets_403_and_changes_nothing(api, world, name, method):
    needed, body = EXPECTED[(name, method)]
    from orgs.permissions import PERMISSIONS

    member = add_member(world["target"], permissions=set(PERMISSIONS) - {needed}).user
    api.force_authenticate(member)
    before = snapshot()

    response = call(api, method, url_for(name, world["target"], world["ids"][world["target"].pk]), body)

    assert response.status_code == 403, response.content
    assert needed in response.json()["error"]["message"]
    assert snapshot() == before


@pytest.mark.parametrize(("name", "method"), CASES)
def test_a_member_with_just_that_permission_gets_through(api, world, name, method):
    needed, body = EXPECTED[(name, method)]
    member = add_member(world["target"], permissions={needed}).user
    api.force_authenticate(member)
    if body and "role" in body:  # granting needs holding: grant only what this member holds
        body = {k: v for k, v in body.items() if k != "role"} | {"permissions": [needed]}

    response = call(api, method, url_for(name, world["target"], world["ids"][world["target"].pk]), body)

    assert response.status_code < 300, response.content


def test_anonymous_gets_403_everywhere(api, world):
    for name, method in CASES:
        _, body = EXPECTED[(name, method)]
        response = call(api, method, url_for(name, world["target"], world["ids"][world["target"].pk]), body)
        assert response.status_code == 403
