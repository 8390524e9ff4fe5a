"""The fuzz run's own check refuses every error body but the one error shape."""

import json

import pytest

from tests.fuzz.test_api_fuzz import one_error_shape


class Answer:
    def __init__(self, status_code: int, text: str):
        self.status_code, self.text = status_code, text

    def json(self):
        return json.loads(self.text)


def shape(status: int) -> str:
    return json.dumps({"error": {"status": status, "code": "x", "message": "m", "fields": {}}})


@pytest.mark.parametrize(
    ("status", "text"), [(200, "<html></html>"), (404, shape(404)), (500, shape(500)), (413, shape(413))]
)
def test_a_success_or_the_one_error_shape_passes(status, text):
    assert one_error_shape(None, Answer(status, text), None) is None


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (404, "<h1>Not Found</h1>"),
        (400, '{"detail": "Bad"}'),
        (400, '{"error": "Bad"}'),
        (400, shape(409)),
        (500, json.dumps({"error": {"status": 500, "code": "x", "message": "m"}})),
    ],
)
def test_any_other_error_body_fails(status, text):
    with pytest.raises(AssertionError):
        one_error_shape(None, Answer(status, text), None)
