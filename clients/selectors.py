"""Reads of an organization's API clients."""

from django.db.models import QuerySet

from clients.models import ApiClient
from orgs.models import Organization


def api_clients_for(organization: Organization) -> QuerySet[ApiClient]:
    return ApiClient.objects.filter(organization=organization).select_related("created_by")
