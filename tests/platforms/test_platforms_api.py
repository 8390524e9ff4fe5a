import socket

import pytest

from platforms.models import ManagerApiCredentials, TradePlatform
from tests.factories import add_member

pytestmark = pytest.mark.django_db


def platforms_url(organization, *parts):
    return f"/api/v1/orgs/{organization.slug}/platforms/" + "".join(f"{p}/" for p in parts)


@pytest.fixture
def platform(api, admin_user, organization):
    api.force_authenticate(admin_user)
    response = api.post(
        platforms_url(organization),
        {
            "name": "Live MT4",
            "type": "mt4",
            "api": "simulated",
            "servers": ["Broker-Live01", " Broker-Live02 "],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_list_update_delete(api, organization, platform):
    assert platform["servers"] == ["Broker-Live01", "Broker-Live02"]
    assert (platform["manager_api_set"], platform["report_db_set"]) == (False, False)
    assert [p["name"] for p in api.get(platforms_url(organization)).json()["results"]] == ["Live MT4"]

    updated = api.patch(platforms_url(organization, platform["id"]), {"api": "metaapi"}, format="json").json()
    assert (updated["api"], updated["type"]) == ("metaapi", "mt4")

    assert api.delete(platforms_url(organization, platform["id"])).status_code == 204
    assert not TradePlatform.objects.exists()


def test_platform_input_errors_are_field_level(api, organization, platform):
    response = api.post(
        platforms_url(organization),
        {"name": "Live MT4", "type": "mt6", "api": "fix", "servers": []},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"type", "api", "servers"}

    duplicate = api.post(
        platforms_url(organization),
        {"name": "Live MT4", "type": "mt5", "api": "simulated", "servers": ["S"]},
        format="json",
    )
    assert duplicate.status_code == 400
    assert "already has a platform" in duplicate.json()["error"]["fields"]["name"][0]
    assert TradePlatform.objects.count() == 1


def test_manager_api_password_is_write_only(api, organization, platform):
    url = platforms_url(organization, platform["id"], "manager-api")
    assert api.get(url).status_code == 409  # nothing set yet
    first = api.put(url, {"host": "mgr1.broker.example", "port": 443, "login": "1001"}, format="json")
    assert first.status_code == 400
    assert "password" in first.json()["error"]["fields"]

    response = api.put(
        url,
        {"host": "mgr1.broker.example", "port": 443, "login": "1001", "password": "s3cret-Mgr!"},
        format="json",
    )
    assert response.status_code == 200
    body = api.get(url).json()
    assert body == body | {"host": "mgr1.broker.example", "port": 443, "login": "1001", "password_set": True}
    assert "password" not in body
    assert "s3cret-Mgr!" not in str(api.get(platforms_url(organization, platform["id"])).content)

    # an update without a password keeps the stored one
    api.put(url, {"host": "mgr2.broker.example", "port": 443, "login": "1001"}, format="json")
    stored = ManagerApiCredentials.objects.get()
    assert (stored.host, stored.password) == ("mgr2.broker.example", "s3cret-Mgr!")

    assert api.delete(url).status_code == 204
    assert not ManagerApiCredentials.objects.exists()
    assert api.get(platforms_url(organization, platform["id"])).json()["manager_api_set"] is False


def test_manager_api_connection_test(api, organization, platform, private_addresses_allowed):
    url = platforms_url(organization, platform["id"], "manager-api")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        api.put(
            url,
            {"host": "127.0.0.1", "port": listener.getsockname()[1], "login": "1", "password": "p"},
            format="json",
        )
        assert api.post(url + "test/").json()["status"] == "ok"
    finally:
        listener.close()
    assert api.post(url + "test/").json()["status"] == "unreachable"


def test_report_db_not_configured_is_409(api, organization, platform):
    for suffix in ("test/", "accounts/", "trades/"):
        method = api.post if suffix == "test/" else api.get
        response = method(platforms_url(organization, platform["id"], "report-db") + suffix)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "not_configured"


@pytest.fixture
def report_platform(api, organization, platform, mt4_report_db, private_addresses_allowed):
    reader = mt4_report_db.reader
    url = platforms_url(organization, platform["id"], "report-db")
    response = api.put(
        url,
        {
            "host": reader.host,
            "port": reader.port,
            "database": reader.database,
            "login": reader.login,
            "password": reader.password,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["password_set"] is True
    return url


def test_report_db_test_accounts_and_trades_against_real_mariadb(api, report_platform):
    check = api.post(report_platform + "test/").json()
    assert check == check | {"status": "ok", "users": 12, "trades": 11}

    accounts = api.get(report_platform + "accounts/", {"page_size": 5}).json()
    assert (accounts["count"], accounts["has_next"], len(accounts["results"])) == (12, True, 5)
    logins = [a["login"] for a in accounts["results"]]
    assert logins == sorted(logins)
    assert set(accounts["results"][0]) >= {
        "login",
        "name",
        "group",
        "balance",
        "equity",
        "margin",
        "free_margin",
    }

    trades = api.get(
        report_platform + "trades/", {"login": 1001, "open": "false", "from": "2024-03-04T09:00:00"}
    )
    assert [t["ticket"] for t in trades.json()["results"]] == [50003, 50002]
    assert trades.json()["results"][1]["volume"] == "0.10"

    opened = api.get(report_platform + "trades/", {"open": "true"}).json()
    assert {t["ticket"] for t in opened["results"]} == {50004, 50005, 50007, 50010, 50011}


def test_report_db_bad_queries_are_field_errors(api, report_platform):
    for params, field in (
        ({"login": "1 OR 1=1"}, "login"),
        ({"from": "2024-03-04T09:00:00+02:00"}, "from"),
        ({"page_size": 100000}, "page_size"),
        ({"page": 1951908912009746317312}, "page"),  # past MySQL's OFFSET: refused before any query
        ({"open": "maybe"}, "open"),
    ):
        response = api.get(report_platform + "trades/", params)
        assert response.status_code == 400, params
        assert field in response.json()["error"]["fields"]


def test_report_db_wrong_password_is_reported_not_raised(api, report_platform, mt4_report_db):
    reader = mt4_report_db.reader
    api.put(
        report_platform,
        {
            "host": reader.host,
            "port": reader.port,
            "database": reader.database,
            "login": reader.login,
            "password": "wrong",
        },
        format="json",
    )
    assert api.post(report_platform + "test/").json()["status"] == "authentication_failed"
    response = api.get(report_platform + "accounts/")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "authentication_failed"
    assert reader.password not in response.content.decode()


def test_viewer_reads_but_cannot_change(api, organization, platform):
    viewer = add_member(organization, role="viewer").user
    api.force_authenticate(viewer)
    assert api.get(platforms_url(organization, platform["id"])).status_code == 200
    assert (
        api.patch(platforms_url(organization, platform["id"]), {"name": "x"}, format="json").status_code
        == 403
    )
