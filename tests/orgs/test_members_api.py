import pytest

from orgs import permissions as perms
from orgs.models import Membership
from orgs.selectors import organization_permissions
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db


def members_url(organization, pk=None):
    return f"/api/v1/orgs/{organization.slug}/members/" + (f"{pk}/" if pk else "")


def test_members_list_shows_role_and_permissions(api, admin_user, organization):
    add_member(organization, UserFactory(email="zed@example.com"), role="trader")
    api.force_authenticate(admin_user)

    rows = api.get(members_url(organization)).json()

    assert [(r["email"], r["role"]) for r in rows] == [
        (admin_user.email, "administrator"),
        ("zed@example.com", "trader"),
    ]
    assert rows[1]["permissions"] == sorted(perms.ROLES["trader"])


def test_administrator_applies_a_role_then_adjusts_single_permissions(api, admin_user, organization):
    membership = add_member(organization, role="viewer")
    api.force_authenticate(admin_user)

    response = api.patch(members_url(organization, membership.pk), {"role": "trader"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "trader"

    custom = sorted(perms.ROLES["trader"] - {"trade"} | {"manage_platforms"})
    response = api.patch(members_url(organization, membership.pk), {"permissions": custom}, format="json")
    assert response.json() == response.json() | {"role": "custom", "permissions": custom}
    assert organization_permissions(user=membership.user, organization=organization) == set(custom)


def test_the_last_administrator_can_be_neither_demoted_nor_removed(api, admin_user, organization):
    own = Membership.objects.get(user=admin_user)
    api.force_authenticate(admin_user)

    demote = api.patch(members_url(organization, own.pk), {"role": "viewer"}, format="json")
    remove = api.delete(members_url(organization, own.pk))

    for response in (demote, remove):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "last_administrator"
        assert "at least one administrator" in response.json()["error"]["fields"]["non_field_errors"][0]
    assert (
        organization_permissions(user=admin_user, organization=organization) == perms.ROLES["administrator"]
    )

    second = add_member(organization, role="administrator")
    assert api.patch(members_url(organization, own.pk), {"role": "viewer"}, format="json").status_code == 200
    api.force_authenticate(second.user)
    assert api.delete(members_url(organization, own.pk)).status_code == 204


def test_nobody_grants_more_than_they_hold(api, organization):
    manager = add_member(organization, permissions={"view_organization", "manage_members"}).user
    target = add_member(organization, role="viewer")
    api.force_authenticate(manager)

    response = api.patch(members_url(organization, target.pk), {"permissions": ["trade"]}, format="json")

    assert response.status_code == 403
    assert "trade" in response.json()["error"]["fields"]["permissions"][0]
    assert organization_permissions(user=target.user, organization=organization) == perms.ROLES["viewer"]


MEMBER_MANAGER = frozenset({"view_organization", "manage_members"})


def test_a_member_manager_can_neither_strip_nor_remove_an_administrator(api, admin_user, organization):
    manager = add_member(organization, permissions=MEMBER_MANAGER).user
    own = Membership.objects.get(user=admin_user)
    api.force_authenticate(manager)

    strip = api.patch(
        members_url(organization, own.pk), {"permissions": ["view_organization"]}, format="json"
    )
    remove = api.delete(members_url(organization, own.pk))

    for response in (strip, remove):
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "permission_denied"
        assert (
            "holds permissions you do not hold: change_organization" in error["fields"]["non_field_errors"][0]
        )
    assert (
        organization_permissions(user=admin_user, organization=organization) == perms.ROLES["administrator"]
    )


def test_a_member_manager_changes_and_removes_members_at_or_below_their_permissions(api, organization):
    manager = add_member(organization, permissions=MEMBER_MANAGER).user
    peer = add_member(organization, permissions={"view_organization"})
    api.force_authenticate(manager)

    response = api.patch(
        members_url(organization, peer.pk), {"permissions": sorted(MEMBER_MANAGER)}, format="json"
    )

    assert response.status_code == 200
    assert organization_permissions(user=peer.user, organization=organization) == MEMBER_MANAGER
    assert api.delete(members_url(organization, peer.pk)).status_code == 204


def test_the_last_member_holding_every_permission_can_neither_give_one_up_nor_leave(
    api, admin_user, organization
):
    """Another administrator holding all but one permission does not count: nobody could ever
    grant that permission again."""
    add_member(organization, permissions=perms.ROLES["administrator"] - {"trade"})
    own = Membership.objects.get(user=admin_user)
    api.force_authenticate(admin_user)

    without_trade = sorted(perms.ROLES["administrator"] - {"trade"})
    give_up = api.patch(members_url(organization, own.pk), {"permissions": without_trade}, format="json")
    leave = api.delete(members_url(organization, own.pk))

    for response in (give_up, leave):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "last_administrator"
    assert (
        organization_permissions(user=admin_user, organization=organization) == perms.ROLES["administrator"]
    )


def test_unknown_permission_is_a_field_error(api, admin_user, organization):
    target = add_member(organization)
    api.force_authenticate(admin_user)
    response = api.patch(members_url(organization, target.pk), {"permissions": ["fly"]}, format="json")
    assert response.status_code == 400
    assert "permissions" in response.json()["error"]["fields"]


def test_removing_a_member_takes_effect_at_once(api, admin_user, organization):
    removed = add_member(organization, role="administrator").user
    other = api.__class__()
    other.force_authenticate(removed)
    assert other.get(f"/api/v1/orgs/{organization.slug}/").status_code == 200

    api.force_authenticate(admin_user)
    membership = Membership.objects.get(user=removed)
    assert api.delete(members_url(organization, membership.pk)).status_code == 204

    assert other.get(f"/api/v1/orgs/{organization.slug}/").status_code == 404
    assert other.get(members_url(organization)).status_code == 404
    assert organization_permissions(user=removed, organization=organization) == frozenset()
    from guardian.shortcuts import get_perms

    assert get_perms(removed, organization) == []


def test_organizations_list_create_rename(api, admin_user, organization):
    api.force_authenticate(admin_user)
    created = api.post("/api/v1/orgs/", {"name": "Second Desk"}, format="json")
    assert created.status_code == 201
    slug = created.json()["slug"]
    assert slug.startswith("second-desk-")

    listed = api.get("/api/v1/orgs/").json()
    assert {o["name"] for o in listed["results"]} == {"Acme Trading", "Second Desk"}
    assert api.patch(f"/api/v1/orgs/{slug}/", {"name": "Desk 2"}, format="json").json()["name"] == "Desk 2"
    assert api.post("/api/v1/orgs/", {"name": ""}, format="json").json()["error"]["fields"]["name"]


def test_other_peoples_organizations_are_not_listed(api, admin_user, organization):
    stranger = UserFactory()
    api.force_authenticate(stranger)
    assert api.get("/api/v1/orgs/").json()["results"] == []
