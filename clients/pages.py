"""Server-rendered pages for API clients (the secret is shown once, in the response).

Error reports of these pages show no local variable below the view: none can carry the secret.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables

from clients import selectors, services
from clients.forms import ApiClientForm
from clients.models import ApiClient
from core.errors import ServiceError
from orgs.views import OrganizationPageView, _form_error


@method_decorator(sensitive_variables(), name="dispatch")
class ClientPageView(OrganizationPageView):
    required_permissions = {"get": "manage_clients", "post": "manage_clients"}

    def get_client(self, pk) -> ApiClient:
        return get_object_or_404(selectors.api_clients_for(self.organization), pk=pk)

    def render_list(self, request, *, form=None, revealed=None, status=200):
        """The clients page; ``revealed`` is (client, secret), shown in this response only."""
        context = {
            "organization": self.organization,
            "caller_permissions": self.caller_permissions,
            "api_clients": selectors.api_clients_for(self.organization),
            "form": form or ApiClientForm(),
            "revealed_client": revealed[0] if revealed else None,
            "revealed_secret": revealed[1] if revealed else None,
        }
        response = render(request, "clients/client_list.html", context, status=status)
        add_never_cache_headers(response)
        return response


class ClientListView(ClientPageView):
    def get(self, request, slug):
        return self.render_list(request)

    def post(self, request, slug):
        form = ApiClientForm(request.POST)
        if form.is_valid():
            try:
                client, secret = services.client_create(
                    organization=self.organization,
                    created_by=request.user,
                    request=request,
                    **form.cleaned_data,
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                return self.render_list(request, revealed=(client, secret))
        return self.render_list(request, form=form, status=400)


class ClientRotateView(ClientPageView):
    required_permissions = {"post": "manage_clients"}

    def post(self, request, slug, pk):
        try:
            client, secret = services.client_rotate(
                client=self.get_client(pk), actor=request.user, request=request
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("clients:list", slug=slug)
        return self.render_list(request, revealed=(client, secret))


class ClientRevokeView(ClientPageView):
    required_permissions = {"post": "manage_clients"}

    def post(self, request, slug, pk):
        client = self.get_client(pk)
        services.client_revoke(client=client, actor=request.user, request=request)
        messages.success(request, f"Client {client.name} revoked: its secret no longer works.")
        return redirect("clients:list", slug=slug)
