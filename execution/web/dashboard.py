"""The live dashboard page: a shell the browser fills from the websocket (``execution.web.consumers``).

Reading needs ``view_accounts``; another organization's slug is a 404 (``OrganizationPageView``).
The page holds no figures: everything arrives in the socket's snapshot and the events after it.
"""

from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from orgs.views import OrganizationPageView


class DashboardView(OrganizationPageView):
    required_permissions = {"get": "view_accounts"}

    def get(self, request, slug):
        request.session["current_organization"] = slug
        context = {
            "organization": self.organization,
            "can_trade": "trade" in self.caller_permissions,
            "can_view_operations": "view_operations" in self.caller_permissions,
            "ws_path": f"/ws/orgs/{self.organization.slug}/live/",
        }
        response = render(request, "execution/dashboard.html", context)
        add_never_cache_headers(response)
        return response
