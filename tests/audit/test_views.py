"""The audit log page and API: an administrator (``manage_members``) of the organization sees its
events, and only them; anyone else of the organization gets 403, anyone outside it 404."""

import pytest

from audit import kinds
from audit.services import record_audit_event
from clients.services import client_create
from tests.factories import UserFactory, add_member, basic_auth, organization_with_admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_organization():
    return organization_with_admin(UserFactory(), "Other Desk")


@pytest.fixture
def events(organization, admin_user, other_organization):
    """One event in each organization, told apart by their targets' labels."""
    ours = record_audit_event(
        organization=organization,
        actor=admin_user,
        kind=kinds.MEMBER_PERMISSIONS_CHANGED,
        target=organization,
        changes={"permissions": {"before": ["view_organization"], "after": ["view_organization", "trade"]}},
    )
    theirs = record_audit_event(
        organization=other_organization, actor=None, kind=kinds.KILL_SWITCH_ENGAGED, target=other_organization
    )
    return ours, theirs


def page_url(organization):
    return f"/orgs/{organization.slug}/audit/"


def api_url(organization):
    return f"/api/v1/orgs/{organization.slug}/audit-events/"


# --- the page -------------------------------------------------------------------------------------


def test_the_page_shows_the_organizations_events_only(client, admin_user, organization, events):
    client.force_login(admin_user)

    response = client.get(page_url(organization))

    assert response.status_code == 200
    assert list(response.context["page"]) == [events[0]]
    html = response.content.decode()
    row = html.split(f'data-testid="audit-event-{events[0].pk}"', 1)[1].split("</tr>", 1)[0]
    assert "changed a member&#x27;s permissions" in row and admin_user.email in row
    assert "permissions: [&#x27;view_organization&#x27;] →" in row
    assert f'data-testid="audit-event-{events[1].pk}"' not in html and "Other Desk" not in html


def test_the_page_filters_by_kind(client, admin_user, organization, events):
    client.force_login(admin_user)
    revoked = record_audit_event(
        organization=organization, actor=admin_user, kind=kinds.CLIENT_REVOKED, target=organization
    )

    response = client.get(page_url(organization), {"kind": kinds.CLIENT_REVOKED})

    assert list(response.context["page"]) == [revoked]


def test_an_invalid_filter_shows_its_error_and_no_events(client, admin_user, organization, events):
    client.force_login(admin_user)

    response = client.get(page_url(organization), {"since": "yesterday-ish"})

    assert response.status_code == 400
    assert response.context["page"] is None
    assert "since" in response.context["form"].errors


def test_the_page_needs_manage_members(client, organization, events):
    member = add_member(organization, permissions=frozenset({"view_organization", "manage_clients"})).user
    client.force_login(member)

    assert client.get(page_url(organization)).status_code == 403


def test_the_page_of_another_organization_is_404(client, admin_user, other_organization, events):
    client.force_login(admin_user)

    assert client.get(page_url(other_organization)).status_code == 404


# --- the API --------------------------------------------------------------------------------------


def test_the_api_lists_the_organizations_events_only(api, admin_user, organization, events):
    api.force_authenticate(admin_user)

    response = api.get(api_url(organization))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert row["id"] == events[0].pk
    assert row["kind"] == kinds.MEMBER_PERMISSIONS_CHANGED
    assert row["description"] == "changed a member's permissions"
    assert (row["actor"], row["actor_user"], row["actor_client"]) == (admin_user.email, admin_user.pk, None)
    assert (row["target_type"], row["target_id"]) == ("orgs.organization", str(organization.pk))
    assert row["changes"]["permissions"]["after"] == ["view_organization", "trade"]


def test_the_api_filters_by_kind_actor_and_time(api, admin_user, organization, events):
    api.force_authenticate(admin_user)
    record_audit_event(organization=organization, actor=None, kind=kinds.CLIENT_REVOKED, target=organization)

    def ids(**params):
        return [row["id"] for row in api.get(api_url(organization), params).json()["results"]]

    assert ids(kind=kinds.MEMBER_PERMISSIONS_CHANGED) == [events[0].pk]
    assert ids(actor="SYSTEM") != [] and events[0].pk not in ids(actor="system")
    assert ids(until="2000-01-01T00:00:00Z") == []
    assert len(ids(since="2000-01-01T00:00:00Z")) == 2


def test_the_api_is_paginated(api, admin_user, organization, events):
    api.force_authenticate(admin_user)
    record_audit_event(organization=organization, actor=None, kind=kinds.CLIENT_REVOKED, target=organization)

    body = api.get(api_url(organization), {"limit": 1}).json()

    assert (body["count"], len(body["results"])) == (2, 1)
    assert body["next"] is not None


def test_an_invalid_filter_is_a_400_in_the_one_error_shape(api, admin_user, organization, events):
    api.force_authenticate(admin_user)

    response = api.get(api_url(organization), {"kind": "made.up"})

    assert response.status_code == 400
    assert set(response.json()["error"]) == {"status", "code", "message", "fields"}
    assert "kind" in response.json()["error"]["fields"]


def test_the_api_needs_manage_members(api, organization, events):
    api.force_authenticate(add_member(organization, role="trader").user)

    response = api.get(api_url(organization))

    assert response.status_code == 403
    assert "manage_members" in response.json()["error"]["message"]


def test_no_api_client_reads_the_audit_log(api, admin_user, organization, events):
    from orgs import permissions as perms

    bot, secret = client_create(
        organization=organization, created_by=admin_user, name="bot", scopes=sorted(perms.SCOPES)
    )

    response = api.get(api_url(organization), HTTP_AUTHORIZATION=basic_auth(bot.client_id, secret))

    assert response.status_code == 403


def test_another_organizations_slug_is_404(api, admin_user, other_organization, events):
    api.force_authenticate(admin_user)

    response = api.get(api_url(other_organization))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_endpoint_is_in_the_schema(api, admin_user):
    api.force_authenticate(admin_user)

    paths = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    operation = paths["/api/v1/orgs/{slug}/audit-events/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"kind", "actor", "since", "until"}
    assert set(paths["/api/v1/orgs/{slug}/audit-events/"]) == {"get"}
