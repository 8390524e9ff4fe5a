"""Play the recorded signal sources, round after round: ``manage.py play_recordings --every 1``.
Any number of these processes may run; each source is played by one of them at a time (a lease on
its row, ``execution.signals.sources.recorded``)."""

from django.core.management.base import BaseCommand

from execution.signals.sources.recorded import play_forever


class Command(BaseCommand):
    help = "Play the recordings of the recorded signal sources, forever."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=1.0, help="seconds between passes (default 1)")

    def handle(self, *args, every: float, **options):
        play_forever(every=every)
