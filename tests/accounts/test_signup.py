import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from orgs import permissions as perms
from orgs.selectors import organization_permissions, organizations_for_user

# Real commits: emails are sent after commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def emailed_password(message) -> str:
    match = re.search(r"password:\s+(\S+)", message.body)
    assert match, message.body
    return match.group(1)


def test_signup_with_email_alone_emails_a_password_that_logs_in(client):
    response = client.post(reverse("account_signup"), {"email": "Ada@Example.com"})

    assert response.status_code == 302
    assert response.url == reverse("accounts:password_sent")
    # signing up does not log in: the person proves the address by reading the password email
    assert "_auth_user_id" not in client.session
    user = User.objects.get()
    assert user.email == "ada@example.com"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    password = emailed_password(mail.outbox[0])
    assert len(password) >= 16
    assert password not in user.password  # stored hashed
    assert user.check_password(password)

    response = client.post(reverse("account_login"), {"login": "ada@example.com", "password": password})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk


def test_first_signup_creates_an_organization_with_the_person_as_administrator(client):
    client.post(reverse("account_signup"), {"email": "grace@example.com"})
    user = User.objects.get(email="grace@example.com")

    (organization,) = organizations_for_user(user)
    assert organization.memberships.get().role == perms.ADMINISTRATOR
    assert organization_permissions(user=user, organization=organization) == perms.ROLES[perms.ADMINISTRATOR]


def test_each_signup_gets_a_different_password(client):
    client.post(reverse("account_signup"), {"email": "a@example.com"})
    client.post(reverse("account_signup"), {"email": "b@example.com"})
    assert emailed_password(mail.outbox[0]) != emailed_password(mail.outbox[1])


def test_signup_with_a_registered_email_creates_nothing_and_sends_no_password(client, admin_user):
    client.post(reverse("account_signup"), {"email": admin_user.email.upper()})

    assert User.objects.count() == 1
    assert admin_user.check_password("correct horse battery staple")
    assert not any("password:" in m.body for m in mail.outbox)


def test_signup_with_a_registered_email_answers_like_a_new_signup_and_tells_the_owner(client, admin_user):
    new = client.post(reverse("account_signup"), {"email": "newcomer@example.com"})
    mail.outbox.clear()

    registered = client.post(reverse("account_signup"), {"email": admin_user.email.upper()})

    assert (registered.status_code, registered.url) == (new.status_code, new.url)
    assert registered.url == reverse("accounts:password_sent")
    assert "_auth_user_id" not in client.session
    assert User.objects.filter(email__iexact=admin_user.email).count() == 1
    (notice,) = mail.outbox
    assert notice.to == [admin_user.email]
    assert "tried to sign up" in notice.subject
    assert reverse("account_login") in notice.body
    assert reverse("account_reset_password") in notice.body
    assert "password:" not in notice.body


def test_repeated_signups_with_a_registered_email_send_the_owner_one_notice(client, admin_user):
    for _ in range(3):
        response = client.post(reverse("account_signup"), {"email": admin_user.email})
        assert response.url == reverse("accounts:password_sent")

    assert [m.to for m in mail.outbox] == [[admin_user.email]]


def test_signup_rejects_a_malformed_email_with_a_field_message(client):
    response = client.post(reverse("account_signup"), {"email": "not-an-email"})
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not User.objects.exists()


def test_login_with_a_wrong_password_fails(client, admin_user):
    response = client.post(
        reverse("account_login"), {"login": admin_user.email, "password": "wrong password"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_change(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": "correct horse battery staple",
            "password1": "a new long passphrase 42",
            "password2": "a new long passphrase 42",
        },
    )
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.check_password("a new long passphrase 42")


def test_password_reset_by_email(client, admin_user):
    response = client.post(reverse("account_reset_password"), {"email": admin_user.email})
    assert response.status_code == 302
    (message,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", message.body).group(1)

    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    response = client.post(
        form_url, {"password1": "reset passphrase 1234", "password2": "reset passphrase 1234"}
    )
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.check_password("reset passphrase 1234")


def test_logout(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("url_name", "data_for", "limit"),
    [
        ("account_signup", lambda n: {"email": f"flood{n}@example.com"}, 10),
        ("account_reset_password", lambda n: {"email": "victim@example.com"}, 5),
    ],
)
def test_signup_and_reset_are_rate_limited(client, url_name, data_for, limit):
    statuses = [client.post(reverse(url_name), data_for(n)).status_code for n in range(limit + 1)]
    assert 429 not in statuses[:limit]
    assert statuses[limit] == 429


def test_failed_logins_throttle_the_guessing_address_not_the_account(client, admin_user):
    """Wrong passwords from one address do not lock the owner out from another (a known email
    could be locked out by anyone); the guessing address stays throttled, even with the right one."""
    attacker = {"REMOTE_ADDR": "203.0.113.7"}
    for n in range(8):
        client.post(
            reverse("account_login"), {"login": admin_user.email, "password": f"guess{n}"}, **attacker
        )

    response = client.post(
        reverse("account_login"),
        {"login": admin_user.email, "password": "correct horse battery staple"},
        **attacker,
    )
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()

    owner = Client(REMOTE_ADDR="198.51.100.20")
    response = owner.post(
        reverse("account_login"), {"login": admin_user.email, "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert int(owner.session["_auth_user_id"]) == admin_user.pk


def test_behind_a_trusted_proxy_failed_logins_are_counted_per_forwarded_address(client, admin_user, settings):
    """Every request arrives from the proxy: counted by its address, one guesser would lock out
    everyone; the forwarded client address (core.client_ip) keeps the owner out of it."""
    settings.TTMT_TRUSTED_PROXIES = ["10.0.0.2"]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(12):
        client.post(
            reverse("account_login"),
            {"login": admin_user.email, "password": f"guess{n}"},
            HTTP_X_FORWARDED_FOR="203.0.113.7",
            **proxy,
        )

    owner = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.20")
    response = owner.post(
        reverse("account_login"), {"login": admin_user.email, "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert int(owner.session["_auth_user_id"]) == admin_user.pk
