"""Periodic housekeeping for production: re-enqueue operations whose message was lost, and hourly
ask for expiring MetaApi credentials to be refreshed. Run it as one long-lived process:
``manage.py sweep_operations --every 10``."""

import time

from django.core.management.base import BaseCommand

from execution.housekeeping import housekeeping
from execution.orders.sweeper import sweep


class Command(BaseCommand):
    help = "Re-enqueue broker operations whose queue message was lost (worker crash, lost delay)."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, help="keep sweeping, every this many seconds")

    def handle(self, *args, every=None, **options):
        if every is None:
            swept = sweep()
            self.stdout.write(f"re-enqueued {len(swept)} operations: {swept[:20]}")
            return
        while True:
            housekeeping()
            time.sleep(every)
