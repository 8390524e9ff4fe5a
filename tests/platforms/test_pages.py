"""The server-rendered pages for trade platforms, their credentials and report databases, and API
clients (both behind the same organization checks)."""

import dataclasses
import re
import socket
from html import unescape

import pytest
from django.urls import reverse

from clients import services as clients
from clients.models import ApiClient
from platforms import services as platforms
from platforms.models import ManagerApiCredentials, ReportDbCredentials, TradePlatform
from tests.factories import UserFactory, add_member, organization_with_admin
from tests.platforms.report_db_fixtures import ReportDbSetup  # fixture mt4_report_db comes via conftest

pytestmark = pytest.mark.django_db

MANAGER_PASSWORD = "Mgr-pa55word-7f3a9c"
DB_PASSWORD = "Db-pa55word-b81e20"


def _platform(organization, name="MT4 Live", **kwargs) -> TradePlatform:
    fields = {"type": "mt4", "api": "simulated", "servers": ["Broker-Live01"], **kwargs}
    return platforms.platform_create(organization=organization, name=name, **fields)


def _url(name, organization, *args) -> str:
    return reverse(name, args=[organization.slug, *args])


def _html(response) -> str:
    """The page's text with entities decoded (so an escaped secret would still be found)."""
    return unescape(response.content.decode())


def _ids(html: str, kind: str) -> list[int]:
    return [int(value) for value in re.findall(rf'data-testid="{kind}-(\d+)"', html)]


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manager_form(**overrides) -> dict:
    return {
        "host": "mgr1.broker.example",
        "port": "443",
        "login": "1001",
        "password": MANAGER_PASSWORD,
        **overrides,
    }


def _report_form(setup: ReportDbSetup, **overrides) -> dict:
    params = setup.reader
    return {
        "host": params.host,
        "port": str(params.port),
        "database": params.database,
        "login": params.login,
        "password": params.password,
        **overrides,
    }


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def report_platform(organization, mt4_report_db: ReportDbSetup, private_addresses_allowed) -> TradePlatform:
    platform = _platform(organization, "MT4 Reports")
    reader = mt4_report_db.reader
    platforms.report_db_set(
        actor=None,
        platform=platform,
        host=reader.host,
        port=reader.port,
        database=reader.database,
        login=reader.login,
        password=reader.password,
    )
    return platform


# --- platforms ------------------------------------------------------------------------------------


def test_add_edit_and_delete_a_platform(admin_client, organization):
    list_url = _url("platforms:list", organization)
    assert "No trade platforms yet." in _html(admin_client.get(list_url))

    response = admin_client.post(
        list_url,
        {
            "name": " MT4 Live ",
            "type": "mt4",
            "api": "metaapi",
            "servers": "Broker-Live01, Broker-Live02\nBroker-Demo",
        },
    )
    assert response.status_code == 302 and response.url == list_url
    platform = TradePlatform.objects.get(organization=organization)
    assert (platform.name, platform.type, platform.api) == ("MT4 Live", "mt4", "metaapi")
    assert platform.servers == ["Broker-Live01", "Broker-Live02", "Broker-Demo"]
    page = _html(admin_client.get(list_url))
    assert "MT4 Live" in page and "Broker-Demo" in page and "MetaApi" in page
    assert _ids(page, "platform") == [platform.pk]

    duplicate = admin_client.post(
        list_url, {"name": "MT4 Live", "type": "mt5", "api": "simulated", "servers": "X"}
    )
    assert duplicate.status_code == 400
    assert "already has a platform with this name" in _html(duplicate)
    no_servers = admin_client.post(
        list_url, {"name": "Other", "type": "mt5", "api": "simulated", "servers": " ,\n,"}
    )
    assert no_servers.status_code == 400
    assert "Give at least one trade server name." in _html(no_servers)
    assert TradePlatform.objects.filter(organization=organization).count() == 1

    edit_url = _url("platforms:edit", organization, platform.pk)
    edit_page = _html(admin_client.get(edit_url))
    assert "Broker-Live01\nBroker-Live02\nBroker-Demo" in edit_page
    response = admin_client.post(
        edit_url, {"name": "MT5 Main", "type": "mt5", "api": "simulated", "servers": "Main-01\r\nMain-02"}
    )
    assert response.status_code == 302
    platform.refresh_from_db()
    assert (platform.name, platform.type, platform.api, platform.servers) == (
        "MT5 Main",
        "mt5",
        "simulated",
        ["Main-01", "Main-02"],
    )

    _platform(organization, "Taken")
    clash = admin_client.post(edit_url, {"name": "Taken", "type": "mt5", "api": "simulated", "servers": "A"})
    assert clash.status_code == 400
    assert "already has a platform with this name" in _html(clash)
    platform.refresh_from_db()
    assert platform.name == "MT5 Main"

    response = admin_client.post(_url("platforms:delete", organization, platform.pk))
    assert response.status_code == 302
    assert not TradePlatform.objects.filter(pk=platform.pk).exists()
    after = _html(admin_client.get(list_url))
    assert "Platform MT5 Main deleted." in after
    assert platform.pk not in _ids(after, "platform") and len(_ids(after, "platform")) == 1


def test_list_shows_which_credentials_are_set_and_actions_only_to_managers(client, admin_user, organization):
    bare = _platform(organization, "Bare")
    full = _platform(organization, "Full")
    platforms.manager_api_set(
        actor=None, platform=full, host="mgr.broker.example", port=443, login="1", password=MANAGER_PASSWORD
    )
    platforms.report_db_set(
        actor=None,
        platform=full,
        host="db.example",
        port=3306,
        database="mt4",
        login="r",
        password=DB_PASSWORD,
    )

    client.force_login(admin_user)
    page = _html(client.get(_url("platforms:list", organization)))
    rows = dict(re.findall(r'data-testid="platform-(\d+)">(.*?)</tr>', page, re.S))
    assert rows[str(bare.pk)].count("not set") == 2
    assert rows[str(full.pk)].count('badge">set<') == 2
    assert _url("platforms:report_trades", organization, full.pk) in rows[str(full.pk)]
    for name in ("platforms:edit", "platforms:manager_api", "platforms:report_db", "platforms:delete"):
        assert _url(name, organization, bare.pk) in rows[str(bare.pk)]
    assert "Add a platform" in page

    viewer = add_member(organization, role="viewer").user
    client.force_login(viewer)
    page = _html(client.get(_url("platforms:list", organization)))
    assert "Bare" in page and "Full" in page
    assert _url("platforms:delete", organization, bare.pk) not in page
    assert _url("platforms:manager_api", organization, bare.pk) not in page
    assert "Add a platform" not in page
    assert MANAGER_PASSWORD not in page and DB_PASSWORD not in page


# --- credentials ----------------------------------------------------------------------------------


def test_manager_api_password_is_never_rendered_and_kept_when_omitted(admin_client, organization):
    platform = _platform(organization)
    url = _url("platforms:manager_api", organization, platform.pk)
    first = _html(admin_client.get(url))
    assert "no password" in first and "password set" not in first

    missing = admin_client.post(url, _manager_form(password=""))
    assert missing.status_code == 400
    assert "A password is required." in _html(missing)

    refused = admin_client.post(url, _manager_form(port="not-a-port"))
    assert refused.status_code == 400
    assert MANAGER_PASSWORD not in _html(refused)
    assert not ManagerApiCredentials.objects.filter(platform=platform).exists()

    saved = admin_client.post(url, _manager_form(), follow=True)
    assert saved.redirect_chain == [(url, 302)]
    result = _html(saved)
    assert "password set" in result and "mgr1.broker.example" in result
    assert MANAGER_PASSWORD not in result
    stored = ManagerApiCredentials.objects.get(platform=platform)
    assert (stored.host, stored.port, stored.login, stored.password) == (
        "mgr1.broker.example",
        443,
        "1001",
        MANAGER_PASSWORD,
    )

    for page_url in (
        url,
        _url("platforms:list", organization),
        _url("platforms:edit", organization, platform.pk),
    ):
        html = _html(admin_client.get(page_url))
        assert MANAGER_PASSWORD not in html, page_url
    assert "password set" in _html(admin_client.get(url))

    kept = admin_client.post(
        url, _manager_form(host="mgr2.broker.example", port="444", password=""), follow=True
    )
    assert "password set" in _html(kept)
    stored.refresh_from_db()
    assert (stored.host, stored.port, stored.password) == ("mgr2.broker.example", 444, MANAGER_PASSWORD)

    cleared = admin_client.post(_url("platforms:manager_api_clear", organization, platform.pk), follow=True)
    assert "No credentials set" in _html(cleared)
    assert not ManagerApiCredentials.objects.filter(platform=platform).exists()


def test_report_db_password_is_never_rendered_and_kept_when_omitted(admin_client, organization):
    platform = _platform(organization)
    url = _url("platforms:report_db", organization, platform.pk)
    assert 'name="port" value="3306"' in _html(admin_client.get(url))

    form = {
        "host": "db.example",
        "port": "3307",
        "database": "mt4",
        "login": "reader",
        "password": DB_PASSWORD,
    }
    saved = admin_client.post(url, form, follow=True)
    assert saved.redirect_chain == [(url, 302)]
    result = _html(saved)
    assert "password set" in result and "db.example" in result
    assert DB_PASSWORD not in result
    for page_url in (
        url,
        _url("platforms:list", organization),
        _url("platforms:edit", organization, platform.pk),
    ):
        assert DB_PASSWORD not in _html(admin_client.get(page_url)), page_url

    admin_client.post(url, {**form, "database": "mt4_copy", "password": ""})
    stored = ReportDbCredentials.objects.get(platform=platform)
    assert (stored.database, stored.port, stored.password) == ("mt4_copy", 3307, DB_PASSWORD)

    admin_client.post(_url("platforms:report_db_clear", organization, platform.pk))
    assert not ReportDbCredentials.objects.filter(platform=platform).exists()


def test_manager_api_test_connection_ok_and_unreachable(
    admin_client, organization, private_addresses_allowed
):
    platform = _platform(organization)
    test_url = _url("platforms:manager_api_test", organization, platform.pk)

    not_set = admin_client.post(test_url, follow=True)
    assert "has no Manager API credentials" in _html(not_set)

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        platforms.manager_api_set(
            actor=None, platform=platform, host="127.0.0.1", port=port, login="1", password=MANAGER_PASSWORD
        )
        response = admin_client.post(test_url)
    assert response.status_code == 200
    html = _html(response)
    assert re.search(r"Test connection: <span class=\"badge\">OK</span>", html)
    assert f"127.0.0.1:{port} accepts connections." in html
    assert MANAGER_PASSWORD not in html

    closed = _unused_port()
    platforms.manager_api_set(actor=None, platform=platform, host="127.0.0.1", port=closed, login="1")
    html = _html(admin_client.post(test_url))
    assert "Unreachable" in html and f"127.0.0.1:{closed} does not answer" in html
    assert ">OK<" not in html


def test_report_db_test_connection_against_mariadb(
    admin_client, organization, mt4_report_db: ReportDbSetup, private_addresses_allowed
):
    platform = _platform(organization)
    url = _url("platforms:report_db", organization, platform.pk)
    test_url = _url("platforms:report_db_test", organization, platform.pk)
    reader = mt4_report_db.reader

    saved = admin_client.post(url, _report_form(mt4_report_db), follow=True)
    assert reader.password not in _html(saved)

    html = _html(admin_client.post(test_url))
    assert 'Test connection: <span class="badge">OK</span>' in html
    assert "12 accounts, 11 trades" in html
    assert reader.password not in html

    platforms.report_db_set(
        actor=None,
        platform=platform,
        host=reader.host,
        port=reader.port,
        database=mt4_report_db.partial.database,
        login=reader.login,
    )
    html = _html(admin_client.post(test_url))
    assert "Tables missing" in html and "Missing tables: MT4_TRADES" in html

    platforms.report_db_set(
        actor=None,
        platform=platform,
        host=reader.host,
        port=reader.port,
        database=reader.database + "_nope",
        login=reader.login,
    )
    assert "Database missing" in _html(admin_client.post(test_url))

    wrong = "not-" + reader.password
    admin_client.post(url, _report_form(mt4_report_db, password=wrong))
    html = _html(admin_client.post(test_url))
    assert "Authentication failed" in html and "refused the login or password." in html
    assert "Access denied" not in html  # the server's own words stay in the log
    assert wrong not in html and reader.password not in html

    platforms.report_db_set(
        actor=None,
        platform=platform,
        host="127.0.0.1",
        port=_unused_port(),
        database="mt4",
        login=reader.login,
    )
    assert "Unreachable" in _html(admin_client.post(test_url))


def test_report_accounts_page_lists_the_logins(admin_client, organization, report_platform):
    url = _url("platforms:report_accounts", organization, report_platform.pk)
    response = admin_client.get(url)
    assert response.status_code == 200
    html = _html(response)
    assert _ids(html, "account") == list(range(1001, 1013))
    assert "Alice Martin" in html and "real-ecn" in html and "50030.75" in html
    assert "12 in all" in html and "Next" not in html

    beyond = _html(admin_client.get(url, {"page": 2}))
    assert _ids(beyond, "account") == []
    assert "Previous" in beyond
    assert admin_client.get(url, {"page": "zero"}).status_code == 400


def test_report_trades_page_filters(admin_client, organization, report_platform):
    url = _url("platforms:report_trades", organization, report_platform.pk)

    everything = _html(admin_client.get(url))
    assert sorted(_ids(everything, "trade")) == list(range(50001, 50012))
    assert 'type="datetime-local"' in everything

    assert _ids(_html(admin_client.get(url, {"login": 1002})), "trade") == [50007, 50006]
    opened = _ids(_html(admin_client.get(url, {"status": "open"})), "trade")
    assert sorted(opened) == [50004, 50005, 50007, 50010, 50011]
    closed_1001 = _ids(_html(admin_client.get(url, {"login": 1001, "status": "closed"})), "trade")
    assert sorted(closed_1001) == [50001, 50002, 50003]
    open_1001 = _html(admin_client.get(url, {"login": 1001, "status": "open"}))
    assert sorted(_ids(open_1001, "trade")) == [50004, 50005]
    assert "buy_limit" in open_1001 and "2.50" in open_1001  # USDJPY pending order; 250 -> 2.50 lots

    window = {"from": "2024-03-06T00:00", "to": "2024-03-07T00:00"}
    assert _ids(_html(admin_client.get(url, window)), "trade") == [50005, 50004]

    backwards = admin_client.get(url, {"from": "2024-03-07T00:00", "to": "2024-03-06T00:00"})
    assert backwards.status_code == 400 and "Must not be before From." in _html(backwards)
    assert admin_client.get(url, {"login": "abc"}).status_code == 400
    assert admin_client.get(url, {"from": "2024-03-06T00:00+02:00"}).status_code == 400


def test_report_pages_show_errors_instead_of_failing(
    admin_client, organization, mt4_report_db, private_addresses_allowed
):
    platform = _platform(organization)
    for name in ("platforms:report_accounts", "platforms:report_trades"):
        response = admin_client.get(_url(name, organization, platform.pk))
        assert response.status_code == 200
        html = _html(response)
        assert "has no report database credentials" in html
        assert _url("platforms:report_db", organization, platform.pk) in html

    reader = dataclasses.replace(mt4_report_db.reader, password="wrong-" + mt4_report_db.reader.password)
    platforms.report_db_set(
        actor=None,
        platform=platform,
        host=reader.host,
        port=reader.port,
        database=reader.database,
        login=reader.login,
        password=reader.password,
    )
    for name in ("platforms:report_accounts", "platforms:report_trades"):
        response = admin_client.get(_url(name, organization, platform.pk))
        assert response.status_code == 200
        html = _html(response)
        assert "refused the login or password." in html and "Access denied" not in html
        assert reader.password not in html and "Traceback" not in html


# --- permissions ----------------------------------------------------------------------------------


def _post_urls(organization, platform, api_client) -> list[str]:
    return [
        _url("platforms:list", organization),
        _url("platforms:edit", organization, platform.pk),
        _url("platforms:delete", organization, platform.pk),
        _url("platforms:manager_api", organization, platform.pk),
        _url("platforms:manager_api_clear", organization, platform.pk),
        _url("platforms:manager_api_test", organization, platform.pk),
        _url("platforms:report_db", organization, platform.pk),
        _url("platforms:report_db_clear", organization, platform.pk),
        _url("platforms:report_db_test", organization, platform.pk),
        _url("clients:list", organization),
        _url("clients:rotate", organization, api_client.pk),
        _url("clients:revoke", organization, api_client.pk),
    ]


def _get_urls(organization, platform) -> list[str]:
    return [
        _url("platforms:list", organization),
        _url("platforms:edit", organization, platform.pk),
        _url("platforms:manager_api", organization, platform.pk),
        _url("platforms:report_db", organization, platform.pk),
        _url("platforms:report_accounts", organization, platform.pk),
        _url("platforms:report_trades", organization, platform.pk),
    ]


def _credentialed_platform_and_client(organization, admin_user):
    platform = _platform(organization)
    platforms.manager_api_set(
        actor=None, platform=platform, host="mgr.broker.example", port=1, login="1", password=MANAGER_PASSWORD
    )
    platforms.report_db_set(
        actor=None,
        platform=platform,
        host="db.broker.example",
        port=1,
        database="mt4",
        login="r",
        password=DB_PASSWORD,
    )
    api_client, _ = clients.client_create(
        organization=organization, created_by=admin_user, name="Bot", scopes=["platforms:read"]
    )
    return platform, api_client


def test_viewer_sees_platform_pages_but_every_post_is_403(client, admin_user, organization):
    platform, api_client = _credentialed_platform_and_client(organization, admin_user)
    client.force_login(add_member(organization, role="viewer").user)

    for url in _get_urls(organization, platform):
        response = client.get(url)
        assert response.status_code == 200, url
        html = _html(response)
        assert 'type="password"' not in html and '<form method="post"' not in html, url
        assert MANAGER_PASSWORD not in html and DB_PASSWORD not in html, url
    assert "password set" in _html(client.get(_url("platforms:manager_api", organization, platform.pk)))

    for url in _post_urls(organization, platform, api_client):
        response = client.post(url, {**_manager_form(), "name": "pwned", "servers": "X", "database": "x"})
        assert response.status_code == 403, url
    assert client.get(_url("clients:list", organization)).status_code == 403

    platform.refresh_from_db()
    assert platform.name == "MT4 Live"
    assert ManagerApiCredentials.objects.get(platform=platform).host == "mgr.broker.example"
    assert ReportDbCredentials.objects.filter(platform=platform).exists()
    api_client.refresh_from_db()
    assert api_client.is_active and api_client.rotated_at is None
    assert ApiClient.objects.count() == 1


def test_member_of_another_organization_gets_404_everywhere(client, admin_user, organization):
    platform, api_client = _credentialed_platform_and_client(organization, admin_user)
    stranger = UserFactory()
    organization_with_admin(stranger, "Elsewhere")
    client.force_login(stranger)

    for url in [*_get_urls(organization, platform), _url("clients:list", organization)]:
        assert client.get(url).status_code == 404, url
    for url in _post_urls(organization, platform, api_client):
        assert client.post(url, {**_manager_form(), "name": "pwned", "servers": "X"}).status_code == 404, url
    assert TradePlatform.objects.filter(pk=platform.pk, name="MT4 Live").exists()
    api_client.refresh_from_db()
    assert api_client.is_active and api_client.rotated_at is None


def test_another_organizations_ids_under_your_slug_are_404(client, admin_user, organization):
    platform, api_client = _credentialed_platform_and_client(organization, admin_user)
    other_admin = UserFactory()
    elsewhere = organization_with_admin(other_admin, "Elsewhere")
    client.force_login(other_admin)

    for url in _get_urls(elsewhere, platform)[1:]:
        assert client.get(url).status_code == 404, url
    for url in _post_urls(elsewhere, platform, api_client):
        if url in (_url("platforms:list", elsewhere), _url("clients:list", elsewhere)):
            continue
        assert client.post(url, {**_manager_form(), "name": "pwned", "servers": "X"}).status_code == 404, url
    assert TradePlatform.objects.filter(pk=platform.pk, name="MT4 Live").exists()
    assert ManagerApiCredentials.objects.filter(platform=platform).exists()


def test_organization_page_links_respect_permissions(client, admin_user, organization):
    client.force_login(admin_user)
    html = _html(client.get(reverse("orgs:detail", args=[organization.slug])))
    assert _url("platforms:list", organization) in html and _url("clients:list", organization) in html

    client.force_login(add_member(organization, role="viewer").user)
    html = _html(client.get(reverse("orgs:detail", args=[organization.slug])))
    assert _url("platforms:list", organization) in html and _url("clients:list", organization) not in html

    client.force_login(add_member(organization, permissions={"view_organization"}).user)
    html = _html(client.get(reverse("orgs:detail", args=[organization.slug])))
    assert _url("platforms:list", organization) not in html
    assert client.get(_url("platforms:list", organization)).status_code == 403
