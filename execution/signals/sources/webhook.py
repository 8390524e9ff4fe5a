"""The webhook source: a sender POSTs one message per request to the source's URL.

A request is accepted when it is signed as Standard Webhooks says (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``: HMAC-SHA256 with the source's ``whsec_`` secret, at
most 5 minutes off) or when its URL carries the source's URL token (for senders that cannot sign,
e.g. TradingView); anything else is :class:`WebhookRefused`, which never says which check failed
nor echoes a secret. The body is the message: plain text, or JSON ``{"text", "id", "reply_to",
"time"}``. Its id is the JSON ``id``, else the ``webhook-id`` header, else the SHA-256 of the body,
so a sender retrying a request is recorded once by the intake. :func:`deliver` is what the view
calls: authenticate, check that the source is active, read the event, hand it to the intake.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

from core.errors import ServiceError
from execution.signals.intake import receive
from execution.signals.models import Signal, SignalSource, new_signing_secret
from execution.signals.sources.base import MessagePosted

MAX_TEXT = 4096
MAX_ID = 100  # Signal.message_id and Signal.reply_to


class WebhookRefused(ServiceError):
    """Neither a valid signature nor the URL token: the request is not the source's sender's."""

    def __init__(self) -> None:
        super().__init__("The request is not signed with this source's secret.", code="bad_signature")


class SourcePaused(ServiceError):
    def __init__(self) -> None:
        super().__init__("This source is not active: it receives no messages.", code="source_paused")


def _token_hash(url_token: str) -> str:
    return hashlib.sha256(url_token.encode()).hexdigest()


def issue_credentials() -> tuple[str, str, str]:
    """New credentials for a webhook source: (signing secret, URL token, the token's hash). The
    source stores the secret (encrypted) and the hash; the secret and the token are shown once."""
    url_token = secrets.token_urlsafe(24)
    return new_signing_secret(), url_token, _token_hash(url_token)


def _signature_verifies(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, dict(headers), json_parse=False)
    except (WebhookVerificationError, EmptyWebhookSecretError, ValueError):
        # ValueError: a malformed header or secret (bad base64, no "v1," prefix) or a body that
        # is not UTF-8, none of which can verify
        return False
    return True


def authenticate(
    *, source: SignalSource, body: bytes, headers: Mapping[str, str], url_token: str | None
) -> None:
    """Raise :class:`WebhookRefused` unless ``url_token`` is the source's or the request is signed
    with its signing secret."""
    token_hash = source.url_token_hash
    if url_token is not None and token_hash and hmac.compare_digest(_token_hash(url_token), token_hash):
        return
    if source.signing_secret and _signature_verifies(source.signing_secret, body, headers):
        return
    raise WebhookRefused()


def _identifier(value: object, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ServiceError("Must be a string or an integer.", field=field)
    value = _storable(str(value), field)
    if not value.strip():
        raise ServiceError("May not be blank.", field=field)
    if len(value) > MAX_ID:
        raise ServiceError(f"Ensure this field has no more than {MAX_ID} characters.", field=field)
    return value


def _storable(value: str, field: str) -> str:
    """Text the database can keep: no NUL character, no lone surrogate (JSON's ``\\ud800``)."""
    if "\x00" in value:
        raise ServiceError("May not contain a NUL character.", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ServiceError("Is not valid Unicode text.", field=field) from None
    return value


def _checked_text(text: object) -> str:
    if not isinstance(text, str):
        raise ServiceError("Must be a string.", field="text")
    text = _storable(text, "text")
    if not text.strip():
        raise ServiceError("The message may not be blank.", field="text")
    if len(text) > MAX_TEXT:
        raise ServiceError(f"Ensure the message has no more than {MAX_TEXT} characters.", field="text")
    return text


def _posted_at(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ServiceError("Must be an ISO 8601 time, e.g. 2025-05-01T12:00:00Z.", field="time")
    if moment.tzinfo is None:
        raise ServiceError("Give the time's UTC offset, e.g. 2025-05-01T12:00:00Z.", field="time")
    return moment


def read_event(*, body: bytes, content_type: str, headers: Mapping[str, str], now: datetime) -> MessagePosted:
    """The message a request posts; raises ServiceError (with the field) on a body it cannot read."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ServiceError("The body is not UTF-8 text.", field="text") from None
    fields: dict = {"text": decoded}
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            fields = json.loads(decoded)
        except (ValueError, RecursionError):  # nested too deep is no message either
            raise ServiceError("The body is not valid JSON.") from None
        if not isinstance(fields, dict):
            raise ServiceError('The body must be a JSON object, e.g. {"text": "BUY XAUUSD"}.')
        if "text" not in fields:
            raise ServiceError("This field is required.", field="text")
    header_id = {name.lower(): value for name, value in headers.items()}.get("webhook-id")
    message_id = (
        _identifier(fields.get("id"), "id")
        or _identifier(header_id, "webhook-id")
        # a sender that gives no id (TradingView) posts the same text for every alert: the same
        # body within a minute is its retry, the next minute a new alert (the duplicate check of
        # each route then judges the trade)
        or f"{hashlib.sha256(body).hexdigest()[:40]}-{int(now.timestamp()) // 60}"
    )
    return MessagePosted(
        message_id=message_id,
        posted_at=_posted_at(fields.get("time")) or now,
        text=_checked_text(fields["text"]),
        reply_to=_identifier(fields.get("reply_to"), "reply_to"),
    )


def deliver(
    *,
    source: SignalSource,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str],
    url_token: str | None,
    now: datetime,
) -> Signal | None:
    """Authenticate the request, then hand the message it posts to the intake. Returns the new
    Signal (None: the message was received before). Raises WebhookRefused, SourcePaused, or
    ServiceError for a body it cannot read."""
    authenticate(source=source, body=body, headers=headers, url_token=url_token)
    if source.state != SignalSource.ACTIVE:
        raise SourcePaused()
    event = read_event(body=body, content_type=content_type, headers=headers, now=now)
    return receive(source=source, event=event)
