"""Re-enqueue operations stuck past their deadline for a message (run it every few seconds)."""

import time

from django.core.management.base import BaseCommand

from execution.sweeper import sweep


class Command(BaseCommand):
    help = "Re-enqueue broker operations whose queue message was lost (worker crash, lost delay)."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, help="keep sweeping, every this many seconds")

    def handle(self, *args, every=None, **options):
        while True:
            swept = sweep()
            if swept:
                self.stdout.write(f"re-enqueued {len(swept)} operations: {swept[:20]}")
            if every is None:
                return
            time.sleep(every)
