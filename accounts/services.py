"""Creating people: every account starts with a generated password that is emailed, never shown.

Signing up with an address that already has an account answers like a new signup and emails the
address's owner instead, so the signup form never tells whether an address is registered.
"""

import secrets

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from accounts.models import User

PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
PASSWORD_LENGTH = 20  # ~115 bits of entropy
SIGNUP_ATTEMPT_NOTICE_SECONDS = 3600


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def email_is_registered(email: str) -> bool:
    return User.objects.filter(email__iexact=email.strip()).exists()


@sensitive_variables()
@transaction.atomic
def user_signup(
    *,
    email: str,
    user: User | None = None,
    record_email_address: bool = False,
) -> User:
    """Create the person with a generated password and email it to them (after commit).

    ``user`` is an unsaved instance when allauth's signup form built it. ``record_email_address``
    creates allauth's verified address row (allauth's own signup form does that itself).
    """
    user = user or User(email=email)
    user.email = email.strip().lower()
    password = generate_password()
    user.set_password(password)
    user.save()
    if record_email_address:
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)

    # Marked too: it runs after commit, outside this function, with the password in its closure.
    @sensitive_variables()
    def email_the_password() -> None:
        _send_password_email(user=user, password=password)

    transaction.on_commit(email_the_password)
    return user


def _send_password_email(*, user: User, password: str) -> None:
    context = {
        "email": user.email,
        "password": password,
        "login_url": settings.TTMT_BASE_URL + reverse("account_login"),
        "change_url": settings.TTMT_BASE_URL + reverse("account_change_password"),
    }
    send_mail(
        subject=render_to_string("accounts/email/password_subject.txt", context).strip(),
        message=render_to_string("accounts/email/password_message.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


def signup_attempt_on_registered_email(*, email: str) -> None:
    """Someone tried to sign up with an address that has an account: nothing changes, its owner
    is told (after commit, at most once per ``SIGNUP_ATTEMPT_NOTICE_SECONDS``, so repeated
    attempts cannot flood their inbox) how to log in or reset the password."""
    # A signup hashes a new password; doing the same keeps this answer as slow as a signup's.
    make_password(generate_password())
    user = User.objects.get(email__iexact=email.strip())
    if cache.add(f"ttmt:signup-attempt-notice:{user.pk}", True, SIGNUP_ATTEMPT_NOTICE_SECONDS):
        transaction.on_commit(lambda: _send_signup_attempt_email(user=user))


def _send_signup_attempt_email(*, user: User) -> None:
    context = {
        "email": user.email,
        "login_url": settings.TTMT_BASE_URL + reverse("account_login"),
        "reset_url": settings.TTMT_BASE_URL + reverse("account_reset_password"),
    }
    send_mail(
        subject=render_to_string("accounts/email/signup_attempt_subject.txt", context).strip(),
        message=render_to_string("accounts/email/signup_attempt_message.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
