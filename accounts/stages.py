"""Signup ends on "check your email": the person logs in with the password we emailed."""

from allauth.account.stages import LoginStage
from django.shortcuts import redirect


class PasswordEmailedStage(LoginStage):
    key = "ttmt_password_emailed"

    def handle(self):
        if self.login.signup:
            return redirect("accounts:password_sent"), False
        return None, True
