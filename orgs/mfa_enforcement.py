"""Organization pages send a member who must set up two-factor login to its setup page.

Applies to every page built on ``OrganizationPageView`` (the organization's own pages, its
platforms, clients, accounts, signals, live dashboard). The API refuses the same members in
``orgs.api.base``.
"""

from django.contrib import messages
from django.shortcuts import redirect

from orgs.security import MFA_SETUP_MESSAGE, member_needs_mfa_setup
from orgs.views import OrganizationPageView


class MfaRequirementMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "view_class", None)
        if not (isinstance(view_class, type) and issubclass(view_class, OrganizationPageView)):
            return None
        if not member_needs_mfa_setup(user=request.user, slug=view_kwargs.get("slug", "")):
            return None
        messages.warning(request, MFA_SETUP_MESSAGE)
        return redirect("mfa_activate_totp")
