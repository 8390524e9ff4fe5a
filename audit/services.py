"""Recording audit events: ``record_audit_event`` is the one way an event is written.

Call it inside the transaction of the change it records, once the change is made, so that the
change and its record commit (or roll back) together. ``changes`` maps a field to
``{"before": ..., "after": ...}`` (``field_changes`` builds that from two snapshots); a secret is
recorded only as changed (``secret_changed``). A field named like a secret holding anything else is
refused: a secret's value never reaches the log.
"""

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.db import models
from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User
from audit.kinds import KINDS
from audit.models import AuditEvent
from clients.models import ApiClient
from core.client_ip import client_ip
from orgs.models import Organization

SECRET_WORDS = ("password", "secret", "token")
CHANGED = {"changed": True}
SYSTEM = "system"

Actor = User | ApiClient | None  # None: the system itself (a scheduled job, a script)
AnyRequest = HttpRequest | Request  # a page's request, or the API's


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"before", "after"}}`` for each field whose value differs between the snapshots
    (a field missing from one of them is None there)."""
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in sorted({*before, *after})
        if before.get(name) != after.get(name)
    }


def secret_changed(*names: str) -> dict[str, dict[str, bool]]:
    """The record of secrets that were set or replaced: that they changed, never their value."""
    return {name: dict(CHANGED) for name in names}


def _check_no_secret_values(changes: Mapping[str, Any]) -> None:
    for name, change in changes.items():
        if any(word in name.lower() for word in SECRET_WORDS) and change != CHANGED:
            raise ValueError(f"{name!r} looks like a secret: record it with secret_changed({name!r}).")


def _actor_label(actor: Actor) -> str:
    if isinstance(actor, ApiClient):
        return f"API client {actor.name} ({actor.client_id})"
    if actor is None:
        return SYSTEM
    return actor.email


def _ip_of(request: AnyRequest | None) -> str | None:
    address = client_ip(request) if request is not None else None
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


def record_audit_event(
    *,
    organization: Organization,
    actor: Actor,
    kind: str,
    target: models.Model,
    changes: Mapping[str, Any] | None = None,
    request: AnyRequest | None = None,
) -> AuditEvent:
    """Append one event to the organization's audit log: ``actor`` did ``kind`` to ``target``
    (the IP address comes from ``request`` when the change came over HTTP, through
    ``core.client_ip``: behind a trusted proxy, the address it reports)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown audit event kind {kind!r}: add it to audit.kinds.KINDS.")
    changes = dict(changes or {})
    _check_no_secret_values(changes)
    return AuditEvent.objects.create(
        organization=organization,
        actor_user=actor if isinstance(actor, User) else None,
        actor_client=actor if isinstance(actor, ApiClient) else None,
        actor_label=_actor_label(actor)[:200],
        kind=kind,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:200],
        changes=changes,
        ip=_ip_of(request),
    )
