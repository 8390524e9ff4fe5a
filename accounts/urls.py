"""The product's account pages, and allauth's pages that take a secret but do not mark it.

allauth marks its login, signup and password change/set views with ``sensitive_post_parameters``;
the pages below (same paths as allauth's, so they are matched first) take a password or a code
too, and are marked here so that error pages and reports show it as stars.
"""

from allauth.account import views as account_views
from allauth.mfa.base import views as mfa_views
from allauth.mfa.totp import views as totp_views
from django.urls import path, re_path
from django.views.decorators.debug import sensitive_post_parameters

from accounts import views

app_name = "accounts"

SECRET_FIELDS = ("password", "password1", "password2", "oldpassword", "code")
hide_secrets = sensitive_post_parameters(*SECRET_FIELDS)

urlpatterns = [
    path("password-sent/", views.PasswordSentView.as_view(), name="password_sent"),
    # allauth's pages (allauth.account.urls, allauth.mfa.urls), with their secrets marked
    path("reauthenticate/", hide_secrets(account_views.reauthenticate)),
    re_path(
        r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        hide_secrets(account_views.password_reset_from_key),
    ),
    path("2fa/authenticate/", hide_secrets(mfa_views.authenticate)),
    path("2fa/reauthenticate/", hide_secrets(mfa_views.reauthenticate)),
    path("2fa/totp/activate/", hide_secrets(totp_views.activate_totp)),
]
