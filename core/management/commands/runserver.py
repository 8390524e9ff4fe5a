"""``runserver`` of the embedded default: daphne's development server, plus the Dramatiq worker
threads in this process (the embedded broker is in-process), whose engine runs the operations and
streams the accounts (live dashboard). With REDIS_URL set, workers are separate processes
(``manage.py rundramatiq``) and this is daphne's runserver unchanged."""

import os

from daphne.management.commands.runserver import Command as DaphneRunserver
from django.conf import settings


class Command(DaphneRunserver):
    def inner_run(self, *args, **options):
        # With the autoreloader, inner_run runs in the child process only: start workers there.
        if settings.EMBEDDED and not getattr(self, "_workers_started", False):
            from execution.embedded import start_embedded_workers

            start_embedded_workers()
            self._workers_started = True
            self.stdout.write(f"Embedded workers, engine and account streaming started (pid {os.getpid()}).")
        return super().inner_run(*args, **options)
