"""Reads of an organization's audit log, newest first. Nothing here returns another
organization's events."""

from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from audit.models import AuditEvent
from orgs.models import Organization

PAGE_SIZE = 50


def narrow_audit_events(
    events: QuerySet[AuditEvent],
    *,
    kind: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Keep the events of this kind, whose actor's name contains ``actor`` (an email, an API
    client's name or id; case-insensitive), made at or after ``since`` and before ``until``."""
    if kind:
        events = events.filter(kind=kind)
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events


def audit_events_for(organization: Organization, **filters) -> QuerySet[AuditEvent]:
    """The organization's events, narrowed by ``narrow_audit_events``'s filters."""
    return narrow_audit_events(AuditEvent.objects.filter(organization=organization), **filters)


def audit_events_page(organization: Organization, *, page: int | str | None, **filters) -> Page:
    """One page (of ``PAGE_SIZE``) of the organization's events; a page past the end is the last."""
    return Paginator(audit_events_for(organization, **filters), PAGE_SIZE).get_page(page)
