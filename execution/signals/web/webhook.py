"""``POST /hooks/signals/<public_id>/[<url_token>/]``: a webhook source's sender posts a message.

The edge only: POST only (405), a body of at most 16 KiB (413), a webhook source by its public id
(404 otherwise); the service (``execution.signals.sources.webhook.deliver``) authenticates (401),
checks the source is active (409) and reads the body (400). Accepted: 202 ``{"signal_id",
"duplicate"}``. Errors in the API's one shape (``ttmt_site.api_errors``): ``{"error": {"status",
"code", "message", "fields"}}``, a refusal by a service as the API renders a ``ServiceError``.
A refusal is logged without the URL (which may hold the URL token).
"""

import logging

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from core.errors import ServiceError
from execution.signals.models import SignalSource
from execution.signals.sources import webhook

MAX_BODY = 16 * 1024
STATUS_BY_CODE = {"bad_signature": 401, "source_paused": 409}
logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> JsonResponse:
    body = {"error": {"status": status, "code": code, "message": message, "fields": fields or {}}}
    return JsonResponse(body, status=status)


def _refused(error: ServiceError) -> JsonResponse:
    status = STATUS_BY_CODE.get(error.code, 400)
    return _error(status, error.code, "Invalid input.", {error.field or "non_field_errors": [error.message]})


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@csrf_exempt
def signal_webhook(request: HttpRequest, public_id, url_token: str | None = None) -> JsonResponse:
    response = _answer(request, public_id, url_token)
    if response.status_code >= 400:
        # Django would log the refusal with request.path, the URL token in it: log it without
        response._has_been_logged = True
        logger.warning("signal webhook %s refused: %s", public_id, response.status_code)
    return response


def _answer(request: HttpRequest, public_id, url_token: str | None) -> JsonResponse:
    if request.method != "POST":
        response = _error(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
        response["Allow"] = "POST"
        return response
    if _declared_length(request) > MAX_BODY or len(request.body) > MAX_BODY:
        return _error(413, "too_large", f"The body may have at most {MAX_BODY} bytes.")
    source = SignalSource.objects.filter(public_id=public_id, kind=SignalSource.WEBHOOK).first()
    if source is None:
        return _error(404, "not_found", "Not found.")
    try:
        signal = webhook.deliver(
            source=source,
            body=request.body,
            content_type=request.content_type or "",
            headers=request.headers,
            url_token=url_token,
            now=timezone.now(),
        )
    except ServiceError as error:
        return _refused(error)
    return JsonResponse({"signal_id": signal.pk if signal else None, "duplicate": signal is None}, status=202)
