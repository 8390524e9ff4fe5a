"""Scripted market prices of a simulated platform: the API and the ``simulator_market`` command."""

import json
import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from execution.broker.market import simulated_market
from execution.broker.registry import connector_for
from execution.broker.simulator import account_key, engine
from orgs import permissions as perms
from platforms.services import platform_create
from tests.factories import UserFactory, add_member, connected_simulated_account, organization_with_admin

pytestmark = pytest.mark.django_db


def market_url(organization, platform_id, query=""):
    return f"/api/v1/orgs/{organization.slug}/platform-market/{platform_id}/{query}"


@pytest.fixture
def account(organization, market):
    return connected_simulated_account(organization, login="1")


def test_set_show_and_clear_a_path_through_the_api(api, admin_user, organization, account):
    other = connected_simulated_account(organization, login="2")  # another platform
    api.force_authenticate(admin_user)
    url = market_url(organization, account.platform_id)
    assert api.get(url).json() == {"paths": []}
    start = int(time.time()) - 100
    response = api.put(
        url,
        {
            "instrument": "BTCUSD",
            "points": [{"at": start, "price": "65000"}, {"at": f"{start + 10}", "price": 65100}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    (path,) = response.json()["paths"]
    assert path["instrument"] == "BTCUSD"
    assert [p["price"] for p in path["points"]] == ["65000.00000000", "65100.00000000"]
    assert api.get(url).json() == response.json()

    connector = connector_for(account.platform)
    assert connector.reference_price(account, "BTCUSD") == Decimal("65100.00")  # held after the end
    assert engine().price(account_key(account.pk), "BTCUSD").bid == Decimal("65085.00")
    assert connector.reference_price(other, "BTCUSD") == Decimal("65000.00")  # its platform: the feed

    moved = api.put(url, {"instrument": "ETHUSD", "move_to": "3500", "over_seconds": 0}, format="json")
    assert [p["instrument"] for p in moved.json()["paths"]] == ["BTCUSD", "ETHUSD"]

    assert api.delete(market_url(organization, account.platform_id, "?instrument=BTCUSD")).status_code == 204
    assert [p["instrument"] for p in api.get(url).json()["paths"]] == ["ETHUSD"]
    assert connector.reference_price(account, "BTCUSD") == Decimal("65000.00")
    assert api.delete(url).status_code == 204
    assert api.get(url).json() == {"paths": []}


def test_a_move_starts_now_from_the_current_price(api, admin_user, organization, account):
    api.force_authenticate(admin_user)
    before = int(time.time())
    response = api.put(
        market_url(organization, account.platform_id),
        {"instrument": "BTCUSD", "move_to": "65300", "over_seconds": 30},
        format="json",
    )
    assert response.status_code == 200, response.json()
    (path,) = simulated_market(platform=account.platform).values()
    (t0, p0), (t1, p1) = path.points
    assert before <= t0 <= int(time.time()) and t1 == t0 + 30
    assert (p0, p1) == (65000.0, 65300.0)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"points": [{"at": 1, "price": "1"}]}, {"instrument"}),
        ({"instrument": "BTCUSD", "points": [{"at": "yesterday", "price": "x"}]}, {"points"}),
        ({"instrument": "BTCUSD", "move_to": "abc", "over_seconds": "soon"}, {"move_to", "over_seconds"}),
        ({"instrument": "NOPE", "move_to": "1", "over_seconds": 1}, {"instrument"}),
        ({"instrument": "BTCUSD", "move_to": "1"}, {"over_seconds"}),
        ({"instrument": "BTCUSD", "move_to": "1", "over_seconds": 90000}, {"over_seconds"}),
        ({"instrument": "BTCUSD", "move_to": "-1", "over_seconds": 10}, {"move_to"}),
        ({"instrument": "BTCUSD", "points": [{"at": 5, "price": "1"}, {"at": 5, "price": "2"}]}, {"points"}),
        ({"instrument": "BTCUSD", "points": [{"at": 5, "price": "0"}]}, {"points"}),
        ({"instrument": "BTCUSD"}, {"non_field_errors"}),
    ],
)
def test_bad_paths_are_400_with_field_errors(api, admin_user, organization, account, body, fields):
    api.force_authenticate(admin_user)
    response = api.put(market_url(organization, account.platform_id), body, format="json")
    assert response.status_code == 400, response.json()
    assert set(response.json()["error"]["fields"]) == fields
    assert simulated_market(platform=account.platform) == {}


def test_a_member_without_manage_platforms_can_look_but_not_set(api, organization, account):
    viewer = add_member(organization, permissions=set(perms.PERMISSIONS) - {"manage_platforms"}).user
    api.force_authenticate(viewer)
    url = market_url(organization, account.platform_id)
    assert api.get(url).status_code == 200
    body = {"instrument": "BTCUSD", "move_to": "1", "over_seconds": 0}
    assert api.put(url, body, format="json").status_code == 403
    assert api.delete(url).status_code == 403
    assert simulated_market(platform=account.platform) == {}


def test_another_organizations_platform_is_404(api, admin_user, organization, market):
    foreign = connected_simulated_account(organization_with_admin(UserFactory(), "Other"))
    api.force_authenticate(admin_user)
    url = market_url(organization, foreign.platform_id)
    assert api.get(url).status_code == 404
    body = {"instrument": "BTCUSD", "move_to": "1", "over_seconds": 0}
    assert api.put(url, body, format="json").status_code == 404
    assert simulated_market(platform=foreign.platform) == {}


def test_market_paths_are_refused_on_a_metaapi_platform(api, admin_user, organization):
    platform = platform_create(
        organization=organization, name="Real", type="mt5", api="metaapi", servers=["X"]
    )
    assert connector_for(platform).market is None
    api.force_authenticate(admin_user)
    response = api.get(market_url(organization, platform.pk))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_simulated"


def test_market_management_command(account):
    platform = str(account.platform_id)
    out = StringIO()
    call_command(
        "simulator_market", "--platform", platform, "--instrument", "BTCUSD", "--move-to", "65200",
        "--over", "30", stdout=out,
    )  # fmt: skip
    (shown,) = json.loads(out.getvalue())
    assert shown["instrument"] == "BTCUSD"
    assert [p["price"] for p in shown["points"]] == [65000.0, 65200.0]

    call_command(
        "simulator_market", "--platform", platform, "--instrument", "XAUUSD",
        "--points", "2026-12-02T10:00:00Z=2300,1796205660=2310.5", stdout=StringIO(),
    )  # fmt: skip
    out = StringIO()
    call_command("simulator_market", "--platform", platform, "--show", stdout=out)
    gold = json.loads(out.getvalue())[1]
    assert gold == {
        "instrument": "XAUUSD",
        "points": [
            {"at": "2026-12-02T10:00:00Z", "price": 2300.0},
            {"at": "2026-12-02T10:01:00Z", "price": 2310.5},
        ],
    }

    with pytest.raises(CommandError, match="over_seconds"):
        call_command("simulator_market", "--platform", platform, "--instrument", "BTCUSD", "--move-to", "1")
    call_command("simulator_market", "--platform", platform, "--clear", stdout=StringIO())
    assert simulated_market(platform=account.platform) == {}
