"""The base for every API view under ``/api/v1/orgs/{slug}/``.

It resolves, once per request, the organization named by the URL and what the caller may do
there, for a person (by membership) or an API client (by its scopes, in its own organization
only). A caller who is not a member gets 404 (the organization's existence is not revealed); a
member without the permission the view declares for the action gets 403. Views declare
``required_permissions`` (action -> permission codename). A person (not an API client) whose
organization requires two-factor login and who has not set it up gets 403 ``mfa_required``.

It also keeps each view to its organization's rows. A view declares ``queryset`` over all rows and,
when its model reaches the organization through a relation, ``organization_field`` (the lookup
path, e.g. ``"account__organization"``); the base's ``get_queryset`` adds the organization filter
and cannot be overridden (a subclass defining it is refused when the class is created). A view
narrows further in ``safely_get_queryset``, which receives the rows already filtered. On the one
route without an organization in its URL (the API root, the caller's organizations), the rows are
the organizations the caller belongs to, and only organizations may be listed that way.
"""

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework import exceptions, status, viewsets

from clients.models import ApiClient
from core.errors import ServiceError
from orgs.models import Organization
from orgs.security import MFA_SETUP_MESSAGE, mfa_setup_required
from orgs.selectors import caller_access, organizations_of_caller


class ServiceRefused(exceptions.ValidationError):
    """A domain rule refused the change: field-level messages, the rule's code, and a status
    (400 by default; 403 for a grant beyond one's own permissions, 409 for missing setup)."""

    STATUS_BY_CODE = {
        "idempotency_conflict": status.HTTP_409_CONFLICT,
        "not_connected": status.HTTP_409_CONFLICT,
        "not_cancellable": status.HTTP_409_CONFLICT,
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
    queryset: QuerySet | None = None
    # the lookup path from the view's model to its organization ("pk" for Organization itself)
    organization_field = "organization"

    organization: Organization
    caller_permissions: frozenset[str]
    api_client: ApiClient | None  # set when the caller is an API client, not a person

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.get_queryset is not OrganizationScopedViewSet.get_queryset:
            raise TypeError(
                f"{cls.__name__} overrides get_queryset, which keeps the view to its organization's "
                "rows. Declare `queryset` (and `organization_field` when the model reaches the "
                "organization through a relation) and narrow it in `safely_get_queryset(queryset)`."
            )

    def get_queryset(self) -> QuerySet:
        """The declared queryset, filtered to the organization in the URL, then narrowed by
        ``safely_get_queryset``."""
        across_organizations = self.dangerously_get_queryset()
        if across_organizations is not None:
            return across_organizations
        if self.queryset is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} declares no `queryset`: set it to the rows of every "
                "organization (e.g. `Model.objects.all()`); the base keeps the caller's organization's."
            )
        return self.safely_get_queryset(self._rows_of_the_organization(self.queryset.all()))

    def safely_get_queryset(self, queryset: QuerySet) -> QuerySet:
        """Narrow the rows (already those of the organization); override to filter or annotate."""
        return queryset

    def dangerously_get_queryset(self) -> QuerySet | None:
        """DANGER: rows with no organization filter at all. Returning a queryset here replaces the
        declared ``queryset`` and every organization filter, so the view can show or change
        another organization's rows. Only for a view that truly must see across organizations,
        whose every row it checks itself; ``None`` (the default) keeps the filter."""
        return None

    def _rows_of_the_organization(self, queryset: QuerySet) -> QuerySet:
        if self.kwargs.get(self.organization_url_kwarg) is not None:
            return queryset.filter(**{self.organization_field: self.organization.pk})
        if queryset.model is not Organization:
            raise ImproperlyConfigured(
                f"{type(self).__name__} has no organization in its URL: across organizations no "
                "permission is checked, so only the caller's organizations themselves are listed there."
            )
        return queryset.filter(pk__in=organizations_of_caller(user=self.request.user, client=self.api_client))

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
        if self.api_client is None and mfa_setup_required(user=request.user, organization=organization):
            raise exceptions.PermissionDenied(MFA_SETUP_MESSAGE, code="mfa_required")
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
