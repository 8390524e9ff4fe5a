"""``POST /api/v1/orgs/{slug}/signals/parse/``: the parse contract exactly, field errors in the one
error shape, access as every organization-scoped route (404 outside, 403 without the permission or
scope), and nothing written."""

import pytest
from django.apps import apps

from clients.services import client_create
from execution.signals.parsing import parse
from tests.factories import UserFactory, add_member, basic_auth, organization_with_admin

pytestmark = pytest.mark.django_db

OPEN = "GOLD BUY LIMIT 2275\nSL 2268\nTP 2285"
DETAILS = "Entry 4438-4433\nSL 4428\nTP1 4443\nTP2 4448"
CONTRACT_FIELDS = {
    "kind",
    "side",
    "order_type",
    "symbol",
    "entry",
    "sl",
    "tp",
    "runner",
    "actions",
    "confidence",
    "problems",
}


def parse_url(organization) -> str:
    return f"/api/v1/orgs/{organization.slug}/signals/parse/"


@pytest.fixture
def member_api(api, organization):
    api.force_authenticate(add_member(organization, role="viewer").user)
    return api


def post(api, organization, body, **extra):
    return api.post(parse_url(organization), body, format="json", **extra)


def test_an_open_signal_answers_the_whole_contract(member_api, organization):
    response = post(member_api, organization, {"text": OPEN})

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == CONTRACT_FIELDS
    assert body["kind"] == "open"
    assert body["side"] == "buy"
    assert body["order_type"] == "limit"
    assert body["symbol"] == "XAUUSD"
    assert body["entry"] == 2275
    assert body["sl"] == 2268
    assert body["tp"] == [2285]
    assert body["runner"] is False
    assert body["actions"] == []
    assert isinstance(body["confidence"], int | float) and 0 <= body["confidence"] <= 1
    assert isinstance(body["problems"], list)
    assert all(set(problem) == {"code", "message"} for problem in body["problems"])
    assert body == parse(OPEN).to_contract()


def test_numbers_are_json_numbers(member_api, organization):
    raw = post(member_api, organization, {"text": OPEN, "reply_to": None}).content.decode()
    assert '"entry":2275' in raw and '"sl":2268' in raw and '"tp":[2285]' in raw


def test_levels_replying_to_an_alert_read_as_its_details(member_api, organization):
    response = post(member_api, organization, {"text": DETAILS, "reply_to": "GOLD BUY NOW"})

    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "details"
    assert body["entry"] == {"low": 4433, "high": 4438}
    assert body["sl"] == 4428
    assert body["tp"] == [4443, 4448]
    assert body == parse(DETAILS, reply_to="GOLD BUY NOW").to_contract()


@pytest.mark.parametrize("reply_to", ["", None])
def test_a_blank_or_null_reply_to_is_no_reply(member_api, organization, reply_to):
    body = post(member_api, organization, {"text": DETAILS, "reply_to": reply_to}).json()
    assert body == parse(DETAILS).to_contract()
    assert "no_alert" in [problem["code"] for problem in body["problems"]]


def test_a_change_with_several_actions(member_api, organization):
    body = post(member_api, organization, {"text": "TP1 hit, close half and move SL to entry"}).json()

    assert body["kind"] == "modify"
    assert body["actions"] == [{"action": "close_partial", "fraction": 0.5}, {"action": "breakeven"}]


def test_noise_is_ignored_with_a_problem_saying_why(member_api, organization):
    body = post(
        member_api, organization, {"text": "Good morning traders! Join our VIP: t.me/bestsignals"}
    ).json()

    assert body["kind"] == "ignore"
    assert body["problems"] and {"code", "message"} == set(body["problems"][0])


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "text", "This field is required."),
        ({"text": ""}, "text", "This field may not be blank."),
        ({"text": "   \n "}, "text", "This field may not be blank."),
        ({"text": "GOLD BUY " + "9" * 4096}, "text", "Ensure this field has no more than 4096 characters."),
        (
            {"text": OPEN, "reply_to": "x" * 4097},
            "reply_to",
            "Ensure this field has no more than 4096 characters.",
        ),
    ],
)
def test_bad_input_is_400_with_field_errors(member_api, organization, body, field, message):
    response = post(member_api, organization, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {field: [message]}


def test_a_message_of_the_longest_length_is_read(member_api, organization):
    text = (OPEN + "\n").ljust(4096, "x")
    assert post(member_api, organization, {"text": text}).status_code == 200


def test_a_user_outside_the_organization_gets_404(api, organization):
    api.force_authenticate(UserFactory())
    response = post(api, organization, {"text": OPEN})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def _client_auth(organization, scopes) -> str:
    creator = organization.memberships.first().user
    client, secret = client_create(organization=organization, created_by=creator, name="bot", scopes=scopes)
    return basic_auth(client.client_id, secret)


def test_an_api_client_of_another_organization_gets_404(api, organization):
    other = organization_with_admin(UserFactory(), "Elsewhere")
    auth = _client_auth(other, ["accounts:read"])
    assert post(api, organization, {"text": OPEN}, HTTP_AUTHORIZATION=auth).status_code == 404


def test_an_api_client_needs_the_accounts_read_scope(api, organization):
    with_scope = _client_auth(organization, ["accounts:read"])
    without = _client_auth(organization, ["platforms:read", "operations:read"])

    response = post(api, organization, {"text": OPEN}, HTTP_AUTHORIZATION=with_scope)
    assert response.status_code == 200
    assert response.json() == parse(OPEN).to_contract()
    response = post(api, organization, {"text": OPEN}, HTTP_AUTHORIZATION=without)
    assert response.status_code == 403
    assert "view_accounts" in response.json()["error"]["message"]


def test_a_member_without_view_accounts_gets_403(api, organization):
    api.force_authenticate(add_member(organization, permissions={"view_organization"}).user)
    assert post(api, organization, {"text": OPEN}).status_code == 403


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_parsing_writes_nothing_and_reads_little(member_api, organization, django_assert_max_num_queries):
    before = _row_counts()

    with django_assert_max_num_queries(4) as queries:  # the access check's; the parser reads none
        response = post(member_api, organization, {"text": DETAILS, "reply_to": "GOLD BUY NOW"})

    assert response.status_code == 200
    assert all(query["sql"].lstrip().upper().startswith("SELECT") for query in queries.captured_queries)
    assert _row_counts() == before


def test_the_schema_documents_the_request_and_the_contract(member_api):
    schema = member_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/orgs/{slug}/signals/parse/"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    components = schema["components"]["schemas"]
    assert components[request.rsplit("/", 1)[1]]["required"] == ["text"]
    contract = components[response.rsplit("/", 1)[1]]
    assert set(contract["properties"]) == set(parse(OPEN).to_contract())
    assert set(components["ProblemCodeEnum"]["enum"]) >= {"no_alert", "sl_missing", "promotion"}


def test_a_sources_keywords_and_aliases_are_applied(member_api, organization):
    text = "G kopen 2330 doel 2340 sl 2320"
    plain = post(member_api, organization, {"text": text}).json()
    assert plain["kind"] != "open"

    body = post(
        member_api,
        organization,
        {"text": text, "keywords": {"kopen": "buy", "doel": "tp"}, "aliases": {"G": "XAUUSD"}},
    ).json()

    assert (body["kind"], body["side"], body["symbol"]) == ("open", "buy", "XAUUSD")
    assert (body["entry"], body["sl"], body["tp"]) == (2330, 2320, [2340])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"keywords": {"kopen": "purchase"}}, "keywords"),
        ({"keywords": {"x" * 33: "buy"}}, "keywords"),
        ({"aliases": {"G": "X" * 33}}, "aliases"),
        ({"aliases": {f"S{i}": "XAUUSD" for i in range(201)}}, "aliases"),
    ],
)
def test_bad_keywords_or_aliases_are_refused_on_their_field(member_api, organization, body, field):
    response = post(member_api, organization, {"text": "XAUUSD BUY NOW", **body})

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "text",
    [
        "BUY GOLD " + "9" * 400,
        "move sl to " + "9" * 400,
        "GOLD BUY 2\u00a0\u00a0300",
        "BUY EURUSD 1.0850 1.5k",
    ],
)
def test_numbers_that_cannot_be_prices_still_get_the_contract(member_api, organization, text):
    response = post(member_api, organization, {"text": text, "reply_to": "sl to tp0"})

    assert response.status_code == 200, response.content
    assert set(response.json()) == CONTRACT_FIELDS


def test_a_keyword_the_reader_could_never_match_is_refused_on_its_field(member_api, organization):
    response = post(member_api, organization, {"text": "XAUUSD BUY NOW", "keywords": {"s-l": "sl"}})

    assert response.status_code == 400
    assert "letters and digits" in str(response.json()["error"]["fields"]["keywords"])
