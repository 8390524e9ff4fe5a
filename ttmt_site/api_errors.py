"""The API's one error shape.

Every error response body under ``/api/`` is ``{"error": {"status", "code", "message", "fields"}}``;
``fields`` maps a field name (``non_field_errors`` for the whole body) to a list of messages. DRF's
views get it from ``exception_handler``; what Django answers itself under ``/api/`` (an unknown
path, a refused request, a crash) gets it from the ``handler400/404/500`` views here.
"""

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def error_body(*, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"status": status, "code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, list):
        return [str(item) for sub in detail for item in _flatten(sub)]
    if isinstance(detail, dict):
        return [f"{key}: {msg}" for key, value in detail.items() for msg in _flatten(value)]
    return [str(detail)]


def exception_handler(exc: Exception, context: dict) -> Any:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):  # the body is past DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = RequestTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    fields: dict[str, list[str]] = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {name: _flatten(messages) for name, messages in detail.items()}
        message = "Invalid input."
        code = getattr(exc, "service_code", "invalid")  # a domain rule's own code, when one refused
    else:
        message = " ".join(_flatten(exc.detail)) if hasattr(exc, "detail") else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        if not isinstance(code, str):
            code = "error"
    response.data = error_body(status=response.status_code, code=code, message=message, fields=fields)
    return response


def _is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


def _api_error(*, status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(status=status, code=code, message=message), status=status)


def bad_request(request, exception):
    """Django refused the request before any view (e.g. a disallowed Host header)."""
    if _is_api(request):
        return _api_error(status=400, code="bad_request", message="Bad request.")
    return defaults.bad_request(request, exception)


def page_not_found(request, exception):
    """No route matches."""
    if _is_api(request):
        return _api_error(status=404, code="not_found", message="Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    """An unhandled exception: nothing about it is shown."""
    if _is_api(request):
        return _api_error(status=500, code="server_error", message="A server error occurred.")
    return defaults.server_error(request)
