"""The webhook source: a request signed as Standard Webhooks says, or carrying the URL token, posts
one message to the intake (202); anything else is refused before anything is recorded, in the one
error shape, and no secret is ever logged or answered."""

import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from core.errors import ServiceError
from execution.signals.models import Signal, SignalSource
from execution.signals.sources import webhook
from execution.signals.sources.base import MessagePosted

pytestmark = pytest.mark.django_db

OPEN = "GOLD BUY LIMIT 2275\nSL 2268\nTP 2285"


@pytest.fixture
def received(monkeypatch):
    """The intake, as far as this source needs it: records each (source, id, version) once."""
    events: list[MessagePosted] = []

    def receive(*, source, event):
        events.append(event)
        if Signal.objects.filter(source=source, message_id=event.message_id, version=event.version).exists():
            return None
        return Signal.objects.create(
            organization=source.organization,
            source=source,
            message_id=event.message_id,
            version=event.version,
            reply_to=event.reply_to or "",
            text=event.text,
            posted_at=event.posted_at,
            reading={},
            kind="open",
        )

    monkeypatch.setattr(webhook, "receive", receive)
    return events


@pytest.fixture
def credentials():
    return webhook.issue_credentials()


@pytest.fixture
def source(organization, credentials):
    secret, _, token_hash = credentials
    return SignalSource.objects.create(
        organization=organization,
        name="TradingView",
        kind=SignalSource.WEBHOOK,
        signing_secret=secret,
        url_token_hash=token_hash,
    )


@pytest.fixture
def secret(credentials):
    return credentials[0]


@pytest.fixture
def token(credentials):
    return credentials[1]


def url(source, token=None) -> str:
    if token is None:
        return reverse("signal-webhook", kwargs={"public_id": source.public_id})
    return reverse("signal-webhook-token", kwargs={"public_id": source.public_id, "url_token": token})


def signed(secret: str, body: bytes, *, message_id: str = "msg_2hN1", at: datetime | None = None) -> dict:
    at = at or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
    }


def post(client, path, body: bytes, *, content_type="text/plain", headers=None):
    return client.post(path, data=body, content_type=content_type, headers=headers or {})


def test_a_signed_message_is_received(client, source, secret, received):
    body = OPEN.encode()

    response = post(client, url(source), body, headers=signed(secret, body))

    assert response.status_code == 202, response.content
    signal = Signal.objects.get()
    assert response.json() == {"signal_id": signal.pk, "duplicate": False}
    [event] = received
    assert (event.message_id, event.text, event.reply_to, event.version) == ("msg_2hN1", OPEN, None, 1)
    assert abs(event.posted_at - timezone.now()) < timedelta(seconds=5)


def test_a_retried_delivery_is_a_duplicate(client, source, secret, received):
    body = OPEN.encode()
    headers = signed(secret, body)

    post(client, url(source), body, headers=headers)
    response = post(client, url(source), body, headers=headers)

    assert response.status_code == 202
    assert response.json() == {"signal_id": None, "duplicate": True}
    assert Signal.objects.count() == 1


def _refused(response) -> None:
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "status": 401,
            "code": "bad_signature",
            "message": "Invalid input.",
            "fields": {"non_field_errors": ["The request is not signed with this source's secret."]},
        }
    }


def test_a_tampered_body_is_refused(client, source, secret, received):
    headers = signed(secret, OPEN.encode())

    response = post(client, url(source), OPEN.replace("2268", "2200").encode(), headers=headers)

    _refused(response)
    assert received == [] and Signal.objects.count() == 0


def test_another_secret_is_refused(client, source, received):
    body = OPEN.encode()
    response = post(client, url(source), body, headers=signed(webhook.issue_credentials()[0], body))
    _refused(response)
    assert received == [] and Signal.objects.count() == 0


def test_a_stale_timestamp_is_refused(client, source, secret, received):
    body = OPEN.encode()
    stale = signed(secret, body, at=datetime.now(UTC) - timedelta(minutes=6))
    recent = signed(secret, body, at=datetime.now(UTC) - timedelta(minutes=4))

    _refused(post(client, url(source), body, headers=stale))
    assert received == []
    assert post(client, url(source), body, headers=recent).status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "msg_1", "webhook-timestamp": "now", "webhook-signature": "v1,AAAA"},
        {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
            "webhook-signature": "AAAA",
        },
        {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,not base64!"},
    ],
)
def test_missing_or_malformed_signature_headers_are_refused(client, source, received, headers):
    _refused(post(client, url(source), OPEN.encode(), headers=headers))
    assert received == []


def test_the_url_token_is_accepted_without_a_signature(client, source, token, received):
    response = post(client, url(source, token), OPEN.encode())

    assert response.status_code == 202
    [event] = received
    assert event.message_id.startswith(hashlib.sha256(OPEN.encode()).hexdigest()[:40])


def test_without_an_id_the_same_body_is_one_message_within_a_minute_and_a_new_one_after():
    minute = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)

    def message_id(at):
        return webhook.read_event(
            body=OPEN.encode(), content_type="text/plain", headers={}, now=at
        ).message_id

    assert message_id(minute) == message_id(minute + timedelta(seconds=59))  # a retry
    assert message_id(minute) != message_id(minute + timedelta(seconds=60))  # the next alert


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"text": "BUY XAUUSD\\u0000"}', "text"),
        (b'{"text": "BUY XAUUSD \\ud800"}', "text"),
        (b'{"text": "BUY XAUUSD", "id": "a\\u0000b"}', "id"),
        (b"[" * 5000 + b"]" * 5000, "non_field_errors"),
    ],
)
def test_text_the_database_cannot_keep_and_too_deep_json_are_field_errors(body, field):
    with pytest.raises(ServiceError) as refused:
        webhook.read_event(body=body, content_type="application/json", headers={}, now=datetime.now(UTC))
    assert (refused.value.field or "non_field_errors") == field


def test_a_wrong_url_token_is_refused(client, source, token, received):
    _refused(post(client, url(source, token[:-1] + ("A" if token[-1] != "A" else "B")), OPEN.encode()))
    _refused(post(client, url(source, "x"), OPEN.encode()))
    assert received == [] and Signal.objects.count() == 0


def test_a_source_without_a_token_refuses_every_token(client, source, received):
    source.url_token_hash = ""
    source.save()
    _refused(post(client, url(source, "anything"), OPEN.encode()))
    assert received == []


def test_a_json_body_gives_the_id_reply_and_time(client, source, token, received):
    body = json.dumps(
        {"text": "move SL to breakeven", "id": 42, "reply_to": "41", "time": "2025-05-01T12:00:00Z"}
    ).encode()

    response = post(client, url(source, token), body, content_type="application/json; charset=utf-8")

    assert response.status_code == 202, response.content
    [event] = received
    assert event.message_id == "42"
    assert event.reply_to == "41"
    assert event.text == "move SL to breakeven"
    assert event.posted_at == datetime(2025, 5, 1, 12, tzinfo=UTC)


def test_a_json_body_without_an_id_takes_the_webhook_id(client, source, secret, received):
    body = json.dumps({"text": OPEN}).encode()
    post(client, url(source), body, content_type="application/json", headers=signed(secret, body))
    assert received[0].message_id == "msg_2hN1"


def test_a_text_body_is_the_message_whatever_it_looks_like(client, source, token, received):
    text = '{"text": "not read as JSON"}\nBUY XAUUSD'
    assert post(client, url(source, token), text.encode()).status_code == 202
    assert received[0].text == text


@pytest.mark.parametrize(
    ("body", "content_type", "field", "message"),
    [
        (b"{}", "application/json", "text", "This field is required."),
        (b'{"text": 5}', "application/json", "text", "Must be a string."),
        (b'{"text": " \\n "}', "application/json", "text", "The message may not be blank."),
        (b"   ", "text/plain", "text", "The message may not be blank."),
        (b"x" * 4097, "text/plain", "text", "Ensure the message has no more than 4096 characters."),
        (b"\xff\xfe BUY", "text/plain", "text", "The body is not UTF-8 text."),
        (b'{"text": "BUY", "id": true}', "application/json", "id", "Must be a string or an integer."),
        (b'{"text": "BUY", "id": ""}', "application/json", "id", "May not be blank."),
        (
            b'{"text": "BUY", "reply_to": []}',
            "application/json",
            "reply_to",
            "Must be a string or an integer.",
        ),
        (b'{"text": "BUY", "time": "yesterday"}', "application/json", "time", None),
        (b'{"text": "BUY", "time": "2025-05-01T12:00:00"}', "application/json", "time", None),
        (b'{"text": "BUY", "time": 1714564800}', "application/json", "time", None),
        (b'{"text": ', "application/json", "non_field_errors", "The body is not valid JSON."),
        (b'["BUY"]', "application/json", "non_field_errors", None),
    ],
)
def test_a_body_it_cannot_read_is_400_on_its_field(
    client, source, token, received, body, content_type, field, message
):
    response = post(client, url(source, token), body, content_type=content_type)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, "invalid")
    assert list(error["fields"]) == [field]
    if message is not None:
        assert error["fields"][field] == [message]
    assert received == []


def test_a_message_of_the_longest_length_is_received(client, source, token, received):
    assert post(client, url(source, token), ("é" * 4096).encode()).status_code == 202


def test_an_unknown_source_is_404(client, source, token, received):
    response = post(client, f"/hooks/signals/{uuid.uuid4()}/{token}/", OPEN.encode())
    assert response.status_code == 404
    assert response.json() == {
        "error": {"status": 404, "code": "not_found", "message": "Not found.", "fields": {}}
    }


def test_another_kind_of_source_is_404(client, source, token, received):
    source.kind = SignalSource.MANUAL
    source.save()
    assert post(client, url(source, token), OPEN.encode()).status_code == 404
    assert received == []


def test_only_post_is_allowed(client, source, token):
    response = client.get(url(source, token))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_body_over_16_kib_is_413(client, source, token, received):
    assert post(client, url(source, token), b"x" * (16 * 1024 + 1)).status_code == 413
    assert received == []


@pytest.mark.parametrize("state", [SignalSource.PAUSED, SignalSource.DISCONNECTED])
def test_a_source_not_active_is_409(client, source, secret, received, state):
    source.state = state
    source.save()
    body = OPEN.encode()

    response = post(client, url(source), body, headers=signed(secret, body))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "source_paused"
    assert received == []


def test_a_paused_source_does_not_say_so_to_a_stranger(client, source, received):
    source.state = SignalSource.PAUSED
    source.save()
    _refused(post(client, url(source, "wrong"), OPEN.encode()))


def test_credentials_are_new_each_time_and_the_hash_is_the_tokens():
    secret, token, token_hash = webhook.issue_credentials()
    again = webhook.issue_credentials()

    assert secret.startswith("whsec_") and len(token) >= 32
    assert token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not {secret, token, token_hash} & set(again)
    Webhook(secret)  # a secret the library accepts


def test_the_secrets_are_stored_as_ciphertext_and_a_hash(source, secret, token):
    from django.db import connection

    with connection.cursor() as cursor:
        table = connection.ops.quote_name(SignalSource._meta.db_table)
        cursor.execute(f"SELECT signing_secret, url_token_hash FROM {table} WHERE id = %s", [source.pk])
        stored_secret, stored_hash = cursor.fetchone()
    assert secret not in stored_secret and token not in stored_hash


def test_no_secret_is_ever_logged_or_answered(client, source, secret, token, received, caplog):
    caplog.set_level(logging.DEBUG)
    body = OPEN.encode()
    responses = [
        post(client, url(source), body, headers=signed(secret, body)),
        post(client, url(source), b"tampered", headers=signed(secret, body)),
        post(client, url(source, token), b'{"text": ', content_type="application/json"),
        post(client, url(source, token), b"x" * 5000),
        client.get(url(source, token)),
    ]
    source.state = SignalSource.PAUSED
    source.save()
    responses.append(post(client, url(source, token), body))

    assert [response.status_code for response in responses] == [202, 401, 400, 400, 405, 409]
    for leaked in (secret, secret.removeprefix("whsec_"), token):
        assert leaked not in caplog.text
        assert all(leaked not in response.content.decode() for response in responses)
