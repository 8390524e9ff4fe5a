"""Reads of an organization's trade platforms."""

from django.db.models import QuerySet

from orgs.models import Organization
from platforms.models import TradePlatform


def platforms_for(organization: Organization) -> QuerySet[TradePlatform]:
    return TradePlatform.objects.filter(organization=organization).select_related("manager_api", "report_db")
