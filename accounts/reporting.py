"""Error pages and error reports never show a secret, in DEBUG too.

Django's own filter hides what views mark with ``sensitive_post_parameters`` and functions with
``sensitive_variables`` only when DEBUG is off; DEBUG is the embedded default, where the 500 page
would otherwise echo a submitted password.
"""

from django.views.debug import SafeExceptionReporterFilter


class SecretsReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request) -> bool:
        return True
