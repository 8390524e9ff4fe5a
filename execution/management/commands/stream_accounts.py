"""Stream every connected account's broker events into the database and the live dashboard.

manage.py stream_accounts [--duration SECONDS]

Production (REDIS_URL set) runs one such process beside the web server and the workers; the embedded
default runs the same loop inside ``runserver``. Stops on SIGINT/SIGTERM (or after ``--duration``).
"""

import asyncio
import contextlib
import signal

from django.core.management.base import BaseCommand

from execution.live.streaming import StreamConfig, serve


class Command(BaseCommand):
    help = "Stream connected accounts' events (figures, positions, orders, prices) to the dashboard."

    def add_arguments(self, parser):
        parser.add_argument(
            "--duration", type=float, default=None, help="stop after this many seconds (default: never)"
        )
        parser.add_argument(
            "--relist-every", type=float, default=None, help="seconds between re-listing accounts (10)"
        )

    def handle(self, *args, **options):
        config = StreamConfig.from_settings()
        if options["relist_every"]:
            config = StreamConfig(**{**config.__dict__, "relist_every": options["relist_every"]})
        asyncio.run(self._run(config, options["duration"]))

    async def _run(self, config: StreamConfig, duration: float | None) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        self.stdout.write("Streaming accounts (Ctrl-C to stop).")
        await serve(stop, config)
        self.stdout.write("Streaming stopped.")
