"""Script the simulated broker's prices for a whole simulated platform (every account on it).

manage.py simulator_market --platform 3 --show
manage.py simulator_market --platform 3 --instrument BTCUSD --move-to 65200 --over 30
manage.py simulator_market --platform 3 --instrument XAUUSD --points 2026-12-02T10:00:00Z=2300,1764670000=2310
manage.py simulator_market --platform 3 --instrument BTCUSD --clear      (without --instrument: every path)
"""

import argparse
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.dateparse import parse_datetime

from core.errors import ServiceError
from execution.broker.market import (
    describe_paths,
    simulated_market,
    simulated_market_clear,
    simulated_market_set,
)
from platforms.models import TradePlatform


def _points(value: str) -> list[tuple[datetime | int, Decimal]]:
    """``<ISO time or unix seconds>=<price>,...``"""
    points = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        moment, _, price = item.rpartition("=")
        try:
            at = int(moment) if moment.isdigit() else parse_datetime(moment)
            mid = Decimal(price)
        except (ValueError, InvalidOperation):
            at = None
        if at is None:
            raise argparse.ArgumentTypeError(f"{item!r}: give <ISO time or unix seconds>=<price>")
        points.append((at, mid))
    return points


class Command(BaseCommand):
    help = "Show, set or clear the simulated broker's scripted prices (market paths) of a platform."

    def add_arguments(self, parser):
        parser.add_argument("--platform", type=int, required=True, help="trade platform id")
        parser.add_argument("--instrument", help="feed instrument, e.g. BTCUSD, XAUUSD, US30")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--show", action="store_true", help="print the current paths only")
        action.add_argument("--clear", action="store_true", help="remove the instrument's path (or all)")
        action.add_argument("--move-to", type=Decimal, help="move to this price, from the current one")
        action.add_argument("--points", type=_points, help="<ISO time or unix seconds>=<price>,...")
        parser.add_argument("--over", type=int, help="seconds the move lasts (0: at once)")

    def handle(self, *args, **options):
        platform = TradePlatform.objects.filter(pk=options["platform"]).first()
        if platform is None:
            raise CommandError(f"No trade platform {options['platform']}.")
        instrument = options["instrument"]
        try:
            if options["clear"]:
                simulated_market_clear(platform=platform, instrument=instrument)
            elif options["move_to"] is not None or options["points"] is not None:
                if instrument is None:
                    raise CommandError("Give --instrument with --move-to or --points.")
                simulated_market_set(
                    platform=platform,
                    instrument=instrument,
                    points=options["points"],
                    move_to=options["move_to"],
                    over_seconds=options["over"],
                )
            paths = describe_paths(simulated_market(platform=platform))
        except ServiceError as error:
            raise CommandError(error.message) from None
        self.stdout.write(json.dumps(paths, indent=2, cls=DjangoJSONEncoder))
