"""The organization's audit log over the API: read only, newest first, filtered and paginated.

Listing needs ``manage_members`` (the administrator's permission, which no API client scope
grants): the log names every member and the addresses they acted from.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins

from audit import selectors
from audit.api.serializers import AuditEventFilterSerializer, AuditEventSerializer
from audit.models import AuditEvent
from orgs.api.base import OrganizationScopedViewSet


@extend_schema(parameters=[AuditEventFilterSerializer])
class AuditEventViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    queryset = AuditEvent.objects.select_related("actor_client")
    serializer_class = AuditEventSerializer
    required_permissions = {"list": "manage_members"}

    def safely_get_queryset(self, queryset):
        filters = AuditEventFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.narrow_audit_events(queryset, **filters.validated_data)
