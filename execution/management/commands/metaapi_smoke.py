"""Smoke-test a REAL MetaApi account through MetaApiGateway. Needs the network: never run in CI.

manage.py metaapi_smoke --token <token> --account-id <MetaApi account id>
manage.py metaapi_smoke --token - --account-id <id> --symbol EURUSD --trade     (token read from stdin)

Connects (RPC + streaming), prints the account figures, some symbols, one symbol's specification and
price; with ``--trade`` places a minimum-volume market BUY tagged ``ttmt-smoke-xxxxxxxx``, closes it, looks
the tag up again and prints the events seen. ``--token`` may be the account's narrowed token or the
master token (the execution path itself refuses the master token). The token is never printed.
"""

import asyncio
import secrets
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from execution.broker.gateways.base import GatewayError, OrderKind, OrderRequest, Side
from execution.broker.gateways.metaapi import MetaApiGateway, token_is_unrestricted

#: Extra MetaApiGateway arguments (tests put SDK stand-ins and a clock here).
GATEWAY_OVERRIDES: dict[str, Any] = {}


class Command(BaseCommand):
    help = (
        "Smoke-test a real MetaApi account (needs the network; not for CI): connect with --token and "
        "--account-id, print account information, symbols, a specification and a price; --trade places and "
        "closes a minimum-volume market order. '--token -' reads the token from stdin."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--token", required=True, help="the account's token (or the master token); '-' = stdin"
        )
        parser.add_argument("--account-id", required=True, help="MetaApi account id")
        parser.add_argument("--symbol", help="symbol to show (and trade); default: the first one listed")
        parser.add_argument("--symbols", type=int, default=10, help="how many symbol names to print (10)")
        parser.add_argument(
            "--trade",
            action="store_true",
            help="place and close a minimum-volume market BUY (real money on live)",
        )
        parser.add_argument(
            "--platform", choices=["mt4", "mt5"], help="expected platform (the account's wins)"
        )
        parser.add_argument("--domain", help="MetaApi domain (default agiliumtrade.agiliumtrade.ai)")
        parser.add_argument("--region", help="MetaApi region")
        parser.add_argument(
            "--timeout", type=float, default=120.0, help="connect / request timeout in seconds"
        )
        parser.add_argument("--events-wait", type=float, default=2.0, help="seconds to wait for trade events")

    def handle(self, *args, **options):
        token = sys.stdin.readline().strip() if options["token"] == "-" else options["token"].strip()
        if not token:
            raise CommandError("no token given")
        try:
            asyncio.run(self._smoke(token, options))
        except GatewayError as error:
            raise CommandError(f"MetaApi smoke test failed: {error}") from None

    def _line(self, label: str, value: Any = "") -> None:
        self.stdout.write(f"{label:<18}{value}")

    async def _smoke(self, token: str, options: dict) -> None:
        if token_is_unrestricted(token):
            self.stdout.write(
                self.style.WARNING("unrestricted (master) token: fine here, refused by the execution path")
            )
        arguments: dict[str, Any] = {
            "platform": options["platform"],
            "domain": options["domain"],
            "region": options["region"],
            "connect_timeout": options["timeout"],
            "request_timeout": options["timeout"],
            "allow_unrestricted_token": True,
        }
        arguments.update(GATEWAY_OVERRIDES)
        gateway = MetaApiGateway(token, options["account_id"], **arguments)
        self._line("account", options["account_id"])
        async with gateway:
            stream = gateway.events()
            self._line("platform", gateway.platform)
            info = await gateway.account_information()
            self._line("balance", f"{info.balance} {info.currency}")
            self._line("equity", info.equity)
            self._line("margin / free", f"{info.margin} / {info.free_margin}")
            self._line("leverage", f"1:{info.leverage}")
            names = await gateway.symbols()
            shown = ", ".join(names[: max(options["symbols"], 0)])
            self._line("symbols", f"{len(names)}: {shown}{' ...' if len(names) > options['symbols'] else ''}")
            symbol = options["symbol"] or (names[0] if names else None)
            if symbol is None:
                raise CommandError("the account lists no symbols")
            spec = await gateway.symbol_spec(symbol)
            self._line("symbol", f"{spec.name} ({spec.description})")
            self._line("volume", f"min {spec.volume_min} max {spec.volume_max} step {spec.volume_step}")
            self._line(
                "contract / digits", f"{spec.contract_size} / {spec.digits}, stops level {spec.stops_level}"
            )
            self._line("tick", f"size {spec.tick_size} value {spec.tick_value}")
            self._line(
                "trading", f"allowed={spec.trading_allowed}, {len(spec.sessions)} weekly sessions (UTC)"
            )
            quote = await gateway.price(symbol)
            self._line(
                "price", f"bid {quote.bid} ask {quote.ask} spread {quote.spread} at {quote.time.isoformat()}"
            )
            if options["trade"]:
                await self._trade(gateway, spec, options["events_wait"])
                await asyncio.sleep(max(options["events_wait"], 0))
                for event in stream.drain():
                    self._line("event", repr(event))
            self.stdout.write(self.style.SUCCESS("MetaApi smoke test passed"))

    async def _trade(self, gateway: MetaApiGateway, spec, events_wait: float) -> None:
        tag = f"ttmt-smoke-{secrets.token_hex(4)}"
        opened = await gateway.place_order(
            OrderRequest(spec.name, Side.BUY, OrderKind.MARKET, spec.volume_min, client_tag=tag)
        )
        self._line("opened", opened)
        if not opened.position_id:
            raise CommandError("the order reported no position id: check the account in MetaApi")
        await asyncio.sleep(max(events_wait, 0) / 2)
        closed = await gateway.close_position(opened.position_id)
        self._line("closed", closed)
        match = await gateway.find_by_client_tag(tag)
        self._line(
            "tag lookup",
            f"{tag}: {len(match.orders)} orders, {len(match.positions)} positions, "
            f"{len(match.deals)} deals ({', '.join(d.entry.value for d in match.deals)})",
        )
