"""Two-factor login (allauth.mfa): an authenticator app (TOTP) and recovery codes."""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from allauth.mfa.utils import is_mfa_enabled
from django.urls import reverse

PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_step_of_clock_tolerance(settings):
    """A code computed just before a 30-second step ends stays valid for the request after it."""
    settings.MFA_TOTP_TOLERANCE = 1


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def a_wrong_code(secret: str) -> str:
    step = int(time.time()) // 30
    valid = {format_hotp_value(hotp_value(secret, step + offset)) for offset in (-1, 0, 1, 2)}
    return next(code for code in (f"{n:06d}" for n in range(10)) if code not in valid)


def log_in_with_password(client, user):
    return client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})


def test_enabling_totp_makes_login_ask_for_a_code_and_refuse_a_wrong_one(client, admin_user):
    log_in_with_password(client, admin_user)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})  # asked before adding 2FA
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert response.status_code == 302
    assert is_mfa_enabled(admin_user, [Authenticator.Type.TOTP])
    assert is_mfa_enabled(admin_user, [Authenticator.Type.RECOVERY_CODES])  # generated with it
    client.post(reverse("account_logout"))

    response = log_in_with_password(client, admin_user)
    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("mfa_authenticate"), {"code": a_wrong_code(secret)})
    assert response.status_code == 200
    assert "Incorrect code" in response.content.decode()
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == admin_user.pk


def test_a_recovery_code_logs_in_once(client, admin_user):
    TOTP.activate(admin_user, generate_totp_secret())
    first, second = RecoveryCodes.activate(admin_user).get_unused_codes()[:2]

    log_in_with_password(client, admin_user)
    response = client.post(reverse("mfa_authenticate"), {"code": first})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == admin_user.pk
    client.post(reverse("account_logout"))

    log_in_with_password(client, admin_user)
    response = client.post(reverse("mfa_authenticate"), {"code": first})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": second})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == admin_user.pk


def test_login_without_2fa_asks_for_no_code(client, admin_user):
    response = log_in_with_password(client, admin_user)
    assert response.url == reverse("orgs:list")
    assert int(client.session["_auth_user_id"]) == admin_user.pk


def test_two_factor_pages_are_linked_from_the_menu_in_the_site_layout(client, admin_user):
    client.force_login(admin_user)
    assert reverse("mfa_index") in client.get(reverse("orgs:list")).content.decode()

    page = client.get(reverse("mfa_index")).content.decode()
    assert "Authenticator App" in page
    assert reverse("mfa_activate_totp") in page
    assert "<header>" in page  # the site's base template
