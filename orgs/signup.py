"""allauth's hooks: signup by email alone (password generated and emailed), the person's first
organization created with them, a signup that ends on "check your email", and failed logins
counted per account *and address*.

allauth counts failed logins per account (``login_failed`` "…/key"), so five wrong passwords
from anywhere lock the right one out for everybody: anyone could lock out a known email. Here
the key is the account as tried from one client address (IPv6 by its /64, as allauth's per-IP
limits): guessing from one address is throttled, the owner logging in from elsewhere is not.
The address is the product's one answer (``core.client_ip``: ``X-Forwarded-For`` only from a
trusted proxy), so allauth's limits and the API's agree behind the proxy.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal.ratelimit import get_ip

from core.client_ip import client_ip
from orgs.services import person_signup


class SignupAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        return person_signup(email=user.email, user=user)

    def get_login_stages(self) -> list[str]:
        return ["accounts.stages.PasswordEmailedStage", *super().get_login_stages()]

    def get_client_ip(self, request) -> str:
        return client_ip(request)

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        """allauth's key for counting failed logins (one account), narrowed to the caller's address."""
        return f"{get_ip(request)}:{super()._get_login_attempts_cache_key(request, **credentials)}"
