"""The tokens URLs carry (a signal webhook's, an invitation's) never reach a log line, whichever
logger names the path."""

import io
import logging
import logging.config

import daphne.cli
import pytest
from django.conf import settings

from ttmt_site import web_server

TOKEN = "tok3n-Secret_value"
PATH = f"/hooks/signals/8c1f7a52-0c2e-4bde-9a40-55b1c0a0e2aa/{TOKEN}/"
INVITATION_TOKEN = "Zq3_x-9kPvH2mWcR8sLtY4uBnE6aJdFg0oQiK1rS7vX"


@pytest.fixture
def written():
    """What the console handler writes, configured as in production."""
    config = {**settings.LOGGING, "root": {"handlers": ["console"], "level": "INFO"}}
    stream = io.StringIO()
    logging.config.dictConfig(config)
    logging.getLogger().handlers[0].setStream(stream)
    return stream


def access_line(method: str, path: str, status: int) -> None:
    logging.getLogger("django.channels.server").info(
        "HTTP %(method)s %(path)s %(status)s", {"method": method, "path": path, "status": status}
    )


def test_the_console_handler_masks_the_token_in_access_lines_and_request_warnings(written):
    access_line("POST", PATH, 202)
    logging.getLogger("django.request").warning("Bad Request: %s", PATH)
    logging.getLogger("anything").info("unrelated /hooks/signals/ line stays readable")

    lines = written.getvalue()
    assert TOKEN not in lines
    assert lines.count("/hooks/signals/8c1f7a52-0c2e-4bde-9a40-55b1c0a0e2aa/[redacted]/") == 2
    assert "unrelated /hooks/signals/ line stays readable" in lines


def test_an_invitation_token_is_masked_in_the_link_and_in_the_login_forms_next(written):
    access_line("GET", f"/invitations/{INVITATION_TOKEN}/", 200)
    logging.getLogger("django.request").warning("Bad Request: %s", f"/invitations/{INVITATION_TOKEN}/")
    access_line("GET", f"/accounts/login/?next=%2Finvitations%2F{INVITATION_TOKEN}%2F", 200)
    access_line("POST", "/api/v1/orgs/acme-1a2b3c/invitations/12/resend/", 200)

    lines = written.getvalue()
    assert INVITATION_TOKEN not in lines
    assert lines.count("/invitations/[redacted]/") == 2
    assert "?next=%2Finvitations%2F[redacted]%2F" in lines
    assert "/api/v1/orgs/acme-1a2b3c/invitations/12/resend/" in lines  # an id is no secret


def test_the_production_web_servers_access_lines_mask_invitation_and_webhook_tokens():
    stream = io.StringIO()
    log = web_server.RedactedAccessLog(stream)
    hook = "/hooks/signals/0b3c1f5e-8a4d-4c6e-9f1a-2b3c4d5e6f70/webhook-secret-token/"
    for path in ("/invitations/invitation-secret-token/", hook, "/api/v1/orgs/a/invitations/12/resend/"):
        log(
            "http",
            "complete",
            {"client": ["1.2.3.4", 5], "method": "GET", "path": path, "status": 200, "size": 1},
        )

    lines = stream.getvalue()
    assert "invitation-secret-token" not in lines and "webhook-secret-token" not in lines
    assert "/invitations/[redacted]/" in lines and "/invitations/12/resend/" in lines
    original = daphne.cli.AccessLogGenerator
    try:
        with pytest.raises(SystemExit):  # daphne's own command line, which refuses no arguments
            web_server.main()
        assert daphne.cli.AccessLogGenerator is web_server.RedactedAccessLog
    finally:
        daphne.cli.AccessLogGenerator = original
