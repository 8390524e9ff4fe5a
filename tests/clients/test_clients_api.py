import pytest
from django.test import override_settings

from clients.models import ApiClient
from tests.factories import add_member, basic_auth

pytestmark = pytest.mark.django_db


def clients_url(organization, *parts):
    return f"/api/v1/orgs/{organization.slug}/clients/" + "".join(f"{p}/" for p in parts)


@pytest.fixture
def created(api, admin_user, organization):
    api.force_authenticate(admin_user)
    response = api.post(
        clients_url(organization), {"name": "risk bot", "scopes": ["platforms:read"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    api.force_authenticate(None)
    return response.json()


def as_client(api, client_id, secret):
    api.credentials(HTTP_AUTHORIZATION=basic_auth(client_id, secret))
    return api


def test_secret_is_shown_once_and_stored_as_a_digest(api, admin_user, organization, created):
    assert created["client_id"].startswith("ttmt_")
    secret = created["client_secret"]
    assert len(secret) >= 40
    stored = ApiClient.objects.get()
    assert secret not in (stored.secret_hash, stored.secret_hint)
    assert created["secret_hint"] == f"{secret[:4]}…{secret[-4:]}"

    api.force_authenticate(admin_user)
    for response in (api.get(clients_url(organization)), api.get(clients_url(organization, created["id"]))):
        assert secret not in response.content.decode()
        assert "client_secret" not in response.content.decode()


def test_client_calls_the_api_with_basic_auth_within_its_scopes(api, organization, created):
    as_client(api, created["client_id"], created["client_secret"])
    assert api.get(f"/api/v1/orgs/{organization.slug}/platforms/").status_code == 200
    # platforms:read does not allow writes; clients never manage members or clients
    assert api.post(f"/api/v1/orgs/{organization.slug}/platforms/", {}, format="json").status_code == 403
    assert api.get(f"/api/v1/orgs/{organization.slug}/members/").status_code == 403
    assert api.get(clients_url(organization)).status_code == 403
    assert api.post("/api/v1/orgs/", {"name": "New"}, format="json").status_code == 403
    assert [o["slug"] for o in api.get("/api/v1/orgs/").json()["results"]] == [organization.slug]
    assert ApiClient.objects.get().last_used_at is not None


def test_wrong_or_malformed_credentials_are_401(api, organization, created):
    for header in (
        basic_auth(created["client_id"], "wrong"),
        basic_auth("ttmt_nobody", created["client_secret"]),
        "Basic not-base64!",
        "Basic " + "Zm9v",
    ):
        api.credentials(HTTP_AUTHORIZATION=header)
        response = api.get(f"/api/v1/orgs/{organization.slug}/platforms/")
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "authentication_failed"


@override_settings(TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE=3)
def test_failed_authentication_is_throttled_even_for_the_right_secret_afterwards(api, organization, created):
    url = f"/api/v1/orgs/{organization.slug}/platforms/"
    as_client(api, created["client_id"], "guess")
    assert [api.get(url).status_code for _ in range(3)] == [401, 401, 401]
    assert api.get(url).status_code == 429
    as_client(api, created["client_id"], created["client_secret"])
    assert api.get(url).status_code == 429


def test_rotate_replaces_the_secret_at_once(api, admin_user, organization, created):
    api.force_authenticate(admin_user)
    rotated = api.post(clients_url(organization, created["id"], "rotate")).json()
    api.force_authenticate(None)
    assert rotated["client_id"] == created["client_id"]
    assert rotated["client_secret"] != created["client_secret"]
    url = f"/api/v1/orgs/{organization.slug}/platforms/"
    assert as_client(api, created["client_id"], created["client_secret"]).get(url).status_code == 401
    assert as_client(api, created["client_id"], rotated["client_secret"]).get(url).status_code == 200


def test_revoke_stops_the_client(api, admin_user, organization, created):
    api.force_authenticate(admin_user)
    assert api.delete(clients_url(organization, created["id"])).status_code == 204
    assert api.get(clients_url(organization, created["id"])).json()["active"] is False
    assert api.post(clients_url(organization, created["id"], "rotate")).status_code == 400
    api.force_authenticate(None)
    url = f"/api/v1/orgs/{organization.slug}/platforms/"
    assert as_client(api, created["client_id"], created["client_secret"]).get(url).status_code == 401


def test_scopes_are_validated_and_limited_to_what_the_creator_holds(api, admin_user, organization):
    api.force_authenticate(admin_user)
    response = api.post(clients_url(organization), {"name": "x", "scopes": ["members:write"]}, format="json")
    assert response.status_code == 400
    assert "scopes" in response.json()["error"]["fields"]

    limited = add_member(organization, permissions={"manage_clients", "view_platforms"}).user
    api.force_authenticate(limited)
    response = api.post(clients_url(organization), {"name": "x", "scopes": ["accounts:trade"]}, format="json")
    assert response.status_code == 403
    assert "trade" in response.json()["error"]["fields"]["scopes"][0]
    assert (
        api.post(
            clients_url(organization), {"name": "x", "scopes": ["platforms:read"]}, format="json"
        ).status_code
        == 201
    )
