import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from accounts.models import User
from orgs import permissions as perms
from orgs.models import Invitation, Membership
from orgs.selectors import organization_permissions, organizations_for_user
from tests.factories import UserFactory, add_member

# Real commits: the invitation email is sent after commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def invite(api, organization, **body):
    return api.post(f"/api/v1/orgs/{organization.slug}/invitations/", body, format="json")


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/invitations/\S+/)", message.body).group(1)


def test_existing_user_accepts_after_logging_in_with_the_chosen_permissions(
    api, client, admin_user, organization
):
    invitee = UserFactory(email="bob@example.com")
    api.force_authenticate(admin_user)

    response = invite(api, organization, email="Bob@Example.com", role="trader")

    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "pending"
    (message,) = mail.outbox
    assert message.to == ["bob@example.com"]
    link = link_in(message)

    # not logged in: the page sends them to log in
    assert "log in" in client.get(link).content.decode()
    client.force_login(invitee)
    response = client.post(link)

    assert response.status_code == 302
    assert response.url == reverse("orgs:detail", args=[organization.slug])
    assert organization_permissions(user=invitee, organization=organization) == perms.ROLES["trader"]
    assert Membership.objects.get(user=invitee, organization=organization).role == "trader"
    assert Invitation.objects.get().status == Invitation.ACCEPTED


def emailed_password(email: str) -> str:
    (password,) = [
        found.group(1)
        for message in mail.outbox
        if message.to == [email] and (found := re.search(r"^\s*password:\s+(\S+)", message.body, re.M))
    ]
    return password


def sign_up_and_accept(client, link: str, email: str):
    """A new person: create the account from the link, log in with the emailed password, accept."""
    client.post(link)
    client.post(reverse("account_login"), {"login": email, "password": emailed_password(email)})
    return client.post(link)


def test_person_without_account_signs_up_from_the_link_logs_in_with_the_emailed_password_and_joins(
    api, client, admin_user, organization
):
    api.force_authenticate(admin_user)
    invite(
        api,
        organization,
        email="new@example.com",
        permissions=["view_organization", "view_accounts", "trade"],
    )
    link = link_in(mail.outbox[0])

    page = client.get(link)
    assert page.status_code == 200
    assert "Create my account" in page.content.decode()
    response = client.post(link)

    # the account exists, but holding the link logs nobody in and joins nothing: the login form
    # (back to the link) asks for the password emailed to the invited address
    user = User.objects.get(email="new@example.com")
    assert response.status_code == 302
    assert response.url == f"{reverse('account_login')}?{urlencode({'next': link})}"
    assert "_auth_user_id" not in client.session
    assert not Membership.objects.filter(user=user).exists()
    assert Invitation.objects.get().status == Invitation.PENDING
    password = emailed_password("new@example.com")
    assert user.check_password(password)

    logged_in = client.post(response.url, {"login": "new@example.com", "password": password})
    assert logged_in.url == link
    accepted = client.post(link)

    assert accepted.url == reverse("orgs:detail", args=[organization.slug])
    assert list(organizations_for_user(user)) == [organization]  # no personal organization
    assert organization_permissions(user=user, organization=organization) == {
        "view_organization",
        "view_accounts",
        "trade",
    }
    assert Membership.objects.get(user=user).role == perms.CUSTOM
    assert Invitation.objects.get().status == Invitation.ACCEPTED


def test_an_anonymous_post_for_an_existing_account_neither_logs_in_nor_joins(
    client, admin_user, organization
):
    UserFactory(email="carol@example.com")
    _, link = _pending(organization, admin_user)

    response = client.post(link)

    assert response.status_code == 400
    assert "log in to accept" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not Membership.objects.filter(user__email="carol@example.com").exists()


def _pending(organization, admin_user, email="carol@example.com"):
    from orgs.services import invitation_create

    invitation = invitation_create(
        organization=organization, invited_by=admin_user, email=email, role="viewer"
    )
    return invitation, link_in(mail.outbox[-1])


def _assert_refused(client, link, expected_text):
    memberships, invitations = Membership.objects.count(), list(Invitation.objects.values())
    for response in (client.get(link), client.post(link)):
        assert response.status_code == 400
        assert expected_text in response.content.decode()
    assert Membership.objects.count() == memberships
    assert list(Invitation.objects.values()) == invitations


def test_expired_invitation_is_refused_and_changes_nothing(client, admin_user, organization):
    invitation, link = _pending(organization, admin_user)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _assert_refused(client, link, "expired")
    assert not User.objects.filter(email="carol@example.com").exists()


def test_revoked_invitation_is_refused(client, api, admin_user, organization):
    invitation, link = _pending(organization, admin_user)
    api.force_authenticate(admin_user)
    assert api.delete(f"/api/v1/orgs/{organization.slug}/invitations/{invitation.pk}/").status_code == 204
    _assert_refused(client, link, "revoked")


def test_used_invitation_is_refused(client, admin_user, organization):
    _, link = _pending(organization, admin_user)
    sign_up_and_accept(client, link, "carol@example.com")
    client.logout()
    _assert_refused(client, link, "already been used")
    assert User.objects.filter(email="carol@example.com").count() == 1


def test_invitation_opened_by_another_logged_in_email_is_refused(client, admin_user, organization):
    _, link = _pending(organization, admin_user)
    client.force_login(UserFactory(email="mallory@example.com"))
    _assert_refused(client, link, "sent to carol@example.com")


def test_unknown_token_is_refused(client, db):
    _assert_refused(client, "/invitations/not-a-real-token/", "not valid")


def test_resend_replaces_the_link_and_restarts_the_clock(api, client, admin_user, organization):
    invitation, old_link = _pending(organization, admin_user)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    api.force_authenticate(admin_user)

    response = api.post(f"/api/v1/orgs/{organization.slug}/invitations/{invitation.pk}/resend/")

    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    new_link = link_in(mail.outbox[-1])
    assert new_link != old_link
    assert client.get(old_link).status_code == 400
    assert sign_up_and_accept(client, new_link, "carol@example.com").status_code == 302
    assert Membership.objects.filter(user__email="carol@example.com").exists()


def test_cannot_resend_or_revoke_an_accepted_invitation(api, client, admin_user, organization):
    invitation, link = _pending(organization, admin_user)
    sign_up_and_accept(client, link, "carol@example.com")
    api.force_authenticate(admin_user)
    base = f"/api/v1/orgs/{organization.slug}/invitations/{invitation.pk}/"
    for response in (api.post(base + "resend/"), api.delete(base)):
        assert response.status_code == 400
        assert "accepted" in response.json()["error"]["fields"]["non_field_errors"][0]


def test_inviting_a_member_or_a_pending_email_is_a_field_error(api, admin_user, organization):
    api.force_authenticate(admin_user)
    member = add_member(organization).user
    _pending(organization, admin_user, email="pending@example.com")

    for email, text in ((member.email, "already a member"), ("pending@example.com", "already pending")):
        response = invite(api, organization, email=email, role="viewer")
        assert response.status_code == 400
        assert text in response.json()["error"]["fields"]["email"][0]


def test_invitation_input_errors_are_field_level(api, admin_user, organization):
    api.force_authenticate(admin_user)
    response = invite(api, organization, email="nope", role="emperor", permissions=["fly"])
    fields = response.json()["error"]["fields"]
    assert response.status_code == 400
    assert set(fields) == {"email", "role", "permissions"}
    assert not Invitation.objects.exists()


def test_nobody_invites_with_more_than_they_hold(api, organization):
    inviter = add_member(organization, permissions={"view_organization", "manage_members"}).user
    api.force_authenticate(inviter)

    response = invite(api, organization, email="x@example.com", role="trader")

    assert response.status_code == 403
    assert "trade" in response.json()["error"]["fields"]["role"][0]
    assert not Invitation.objects.exists()
    assert (
        invite(api, organization, email="x@example.com", permissions=["view_organization"]).status_code == 201
    )


def test_invitation_pages_for_administrator(client, admin_user, organization):
    client.force_login(admin_user)
    response = client.post(
        reverse("orgs:invite", args=[organization.slug]), {"email": "page@example.com", "role": "viewer"}
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="page@example.com")
    assert invitation.permissions == sorted(perms.ROLES["viewer"])
    client.post(reverse("orgs:invitation_revoke", args=[organization.slug, invitation.pk]))
    invitation.refresh_from_db()
    assert invitation.status == Invitation.REVOKED
