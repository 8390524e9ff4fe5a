"""The base for every API view under ``/api/v1/orgs/{slug}/``.

It resolves, once per request, the organization named by the URL and what the caller may do
there, for a person (by membership) or an API client (by its scopes, in its own organization
only). A caller who is not a member gets 404 (the organization's existence is not revealed); a
member without the permission the view declares for the action gets 403. Views declare
``required_permissions`` (action -> permission codename) and nothing more.
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions, status, viewsets

from clients.models import ApiClient
from core.errors import ServiceError
from orgs.models import Organization
from orgs.selectors import caller_access


class ServiceRefused(exceptions.ValidationError):
    """A domain rule refused the change: field-level messages, the rule's code, and a status
    (400 by default; 403 for a grant beyond one's own permissions, 409 for missing setup)."""

    STATUS_BY_CODE = {
        "idempotency_conflict": status.HTTP_409_CONFLICT,
        "not_connected": status.HTTP_409_CONFLICT,
        "permission_denied": status.HTTP_403_FORBIDDEN,
        "not_configured": status.HTTP_409_CONFLICT,
    }

    def __init__(self, error: ServiceError):
        super().__init__({error.field or "non_field_errors": [error.message]}, code=error.code)
        self.service_code = error.code
        self.status_code = self.STATUS_BY_CODE.get(error.code, status.HTTP_400_BAD_REQUEST)


class OrganizationScopedViewSet(viewsets.GenericViewSet):
    organization_url_kwarg = "slug"
    # action name ("list", "create", "retrieve", "partial_update", "destroy", custom actions), or
    # "action:METHOD" for an action answering several methods -> a codename of
    # orgs.permissions.PERMISSIONS
    required_permissions: dict[str, str] = {}

    organization: Organization
    caller_permissions: frozenset[str]
    api_client: ApiClient | None  # set when the caller is an API client, not a person

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.api_client = request.auth if isinstance(request.auth, ApiClient) else None
        slug = kwargs.get(self.organization_url_kwarg)
        if slug is None:
            return
        organization, self.caller_permissions = caller_access(
            user=request.user, client=self.api_client, slug=slug
        )
        if organization is None:
            raise exceptions.NotFound()
        self.organization = organization
        self.check_caller_permission()

    def check_caller_permission(self) -> None:
        action = self.action or "metadata"
        if action == "metadata":  # OPTIONS: describing the endpoint needs only membership
            return
        needed = self.required_permissions.get(
            f"{action}:{self.request.method}"
        ) or self.required_permissions.get(action)
        if needed is None:
            raise ImproperlyConfigured(f"{type(self).__name__} declares no permission for action {action!r}")
        if needed not in self.caller_permissions:
            raise exceptions.PermissionDenied(f"You need the {needed!r} permission.")

    def handle_exception(self, exc):
        if isinstance(exc, ServiceError):
            exc = ServiceRefused(exc)
        return super().handle_exception(exc)
