"""The API's JSON parser refuses deep nesting and malformed JSON with a 400 in the one error shape."""

import io

import pytest
from rest_framework.exceptions import ParseError

from core.parsers import MAX_DEPTH, DepthLimitedJSONParser
from tests.factories import connected_simulated_account


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def parse(text: str):
    return DepthLimitedJSONParser().parse(io.BytesIO(text.encode()))


def test_nesting_up_to_the_limit_parses():
    value, depth = parse(nested(MAX_DEPTH)), 0
    while isinstance(value, list):
        value, depth = value[0] if value else None, depth + 1
    assert depth == MAX_DEPTH
    assert parse('{"a": [{"b": [1, 2]}]}') == {"a": [{"b": [1, 2]}]}


@pytest.mark.parametrize(
    "text", [nested(MAX_DEPTH + 1), '{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), "[" * 100_000]
)
def test_deeper_nesting_is_a_parse_error(text):
    with pytest.raises(ParseError, match="nested deeper than 64"):
        parse(text)


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["[" * 100_000, nested(MAX_DEPTH + 1), "{not json", '{"name": NaN}'])
def test_the_write_endpoints_answer_400_in_the_one_error_shape(api, admin_user, organization, body):
    account = connected_simulated_account(organization)
    api.force_authenticate(admin_user)
    base = f"/api/v1/orgs/{organization.slug}/"
    for method, url in [
        ("post", "/api/v1/orgs/"),
        ("patch", base),
        ("post", base + f"accounts/{account.pk}/orders/"),
        ("put", base + f"accounts/{account.pk}/risk-settings/"),
        ("post", base + "signal-sources/"),
    ]:
        response = getattr(api, method)(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content[:200])
        error = response.json()["error"]
        assert (error["status"], error["code"]) == (400, "parse_error"), url
