"""Each audited action records exactly one event, with its actor, kind and target, and never a
secret's value; a refused change records nothing; the change and its record commit together."""

import json
import re

import pytest
from django.core import mail

from audit import kinds
from audit.models import AuditEvent
from clients.models import ApiClient
from clients.services import client_create, client_revoke, client_rotate
from execution.accounts import services as account_services
from execution.accounts.models import RiskSettings, TradingAccount
from orgs import permissions as perms
from orgs import services as organization_services
from tests.factories import UserFactory, add_member, basic_auth, connected_simulated_account

pytestmark = pytest.mark.django_db


def only_event(organization) -> AuditEvent:
    (event,) = AuditEvent.objects.filter(organization=organization)
    return event


def assert_not_in_row(event: AuditEvent, *secrets: str) -> None:
    row = json.dumps(list(AuditEvent.objects.filter(pk=event.pk).values()), default=str)
    for secret in secrets:
        assert secret not in row


def clients_url(organization, *parts):
    return f"/api/v1/orgs/{organization.slug}/clients/" + "".join(f"{p}/" for p in parts)


def accounts_url(organization, *parts):
    return f"/api/v1/orgs/{organization.slug}/accounts/" + "".join(f"{p}/" for p in parts)


@pytest.fixture
def admin_api(api, admin_user):
    api.force_authenticate(admin_user)
    return api


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization)  # connecting is not audited: the log starts empty


# --- API clients ----------------------------------------------------------------------------------


def test_creating_a_client_records_who_created_it_and_never_the_secret(admin_api, admin_user, organization):
    response = admin_api.post(
        clients_url(organization), {"name": "bot", "scopes": ["accounts:read"]}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    event = only_event(organization)
    assert (event.kind, event.actor_user, event.actor_label) == (
        kinds.CLIENT_CREATED,
        admin_user,
        admin_user.email,
    )
    assert (event.target_type, event.target_id) == ("clients.apiclient", str(body["id"]))
    assert event.changes == {
        "name": {"before": None, "after": "bot"},
        "scopes": {"before": None, "after": ["accounts:read"]},
        "secret": {"changed": True},
    }
    assert event.ip == "127.0.0.1"
    assert_not_in_row(event, body["client_secret"], ApiClient.objects.get().secret_hash)


def test_rotating_a_secret_records_one_event_without_either_secret(admin_api, admin_user, organization):
    client, old_secret = client_create(
        organization=organization, created_by=admin_user, name="bot", scopes=["accounts:read"]
    )

    response = admin_api.post(clients_url(organization, client.pk, "rotate"))

    assert response.status_code == 200, response.content
    event = AuditEvent.objects.get(kind=kinds.CLIENT_SECRET_ROTATED)
    assert AuditEvent.objects.filter(organization=organization).count() == 2  # created, rotated
    assert (event.actor_user, event.target_id, event.changes) == (
        admin_user,
        str(client.pk),
        {"secret": {"changed": True}},
    )
    client.refresh_from_db()
    assert_not_in_row(event, old_secret, response.json()["client_secret"], client.secret_hash)


def test_revoking_a_client_on_its_page_records_one_event_and_revoking_again_none(
    client, admin_user, organization
):
    api_client, _ = client_create(
        organization=organization, created_by=admin_user, name="bot", scopes=["accounts:read"]
    )
    client.force_login(admin_user)

    client.post(f"/orgs/{organization.slug}/clients/{api_client.pk}/revoke/")
    client.post(f"/orgs/{organization.slug}/clients/{api_client.pk}/revoke/")

    (event,) = AuditEvent.objects.filter(kind=kinds.CLIENT_REVOKED)
    assert (event.actor_user, event.target_id) == (admin_user, str(api_client.pk))
    assert event.changes == {"status": {"before": "active", "after": "revoked"}}


def test_revoking_through_the_api_records_the_actor(admin_api, admin_user, organization):
    api_client, _ = client_create(
        organization=organization, created_by=admin_user, name="bot", scopes=["accounts:read"]
    )

    assert admin_api.delete(clients_url(organization, api_client.pk)).status_code == 204

    assert AuditEvent.objects.get(kind=kinds.CLIENT_REVOKED).actor_user == admin_user


@pytest.mark.parametrize(
    "body",
    [{"name": " ", "scopes": ["accounts:read"]}, {"name": "bot", "scopes": ["nope:read"]}, {"name": "bot"}],
)
def test_a_refused_client_creation_records_nothing(admin_api, organization, body):
    response = admin_api.post(clients_url(organization), body, format="json")

    assert response.status_code == 400
    assert not AuditEvent.objects.exists()


def test_rotating_a_revoked_client_records_nothing_more(admin_user, organization):
    api_client, _ = client_create(
        organization=organization, created_by=admin_user, name="bot", scopes=["accounts:read"]
    )
    client_revoke(client=api_client, actor=admin_user)

    with pytest.raises(Exception, match="revoked"):
        client_rotate(client=api_client, actor=admin_user)

    assert not AuditEvent.objects.filter(kind=kinds.CLIENT_SECRET_ROTATED).exists()


def test_a_change_and_its_record_commit_together(admin_user, organization, monkeypatch):
    api_client, _ = client_create(
        organization=organization, created_by=admin_user, name="bot", scopes=["accounts:read"]
    )

    def failing(**kwargs):
        raise RuntimeError("the log is unavailable")

    monkeypatch.setattr("clients.services.record_audit_event", failing)
    with pytest.raises(RuntimeError):
        client_revoke(client=api_client, actor=admin_user)

    api_client.refresh_from_db()
    assert api_client.is_active


# --- trading accounts -----------------------------------------------------------------------------


def test_a_new_metatrader_password_is_recorded_as_changed_never_as_itself(
    client, admin_user, organization, account
):
    client.force_login(admin_user)

    client.post(f"/orgs/{organization.slug}/accounts/{account.pk}/reconnect/", {"password": "New-MT-pass-42"})

    event = only_event(organization)
    assert (event.kind, event.actor_user) == (kinds.ACCOUNT_CREDENTIALS_CHANGED, admin_user)
    assert (event.target_type, event.target_id) == ("execution.tradingaccount", str(account.pk))
    assert event.changes == {"password": {"changed": True}}
    assert_not_in_row(event, "New-MT-pass-42", TradingAccount.objects.get().setup_password)


def test_reconnecting_through_the_api_records_one_event(admin_api, admin_user, organization, account):
    response = admin_api.post(
        accounts_url(organization, account.pk, "reconnect"), {"password": "Another-pass"}, format="json"
    )

    assert response.status_code == 202, response.content
    event = only_event(organization)
    assert (event.kind, event.actor_user) == (kinds.ACCOUNT_CREDENTIALS_CHANGED, admin_user)
    assert_not_in_row(event, "Another-pass")


def test_a_refused_reconnect_records_nothing(admin_user, organization, account):
    with pytest.raises(Exception, match="password"):
        account_services.account_reconnect(account=account, password="", actor=admin_user)
    assert not AuditEvent.objects.exists()


def test_changing_risk_settings_records_before_and_after(admin_api, admin_user, organization, account):
    response = admin_api.put(
        accounts_url(organization, account.pk, "risk-settings"),
        {"mode": "fixed", "fixed_lots": "0.5", "asset_caps": {"metals": "0.2"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    event = only_event(organization)
    assert (event.kind, event.actor_user, event.target_id) == (
        kinds.ACCOUNT_RISK_SETTINGS_CHANGED,
        admin_user,
        str(account.pk),
    )
    assert event.changes == {
        "asset_caps": {"before": {}, "after": {"metals": "0.2"}},
        "fixed_lots": {"before": "0.01", "after": "0.50"},
    }


def test_an_api_client_changing_risk_settings_is_the_actor(api, admin_user, organization, account):
    bot, secret = client_create(
        organization=organization, created_by=admin_user, name="bot", scopes=["accounts:write"]
    )

    response = api.put(
        accounts_url(organization, account.pk, "risk-settings"),
        {"mode": "risk_percent", "risk_percent": "2"},
        format="json",
        HTTP_AUTHORIZATION=basic_auth(bot.client_id, secret),
    )

    assert response.status_code == 200, response.content
    event = AuditEvent.objects.get(kind=kinds.ACCOUNT_RISK_SETTINGS_CHANGED)
    assert (event.actor_client, event.actor_user) == (bot, None)
    assert event.changes["mode"] == {"before": "fixed", "after": "risk_percent"}
    assert_not_in_row(event, secret)


def test_saving_the_same_risk_settings_again_records_nothing_more(admin_user, account):
    account_services.risk_settings_set(account=account, actor=admin_user, mode="fixed", fixed_lots="0.3")
    account_services.risk_settings_set(account=account, actor=admin_user, mode="fixed", fixed_lots="0.30")

    assert AuditEvent.objects.filter(kind=kinds.ACCOUNT_RISK_SETTINGS_CHANGED).count() == 1


@pytest.mark.parametrize(
    "body",
    [{"mode": "sideways"}, {"mode": "fixed", "asset_caps": {"unobtainium": "1"}}, {"fixed_lots": "lots"}],
)
def test_refused_risk_settings_record_nothing(admin_api, organization, account, body):
    response = admin_api.put(accounts_url(organization, account.pk, "risk-settings"), body, format="json")

    assert response.status_code == 400, response.content
    assert not AuditEvent.objects.exists()
    assert not RiskSettings.objects.exists()


def test_risk_settings_and_their_record_commit_together(admin_user, account, monkeypatch):
    def failing(**kwargs):
        raise RuntimeError("the log is unavailable")

    monkeypatch.setattr(account_services, "record_audit_event", failing)
    with pytest.raises(RuntimeError):
        account_services.risk_settings_set(account=account, actor=admin_user, mode="fixed", fixed_lots="0.3")

    assert not RiskSettings.objects.exists()


# --- members and invitations -------------------------------------------------------------------------


def members_url(organization, *parts):
    return f"/api/v1/orgs/{organization.slug}/members/" + "".join(f"{p}/" for p in parts)


def test_changing_a_members_permissions_records_before_and_after(admin_api, admin_user, organization):
    member = add_member(organization, role=perms.VIEWER)

    response = admin_api.patch(members_url(organization, member.pk), {"role": perms.TRADER}, format="json")

    assert response.status_code == 200, response.content
    event = only_event(organization)
    assert (event.kind, event.actor_user, event.target_id) == (
        kinds.MEMBER_PERMISSIONS_CHANGED,
        admin_user,
        str(member.pk),
    )
    assert event.changes["role"] == {"before": perms.VIEWER, "after": perms.TRADER}
    assert set(event.changes["permissions"]["after"]) == set(perms.ROLES[perms.TRADER])


def test_a_refused_permission_change_records_nothing(api, organization):
    manager = add_member(organization, permissions=frozenset({"view_organization", "manage_members"}))
    admin_membership = organization.memberships.exclude(pk=manager.pk).get()
    api.force_authenticate(manager.user)

    response = api.patch(
        members_url(organization, admin_membership.pk), {"permissions": ["view_organization"]}, format="json"
    )

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(organization=organization).exists()


def test_removing_a_member_records_what_they_held(admin_api, admin_user, organization):
    member = add_member(organization, role=perms.VIEWER)

    response = admin_api.delete(members_url(organization, member.pk))

    assert response.status_code == 204
    event = only_event(organization)
    assert (event.kind, event.actor_user, event.target_id) == (
        kinds.MEMBER_REMOVED,
        admin_user,
        str(member.pk),
    )
    assert set(event.changes["permissions"]["before"]) == set(perms.ROLES[perms.VIEWER])


def test_an_invitation_is_recorded_when_made_revoked_and_accepted_never_with_its_token(
    admin_api, organization, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            f"/api/v1/orgs/{organization.slug}/invitations/",
            {"email": "new@example.com", "role": perms.VIEWER},
            format="json",
        )
    assert response.status_code == 201, response.content
    token = re.search(r"/invitations/([^/\s]+)/", mail.outbox[-1].body).group(1)
    revoke = admin_api.delete(f"/api/v1/orgs/{organization.slug}/invitations/{response.json()['id']}/")
    assert revoke.status_code == 204
    invited = UserFactory(email="second@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.post(
            f"/api/v1/orgs/{organization.slug}/invitations/",
            {"email": invited.email, "role": perms.VIEWER},
            format="json",
        )
    second_token = re.search(r"/invitations/([^/\s]+)/", mail.outbox[-1].body).group(1)
    organization_services.invitation_accept(token=second_token, user=invited)

    events = list(AuditEvent.objects.filter(organization=organization).order_by("pk"))
    assert [e.kind for e in events] == [
        kinds.INVITATION_CREATED,
        kinds.INVITATION_REVOKED,
        kinds.INVITATION_CREATED,
        kinds.MEMBER_JOINED,
    ]
    assert events[-1].actor_user == invited
    for event in events:
        assert_not_in_row(event, token)


# --- platform credentials ----------------------------------------------------------------------------


def test_platform_credentials_set_changed_and_cleared_are_recorded_never_the_password(
    admin_api, admin_user, organization
):
    platform = admin_api.post(
        f"/api/v1/orgs/{organization.slug}/platforms/",
        {"name": "Live MT4", "type": "mt4", "api": "metaapi", "servers": ["Broker-Live"]},
        format="json",
    )
    assert platform.status_code == 201, platform.content
    url = f"/api/v1/orgs/{organization.slug}/platforms/{platform.json()['id']}/manager-api/"
    unchanged = {"host": "mgr1.broker.example", "port": 443, "login": "1001"}  # no password: keep it
    body = unchanged | {"password": "s3cret-Mgr!"}

    assert admin_api.put(url, body, format="json").status_code == 200
    assert admin_api.put(url, unchanged, format="json").status_code == 200  # nothing changed
    assert admin_api.put(url, unchanged | {"host": "mgr2.broker.example"}, format="json").status_code == 200
    assert admin_api.delete(url).status_code == 204
    refused = admin_api.put(url, body | {"host": "127.0.0.1"}, format="json")
    assert refused.status_code == 400

    events = list(AuditEvent.objects.filter(organization=organization).order_by("pk"))
    assert [e.kind for e in events] == [
        kinds.PLATFORM_CREDENTIALS_CHANGED,
        kinds.PLATFORM_CREDENTIALS_CHANGED,
        kinds.PLATFORM_CREDENTIALS_CLEARED,
    ]
    assert events[0].changes["manager_api.password"] == {"changed": True}
    assert events[1].changes == {
        "manager_api.host": {"before": "mgr1.broker.example", "after": "mgr2.broker.example"}
    }
    assert all(e.actor_user == admin_user for e in events)
    for event in events:
        assert_not_in_row(event, "s3cret-Mgr!")
