"""A signal webhook's URL token never reaches a log line, whichever logger names the path."""

import io
import logging
import logging.config

from django.conf import settings

TOKEN = "tok3n-Secret_value"
PATH = f"/hooks/signals/8c1f7a52-0c2e-4bde-9a40-55b1c0a0e2aa/{TOKEN}/"


def test_the_console_handler_masks_the_token_in_access_lines_and_request_warnings():
    config = {**settings.LOGGING, "root": {"handlers": ["console"], "level": "INFO"}}
    stream = io.StringIO()
    logging.config.dictConfig(config)
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)

    logging.getLogger("django.channels.server").info(
        "HTTP %(method)s %(path)s %(status)s", {"method": "POST", "path": PATH, "status": 202}
    )
    logging.getLogger("django.request").warning("Bad Request: %s", PATH)
    logging.getLogger("anything").info("unrelated /hooks/signals/ line stays readable")

    written = stream.getvalue()
    assert TOKEN not in written
    assert written.count("/hooks/signals/8c1f7a52-0c2e-4bde-9a40-55b1c0a0e2aa/[redacted]/") == 2
    assert "unrelated /hooks/signals/ line stays readable" in written
