"""An organization may require two-factor login of its members: set by a member who manages
members (and uses it themselves), enforced on the organization's pages and API for people
without it, not for API clients nor for other organizations."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse

from clients.services import client_create
from orgs import permissions as perms
from tests.factories import UserFactory, add_member, basic_auth, organization_with_admin

pytestmark = pytest.mark.django_db


def with_totp(user):
    TOTP.activate(user, generate_totp_secret())
    return user


def security_url(organization) -> str:
    return f"/api/v1/orgs/{organization.slug}/security/"


@pytest.fixture
def requiring(organization):
    organization.mfa_required = True
    organization.save()
    return organization


def test_an_administrator_with_2fa_requires_it_over_the_api(api, admin_user, organization):
    api.force_login(with_totp(admin_user))

    response = api.patch(security_url(organization), {"mfa_required": True}, format="json")

    assert response.status_code == 200
    assert response.json() == {"mfa_required": True}
    organization.refresh_from_db()
    assert organization.mfa_required
    assert api.get(security_url(organization)).json() == {"mfa_required": True}


def test_requiring_2fa_needs_manage_members_and_2fa_of_ones_own(api, admin_user, organization):
    viewer = with_totp(add_member(organization, role=perms.VIEWER).user)
    api.force_login(viewer)
    response = api.patch(security_url(organization), {"mfa_required": True}, format="json")
    assert response.status_code == 403
    assert api.get(security_url(organization)).json() == {"mfa_required": False}

    api.force_login(admin_user)  # no 2FA yet: requiring it would lock themselves out
    response = api.patch(security_url(organization), {"mfa_required": True}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "mfa_not_enabled"
    organization.refresh_from_db()
    assert not organization.mfa_required


def test_an_administrator_requires_2fa_on_the_security_page(client, admin_user, organization):
    client.force_login(with_totp(admin_user))
    url = reverse("orgs:security", args=[organization.slug])
    assert client.get(url).status_code == 200

    response = client.post(url, {"mfa_required": "on"})

    assert response.url == url
    organization.refresh_from_db()
    assert organization.mfa_required


def test_a_viewer_sees_the_policy_page_but_cannot_change_it(client, organization):
    viewer = add_member(organization, role=perms.VIEWER).user
    client.force_login(viewer)
    url = reverse("orgs:security", args=[organization.slug])
    page = client.get(url)
    assert page.status_code == 200
    assert "Two-factor authentication is not required" in page.content.decode()
    assert 'name="mfa_required"' not in page.content.decode()
    assert client.post(url, {"mfa_required": "on"}).status_code == 403


def test_a_member_without_2fa_is_sent_to_set_it_up_from_the_organizations_pages(client, requiring):
    member = add_member(requiring, role=perms.TRADER).user
    client.force_login(member)

    for url in (
        reverse("orgs:detail", args=[requiring.slug]),
        reverse("platforms:list", args=[requiring.slug]),
        reverse("dashboard", args=[requiring.slug]),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url == reverse("mfa_activate_totp")

    assert client.get(reverse("orgs:list")).status_code == 200  # not an organization's page
    assert client.get(reverse("mfa_index")).status_code == 200


def test_a_member_with_2fa_opens_the_requiring_organizations_pages(client, requiring):
    member = with_totp(add_member(requiring, role=perms.TRADER).user)
    client.force_login(member)
    assert client.get(reverse("orgs:detail", args=[requiring.slug])).status_code == 200


def test_another_organizations_members_are_not_affected(client, api, requiring):
    outsider = UserFactory()
    other = organization_with_admin(outsider, "Other")
    client.force_login(outsider)
    api.force_login(outsider)

    assert client.get(reverse("orgs:detail", args=[other.slug])).status_code == 200
    assert api.get(f"/api/v1/orgs/{other.slug}/").status_code == 200
    # the requiring organization stays hidden from a non-member: 404, not a setup redirect
    assert client.get(reverse("orgs:detail", args=[requiring.slug])).status_code == 404
    assert api.get(f"/api/v1/orgs/{requiring.slug}/").status_code == 404


def test_the_api_refuses_a_member_without_2fa_with_mfa_required(api, requiring):
    member = add_member(requiring, role=perms.TRADER).user
    api.force_login(member)

    for url in (
        f"/api/v1/orgs/{requiring.slug}/",
        f"/api/v1/orgs/{requiring.slug}/members/",
        f"/api/v1/orgs/{requiring.slug}/platforms/",
    ):
        response = api.get(url)
        assert response.status_code == 403, url
        error = response.json()["error"]
        assert (error["status"], error["code"]) == (403, "mfa_required")
        assert "two-factor" in error["message"]

    with_totp(member)
    assert api.get(f"/api/v1/orgs/{requiring.slug}/members/").status_code == 200


def test_api_clients_are_not_affected(api, admin_user, requiring):
    client, secret = client_create(
        organization=requiring, created_by=admin_user, name="bot", scopes=["platforms:read"]
    )
    response = api.get(
        f"/api/v1/orgs/{requiring.slug}/platforms/", HTTP_AUTHORIZATION=basic_auth(client.client_id, secret)
    )
    assert response.status_code == 200
