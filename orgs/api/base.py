"""The base for every API view under ``/api/v1/orgs/{slug}/``.

It resolves, once per request, the organization named by the URL and what the caller may do
there. A caller who is not a member gets 404 (the organization's existence is not revealed); a
member without the permission the view declares for the action gets 403. Views declare
``required_permissions`` (action -> permission codename) and nothing more.
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions, status, viewsets

from orgs.models import Organization
from orgs.selectors import organization_for_member, organization_permissions
from orgs.services import OrgError


class ServiceRefused(exceptions.ValidationError):
    """A domain rule refused the change; carries the field-level message."""


class ServiceForbidden(ServiceRefused):
    status_code = status.HTTP_403_FORBIDDEN


def to_api_error(error: OrgError) -> ServiceRefused:
    detail = {error.field or "non_field_errors": [error.message]}
    if error.code == "permission_denied":
        return ServiceForbidden(detail, code=error.code)
    return ServiceRefused(detail, code=error.code)


class OrganizationScopedViewSet(viewsets.GenericViewSet):
    organization_url_kwarg = "slug"
    # action name ("list", "create", "retrieve", "partial_update", "destroy", custom actions)
    # -> permission codename from orgs.permissions.PERMISSIONS
    required_permissions: dict[str, str] = {}

    organization: Organization
    caller_permissions: frozenset[str]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        slug = kwargs.get(self.organization_url_kwarg)
        if slug is None:
            return
        organization = organization_for_member(user=request.user, slug=slug)
        if organization is None:
            raise exceptions.NotFound()
        self.organization = organization
        self.caller_permissions = organization_permissions(user=request.user, organization=organization)
        self.check_caller_permission()

    def check_caller_permission(self) -> None:
        action = self.action or "metadata"
        if action == "metadata":  # OPTIONS: describing the endpoint needs only membership
            return
        try:
            needed = self.required_permissions[action]
        except KeyError:
            raise ImproperlyConfigured(
                f"{type(self).__name__} declares no permission for action {action!r}"
            ) from None
        if needed not in self.caller_permissions:
            raise exceptions.PermissionDenied(f"You need the {needed!r} permission.")

    def handle_exception(self, exc):
        if isinstance(exc, OrgError):
            exc = to_api_error(exc)
        return super().handle_exception(exc)
