"""Embedded-mode email: every message becomes a file under MAILBOX_DIR, and the log says which.

Lets a person on the embedded default read the password email without any mail server.
"""

import logging
import re
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

logger = logging.getLogger("ttmt.mailbox")


class MailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        directory = Path(settings.MAILBOX_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
            recipient = re.sub(r"[^A-Za-z0-9@._-]", "_", ",".join(message.recipients()))[:80]
            path = directory / f"{stamp}-{recipient}.eml"
            path.write_bytes(message.message().as_bytes())
            logger.warning(
                "Email to %s (%s) saved at %s",
                ", ".join(message.recipients()),
                message.subject,
                path,
            )
            sent += 1
        return sent
