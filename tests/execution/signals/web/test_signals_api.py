"""``/api/v1/orgs/{slug}/signals/`` and ``signal-trades/``: read-only, newest first, each signal with
every route's decision, its trace and the current state of its operations, in a number of queries
that does not grow with the rows; another organization's are 404 (or absent from lists)."""

import pytest

from clients.services import client_create
from execution.orders.accept import order_place
from execution.signals.models import Decision, Trade
from tests.execution.signals import factories
from tests.factories import (
    add_member,
    basic_auth,
    connected_simulated_account,
)

pytestmark = pytest.mark.django_db


def url(organization, *parts, resource="signals") -> str:
    return f"/api/v1/orgs/{organization.slug}/{resource}/" + "".join(f"{part}/" for part in parts)


@pytest.fixture
def viewer_api(api, organization):
    api.force_authenticate(add_member(organization, role="viewer").user)
    return api


@pytest.fixture
def route(source, account):
    return factories.route(source, account)


def test_a_signal_with_its_decisions_trace_and_operation_states(
    viewer_api, organization, source, account, route
):
    operation = order_place(account=account, symbol="EURUSD", side="buy", type="market")
    signal = factories.signal_row(source, "gold buy limit 2275\nsl 2268\ntp 2285")
    decision = factories.decision_row(
        signal, route, outcome=Decision.OPENED, code="", reason="", operations=[operation.pk]
    )

    response = viewer_api.get(url(organization, signal.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["source"], body["source_name"], body["kind"]) == (
        signal.pk,
        source.pk,
        source.name,
        "open",
    )
    assert body["reading"] == signal.reading
    assert body["summary"] == "BUY LIMIT XAUUSD 2275 · SL 2268 · TP 2285"
    (row,) = body["decisions"]
    assert (row["id"], row["route"], row["account"], row["account_name"], row["outcome"]) == (
        decision.pk,
        route.pk,
        account.pk,
        account.name,
        "opened",
    )
    assert row["trace"] == decision.trace
    assert row["operations"] == [
        {
            "id": operation.pk,
            "account": account.pk,
            "kind": "place_order",
            "state": "accepted",
            "reason": "",
            "attempt_count": 0,
            "last_category": "",
            "created_at": row["operations"][0]["created_at"],
            "finished_at": None,
        }
    ]


def test_signals_are_newest_first_and_filtered_by_source(viewer_api, organization, source, route):
    other = factories.source(organization, name="Other")
    first = factories.signal_row(source)
    second = factories.signal_row(other)
    third = factories.signal_row(source)

    every = viewer_api.get(url(organization)).json()
    assert [row["id"] for row in every["results"]] == [third.pk, second.pk, first.pk]
    assert every["count"] == 3
    mine = viewer_api.get(url(organization), {"source": source.pk}).json()["results"]
    assert [row["id"] for row in mine] == [third.pk, first.pk]
    assert viewer_api.get(url(organization), {"source": "gold"}).status_code == 400


def _list_queries(api, organization, django_assert_max_num_queries, bound):
    with django_assert_max_num_queries(bound) as queries:
        response = api.get(url(organization))
    assert response.status_code == 200
    return len(queries), response.json()["results"]


def test_the_list_does_not_grow_in_queries_with_signals_decisions_or_operations(
    viewer_api, organization, source, account, route, django_assert_max_num_queries
):
    second_route = factories.route(source, connected_simulated_account(organization, login="5002"))

    def add_signal():
        signal = factories.signal_row(source)
        for each in (route, second_route):
            operation = order_place(account=each.account, symbol="EURUSD", side="buy", type="market")
            factories.decision_row(signal, each, operations=[operation.pk])

    add_signal()
    few, _ = _list_queries(viewer_api, organization, django_assert_max_num_queries, 9)
    for _ in range(6):
        add_signal()
    many, rows = _list_queries(viewer_api, organization, django_assert_max_num_queries, 9)

    # the access check (4), the count, the signals with their source, the decisions, the operations
    assert few == many == 8
    assert len(rows) == 7 and all(len(row["decisions"]) == 2 for row in rows)
    assert all(len(decision["operations"]) == 1 for row in rows for decision in row["decisions"])


def test_a_signal_no_route_decided_on(viewer_api, organization, source):
    signal = factories.signal_row(source, "Good morning traders!", note="No route.")
    body = viewer_api.get(url(organization, signal.pk)).json()
    assert body["decisions"] == [] and body["note"] == "No route." and body["kind"] == "ignore"


def test_trades_are_listed(viewer_api, organization, source, account, route):
    signal = factories.signal_row(source)
    operation = order_place(account=account, symbol="XAUUSD", side="buy", type="market")
    trade = Trade.objects.create(
        organization=organization,
        account=account,
        route=route,
        signal=signal,
        symbol="XAUUSD",
        side="buy",
        order_type="limit",
        entry="2275",
        sl="2268",
        tps=["2285"],
        leg_tags=["t1"],
        open_operation=operation,
    )

    (row,) = viewer_api.get(url(organization, resource="signal-trades")).json()["results"]

    assert (row["id"], row["account"], row["account_name"], row["signal"], row["route"]) == (
        trade.pk,
        account.pk,
        account.name,
        signal.pk,
        route.pk,
    )
    assert (row["symbol"], row["tps"], row["leg_tags"], row["state"]) == ("XAUUSD", ["2285"], ["t1"], "open")


def test_reading_needs_view_accounts(api, organization, source):
    signal = factories.signal_row(source)
    api.force_authenticate(add_member(organization, permissions={"view_organization"}).user)
    assert api.get(url(organization)).status_code == 403
    assert api.get(url(organization, signal.pk)).status_code == 403
    assert api.get(url(organization, resource="signal-trades")).status_code == 403


def test_signals_are_read_only(viewer_api, organization, source):
    signal = factories.signal_row(source)
    assert viewer_api.delete(url(organization, signal.pk)).status_code == 405
    assert viewer_api.post(url(organization), {"text": "x"}, format="json").status_code == 405


@pytest.mark.parametrize("caller", ["user", "client"])
def test_another_organizations_callers_get_404(api, organization, source, route, other_org, caller):
    signal = factories.signal_row(source)
    factories.decision_row(signal, route)
    extra = {}
    if caller == "user":
        api.force_authenticate(other_org.memberships.get().user)
    else:
        client, secret = client_create(
            organization=other_org,
            created_by=other_org.memberships.get().user,
            name="bot",
            scopes=["accounts:read"],
        )
        extra = {"HTTP_AUTHORIZATION": basic_auth(client.client_id, secret)}

    for path in (
        url(organization),
        url(organization, signal.pk),
        url(organization, resource="signal-trades"),
    ):
        assert api.get(path, **extra).status_code == 404, path


def test_another_organizations_signal_is_404_under_ones_own_slug(viewer_api, organization, other_org):
    theirs = factories.signal_row(factories.source(other_org))
    assert viewer_api.get(url(organization, theirs.pk)).status_code == 404
    assert viewer_api.get(url(organization)).json()["results"] == []
    assert viewer_api.get(url(organization), {"source": theirs.source_id}).json()["results"] == []


def test_the_schema_documents_the_signal_endpoints(viewer_api):
    schema = viewer_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path, methods in {
        "/api/v1/orgs/{slug}/signal-sources/": {"get", "post"},
        "/api/v1/orgs/{slug}/signal-sources/{id}/": {"get", "patch", "delete"},
        "/api/v1/orgs/{slug}/signal-sources/{id}/rotate-secret/": {"post"},
        "/api/v1/orgs/{slug}/signal-sources/{id}/messages/": {"post"},
        "/api/v1/orgs/{slug}/signal-routes/": {"get", "post"},
        "/api/v1/orgs/{slug}/signal-routes/{id}/": {"get", "patch", "delete"},
        "/api/v1/orgs/{slug}/signal-routes/{id}/dry-run/": {"post"},
        "/api/v1/orgs/{slug}/signals/": {"get"},
        "/api/v1/orgs/{slug}/signals/{id}/": {"get"},
        "/api/v1/orgs/{slug}/signals/parse/": {"post"},
        "/api/v1/orgs/{slug}/signal-trades/": {"get"},
    }.items():
        assert methods <= set(paths[path]), path
    components = schema["components"]["schemas"]
    assert "secrets" in components["SignalSourceWithSecrets"]["properties"]
    assert "secrets" not in components["SignalSource"]["properties"]
    assert "signing_secret" not in components["SignalSource"]["properties"]
