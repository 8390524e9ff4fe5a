"""Connections made on a user's behalf (Manager API and report-DB tests and reads): public addresses
only, checked when saved and at every connection, one look-up each; connection tests limited per
organization; no server text shown."""

import socket

import pytest
from django.urls import reverse

from platforms import services as platforms
from platforms.models import ManagerApiCredentials, ReportDbCredentials
from tests.factories import UserFactory, organization_with_admin
from tests.platforms.report_db_fixtures import ReportDbSetup

pytestmark = pytest.mark.django_db

REFUSED_HOSTS = ["127.0.0.1", "localhost", "10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1", "[::1]", "0"]


def _api_url(organization, platform, *parts) -> str:
    return f"/api/v1/orgs/{organization.slug}/platforms/{platform.pk}/" + "".join(f"{p}/" for p in parts)


@pytest.fixture
def platform(organization):
    return platforms.platform_create(
        organization=organization, name="MT4 Live", type="mt4", api="simulated", servers=["Live01"]
    )


@pytest.fixture
def as_admin(api, admin_user):
    api.force_authenticate(admin_user)
    return api


@pytest.fixture
def listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        sock.setblocking(False)
        yield sock


def _was_connected(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except BlockingIOError:
        return False
    return True


# --- saving -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_credentials_naming_a_refused_address_are_a_field_error(as_admin, organization, platform, host):
    host = host.strip("[]")
    for kind, body in (
        ("manager-api", {"host": host, "port": 6379, "login": "1", "password": "p"}),
        ("report-db", {"host": host, "port": 3306, "database": "mt4", "login": "root", "password": "p"}),
    ):
        response = as_admin.put(_api_url(organization, platform, kind), body, format="json")
        assert response.status_code == 400, (kind, host)
        error = response.json()["error"]
        assert error["fields"] == {"host": ["This address is not allowed."]}
        assert error["code"] == "address_not_allowed"
    assert not ManagerApiCredentials.objects.exists() and not ReportDbCredentials.objects.exists()


def test_the_page_shows_the_refusal_on_the_host_field(client, admin_user, organization, platform):
    client.force_login(admin_user)
    url = reverse("platforms:manager_api", args=[organization.slug, platform.pk])
    response = client.post(url, {"host": "127.0.0.1", "port": "6379", "login": "1", "password": "p"})
    assert response.status_code == 400
    assert response.context["form"].errors["host"] == ["This address is not allowed."]
    assert not ManagerApiCredentials.objects.exists()


def test_cloud_metadata_is_refused_even_where_private_addresses_are_allowed(
    as_admin, organization, platform, private_addresses_allowed
):
    body = {"host": "169.254.169.254", "port": 80, "login": "1", "password": "p"}
    assert (
        as_admin.put(_api_url(organization, platform, "manager-api"), body, format="json").status_code == 400
    )
    body["host"] = "10.0.0.5"
    assert (
        as_admin.put(_api_url(organization, platform, "manager-api"), body, format="json").status_code == 200
    )


# --- connecting -------------------------------------------------------------------------------------


def test_a_stored_private_manager_api_address_is_refused_without_connecting(
    as_admin, organization, platform, listener, settings
):
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = True  # saved while allowed (or before this check existed)
    platforms.manager_api_set(
        actor=None,
        platform=platform,
        host="127.0.0.1",
        port=listener.getsockname()[1],
        login="1",
        password="p",
    )
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = False

    response = as_admin.post(_api_url(organization, platform, "manager-api", "test"))

    assert response.status_code == 200
    check = response.json()
    assert (check["status"], check["message"]) == ("address_not_allowed", "This address is not allowed.")
    assert not _was_connected(listener)


def test_a_stored_private_report_db_address_is_refused_without_connecting(
    as_admin, organization, platform, mt4_report_db: ReportDbSetup, settings
):
    reader = mt4_report_db.reader
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = True
    platforms.report_db_set(
        actor=None,
        platform=platform,
        host=reader.host,
        port=reader.port,
        database=reader.database,
        login=reader.login,
        password=reader.password,
    )
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = False

    check = as_admin.post(_api_url(organization, platform, "report-db", "test")).json()
    assert (check["status"], check["message"]) == ("address_not_allowed", "This address is not allowed.")
    read = as_admin.get(_api_url(organization, platform, "report-db", "accounts"))
    assert read.status_code == 502 and read.json()["error"]["code"] == "address_not_allowed"


def test_the_manager_api_test_resolves_the_name_once_and_connects_to_that_address(
    as_admin, organization, platform, listener, monkeypatch, private_addresses_allowed
):
    platforms.manager_api_set(
        actor=None,
        platform=platform,
        host="mgr.rebind.example",
        port=listener.getsockname()[1],
        login="1",
        password="p",
    )
    looked_up = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "mgr.rebind.example":
            return real(host, port, *args, **kwargs)
        looked_up.append(host)  # a second answer could point anywhere: there must be none
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    connected_to = []
    real_connect = socket.create_connection

    def create_connection(address, *args, **kwargs):
        connected_to.append(address)
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    check = as_admin.post(_api_url(organization, platform, "manager-api", "test")).json()

    assert check["status"] == "ok"
    assert looked_up == ["mgr.rebind.example"]
    assert connected_to == [("127.0.0.1", listener.getsockname()[1])]  # the checked address, not the name
    assert _was_connected(listener)


def test_an_unreachable_manager_api_shows_no_socket_error(as_admin, organization, platform):
    platforms.manager_api_set(
        actor=None, platform=platform, host="nowhere.broker.example", port=443, login="1", password="p"
    )
    check = as_admin.post(_api_url(organization, platform, "manager-api", "test")).json()
    assert (check["status"], check["message"]) == (
        "unreachable",
        "nowhere.broker.example:443 does not answer.",
    )


# --- connection tests per organization --------------------------------------------------------------


def _configured(organization):
    platform = platforms.platform_create(
        organization=organization, name="P", type="mt4", api="simulated", servers=["S"]
    )
    platforms.manager_api_set(
        actor=None, platform=platform, host="mgr.broker.example", port=443, login="1", password="p"
    )
    platforms.report_db_set(
        actor=None,
        platform=platform,
        host="db.broker.example",
        port=3306,
        database="mt4",
        login="r",
        password="p",
    )
    return platform


def test_connection_tests_are_limited_per_organization(api, settings):
    settings.TTMT_CONNECTION_TESTS_PER_MINUTE = 10
    admin, other_admin = UserFactory(), UserFactory()
    organization, other = (
        organization_with_admin(admin, "Desk"),
        organization_with_admin(other_admin, "Other"),
    )
    platform, other_platform = _configured(organization), _configured(other)
    api.force_authenticate(admin)

    manager, report = (
        _api_url(organization, platform, "manager-api", "test"),
        _api_url(organization, platform, "report-db", "test"),
    )
    statuses = [api.post(manager if n % 2 else report).status_code for n in range(10)]
    assert statuses == [200] * 10
    for url in (manager, report):
        response = api.post(url)
        assert response.status_code == 429
        error = response.json()["error"]
        assert (error["status"], error["code"]) == (429, "throttled")
        assert error["message"].startswith("Too many connection tests for this organization.")
        assert response["Retry-After"] == "60"

    api.force_authenticate(other_admin)
    assert api.post(_api_url(other, other_platform, "manager-api", "test")).status_code == 200


def test_the_test_page_says_when_the_organization_ran_too_many(client, admin_user, organization, settings):
    settings.TTMT_CONNECTION_TESTS_PER_MINUTE = 1
    platform = _configured(organization)
    client.force_login(admin_user)
    url = reverse("platforms:report_db_test", args=[organization.slug, platform.pk])
    assert client.post(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 429
    assert (
        "Too many connection tests for this organization. Try again in a minute." in response.content.decode()
    )
