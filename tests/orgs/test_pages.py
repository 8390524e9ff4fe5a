import pytest
from django.urls import reverse

from orgs import permissions as perms
from orgs.models import Membership, Organization
from orgs.selectors import organization_permissions
from tests.factories import UserFactory, add_member, organization_with_admin

pytestmark = pytest.mark.django_db


def test_organization_list_create_switch_and_rename(client, admin_user, organization):
    client.force_login(admin_user)
    page = client.get(reverse("orgs:list"))
    assert organization.name in page.content.decode()

    response = client.post(reverse("orgs:list"), {"name": "Night Desk"})
    night = Organization.objects.get(name="Night Desk")
    assert response.url == reverse("orgs:detail", args=[night.slug])
    assert client.session["current_organization"] == night.slug

    client.post(reverse("orgs:switch", args=[organization.slug]))
    assert client.session["current_organization"] == organization.slug
    assert 'data-testid="current-org">Acme Trading<' in client.get(reverse("orgs:list")).content.decode()

    client.post(reverse("orgs:rename", args=[organization.slug]), {"name": "Acme Capital"})
    organization.refresh_from_db()
    assert organization.name == "Acme Capital"


def test_member_edit_and_remove_pages(client, admin_user, organization):
    membership = add_member(organization, role="viewer")
    client.force_login(admin_user)
    edit = reverse("orgs:member_edit", args=[organization.slug, membership.pk])
    assert client.get(edit).status_code == 200

    client.post(edit, {"role": "trader", "permissions": ["view_organization", "trade"]})
    assert organization_permissions(user=membership.user, organization=organization) == {
        "view_organization",
        "trade",
    }

    client.post(reverse("orgs:member_remove", args=[organization.slug, membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_last_administrator_cannot_remove_themselves_on_the_page(client, admin_user, organization):
    own = Membership.objects.get(user=admin_user)
    client.force_login(admin_user)
    response = client.post(reverse("orgs:member_remove", args=[organization.slug, own.pk]), follow=True)
    assert "at least one administrator" in response.content.decode()
    assert Membership.objects.filter(pk=own.pk).exists()


def test_a_member_manager_cannot_strip_or_remove_an_administrator_on_the_pages(
    client, admin_user, organization
):
    manager = add_member(organization, permissions={"view_organization", "manage_members"}).user
    own = Membership.objects.get(user=admin_user)
    client.force_login(manager)
    refusal = "You cannot {} a member who holds permissions you do not hold"

    edit = client.post(
        reverse("orgs:member_edit", args=[organization.slug, own.pk]),
        {"role": "viewer", "permissions": ["view_organization"]},
    )
    remove = client.post(reverse("orgs:member_remove", args=[organization.slug, own.pk]), follow=True)

    assert edit.status_code == 400 and refusal.format("change") in edit.content.decode()
    assert refusal.format("remove") in remove.content.decode()
    assert (
        organization_permissions(user=admin_user, organization=organization) == perms.ROLES["administrator"]
    )


def test_pages_of_another_organization_are_404(client, admin_user, organization):
    stranger = UserFactory()
    organization_with_admin(stranger, "Elsewhere")
    client.force_login(stranger)
    membership = Membership.objects.get(user=admin_user)
    for url in (
        reverse("orgs:detail", args=[organization.slug]),
        reverse("orgs:member_edit", args=[organization.slug, membership.pk]),
    ):
        assert client.get(url).status_code == 404
    for url in (
        reverse("orgs:rename", args=[organization.slug]),
        reverse("orgs:member_remove", args=[organization.slug, membership.pk]),
    ):
        assert client.post(url, {"name": "pwned"}).status_code == 404
    organization.refresh_from_db()
    assert organization.name == "Acme Trading"
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_viewer_sees_the_organization_but_cannot_manage_it(client, organization):
    viewer = add_member(organization, role="viewer").user
    client.force_login(viewer)
    page = client.get(reverse("orgs:detail", args=[organization.slug])).content.decode()
    assert "Invite someone" not in page
    assert client.post(reverse("orgs:rename", args=[organization.slug]), {"name": "x"}).status_code == 403
    assert (
        client.post(
            reverse("orgs:invite", args=[organization.slug]), {"email": "a@example.com", "role": "viewer"}
        ).status_code
        == 403
    )


def test_anonymous_is_sent_to_login(client, organization):
    response = client.get(reverse("orgs:detail", args=[organization.slug]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_the_organization_page_links_its_security_policy_and_to_administrators_its_audit_log(
    client, admin_user, organization
):
    security = reverse("orgs:security", args=[organization.slug])
    audit_log = reverse("audit:log", args=[organization.slug])
    client.force_login(admin_user)
    page = client.get(reverse("orgs:detail", args=[organization.slug])).content.decode()
    assert security in page and audit_log in page

    viewer = add_member(organization, role=perms.VIEWER).user
    client.force_login(viewer)
    page = client.get(reverse("orgs:detail", args=[organization.slug])).content.decode()
    assert security in page and audit_log not in page
