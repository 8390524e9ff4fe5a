"""API clients: machine callers with a generated id and secret, acting within their scopes.

The secret is 256 random bits, shown once, and stored as its SHA-256 digest: with that much
entropy a fast hash is as safe as a slow one, and verifying costs microseconds per request
(no per-request key stretching).
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit import kinds
from audit.services import AnyRequest, record_audit_event, secret_changed
from clients.models import ApiClient
from core.errors import ServiceError
from orgs import permissions as perms
from orgs.models import Organization
from orgs.selectors import organization_permissions

CLIENT_ID_PREFIX = "ttmt_"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per client per minute


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> tuple[str, str, str]:
    secret = secrets.token_urlsafe(32)
    return secret, hash_secret(secret), f"{secret[:4]}…{secret[-4:]}"


def _check_scopes(*, actor: User, organization: Organization, scopes: list[str]) -> list[str]:
    unknown = set(scopes) - set(perms.SCOPES)
    if unknown:
        raise ServiceError(f"Unknown scopes: {', '.join(sorted(unknown))}.", field="scopes")
    if not scopes:
        raise ServiceError("Give at least one scope.", field="scopes")
    beyond = perms.permissions_for_scopes(scopes) - organization_permissions(
        user=actor, organization=organization
    )
    if beyond:
        raise ServiceError(
            f"You cannot give a client permissions you do not hold: {', '.join(sorted(beyond))}.",
            field="scopes",
            code="permission_denied",
        )
    return sorted(set(scopes))


@transaction.atomic
def client_create(
    *,
    organization: Organization,
    created_by: User,
    name: str,
    scopes: list[str],
    request: AnyRequest | None = None,
) -> tuple[ApiClient, str]:
    """Returns the client and its secret: the only time the secret exists outside the caller."""
    name = name.strip()
    if not name:
        raise ServiceError("A name is required.", field="name")
    scopes = _check_scopes(actor=created_by, organization=organization, scopes=scopes)
    secret, digest, hint = _new_secret()
    client = ApiClient.objects.create(
        organization=organization,
        name=name,
        client_id=CLIENT_ID_PREFIX + secrets.token_hex(10),
        secret_hash=digest,
        secret_hint=hint,
        scopes=scopes,
        created_by=created_by,
    )
    record_audit_event(
        organization=organization,
        actor=created_by,
        kind=kinds.CLIENT_CREATED,
        target=client,
        changes={"name": {"before": None, "after": name}, "scopes": {"before": None, "after": scopes}}
        | secret_changed("secret"),
        request=request,
    )
    return client, secret


@transaction.atomic
def client_rotate(
    *, client: ApiClient, actor: User, request: AnyRequest | None = None
) -> tuple[ApiClient, str]:
    """A new secret; the old one stops working at once."""
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if not client.is_active:
        raise ServiceError("This client is revoked.", code="revoked")
    secret, client.secret_hash, client.secret_hint = _new_secret()
    client.rotated_at = timezone.now()
    client.save(update_fields=["secret_hash", "secret_hint", "rotated_at"])
    record_audit_event(
        organization=client.organization,
        actor=actor,
        kind=kinds.CLIENT_SECRET_ROTATED,
        target=client,
        changes=secret_changed("secret"),
        request=request,
    )
    return client, secret


@transaction.atomic
def client_revoke(*, client: ApiClient, actor: User, request: AnyRequest | None = None) -> None:
    """Revoke the client (its secret stops working at once); revoking a revoked client changes nothing."""
    if not ApiClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        return
    record_audit_event(
        organization=client.organization,
        actor=actor,
        kind=kinds.CLIENT_REVOKED,
        target=client,
        changes={"status": {"before": "active", "after": "revoked"}},
        request=request,
    )


def client_authenticate(*, client_id: str, secret: str) -> ApiClient | None:
    """The active client with this id and secret, or None. Records the last use (coarsely)."""
    try:
        client = ApiClient.objects.select_related("organization").get(
            client_id=client_id, revoked_at__isnull=True
        )
    except ApiClient.DoesNotExist:
        return None
    if not hmac.compare_digest(client.secret_hash, hash_secret(secret)):
        return None
    now = timezone.now()
    if client.last_used_at is None or now - client.last_used_at >= LAST_USED_RESOLUTION:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client
