"""allauth hooks: signup by email alone, with a generated password sent by email."""

from allauth.account.adapter import DefaultAccountAdapter

from accounts.services import user_signup


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        return user_signup(email=user.email, user=user)

    def get_login_stages(self) -> list[str]:
        return ["accounts.stages.PasswordEmailedStage", *super().get_login_stages()]
