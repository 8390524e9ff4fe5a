"""``/api/v1/orgs/{slug}/signal-routes/``: a source's routes to accounts (values checked by the
services, each refusal on its field), filtered by source; ``{id}/dry-run/``: what the route would
do with a message, nothing stored; another organization's routes, sources and accounts are 404 or
unknown, and stay as they were."""

from decimal import Decimal

import pytest
from django.apps import apps

from clients.services import client_create
from execution.signals import intake
from execution.signals.models import Route
from tests.execution.signals import factories
from tests.factories import (
    add_member,
    basic_auth,
    connected_simulated_account,
)

pytestmark = pytest.mark.django_db

OPEN = "GOLD BUY LIMIT 2275\nSL 2268\nTP 2285"


def url(organization, *parts) -> str:
    return f"/api/v1/orgs/{organization.slug}/signal-routes/" + "".join(f"{part}/" for part in parts)


def test_a_route_is_created_with_its_settings(admin_api, organization, source, account):
    response = admin_api.post(
        url(organization),
        {
            "source": source.pk,
            "account": account.pk,
            "symbol_filter": "include",
            "symbols": ["gold", "EURUSD"],
            "keywords": {"kopen": "buy"},
            "aliases": {"G": "XAUUSD"},
            "confidence_threshold": "0.8",
            "lot_multiplier": "2",
            "risk_mode": "fixed",
            "fixed_lots": "0.05",
            "hours_start": 420,
            "hours_end": 1200,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    route = Route.objects.get()
    assert (
        body["id"] == route.pk and body["source_name"] == source.name and body["account_name"] == account.name
    )
    assert body["symbols"] == ["XAUUSD", "EURUSD"]
    assert (route.confidence_threshold, route.fixed_lots, route.hours_end) == (
        Decimal("0.80"),
        Decimal("0.05"),
        1200,
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"symbols": ["NOTATHING"]}, "symbols", None),
        ({"confidence_threshold": "1.5"}, "confidence_threshold", None),
        ({"lot_multiplier": "0"}, "lot_multiplier", None),
        ({"lot_multiplier": "11"}, "lot_multiplier", None),
        ({"hours_start": 1440, "hours_end": 10}, "hours_start", None),
        ({"hours_start": 10}, "hours_end", None),
        ({"risk_mode": "risk_percent"}, "risk_percent", None),
        ({"keywords": {"kopen": "purchase"}}, "keywords", None),
        ({"keywords": {"s-l": "sl"}}, "keywords", "letters and digits"),
        ({"mode": "yolo"}, "mode", None),
        ({"default_sl_pips": "-1"}, "default_sl_pips", None),
    ],
)
def test_bad_settings_are_field_errors(admin_api, organization, source, account, body, field, message):
    response = admin_api.post(
        url(organization), {"source": source.pk, "account": account.pk, **body}, format="json"
    )

    assert response.status_code == 400, response.content
    fields = response.json()["error"]["fields"]
    assert list(fields) == [field]
    if message:
        assert message in str(fields[field])
    assert not Route.objects.exists()


def test_another_organizations_account_or_source_is_unknown(
    admin_api, organization, source, account, other_org
):
    their_account = connected_simulated_account(other_org, login="9001")
    their_source = factories.source(other_org, name="Theirs")

    response = admin_api.post(
        url(organization), {"source": source.pk, "account": their_account.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"account": ["Unknown account."]}
    response = admin_api.post(
        url(organization), {"source": their_source.pk, "account": account.pk}, format="json"
    )
    assert response.json()["error"]["fields"] == {"source": ["Unknown source."]}
    assert not Route.objects.exists()


def test_one_route_per_source_and_account(admin_api, organization, source, account):
    factories.route(source, account)
    response = admin_api.post(url(organization), {"source": source.pk, "account": account.pk}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["account"]


def test_routes_are_listed_by_source_in_bounded_queries(
    admin_api, organization, source, django_assert_max_num_queries
):
    other = factories.source(organization, name="Other")
    accounts = [connected_simulated_account(organization, login=str(6000 + n)) for n in range(4)]
    for account in accounts:
        factories.route(source, account)
    factories.route(other, accounts[0])

    with django_assert_max_num_queries(6):  # the access check (4), the count, the page
        every = admin_api.get(url(organization)).json()["results"]
    with django_assert_max_num_queries(6):  # the access check (4), the count, the page
        mine = admin_api.get(url(organization), {"source": source.pk}).json()["results"]

    assert len(every) == 5
    assert {row["source"] for row in mine} == {source.pk} and len(mine) == 4
    assert admin_api.get(url(organization), {"source": "x"}).status_code == 400


def test_a_route_is_changed_but_keeps_its_source_and_account(admin_api, organization, source, account):
    route = factories.route(source, account)
    other = factories.source(organization, name="Other")

    response = admin_api.patch(
        url(organization, route.pk), {"active": False, "source": other.pk, "reverse": True}, format="json"
    )

    assert response.status_code == 200, response.content
    route.refresh_from_db()
    assert (route.active, route.reverse, route.source_id) == (False, True, source.pk)
    response = admin_api.patch(url(organization, route.pk), {"confidence_threshold": "7"}, format="json")
    assert response.status_code == 400


def test_a_route_is_deleted(admin_api, organization, source, account):
    route = factories.route(source, account)
    assert admin_api.delete(url(organization, route.pk)).status_code == 204
    assert not Route.objects.exists()


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_a_dry_run_answers_the_routes_decision_and_stores_nothing(admin_api, organization, source, account):
    route = factories.route(source, account)
    before = _row_counts()

    response = admin_api.post(url(organization, route.pk, "dry-run"), {"text": OPEN}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"reading", "outcome", "code", "reason", "steps", "operations"}
    assert body["reading"]["kind"] == "open" and body["reading"]["symbol"] == "XAUUSD"
    assert body["outcome"] in {choice for choice, _ in route.decisions.model.OUTCOME_CHOICES}
    assert all({"stage", "result", "code", "message"} <= set(step) for step in body["steps"])
    assert _row_counts() == before


def test_a_dry_run_answers_what_the_intake_says(admin_api, organization, source, account, monkeypatch):
    route = factories.route(source, account)
    seen = {}

    def fake(*, route, text, reply_to=None):
        seen.update(route=route.pk, text=text, reply_to=reply_to)
        return intake.DryRun(
            reading={"kind": "open"},
            outcome="rejected",
            code="SL_TOO_FAR",
            reason="The SL is 900 pips away.",
            steps=[{"stage": "sl", "result": "failed", "code": "SL_TOO_FAR", "message": "far"}],
            operations=[{"kind": "open_trade", "params": {"symbol": "XAUUSD", "volume": Decimal("0.10")}}],
        )

    monkeypatch.setattr(intake, "dry_run", fake)
    response = admin_api.post(
        url(organization, route.pk, "dry-run"), {"text": "SL 1", "reply_to": "GOLD BUY NOW"}, format="json"
    )

    assert seen == {"route": route.pk, "text": "SL 1", "reply_to": "GOLD BUY NOW"}
    body = response.json()
    assert (body["outcome"], body["code"], body["reason"]) == (
        "rejected",
        "SL_TOO_FAR",
        "The SL is 900 pips away.",
    )
    assert body["operations"][0]["kind"] == "open_trade"
    assert body["operations"][0]["params"]["symbol"] == "XAUUSD"


def test_a_dry_run_needs_a_message(admin_api, organization, source, account):
    route = factories.route(source, account)
    response = admin_api.post(url(organization, route.pk, "dry-run"), {}, format="json")
    assert response.status_code == 400 and "text" in response.json()["error"]["fields"]


def test_viewers_read_and_dry_run_but_do_not_change(api, organization, source, account):
    route = factories.route(source, account)
    api.force_authenticate(add_member(organization, role="viewer").user)

    assert api.get(url(organization, route.pk)).status_code == 200
    assert api.post(url(organization, route.pk, "dry-run"), {"text": OPEN}, format="json").status_code == 200
    assert api.patch(url(organization, route.pk), {"active": False}, format="json").status_code == 403
    assert api.delete(url(organization, route.pk)).status_code == 403


def _routes():
    return list(Route.objects.order_by("pk").values())


@pytest.mark.parametrize("caller", ["user", "client"])
def test_another_organizations_callers_get_404_and_change_nothing(
    api, organization, source, account, other_org, caller
):
    route = factories.route(source, account)
    extra = {}
    if caller == "user":
        api.force_authenticate(other_org.memberships.get().user)
    else:
        client, secret = client_create(
            organization=other_org,
            created_by=other_org.memberships.get().user,
            name="bot",
            scopes=["accounts:read", "accounts:write"],
        )
        extra = {"HTTP_AUTHORIZATION": basic_auth(client.client_id, secret)}
    before = _routes()

    for method, path, body in [
        ("get", url(organization), None),
        ("post", url(organization), {"source": source.pk, "account": account.pk}),
        ("get", url(organization, route.pk), None),
        ("patch", url(organization, route.pk), {"active": False}),
        ("delete", url(organization, route.pk), None),
        ("post", url(organization, route.pk, "dry-run"), {"text": OPEN}),
    ]:
        assert getattr(api, method)(path, body, format="json", **extra).status_code == 404, (method, path)
    assert _routes() == before


def test_another_organizations_route_is_404_under_ones_own_slug(admin_api, organization, other_org):
    theirs = factories.route(
        factories.source(other_org), connected_simulated_account(other_org, login="9001")
    )
    before = _routes()

    for method in ("get", "patch", "delete"):
        assert (
            getattr(admin_api, method)(
                url(organization, theirs.pk), {"active": False}, format="json"
            ).status_code
            == 404
        )
    assert (
        admin_api.post(url(organization, theirs.pk, "dry-run"), {"text": OPEN}, format="json").status_code
        == 404
    )
    assert admin_api.get(url(organization), {"source": theirs.source_id}).json()["results"] == []
    assert _routes() == before
