"""allauth's hooks: signup by email alone (password generated and emailed), the person's first
organization created with them, and a signup that ends on "check your email"."""

from allauth.account.adapter import DefaultAccountAdapter

from orgs.services import person_signup


class SignupAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        return person_signup(email=user.email, user=user)

    def get_login_stages(self) -> list[str]:
        return ["accounts.stages.PasswordEmailedStage", *super().get_login_stages()]
