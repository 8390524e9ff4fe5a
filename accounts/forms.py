"""allauth forms adjusted to "the signup form asks for email only, the password is generated".

allauth drops the login form's password field when signup asks for no password (it assumes
login by emailed code); our people do have a password, so the login form keeps it.

allauth hides whether an address is registered only when it verifies addresses by email
(``ACCOUNT_PREVENT_ENUMERATION`` with mandatory verification); our password email is that proof,
so the signup form does it itself: a registered address gets the same answer as a new one and
its owner an email instead of a second account.
"""

from allauth.account.forms import LoginForm, SignupForm

from accounts.services import email_is_registered, signup_attempt_on_registered_email


class EmailPasswordLoginForm(LoginForm):
    def _setup_password_field(self) -> None:
        """Keep the password field."""


class EmailOnlySignupForm(SignupForm):
    def validate_unique_email(self, value: str) -> str:
        self.account_already_exists = email_is_registered(value)
        return value

    def try_save(self, request):
        """A registered address: no account is created, allauth answers as for a signup
        (``PasswordEmailedStage``: "check your email"), and the owner is told."""
        if self.account_already_exists:
            signup_attempt_on_registered_email(email=self.cleaned_data["email"])
        return super().try_save(request)
