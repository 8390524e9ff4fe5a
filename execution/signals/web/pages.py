"""The signal tester page: paste a message (and the one it replies to) and see what the parser
reads, as the API's ``signals/parse`` answers it. Needs ``view_accounts`` to view and to test;
testing stores nothing and places no trade."""

from django.shortcuts import render

from execution.signals import parsing
from execution.signals.web.forms import SignalTestForm
from orgs.views import OrganizationPageView


class SignalTesterView(OrganizationPageView):
    required_permissions = {"get": "view_accounts", "post": "view_accounts"}

    def _render(self, request, form, *, reading=None, alert=None, status=200):
        context = {
            "organization": self.organization,
            "caller_permissions": self.caller_permissions,
            "form": form,
            "reading": reading,
            "alert": alert,
        }
        return render(request, "signals/tester.html", context, status=status)

    def get(self, request, slug):
        return self._render(request, SignalTestForm())

    def post(self, request, slug):
        form = SignalTestForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        reply_to = form.cleaned_data["reply_to"] or None
        return self._render(
            request,
            form,
            reading=parsing.parse(form.cleaned_data["text"], reply_to=reply_to),
            alert=parsing.parse(reply_to) if reply_to else None,
        )
