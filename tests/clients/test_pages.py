"""The API client pages: the secret is shown once, rotated, revoked; refusals shown on the form."""

import re
from html import unescape

import pytest
from django.urls import reverse

from clients import services as clients
from clients.models import ApiClient
from tests.factories import add_member

pytestmark = pytest.mark.django_db


def _url(name, organization, *args) -> str:
    return reverse(name, args=[organization.slug, *args])


def _html(response) -> str:
    """The page's text with entities decoded (so an escaped secret would still be found)."""
    return unescape(response.content.decode())


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _revealed_secret(html: str) -> str:
    match = re.search(r"<th>Client secret</th><td><code>([^<]+)</code>", html)
    assert match, "no secret shown"
    return match.group(1)


def test_client_secret_is_shown_once_then_rotate_and_revoke(admin_client, organization):
    url = _url("clients:list", organization)
    assert "No API clients yet." in _html(admin_client.get(url))

    created = admin_client.post(url, {"name": "Reporting bot", "scopes": ["platforms:read", "accounts:read"]})
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    html = _html(created)
    api_client = ApiClient.objects.get(organization=organization)
    secret = _revealed_secret(html)
    assert html.count(secret) == 1
    assert "it will not be shown again" in html
    assert api_client.client_id in html
    assert clients.client_authenticate(client_id=api_client.client_id, secret=secret) is not None
    assert api_client.scopes == ["accounts:read", "platforms:read"]

    listing = _html(admin_client.get(url))
    assert secret not in listing
    assert "it will not be shown again" not in listing
    assert api_client.client_id in listing and api_client.secret_hint in listing
    assert "platforms:read" in listing and "active" in listing and "never" in listing

    rotated = admin_client.post(_url("clients:rotate", organization, api_client.pk))
    assert rotated.status_code == 200
    new_secret = _revealed_secret(_html(rotated))
    assert new_secret != secret and _html(rotated).count(new_secret) == 1
    assert clients.client_authenticate(client_id=api_client.client_id, secret=secret) is None
    assert clients.client_authenticate(client_id=api_client.client_id, secret=new_secret) is not None
    assert new_secret not in _html(admin_client.get(url))

    revoked = admin_client.post(_url("clients:revoke", organization, api_client.pk), follow=True)
    api_client.refresh_from_db()
    assert not api_client.is_active
    row = re.search(rf'data-testid="client-{api_client.pk}">(.*?)</tr>', _html(revoked), re.S).group(1)
    assert "revoked" in row and "Rotate" not in row
    assert clients.client_authenticate(client_id=api_client.client_id, secret=new_secret) is None

    again = admin_client.post(_url("clients:rotate", organization, api_client.pk), follow=True)
    assert "This client is revoked." in _html(again)
    assert "Client secret" not in _html(again)


def test_client_create_refusals_are_shown_on_the_form(client, organization):
    member = add_member(organization, permissions={"view_organization", "manage_clients", "view_platforms"})
    client.force_login(member.user)
    url = _url("clients:list", organization)

    no_scope = client.post(url, {"name": "Bot"})
    assert no_scope.status_code == 400 and "Give at least one scope." in _html(no_scope)
    beyond = client.post(url, {"name": "Bot", "scopes": ["platforms:write"]})
    assert beyond.status_code == 400
    assert "You cannot give a client permissions you do not hold: manage_platforms." in _html(beyond)
    assert "Client secret" not in _html(beyond)
    assert not ApiClient.objects.exists()

    ok = client.post(url, {"name": "Bot", "scopes": ["platforms:read"]})
    assert ok.status_code == 200 and "Client secret" in _html(ok)
