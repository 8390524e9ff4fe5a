"""The audit log page of an organization: its events, newest first, filtered and paginated.

It needs ``manage_members``, the administrator's permission: the log names every member, the
addresses they acted from, and the changes made to credentials and API clients.
"""

from django.shortcuts import render

from audit import selectors
from audit.forms import AuditFilterForm
from orgs.views import OrganizationPageView


class AuditLogView(OrganizationPageView):
    required_permissions = {"get": "manage_members"}

    def get(self, request, slug):
        form = AuditFilterForm(request.GET)
        context = {
            "organization": self.organization,
            "caller_permissions": self.caller_permissions,
            "form": form,
        }
        if not form.is_valid():  # the errors on the form, no events: never the unfiltered log instead
            return render(request, "audit/audit_log.html", {**context, "page": None}, status=400)
        query = request.GET.copy()
        query.pop("page", None)
        page = selectors.audit_events_page(self.organization, page=request.GET.get("page"), **form.filters())
        context.update(page=page, filter_query=query.urlencode())
        return render(request, "audit/audit_log.html", context)
