"""``/api/v1/orgs/{slug}/signal-sources/``: sources over the API. A webhook source's credentials
are in the response to its creation or rotation only; a message is posted live into a manual
source (409 for any other kind); another organization's sources are 404 and stay as they were."""

import pytest

from clients.services import client_create
from execution.signals.models import Decision, Signal, SignalSource
from tests.execution.signals import factories
from tests.factories import (
    add_member,
    basic_auth,
    connected_simulated_account,
)

pytestmark = pytest.mark.django_db

OPEN = "GOLD BUY LIMIT 2275\nSL 2268\nTP 2285"


def url(organization, *parts) -> str:
    return f"/api/v1/orgs/{organization.slug}/signal-sources/" + "".join(f"{part}/" for part in parts)


def _secrets_absent(response, secrets):
    body = response.content.decode()
    assert secrets["signing_secret"] not in body and secrets["url_token"] not in body
    assert "signing_secret" not in body and "url_token" not in body


def test_creating_a_webhook_source_shows_its_credentials_once(admin_api, organization):
    response = admin_api.post(url(organization), {"name": "Hook", "kind": "webhook"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    source = SignalSource.objects.get()
    secrets = body["secrets"]
    assert secrets["signing_secret"] == source.signing_secret and secrets["signing_secret"].startswith(
        "whsec_"
    )
    assert secrets["url"] == f"/hooks/signals/{source.public_id}/{secrets['url_token']}/"
    assert body["webhook_url"] == f"/hooks/signals/{source.public_id}/"
    assert (body["id"], body["kind"], body["state"], body["route_count"]) == (
        source.pk,
        "webhook",
        "active",
        0,
    )

    _secrets_absent(admin_api.get(url(organization, source.pk)), secrets)
    _secrets_absent(admin_api.get(url(organization)), secrets)
    _secrets_absent(admin_api.patch(url(organization, source.pk), {"name": "Hook 2"}, format="json"), secrets)


def test_a_manual_source_has_no_credentials(admin_api, organization):
    body = admin_api.post(url(organization), {"name": "Pasted", "kind": "manual"}, format="json").json()
    assert body["secrets"] is None and body["webhook_url"] is None and body["recording"] == ""


def test_a_recorded_source_plays_a_recording(admin_api, organization):
    body = admin_api.post(url(organization), {"name": "Replay", "kind": "recorded"}, format="json").json()
    assert body["recording"] == "demo"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "manual"}, "name"),
        ({"name": "X", "kind": "telegram"}, "kind"),
        ({"name": "X", "kind": "recorded", "recording": "nope"}, "recording"),
        ({"name": "X", "kind": "manual", "max_age_seconds": 0}, "max_age_seconds"),
        ({"name": "Taken", "kind": "manual"}, "name"),
    ],
)
def test_bad_input_is_a_field_error(admin_api, organization, body, field):
    factories.source(organization, name="Taken")
    response = admin_api.post(url(organization), body, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert SignalSource.objects.count() == 1


def test_the_list_counts_routes_in_bounded_queries(admin_api, organization, django_assert_max_num_queries):
    account = connected_simulated_account(organization)
    for n in range(4):
        source = factories.source(organization, name=f"S{n}")
        factories.route(source, account)

    with django_assert_max_num_queries(6):  # the access check (4), the count, the page
        response = admin_api.get(url(organization))

    rows = response.json()["results"]
    assert [row["name"] for row in rows] == ["S0", "S1", "S2", "S3"]
    assert {row["route_count"] for row in rows} == {1}


def test_a_source_is_renamed_and_paused(admin_api, organization):
    source = factories.source(organization)

    response = admin_api.patch(
        url(organization, source.pk), {"name": "New", "state": "paused"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["state"]) == ("New", "paused")
    source.refresh_from_db()
    assert (source.name, source.state) == ("New", "paused")


def test_a_source_cannot_be_set_disconnected(admin_api, organization):
    source = factories.source(organization)
    response = admin_api.patch(url(organization, source.pk), {"state": "disconnected"}, format="json")
    assert response.status_code == 400 and "state" in response.json()["error"]["fields"]


def test_a_source_is_deleted(admin_api, organization):
    source = factories.source(organization)
    assert admin_api.delete(url(organization, source.pk)).status_code == 204
    assert not SignalSource.objects.exists()


def test_rotating_answers_new_credentials_once(admin_api, organization):
    source, first = factories.webhook_source(organization)

    response = admin_api.post(url(organization, source.pk, "rotate-secret"))

    assert response.status_code == 200
    secrets = response.json()["secrets"]
    assert secrets["signing_secret"] != first["signing_secret"]
    source.refresh_from_db()
    assert source.signing_secret == secrets["signing_secret"]
    _secrets_absent(admin_api.get(url(organization, source.pk)), secrets)


def test_rotating_a_manual_source_is_a_conflict(admin_api, organization):
    source = factories.source(organization)
    response = admin_api.post(url(organization, source.pk, "rotate-secret"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "wrong_kind"


# --- posting a message ---------------------------------------------------------------------------


def test_a_message_posted_into_a_manual_source_is_received_and_routed(admin_api, organization):
    source = factories.source(organization)
    account = connected_simulated_account(organization)
    route = factories.route(source, account)

    response = admin_api.post(url(organization, source.pk, "messages"), {"text": OPEN}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    signal = Signal.objects.get()
    assert (body["id"], body["source"], body["text"], body["kind"]) == (signal.pk, source.pk, OPEN, "open")
    (decision,) = body["decisions"]
    assert decision["route"] == route.pk and decision["account"] == account.pk
    assert decision["trace"] and {"stage", "result", "code", "message"} <= set(decision["trace"][0])
    assert [operation["id"] for operation in decision["operations"]] == decision_operation_ids(signal)


def test_a_retried_post_with_its_id_is_one_message_and_one_trade(admin_api, organization):
    source = factories.source(organization)
    factories.route(source, connected_simulated_account(organization))
    body = {"id": "client-42", "text": "close half"}

    first = admin_api.post(url(organization, source.pk, "messages"), body, format="json")
    again = admin_api.post(url(organization, source.pk, "messages"), body, format="json")

    assert (first.status_code, again.status_code) == (201, 204)
    assert Signal.objects.get().message_id == "client-42"
    assert Decision.objects.count() == 1


def decision_operation_ids(signal) -> list[int]:
    return list(signal.decisions.get().operations)


def test_a_reply_names_the_message_it_replies_to(admin_api, organization):
    source = factories.source(organization)
    alert = factories.signal_row(source, "GOLD BUY NOW", message_id="alert-1")

    response = admin_api.post(
        url(organization, source.pk, "messages"),
        {"text": "SL 2268 TP 2285", "reply_to_id": alert.message_id},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["reply_to"] == "alert-1"


def test_a_reply_to_an_unknown_message_is_a_field_error(admin_api, organization):
    source = factories.source(organization)
    response = admin_api.post(
        url(organization, source.pk, "messages"), {"text": OPEN, "reply_to_id": "nope"}, format="json"
    )
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["reply_to_id"]
    assert not Signal.objects.exists()


def test_a_message_needs_text(admin_api, organization):
    source = factories.source(organization)
    response = admin_api.post(url(organization, source.pk, "messages"), {"text": " "}, format="json")
    assert response.status_code == 400 and "text" in response.json()["error"]["fields"]


@pytest.mark.parametrize("kind", ["webhook", "recorded"])
def test_posting_into_another_kind_of_source_is_a_conflict(admin_api, organization, kind):
    source = factories.source(organization, kind=kind)
    response = admin_api.post(url(organization, source.pk, "messages"), {"text": OPEN}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "wrong_kind"
    assert not Signal.objects.exists()


def test_posting_into_a_paused_source_is_a_conflict(admin_api, organization):
    source = factories.source(organization)
    admin_api.patch(url(organization, source.pk), {"state": "paused"}, format="json")
    response = admin_api.post(url(organization, source.pk, "messages"), {"text": OPEN}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "source_paused"


def test_posting_needs_trade_and_reading_view_accounts(api, organization):
    source = factories.source(organization)
    api.force_authenticate(add_member(organization, role="viewer").user)

    assert api.get(url(organization, source.pk)).status_code == 200
    assert (
        api.post(url(organization, source.pk, "messages"), {"text": OPEN}, format="json").status_code == 403
    )
    assert api.patch(url(organization, source.pk), {"name": "X"}, format="json").status_code == 403

    api.force_authenticate(add_member(organization, role="trader").user)
    assert (
        api.post(url(organization, source.pk, "messages"), {"text": OPEN}, format="json").status_code == 201
    )
    assert api.post(url(organization), {"name": "Y", "kind": "manual"}, format="json").status_code == 403


# --- tenancy -------------------------------------------------------------------------------------


def _state():
    return list(SignalSource.objects.order_by("pk").values()), list(Signal.objects.values())


@pytest.mark.parametrize("caller", ["user", "client"])
def test_another_organizations_callers_get_404_and_change_nothing(api, organization, other_org, caller):
    source, _ = factories.webhook_source(organization)
    manual = factories.source(organization, name="Pasted")
    extra = {}
    if caller == "user":
        api.force_authenticate(other_org.memberships.get().user)
    else:
        client, secret = client_create(
            organization=other_org,
            created_by=other_org.memberships.get().user,
            name="bot",
            scopes=["accounts:read", "accounts:write", "accounts:trade"],
        )
        extra = {"HTTP_AUTHORIZATION": basic_auth(client.client_id, secret)}
    before = _state()

    for method, path, body in [
        ("get", url(organization), None),
        ("post", url(organization), {"name": "Mine", "kind": "manual"}),
        ("get", url(organization, source.pk), None),
        ("patch", url(organization, source.pk), {"name": "Mine"}),
        ("delete", url(organization, source.pk), None),
        ("post", url(organization, source.pk, "rotate-secret"), None),
        ("post", url(organization, manual.pk, "messages"), {"text": OPEN}),
    ]:
        response = getattr(api, method)(path, body, format="json", **extra)
        assert response.status_code == 404, (method, path)
    assert _state() == before


def test_another_organizations_source_is_404_under_ones_own_slug(admin_api, organization, other_org):
    theirs, _ = factories.webhook_source(other_org)
    before = _state()

    for method, path in [
        ("get", url(organization, theirs.pk)),
        ("patch", url(organization, theirs.pk)),
        ("delete", url(organization, theirs.pk)),
        ("post", url(organization, theirs.pk, "rotate-secret")),
        ("post", url(organization, theirs.pk, "messages")),
    ]:
        assert getattr(admin_api, method)(path, {"name": "x", "text": OPEN}, format="json").status_code == 404
    assert _state() == before
    assert admin_api.get(url(organization)).json()["results"] == []
