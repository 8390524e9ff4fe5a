"""Log filters: what must never reach a log line.

:class:`RedactWebhookTokens` masks the URL token of a signal webhook
(``/hooks/signals/<uuid>/<token>/``, the credential of senders that cannot sign) in every record a
handler writes: the servers' access lines and Django's request warnings name the path.
"""

import logging
import re

WEBHOOK_TOKEN = re.compile(r"(/hooks/signals/[0-9a-fA-F-]{36}/)[^/\s?\"']+")


class RedactWebhookTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/hooks/signals/" in message:
            record.msg, record.args = WEBHOOK_TOKEN.sub(r"\1[redacted]", message), ()
        return True
