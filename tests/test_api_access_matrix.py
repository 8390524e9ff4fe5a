"""Every organization-scoped API route x method, for every kind of caller who must not get through:
a user of another organization, an API client of another organization (404, nothing changes), a
member without the permission, an API client without the scope (403, nothing changes); and the
caller holding exactly the permission or scope, who does get through.

The routes are enumerated from the URL resolver: a new endpoint without a row in EXPECTED fails
``test_every_route_has_a_row``.
"""

import re

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from clients.services import client_create
from orgs import permissions as perms
from platforms.services import manager_api_set, report_db_set
from tests.factories import add_member, basic_auth, one_of_everything

pytestmark = pytest.mark.django_db

# (route name, method) -> (permission needed, request body)
EXPECTED = {
    ("organization-detail", "GET"): ("view_organization", None),
    ("organization-detail", "PATCH"): ("change_organization", {"name": "Renamed"}),
    ("organization-security", "GET"): ("view_organization", None),
    ("organization-security", "PATCH"): ("manage_members", {"mfa_required": False}),
    ("member-list", "GET"): ("view_organization", None),
    ("member-detail", "GET"): ("view_organization", None),
    ("member-detail", "PATCH"): ("manage_members", {"role": "viewer"}),
    ("member-detail", "DELETE"): ("manage_members", None),
    ("invitation-list", "GET"): ("view_organization", None),
    ("invitation-list", "POST"): ("manage_members", {"email": "new@example.com", "role": "viewer"}),
    ("invitation-detail", "DELETE"): ("manage_members", None),
    ("invitation-resend", "POST"): ("manage_members", None),
    ("platform-list", "GET"): ("view_platforms", None),
    ("platform-list", "POST"): (
        "manage_platforms",
        {"name": "P2", "type": "mt5", "api": "simulated", "servers": ["S"]},
    ),
    ("platform-detail", "GET"): ("view_platforms", None),
    ("platform-detail", "PUT"): (
        "manage_platforms",
        {"name": "P3", "type": "mt4", "api": "metaapi", "servers": ["S"]},
    ),
    ("platform-detail", "PATCH"): ("manage_platforms", {"name": "P4"}),
    ("platform-detail", "DELETE"): ("manage_platforms", None),
    ("platform-manager-api", "GET"): ("view_platforms", None),
    ("platform-manager-api", "PUT"): (
        "manage_platforms",
        {"host": "127.0.0.1", "port": 1, "login": "1", "password": "pw"},
    ),
    ("platform-manager-api", "DELETE"): ("manage_platforms", None),
    ("platform-manager-api-test", "POST"): ("manage_platforms", None),
    ("platform-report-db", "GET"): ("view_platforms", None),
    ("platform-report-db", "PUT"): (
        "manage_platforms",
        {"host": "127.0.0.1", "port": 1, "database": "d", "login": "u", "password": "pw"},
    ),
    ("platform-report-db", "DELETE"): ("manage_platforms", None),
    ("platform-report-db-test", "POST"): ("manage_platforms", None),
    ("platform-report-db-accounts", "GET"): ("view_platforms", None),
    ("platform-report-db-trades", "GET"): ("view_platforms", None),
    ("client-list", "GET"): ("manage_clients", None),
    ("client-list", "POST"): ("manage_clients", {"name": "bot", "scopes": ["platforms:read"]}),
    ("client-detail", "GET"): ("manage_clients", None),
    ("client-detail", "DELETE"): ("manage_clients", None),
    ("client-rotate", "POST"): ("manage_clients", None),
    ("account-list", "GET"): ("view_accounts", None),
    ("account-list", "POST"): (
        "manage_accounts",
        {
            "name": "A2",
            "type": "demo",
            "platform": "<platform>",
            "login": "777",
            "server": "SimBroker-Demo",
            "password": "x",
        },
    ),
    ("account-detail", "GET"): ("view_accounts", None),
    ("account-detail", "PATCH"): ("manage_accounts", {"name": "Renamed"}),
    ("account-detail", "DELETE"): ("manage_accounts", None),
    ("account-reconnect", "POST"): ("manage_accounts", {"password": "x"}),
    ("account-positions", "GET"): ("view_accounts", None),
    ("account-orders", "GET"): ("view_accounts", None),
    ("account-orders", "POST"): ("trade", {"symbol": "eurusd", "side": "buy", "sl": "1.0"}),
    ("account-cancel-order", "DELETE"): ("trade", None),
    ("account-modify-position", "PATCH"): ("trade", {"sl": "1.0"}),
    ("account-close-position", "POST"): ("trade", {"volume": "0.01"}),
    ("account-safety", "GET"): ("view_operations", None),
    ("account-trades", "POST"): ("trade", {"symbol": "EURUSD", "side": "buy", "tps": ["1.5"]}),
    ("account-risk-settings", "GET"): ("view_accounts", None),
    ("account-risk-settings", "PUT"): ("manage_accounts", {"mode": "fixed", "fixed_lots": "0.1"}),
    ("operation-list", "GET"): ("view_operations", None),
    ("operation-detail", "GET"): ("view_operations", None),
    ("operation-cancel", "POST"): ("trade", None),
    ("account-symbols", "GET"): ("view_accounts", None),
    ("account-faults", "GET"): ("view_accounts", None),
    ("account-faults", "PUT"): ("manage_accounts", {"latency_seconds": 0.5}),
    ("symbol-map-list", "GET"): ("view_accounts", None),
    ("symbol-map-list", "POST"): ("manage_accounts", {"alias": "GOLDY", "broker_symbol": "XAUUSD"}),
    ("symbol-map-detail", "DELETE"): ("manage_accounts", None),
    ("platform-faults-detail", "GET"): ("view_platforms", None),
    ("platform-faults-detail", "PUT"): ("manage_platforms", {"disconnected": False}),
    ("platform-market-detail", "GET"): ("view_platforms", None),
    ("platform-market-detail", "PUT"): (
        "manage_platforms",
        {"instrument": "EURUSD", "move_to": "1.2", "over_seconds": 30},
    ),
    ("platform-market-detail", "DELETE"): ("manage_platforms", None),
    ("signal-parse", "POST"): ("view_accounts", {"text": "XAUUSD BUY NOW"}),
    ("signal-list", "GET"): ("view_accounts", None),
    ("signal-detail", "GET"): ("view_accounts", None),
    ("signal-trade-list", "GET"): ("view_accounts", None),
    ("signal-source-list", "GET"): ("view_accounts", None),
    ("signal-source-list", "POST"): ("manage_accounts", {"name": "S2", "kind": "webhook"}),
    ("signal-source-detail", "GET"): ("view_accounts", None),
    ("signal-source-detail", "PATCH"): ("manage_accounts", {"name": "Renamed", "state": "paused"}),
    ("signal-source-detail", "DELETE"): ("manage_accounts", None),
    ("signal-source-rotate-secret", "POST"): ("manage_accounts", None),
    ("signal-source-messages", "POST"): ("trade", {"text": "XAUUSD BUY NOW"}),
    ("signal-route-list", "GET"): ("view_accounts", None),
    ("signal-route-list", "POST"): (
        "manage_accounts",
        {"source": "<manual_source>", "account": "<account>", "confidence_threshold": "0.5"},
    ),
    ("signal-route-detail", "GET"): ("view_accounts", None),
    ("signal-route-detail", "PATCH"): ("manage_accounts", {"active": False}),
    ("signal-route-detail", "DELETE"): ("manage_accounts", None),
    ("signal-route-dry-run", "POST"): ("view_accounts", {"text": "XAUUSD BUY NOW"}),
    ("protection-settings-detail", "GET"): ("view_accounts", None),
    ("protection-settings-detail", "PUT"): ("manage_accounts", {"breakeven_at": 2}),
    ("trade-protection-detail", "GET"): ("view_accounts", None),
    ("trade-protection-breakeven", "POST"): ("trade", None),
    ("audit-event-list", "GET"): ("manage_members", None),
}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def organization_routes():
    """(route name, method) for every API route that takes an organization slug."""
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/") or not re.search(r"<(slug:)?slug>|\(\?P<slug>", route):
            continue
        actions = getattr(pattern.callback, "actions", None) or {}
        for method in actions:
            if method not in {"head", "options"}:
                yield pattern.name, method.upper()


def test_every_route_has_a_row():
    assert set(organization_routes()) == set(EXPECTED)


SCOPE_FOR = {permission: scope for scope, permission in perms.SCOPES.items()}


@pytest.fixture
def world(settings):
    """Two organizations, each with an administrator, a second member, an invitation, a platform
    with both credential sets (pointing at a closed port), an API client, a connected simulated
    account with a symbol override, a webhook signal source routed to the account with one signal
    with its decision and its trade, and a manual source."""
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = True  # the closed port is on this machine
    result = {"ids": {}}
    for key in ("target", "other"):
        world = one_of_everything(key.title())
        organization, admin = world.organization, world.admin
        manager_api_set(
            actor=None, platform=world.platform, host="127.0.0.1", port=1, login="1", password="manager-pw"
        )
        report_db_set(
            actor=None,
            platform=world.platform,
            host="127.0.0.1",
            port=1,
            database="mt4",
            login="r",
            password="report-pw",
        )
        result[key], result[f"{key}_admin"] = organization, admin
        result[f"{key}_client"] = basic_auth(world.client.client_id, world.client_secret)
        result["ids"][key] = {
            "member": world.member.pk,
            "invitation": world.invitation.pk,
            "platform": world.platform.pk,
            "client": world.client.pk,
            "account": world.account.pk,
            "sim_platform": world.account.platform_id,
            "override": world.override.pk,
            "operation": world.operation.pk,
            "source": world.source.pk,
            "manual_source": world.manual_source.pk,
            "route": world.route.pk,
            "signal": world.signal.pk,
            "trade": world.trade.pk,
        }
    return result


def url_for(name, organization, ids):
    base = f"/api/v1/orgs/{organization.slug}/"
    platform = base + f"platforms/{ids['platform']}/"
    account = base + f"accounts/{ids['account']}/"
    return {
        "organization-detail": base,
        "organization-security": base + "security/",
        "member-list": base + "members/",
        "member-detail": base + f"members/{ids['member']}/",
        "invitation-list": base + "invitations/",
        "invitation-detail": base + f"invitations/{ids['invitation']}/",
        "invitation-resend": base + f"invitations/{ids['invitation']}/resend/",
        "platform-list": base + "platforms/",
        "platform-detail": platform,
        "platform-manager-api": platform + "manager-api/",
        "platform-manager-api-test": platform + "manager-api/test/",
        "platform-report-db": platform + "report-db/",
        "platform-report-db-test": platform + "report-db/test/",
        "platform-report-db-accounts": platform + "report-db/accounts/",
        "platform-report-db-trades": platform + "report-db/trades/",
        "client-list": base + "clients/",
        "client-detail": base + f"clients/{ids['client']}/",
        "client-rotate": base + f"clients/{ids['client']}/rotate/",
        "account-list": base + "accounts/",
        "account-detail": account,
        "account-reconnect": account + "reconnect/",
        "account-positions": account + "positions/",
        "account-orders": account + "orders/",
        "account-cancel-order": account + "orders/777/",
        "account-modify-position": account + "positions/888/",
        "account-close-position": account + "positions/888/close/",
        "account-safety": account + "safety/",
        "account-risk-settings": account + "risk-settings/",
        "account-trades": account + "trades/",
        "operation-list": account + "operations/",
        "operation-detail": account + f"operations/{ids['operation']}/",
        "operation-cancel": account + f"operations/{ids['operation']}/cancel/",
        "account-symbols": account + "symbols/",
        "account-faults": account + "faults/",
        "symbol-map-list": account + "symbol-map/",
        "symbol-map-detail": account + f"symbol-map/{ids['override']}/",
        "platform-faults-detail": base + f"platform-faults/{ids['sim_platform']}/",
        "platform-market-detail": base + f"platform-market/{ids['sim_platform']}/",
        "signal-parse": base + "signals/parse/",
        "signal-list": base + "signals/",
        "signal-detail": base + f"signals/{ids['signal']}/",
        "signal-trade-list": base + "signal-trades/",
        "signal-source-list": base + "signal-sources/",
        "signal-source-detail": base + f"signal-sources/{ids['source']}/",
        "signal-source-rotate-secret": base + f"signal-sources/{ids['source']}/rotate-secret/",
        "signal-source-messages": base + f"signal-sources/{ids['manual_source']}/messages/",
        "signal-route-list": base + "signal-routes/",
        "signal-route-detail": base + f"signal-routes/{ids['route']}/",
        "signal-route-dry-run": base + f"signal-routes/{ids['route']}/dry-run/",
        "protection-settings-detail": base + f"protection-settings/{ids['account']}/",
        "trade-protection-detail": base + f"trade-protection/{ids['trade']}/",
        "trade-protection-breakeven": base + f"trade-protection/{ids['trade']}/breakeven/",
        "audit-event-list": base + "audit-events/",
    }[name]


def snapshot():
    """Every row of every project table (encrypted columns as their plaintext), but the calling
    client's own last-use time."""
    return [
        [
            {k: v for k, v in row.items() if k != "last_used_at"}
            for row in model.objects.order_by("pk").values()
        ]
        for label in ("accounts", "orgs", "execution", "audit")
        for model in apps.get_app_config(label).get_models()
    ]


def call(api, method, url, body, auth=None, world=None):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    placeholders = {"<platform>": "sim_platform", "<account>": "account", "<manual_source>": "manual_source"}
    if body and world is not None:  # the target organization's objects, by id
        ids = world["ids"]["target"]
        body = {
            k: ids[placeholders[v]] if isinstance(v, str) and v in placeholders else v
            for k, v in body.items()
        }
    return getattr(api, method.lower())(url, body, format="json", **extra)


CASES = sorted(EXPECTED)
# routes naming an object by id (a list route, the organization itself and the parser name none)
NO_OBJECT = {"organization-detail", "organization-security", "signal-parse"}
OBJECT_CASES = [c for c in CASES if not c[0].endswith("-list") and c[0] not in NO_OBJECT]


def target_url(world, name, ids_of="target"):
    return url_for(name, world["target"], world["ids"][ids_of])


@pytest.mark.parametrize(("name", "method"), CASES)
@pytest.mark.parametrize("caller", ["user", "client"])
def test_a_caller_of_another_organization_gets_404_and_changes_nothing(api, world, name, method, caller):
    _, body = EXPECTED[(name, method)]
    auth = None
    if caller == "user":
        api.force_authenticate(world["other_admin"])
    else:
        auth = world["other_client"]
    before = snapshot()

    response = call(api, method, target_url(world, name), body, auth, world=world)

    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"
    assert snapshot() == before


@pytest.mark.parametrize(("name", "method"), OBJECT_CASES)
def test_an_object_of_another_organization_is_404_under_ones_own_slug(api, world, name, method):
    _, body = EXPECTED[(name, method)]
    api.force_authenticate(world["target_admin"])
    before = snapshot()

    response = call(api, method, target_url(world, name, ids_of="other"), body, world=world)

    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(("name", "method"), CASES)
def test_a_member_without_the_permission_gets_403_and_changes_nothing(api, world, name, method):
    needed, body = EXPECTED[(name, method)]
    member = add_member(world["target"], permissions=set(perms.PERMISSIONS) - {needed}).user
    api.force_authenticate(member)
    before = snapshot()

    response = call(api, method, target_url(world, name), body, world=world)

    assert response.status_code == 403, response.content
    assert needed in response.json()["error"]["message"]
    assert snapshot() == before


@pytest.mark.parametrize(("name", "method"), CASES)
def test_a_client_without_the_scope_gets_403_and_changes_nothing(api, world, name, method):
    needed, body = EXPECTED[(name, method)]
    scopes = [scope for scope, permission in perms.SCOPES.items() if permission != needed]
    client, secret = client_create(
        organization=world["target"], created_by=world["target_admin"], name="narrow", scopes=scopes
    )
    before = snapshot()

    response = call(
        api, method, target_url(world, name), body, basic_auth(client.client_id, secret), world=world
    )

    assert response.status_code == 403, response.content
    assert snapshot() == before


@pytest.mark.parametrize(("name", "method"), CASES)
def test_a_member_with_just_that_permission_gets_through(api, world, name, method):
    needed, body = EXPECTED[(name, method)]
    held = {needed}
    if name == "member-detail" and method in ("PATCH", "DELETE"):
        held |= perms.ROLES["viewer"]  # only a member at or below one's own permissions is changed
    member = add_member(world["target"], permissions=held).user
    api.force_authenticate(member)
    if body and "role" in body:  # granting needs holding: grant only what this member holds
        body = {k: v for k, v in body.items() if k != "role"} | {"permissions": [needed]}
    if body and "scopes" in body:
        body = body | {"scopes": []}

    response = call(api, method, target_url(world, name), body, world=world)

    assert response.status_code not in (401, 403, 404), response.content


@pytest.mark.parametrize(("name", "method"), [c for c in CASES if EXPECTED[c][0] in SCOPE_FOR])
def test_a_client_with_just_that_scope_gets_through(api, world, name, method):
    needed, body = EXPECTED[(name, method)]
    client, secret = client_create(
        organization=world["target"],
        created_by=world["target_admin"],
        name="one-scope",
        scopes=[SCOPE_FOR[needed]],
    )

    response = call(
        api, method, target_url(world, name), body, basic_auth(client.client_id, secret), world=world
    )

    assert response.status_code not in (401, 403, 404), response.content


def test_unauthenticated_gets_401_everywhere(api, world):
    for name, method in CASES:
        _, body = EXPECTED[(name, method)]
        response = call(api, method, target_url(world, name), body, world=world)
        assert response.status_code == 401, (name, method)
        assert response["WWW-Authenticate"].startswith("Basic")
