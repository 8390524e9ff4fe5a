"""Log filters: what must never reach a log line.

:class:`RedactUrlTokens` masks the credentials carried in URLs in every record a handler writes
(the servers' access lines and Django's request warnings name the path): the URL token of a signal
webhook (``/hooks/signals/<uuid>/<token>/``, for senders that cannot sign) and the token of an
invitation link (``/invitations/<token>/``, also URL-encoded, as in the login form's ``?next=``
back to the link). An API path's invitation id (``.../invitations/12/``) stays readable.
:func:`redact_url_tokens` is the same masking for lines that bypass logging (daphne's access log,
``ttmt_site.web_server``).
"""

import logging
import re

_SLASH = r"(?:/|%2[fF])"
# (a quick test on the message, the pattern whose first group is kept and the rest masked)
URL_TOKENS = (
    ("/hooks/signals/", re.compile(r"(/hooks/signals/[0-9a-fA-F-]{36}/)[^/\s?\"']+")),
    (
        "invitations",
        re.compile(rf"({_SLASH}invitations{_SLASH})(?!\d+(?:{_SLASH}|[\s?\"']|$))[^/%\s?&#\"']+"),
    ),
)


def redact_url_tokens(text: str) -> str:
    """``text`` with every URL token above masked."""
    for marker, pattern in URL_TOKENS:
        if marker in text:
            text = pattern.sub(r"\1[redacted]", text)
    return text


class RedactUrlTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_url_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
