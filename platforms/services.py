"""Trade platforms and their two credential sets (Manager API, report database).

Credential secrets are write-only: set here, stored encrypted, never returned by a read.
Credentials name public hosts only (``core.egress``: checked when saved, and again at every
connection, which goes to the address checked). Connection tests are limited per organization
(``TTMT_CONNECTION_TESTS_PER_MINUTE``) and answer in this module's words, never the server's.
"""

import logging
import socket
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from audit import kinds
from audit.services import Actor, AnyRequest, field_changes, record_audit_event, secret_changed
from core import egress, rate
from core.errors import ServiceError
from orgs.models import Organization
from platforms import report_db
from platforms.models import ManagerApiCredentials, ReportDbCredentials, TradePlatform

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
CONNECTION_TEST_WINDOW_SECONDS = 60


def _clean_servers(servers: list[str]) -> list[str]:
    cleaned = [server.strip() for server in servers if server and server.strip()]
    if not cleaned:
        raise ServiceError("Give at least one trade server name.", field="servers")
    return list(dict.fromkeys(cleaned))


def _save_platform(platform: TradePlatform) -> TradePlatform:
    try:
        with transaction.atomic():
            platform.save()
    except IntegrityError:
        raise ServiceError("This organization already has a platform with this name.", field="name") from None
    return platform


def platform_create(
    *, organization: Organization, name: str, type: str, api: str, servers: list[str]
) -> TradePlatform:
    platform = TradePlatform(
        organization=organization, name=name.strip(), type=type, api=api, servers=_clean_servers(servers)
    )
    return _save_platform(platform)


def platform_update(
    *,
    platform: TradePlatform,
    name: str | None = None,
    type: str | None = None,
    api: str | None = None,
    servers: list[str] | None = None,
) -> TradePlatform:
    if name is not None:
        platform.name = name.strip()
    if type is not None:
        platform.type = type
    if api is not None:
        platform.api = api
    if servers is not None:
        platform.servers = _clean_servers(servers)
    return _save_platform(platform)


def platform_delete(*, platform: TradePlatform) -> None:
    platform.delete()


def _check_host(host: str, port: int) -> str:
    host = host.strip()
    try:
        egress.refuse_if_not_allowed(host, port)
    except egress.AddressNotAllowed as error:
        raise ServiceError(error.message, field="host", code="address_not_allowed") from None
    return host


SECRET_CREDENTIAL_FIELDS = (
    "login",
    "password",
)  # stored encrypted: the audit log says "changed", never the value


def _credential_changes(prefix: str, *, before: dict, after: dict, password_given: bool) -> dict[str, dict]:
    plain = [name for name in after if name not in SECRET_CREDENTIAL_FIELDS]
    changes = field_changes(
        {f"{prefix}.{name}": before[name] for name in plain},
        {f"{prefix}.{name}": after[name] for name in plain},
    )
    secrets_changed = [
        name for name in after if name in SECRET_CREDENTIAL_FIELDS and before[name] != after[name]
    ]
    if password_given:
        secrets_changed.append("password")
    return changes | secret_changed(*(f"{prefix}.{name}" for name in secrets_changed))


@transaction.atomic
def _set_credentials(
    model,
    *,
    platform: TradePlatform,
    actor: Actor,
    request: AnyRequest | None,
    audit_prefix: str,
    password: str | None,
    **fields,
):
    existing = model.objects.filter(platform=platform).first()
    if not password and existing is None:
        raise ServiceError("A password is required.", field="password")
    before = {name: getattr(existing, name, None) for name in fields}
    credentials = existing or model(platform=platform)
    for name, value in fields.items():
        setattr(credentials, name, value)
    if password:  # omitted on update: keep the stored one
        credentials.password = password
    credentials.save()
    changes = _credential_changes(audit_prefix, before=before, after=fields, password_given=bool(password))
    if changes:
        record_audit_event(
            organization=platform.organization,
            actor=actor,
            kind=kinds.PLATFORM_CREDENTIALS_CHANGED,
            target=platform,
            changes=changes,
            request=request,
        )
    return credentials


def _clear_credentials(
    model, *, platform: TradePlatform, actor: Actor, request: AnyRequest | None, audit_prefix: str
) -> None:
    with transaction.atomic():
        if model.objects.filter(platform=platform).delete()[0]:
            record_audit_event(
                organization=platform.organization,
                actor=actor,
                kind=kinds.PLATFORM_CREDENTIALS_CLEARED,
                target=platform,
                changes={audit_prefix: {"before": "set", "after": None}},
                request=request,
            )


def manager_api_set(
    *,
    platform: TradePlatform,
    actor: Actor,
    host: str,
    port: int,
    login: str,
    password: str | None = None,
    request: AnyRequest | None = None,
) -> ManagerApiCredentials:
    """Set the Manager API credentials; an omitted password keeps the stored one."""
    return _set_credentials(
        ManagerApiCredentials,
        platform=platform,
        actor=actor,
        request=request,
        audit_prefix="manager_api",
        host=_check_host(host, port),
        port=port,
        login=login,
        password=password,
    )


def manager_api_clear(*, platform: TradePlatform, actor: Actor, request: AnyRequest | None = None) -> None:
    _clear_credentials(
        ManagerApiCredentials, platform=platform, actor=actor, request=request, audit_prefix="manager_api"
    )


def report_db_set(
    *,
    platform: TradePlatform,
    actor: Actor,
    host: str,
    port: int,
    database: str,
    login: str,
    password: str | None = None,
    request: AnyRequest | None = None,
) -> ReportDbCredentials:
    """Set the report database credentials; an omitted password keeps the stored one."""
    return _set_credentials(
        ReportDbCredentials,
        platform=platform,
        actor=actor,
        request=request,
        audit_prefix="report_db",
        host=_check_host(host, port),
        port=port,
        database=database.strip(),
        login=login,
        password=password,
    )


def report_db_clear(*, platform: TradePlatform, actor: Actor, request: AnyRequest | None = None) -> None:
    _clear_credentials(
        ReportDbCredentials, platform=platform, actor=actor, request=request, audit_prefix="report_db"
    )


class NotConfigured(ServiceError):
    """The platform has no credentials of the kind asked for."""


class ConnectionTestsThrottled(ServiceError):
    """The organization ran its connection tests of this minute; ``wait`` seconds at most."""

    summary = "Too many connection tests for this organization."

    def __init__(self) -> None:
        super().__init__(f"{self.summary} Try again in a minute.", code="throttled")
        self.wait = CONNECTION_TEST_WINDOW_SECONDS


def _count_connection_test(platform: TradePlatform) -> None:
    key = f"ttmt:connection-tests:{platform.organization_id}"
    if rate.count_hit(key, window=CONNECTION_TEST_WINDOW_SECONDS) > settings.TTMT_CONNECTION_TESTS_PER_MINUTE:
        raise ConnectionTestsThrottled()


def report_db_params(platform: TradePlatform) -> report_db.ConnectionParams:
    credentials = ReportDbCredentials.objects.filter(platform=platform).first()
    if credentials is None:
        raise NotConfigured("This platform has no report database credentials.", code="not_configured")
    return report_db.ConnectionParams(
        host=credentials.host,
        port=credentials.port,
        database=credentials.database,
        login=credentials.login,
        password=credentials.password,
    )


def report_db_check(*, platform: TradePlatform) -> report_db.ConnectionCheck:
    """Connect to the report database and look at its tables; counts as one connection test."""
    params = report_db_params(platform)
    _count_connection_test(platform)
    return report_db.check_connection(params)


@dataclass(frozen=True)
class ManagerApiCheck:
    status: str  # "ok" | "unreachable" | "address_not_allowed"
    message: str


def manager_api_check(*, platform: TradePlatform, timeout: float = CONNECT_TIMEOUT) -> ManagerApiCheck:
    """Does the Manager API host answer on its port (TCP, bounded)? No login is attempted.
    Counts as one connection test."""
    credentials = ManagerApiCredentials.objects.filter(platform=platform).first()
    if credentials is None:
        raise NotConfigured("This platform has no Manager API credentials.", code="not_configured")
    _count_connection_test(platform)
    address = f"{credentials.host}:{credentials.port}"
    try:
        with socket.create_connection(
            egress.checked_address(credentials.host, credentials.port), timeout=timeout
        ):
            return ManagerApiCheck("ok", f"{address} accepts connections.")
    except egress.AddressNotAllowed as error:
        logger.warning("Manager API test of %s: refused address", address)
        return ManagerApiCheck("address_not_allowed", error.message)
    except OSError as error:  # HostNotFound included
        logger.warning("Manager API test of %s: %s", address, error)
        return ManagerApiCheck("unreachable", f"{address} does not answer.")
