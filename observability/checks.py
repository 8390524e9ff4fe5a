"""The deploy check of ``/metrics``: in production it must not be open to whoever reaches the web
server (it names accounts, organizations and their safety state)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def metrics_token(app_configs, **kwargs) -> list[Warning]:
    if settings.TTMT_METRICS_TOKEN:
        return []
    return [
        Warning(
            "TTMT_METRICS_TOKEN is not set: /metrics answers anyone who reaches the web server.",
            hint="Set TTMT_METRICS_TOKEN and give it to Prometheus (authorization: credentials).",
            id="observability.W001",
        )
    ]
