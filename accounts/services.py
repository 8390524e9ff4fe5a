"""Creating people: every account starts with a generated password that is emailed, never shown."""

import secrets

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import User

PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
PASSWORD_LENGTH = 20  # ~115 bits of entropy


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def email_is_registered(email: str) -> bool:
    return User.objects.filter(email__iexact=email.strip()).exists()


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
    transaction.on_commit(lambda: _send_password_email(user=user, password=password))
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
