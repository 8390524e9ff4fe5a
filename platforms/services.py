"""Trade platforms and their two credential sets (Manager API, report database).

Credential secrets are write-only: set here, stored encrypted, never returned by a read.
"""

import socket
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from core.errors import ServiceError
from orgs.models import Organization
from platforms import report_db
from platforms.models import ManagerApiCredentials, ReportDbCredentials, TradePlatform

CONNECT_TIMEOUT = 5.0


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


def _set_credentials(model, *, platform: TradePlatform, password: str | None, **fields):
    existing = model.objects.filter(platform=platform).first()
    if not password:
        if existing is None:
            raise ServiceError("A password is required.", field="password")
        password = existing.password  # omitted on update: keep the stored one
    credentials = existing or model(platform=platform)
    for name, value in {**fields, "password": password}.items():
        setattr(credentials, name, value)
    credentials.save()
    return credentials


def manager_api_set(
    *, platform: TradePlatform, host: str, port: int, login: str, password: str | None = None
) -> ManagerApiCredentials:
    """Set the Manager API credentials; an omitted password keeps the stored one."""
    return _set_credentials(
        ManagerApiCredentials, platform=platform, host=host.strip(), port=port, login=login, password=password
    )


def manager_api_clear(*, platform: TradePlatform) -> None:
    ManagerApiCredentials.objects.filter(platform=platform).delete()


def report_db_set(
    *, platform: TradePlatform, host: str, port: int, database: str, login: str, password: str | None = None
) -> ReportDbCredentials:
    """Set the report database credentials; an omitted password keeps the stored one."""
    return _set_credentials(
        ReportDbCredentials,
        platform=platform,
        host=host.strip(),
        port=port,
        database=database.strip(),
        login=login,
        password=password,
    )


def report_db_clear(*, platform: TradePlatform) -> None:
    ReportDbCredentials.objects.filter(platform=platform).delete()


class NotConfigured(ServiceError):
    """The platform has no credentials of the kind asked for."""


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
    return report_db.check_connection(report_db_params(platform))


@dataclass(frozen=True)
class ManagerApiCheck:
    status: str  # "ok" | "unreachable"
    message: str


def manager_api_check(*, platform: TradePlatform, timeout: float = CONNECT_TIMEOUT) -> ManagerApiCheck:
    """Does the Manager API host answer on its port (TCP, bounded)? No login is attempted."""
    credentials = ManagerApiCredentials.objects.filter(platform=platform).first()
    if credentials is None:
        raise NotConfigured("This platform has no Manager API credentials.", code="not_configured")
    address = f"{credentials.host}:{credentials.port}"
    try:
        with socket.create_connection((credentials.host, credentials.port), timeout=timeout):
            return ManagerApiCheck("ok", f"{address} accepts connections.")
    except OSError as error:
        return ManagerApiCheck("unreachable", f"{address} does not answer: {error.strerror or error}.")
