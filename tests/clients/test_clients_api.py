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


@override_settings(TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE=10)
def test_failures_are_throttled_yet_the_right_secret_from_that_ip_gets_through(api, organization, created):
    url = f"/api/v1/orgs/{organization.slug}/platforms/"
    as_client(api, created["client_id"], "guess")
    statuses = [api.get(url, REMOTE_ADDR="198.51.100.7").status_code for _ in range(20)]
    assert statuses == [401] * 10 + [429] * 10
    throttled = api.get(url, REMOTE_ADDR="198.51.100.7")
    assert throttled.json()["error"]["code"] == "throttled" and "Retry-After" in throttled

    as_client(api, created["client_id"], created["client_secret"])
    assert api.get(url, REMOTE_ADDR="198.51.100.7").status_code == 200


def _second_client(api, admin_user, organization) -> dict:
    api.force_authenticate(admin_user)
    response = api.post(
        clients_url(organization), {"name": "other bot", "scopes": ["platforms:read"]}, format="json"
    )
    api.force_authenticate(None)
    return response.json()


@override_settings(TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE=10)
def test_failures_for_one_client_do_not_throttle_another(api, admin_user, organization, created):
    other = _second_client(api, admin_user, organization)
    url = f"/api/v1/orgs/{organization.slug}/platforms/"
    as_client(api, created["client_id"], "guess")
    for n in range(20):  # spread over many addresses: counted per client id too
        api.get(url, REMOTE_ADDR=f"198.51.100.{n + 1}")
    assert api.get(url, REMOTE_ADDR="203.0.113.50").status_code == 429

    as_client(api, other["client_id"], "typo")
    assert api.get(url, REMOTE_ADDR="203.0.113.60").status_code == 401
    as_client(api, other["client_id"], other["client_secret"])
    assert api.get(url, REMOTE_ADDR="198.51.100.1").status_code == 200


def _failures_seen_from(api, url, count: int, **headers) -> list[int]:
    """``count`` failed authentications, each with another unknown client id (so that only the
    per-IP count can throttle them)."""
    statuses = []
    for n in range(count):
        api.credentials(HTTP_AUTHORIZATION=basic_auth(f"ttmt_nobody{n}", "guess"))
        statuses.append(
            api.get(url, **{key: value.format(n=n) for key, value in headers.items()}).status_code
        )
    return statuses


@override_settings(TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE=10, TTMT_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_a_spoofed_forwarded_for_from_a_client_is_ignored(api, organization):
    url = f"/api/v1/orgs/{organization.slug}/platforms/"
    statuses = _failures_seen_from(
        api, url, 11, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.{n}"
    )
    assert statuses == [401] * 10 + [429]  # all counted on 198.51.100.7


@override_settings(TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE=10, TTMT_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_forwarded_for_from_a_trusted_proxy_names_the_client(api, organization):
    url = f"/api/v1/orgs/{organization.slug}/platforms/"
    spread = _failures_seen_from(api, url, 11, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.{n}")
    assert spread == [401] * 11  # eleven clients behind the proxy, one failure each

    one = _failures_seen_from(
        api, url, 11, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="9.9.9.{n}, 203.0.113.99"
    )
    assert one == [401] * 10 + [429]  # one client, whatever it wrote to the left of the proxy's entry


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
