"""``GET /health/live``, ``GET /health/ready`` and ``GET /metrics``: plain Django views, outside the
API (no login, no throttle, no session), each calling one function.

``/health/live`` answers 200 while the process serves, touching nothing; ``/health/ready`` 200 when
every check of ``observability.readiness`` passes, else 503, with each check's state either way;
``/metrics`` the Prometheus text, behind ``Authorization: Bearer <TTMT_METRICS_TOKEN>`` when that
setting is set (401 in the API's one error shape otherwise).
"""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from observability.metrics import exposition
from observability.readiness import readiness


@require_GET
@never_cache
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "live"})


@require_GET
@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    checks = readiness()
    ok = all(check.ok for check in checks.values())
    body = {"status": "ready" if ok else "unready", "checks": {n: c.as_json() for n, c in checks.items()}}
    return JsonResponse(body, status=200 if ok else 503)


def _authorized(request: HttpRequest) -> bool:
    token = settings.TTMT_METRICS_TOKEN
    if not token:
        return True
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        message = "Send Authorization: Bearer <the metrics token>."
        body = {"error": {"status": 401, "code": "not_authenticated", "message": message, "fields": {}}}
        response = JsonResponse(body, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
