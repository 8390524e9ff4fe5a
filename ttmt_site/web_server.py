"""The production web server: daphne, with its access lines masked like every log record.

daphne writes its access log straight to a stream, past Python logging and its filters, so the
tokens of invitation links and signal webhooks would reach it in the clear; this entry point gives
daphne an access log that masks them (``core.logs.redact_url_tokens``) and otherwise runs daphne's
own command line unchanged: ``python -m ttmt_site.web_server <daphne arguments>``.
"""

import daphne.cli
from daphne.access import AccessLogGenerator

from core.logs import redact_url_tokens


class RedactedAccessLog(AccessLogGenerator):
    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None):
        super().write_entry(host, date, redact_url_tokens(request), status, length, ident, user)


def main() -> None:
    daphne.cli.AccessLogGenerator = RedactedAccessLog  # the name daphne's command line builds its log with
    daphne.cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
