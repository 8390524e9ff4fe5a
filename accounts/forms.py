"""allauth forms adjusted to "the signup form asks for email only, the password is generated".

allauth drops the login form's password field when signup asks for no password (it assumes
login by emailed code); our people do have a password, so the login form keeps it.
"""

from allauth.account.forms import LoginForm


class EmailPasswordLoginForm(LoginForm):
    def _setup_password_field(self) -> None:
        """Keep the password field."""
