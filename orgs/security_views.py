"""The organization's security policy (two-factor login required of members), as a page and
over the API: parse, check the permission, call ``orgs.security``."""

from django.contrib import messages
from django.shortcuts import redirect, render
from rest_framework import serializers
from rest_framework.response import Response

from core.errors import ServiceError
from orgs.api.base import OrganizationScopedViewSet
from orgs.forms import OrganizationSecurityForm
from orgs.models import Organization
from orgs.security import organization_set_mfa_required
from orgs.views import OrganizationPageView, _form_error


class OrganizationSecurityPageView(OrganizationPageView):
    required_permissions = {"get": "view_organization", "post": "manage_members"}

    def _render(self, request, form, status=200):
        context = {
            "organization": self.organization,
            "form": form,
            "can_manage": "manage_members" in self.caller_permissions,
        }
        return render(request, "orgs/organization_security.html", context, status=status)

    def get(self, request, slug):
        return self._render(
            request, OrganizationSecurityForm(initial={"mfa_required": self.organization.mfa_required})
        )

    def post(self, request, slug):
        form = OrganizationSecurityForm(request.POST)
        if form.is_valid():
            try:
                organization_set_mfa_required(
                    organization=self.organization,
                    actor=request.user,
                    required=form.cleaned_data["mfa_required"],
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, "Security settings saved.")
                return redirect("orgs:security", slug=slug)
        return self._render(request, form, status=400)


class OrganizationSecuritySerializer(serializers.Serializer):
    mfa_required = serializers.BooleanField(
        help_text="Members must use two-factor login; those without it are refused (code mfa_required)."
    )


class OrganizationSecurityViewSet(OrganizationScopedViewSet):
    """``GET``/``PATCH /api/v1/orgs/{slug}/security/``: reading needs ``view_organization``,
    changing ``manage_members`` (and two-factor login of one's own to require it)."""

    queryset = Organization.objects.all()
    organization_field = "pk"
    serializer_class = OrganizationSecuritySerializer
    required_permissions = {"retrieve": "view_organization", "partial_update": "manage_members"}

    def retrieve(self, request, slug):
        return Response(self.get_serializer(self.organization).data)

    def partial_update(self, request, slug):
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "mfa_required" in serializer.validated_data:
            organization_set_mfa_required(
                organization=self.organization,
                actor=request.user,
                required=serializer.validated_data["mfa_required"],
            )
        return Response(self.get_serializer(self.organization).data)
