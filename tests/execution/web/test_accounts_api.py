import json
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from execution.accounts.models import AccountSymbol, TradingAccount
from execution.broker.faults import simulated_faults
from execution.broker.gateways.base import OrderKind, OrderRequest, Side
from execution.broker.models import SimulatorDocument
from execution.broker.registry import gateway_for
from platforms.services import platform_create
from tests.factories import add_member, connected_simulated_account

pytestmark = pytest.mark.django_db


def accounts_url(organization, *parts):
    return f"/api/v1/orgs/{organization.slug}/accounts/" + "".join(f"{p}/" for p in parts)


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization, server="SimMarkets-Live")


def place(account, symbol="EURUSD.m", side=Side.BUY, tag="t1"):
    async def go():
        gateway = gateway_for(account)
        await gateway.connect()
        spec = await gateway.symbol_spec(symbol)
        return await gateway.place_order(
            OrderRequest(symbol, side, OrderKind.MARKET, spec.volume_min, client_tag=tag)
        )

    return async_to_sync(go)()


def test_connect_through_the_api_returns_202_and_never_the_password(api, admin_user, organization):
    platform = platform_create(
        organization=organization, name="Sim", type="mt5", api="simulated", servers=["SimBroker-Demo"]
    )
    api.force_authenticate(admin_user)
    response = api.post(
        accounts_url(organization),
        {
            "name": "Demo 1",
            "type": "demo",
            "platform": platform.pk,
            "login": "9001",
            "server": "SimBroker-Demo",
            "password": "Secret-MT-pass",
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["connection_state"] == "connecting"
    assert "password" not in body and "Secret-MT-pass" not in response.content.decode()
    stored = TradingAccount.objects.get()
    assert stored.setup_password == "Secret-MT-pass"  # until the setup actor ran (encrypted at rest)


def test_connect_input_errors_are_field_level(api, admin_user, organization, account):
    api.force_authenticate(admin_user)
    response = api.post(
        accounts_url(organization),
        {"name": "X", "type": "gold", "platform": 999999, "login": "1", "server": "Nowhere"},
        format="json",
    )
    assert response.status_code == 400
    assert {"type", "platform", "password"} <= set(response.json()["error"]["fields"])

    response = api.post(
        accounts_url(organization),
        {"name": "X", "platform": account.platform_id, "login": "2", "server": "Nowhere", "password": "p"},
        format="json",
    )
    assert response.status_code == 400
    assert "SimMarkets-Live" in response.json()["error"]["fields"]["server"][0]

    duplicate = api.post(
        accounts_url(organization),
        {
            "name": "Again",
            "platform": account.platform_id,
            "login": account.login,
            "server": account.server,
            "password": "p",
        },
        format="json",
    )
    assert duplicate.status_code == 400
    assert "already connected" in duplicate.json()["error"]["fields"]["login"][0]


def test_a_platform_of_another_organization_cannot_be_chosen(api, admin_user, organization):
    from tests.factories import UserFactory, organization_with_admin

    elsewhere = organization_with_admin(UserFactory(), "Elsewhere")
    foreign = platform_create(
        organization=elsewhere, name="Theirs", type="mt5", api="simulated", servers=["SimBroker-Demo"]
    )
    api.force_authenticate(admin_user)
    response = api.post(
        accounts_url(organization),
        {"name": "X", "platform": foreign.pk, "login": "1", "server": "SimBroker-Demo", "password": "p"},
        format="json",
    )
    assert response.status_code == 400
    assert "platform" in response.json()["error"]["fields"]
    assert not TradingAccount.objects.filter(platform=foreign).exists()


def test_account_detail_positions_orders_and_symbols(api, admin_user, organization, account):
    result = place(account)
    api.force_authenticate(admin_user)

    detail = api.get(accounts_url(organization, account.pk)).json()
    assert detail == detail | {
        "connection_state": "connected",
        "balance": "10000.00",
        "currency": "USD",
        "is_live": False,
    }
    positions = api.get(accounts_url(organization, account.pk, "positions")).json()
    assert [(p["id"], p["symbol"], p["client_tag"]) for p in positions] == [
        (result.position_id, "EURUSD.m", "t1")
    ]
    assert api.get(accounts_url(organization, account.pk, "orders")).json() == []
    symbols = {s["name"]: s for s in api.get(accounts_url(organization, account.pk, "symbols")).json()}
    assert symbols["GOLD"]["asset_class"] == "metals"
    assert symbols["EURUSD.m"]["contract_size"] == "100000.000000"


def test_symbol_map_resolves_and_overrides(api, admin_user, organization, account):
    api.force_authenticate(admin_user)
    url = f"/api/v1/orgs/{organization.slug}/accounts/{account.pk}/symbol-map/"

    resolved = api.get(url, {"symbol": "xauusd"}).json()
    assert resolved == resolved | {"broker_symbol": "GOLD", "asset_class": "metals"}
    assert api.get(url, {"symbol": "US30"}).json()["broker_symbol"] == "DJ30"

    unknown = api.get(url, {"symbol": "NOPE123"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unknown_symbol"

    created = api.post(url, {"alias": "gold-spot", "broker_symbol": "GOLD"}, format="json")
    assert created.status_code == 201
    assert api.get(url, {"symbol": "GOLD-SPOT"}).json()["matched_by"] == "override"
    bad = api.post(url, {"alias": "x", "broker_symbol": "XAUUSD"}, format="json")
    assert bad.status_code == 400
    assert "broker_symbol" in bad.json()["error"]["fields"]

    assert api.delete(url + f"{created.json()['id']}/").status_code == 204
    assert api.get(url).json() == []


def test_account_faults_through_the_api_make_the_broker_fail(api, admin_user, organization, account):
    api.force_authenticate(admin_user)
    url = accounts_url(organization, account.pk, "faults")
    assert api.put(url, {"scripted_errors": [10019], "latency_seconds": 0}, format="json").status_code == 200
    assert api.get(url).json()["scripted_errors"] == [10019]

    from execution.broker.gateways.base import GatewayError

    with pytest.raises(GatewayError) as failure:
        place(account)
    assert (failure.value.code, failure.value.source) == (10019, "mt5")
    assert api.get(url).json()["scripted_errors"] == []  # consumed

    bad = api.put(url, {"error_rate": 2, "scripted_errors": ["boom"]}, format="json")
    assert bad.status_code == 400
    assert {"error_rate", "scripted_errors"} <= set(bad.json()["error"]["fields"])


def test_platform_faults_reach_every_account_of_that_platform_only(api, admin_user, organization):
    first = connected_simulated_account(organization, login="1", platform_servers=["SimBroker-Demo"])
    other = connected_simulated_account(organization, login="2", platform_servers=["SimBroker-Demo"])
    api.force_authenticate(admin_user)
    response = api.put(
        f"/api/v1/orgs/{organization.slug}/platform-faults/{first.platform_id}/",
        {"disconnected": True},
        format="json",
    )
    assert response.status_code == 200
    positions = api.get(accounts_url(organization, first.pk, "positions"))
    assert positions.status_code == 502
    assert api.get(accounts_url(organization, other.pk, "positions")).status_code == 200


def test_faults_are_refused_on_a_metaapi_platform(api, admin_user, organization):
    platform = platform_create(
        organization=organization, name="Real", type="mt5", api="metaapi", servers=["X"]
    )
    api.force_authenticate(admin_user)
    response = api.get(f"/api/v1/orgs/{organization.slug}/platform-faults/{platform.pk}/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_simulated"


def test_fault_management_command(account):
    out = StringIO()
    call_command(
        "simulator_faults",
        "--account",
        str(account.pk),
        "--latency",
        "0.25",
        "--script",
        "10004,timeout",
        stdout=out,
    )
    shown = json.loads(out.getvalue())
    assert (shown["latency_seconds"], shown["scripted_errors"]) == (0.25, [10004, "timeout"])
    assert simulated_faults(account=account).scripted_errors == [10004, "timeout"]

    call_command(
        "simulator_faults", "--platform", str(account.platform_id), "--disconnect", stdout=StringIO()
    )
    assert simulated_faults(platform=account.platform).disconnected is True
    call_command("simulator_faults", "--platform", str(account.platform_id), "--clear", stdout=StringIO())
    assert simulated_faults(platform=account.platform).disconnected is False


def test_simulated_state_lives_in_the_database_and_survives_a_new_engine(account):
    result = place(account, tag="persist")
    assert SimulatorDocument.objects.filter(key__contains=f"account-{account.pk}").exists()

    from execution.broker.simulator import engine

    engine.cache_clear()  # as after a restart: a new engine over the same database

    async def positions():
        gateway = gateway_for(account)
        await gateway.connect()
        return await gateway.positions()

    assert [p.id for p in async_to_sync(positions)()] == [result.position_id]


def test_reconnect_and_setup_clears_the_password(api, admin_user, organization, account):
    api.force_authenticate(admin_user)
    response = api.post(
        accounts_url(organization, account.pk, "reconnect"), {"password": "new-pass"}, format="json"
    )
    assert response.status_code == 202
    account.refresh_from_db()
    assert (account.connection_state, account.setup_password) == ("connecting", "new-pass")

    from execution.accounts.setup import account_setup

    account_setup(account_id=account.pk)
    account.refresh_from_db()
    assert (account.connection_state, account.setup_password) == ("connected", None)
    assert AccountSymbol.objects.filter(account=account).count() > 10


def test_viewer_reads_accounts_but_cannot_connect(api, organization, account):
    viewer = add_member(organization, role="viewer").user
    api.force_authenticate(viewer)
    assert api.get(accounts_url(organization, account.pk)).status_code == 200
    assert api.post(accounts_url(organization), {}, format="json").status_code == 403
