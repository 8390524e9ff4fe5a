"""Error pages and reports (the DEBUG 500 page, error emails) show a posted password or code as
stars, and never the generated password of a signup."""

from unittest import mock

import pytest
from django.urls import reverse
from django.views.debug import ExceptionReporter

from accounts.services import user_signup

SECRET = "Zq8-not-for-error-pages"
STARS = "********************"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings):
    """The embedded default runs with DEBUG on: that is where the 500 page echoed the body."""
    settings.DEBUG = True


def error_report(request) -> str:
    return ExceptionReporter(request, None, None, None).get_traceback_text()


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (reverse("account_login"), "password"),
        (reverse("account_reauthenticate"), "password"),
        (reverse("account_change_password"), "oldpassword"),
        (reverse("account_change_password"), "password1"),
        (reverse("account_set_password"), "password2"),
        (
            reverse("account_reset_password_from_key", kwargs={"uidb36": "1", "key": "set-password"}),
            "password1",
        ),
        (reverse("mfa_authenticate"), "code"),
        (reverse("mfa_reauthenticate"), "code"),
        (reverse("mfa_activate_totp"), "code"),
    ],
)
def test_a_secret_posted_to_an_account_page_is_starred_in_error_reports(client, admin_user, url, field):
    client.force_login(admin_user)
    response = client.post(url, {"login": admin_user.email, field: SECRET})

    report = error_report(response.wsgi_request)
    assert SECRET not in report
    assert f"{field} = '{STARS}'" in report


def test_the_debug_500_page_of_a_failing_login_does_not_echo_the_password(client, admin_user):
    client.raise_request_exception = False
    with mock.patch("accounts.forms.EmailPasswordLoginForm.clean", side_effect=RuntimeError("boom")):
        response = client.post(reverse("account_login"), {"login": admin_user.email, "password": SECRET})

    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page  # the technical 500 page
    assert SECRET not in page


def test_the_generated_password_is_starred_when_emailing_it_fails(django_capture_on_commit_callbacks):
    with (
        mock.patch("accounts.services.generate_password", return_value=SECRET),
        mock.patch("accounts.services.send_mail", side_effect=ConnectionRefusedError("no mail server")),
        pytest.raises(ConnectionRefusedError) as failure,
        django_capture_on_commit_callbacks(execute=True),
    ):
        user_signup(email="ada@example.com")

    report = ExceptionReporter(None, failure.type, failure.value, failure.tb).get_traceback_html()
    assert "no mail server" in report
    assert SECRET not in report
