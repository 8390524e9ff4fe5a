"""Inject faults into the simulated broker, for one account or a whole simulated platform.

manage.py simulator_faults --account 12 --show
manage.py simulator_faults --account 12 --latency 0.5 --script 10004,10004,timeout
manage.py simulator_faults --platform 3 --error-rate 0.2 --error-code 10024
manage.py simulator_faults --platform 3 --disconnect      (then --clear to restore)
"""

import json

from django.core.management.base import BaseCommand, CommandError

from core.errors import ServiceError
from execution.accounts.models import TradingAccount
from execution.broker.faults import simulated_faults, simulated_faults_set
from platforms.models import TradePlatform


def _script(value: str) -> list[int | str]:
    return [
        int(item) if item.strip().lstrip("-").isdigit() else item.strip() for item in value.split(",") if item
    ]


class Command(BaseCommand):
    help = "Show or set the simulated broker's fault injection for an account or a platform."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--account", type=int, help="trading account id")
        target.add_argument("--platform", type=int, help="trade platform id (every account on it)")
        parser.add_argument("--show", action="store_true", help="print the current settings only")
        parser.add_argument("--clear", action="store_true", help="remove every fault")
        parser.add_argument("--latency", type=float, help="seconds added to each call")
        parser.add_argument("--script", type=_script, help="codes the next calls fail with, in order")
        parser.add_argument("--error-rate", type=float, help="probability that a call fails")
        parser.add_argument("--error-code", type=int, help="code of the random failures (default 10024)")
        parser.add_argument("--disconnect", action="store_true", help="every call fails: not connected")
        parser.add_argument("--applies-to", choices=["all", "trading", "queries"])

    def handle(self, *args, **options):
        target = self._target(options)
        try:
            current = simulated_faults(**target).to_dict()
            if not options["show"]:
                changes = {
                    "latency_seconds": options["latency"],
                    "scripted_errors": options["script"],
                    "error_rate": options["error_rate"],
                    "error_rate_code": options["error_code"],
                    "disconnected": True if options["disconnect"] else None,
                    "applies_to": options["applies_to"],
                }
                base = {} if options["clear"] else {k: current[k] for k in current if k in changes}
                base.update({k: v for k, v in changes.items() if v is not None})
                current = simulated_faults_set(**target, **base).to_dict()
        except ServiceError as error:
            raise CommandError(error.message) from None
        self.stdout.write(json.dumps(current, indent=2))

    def _target(self, options) -> dict:
        if options["account"] is not None:
            account = TradingAccount.objects.select_related("platform").filter(pk=options["account"]).first()
            if account is None:
                raise CommandError(f"No trading account {options['account']}.")
            return {"account": account}
        platform = TradePlatform.objects.filter(pk=options["platform"]).first()
        if platform is None:
            raise CommandError(f"No trade platform {options['platform']}.")
        return {"platform": platform}
