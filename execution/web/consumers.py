"""The live dashboard's websocket, ``/ws/orgs/<slug>/live/`` (event contract: ``execution.live.events``).

A thin edge: authenticated by the session; only a member of the organization holding
``view_accounts`` or ``view_operations`` is accepted (anyone else is refused before the handshake
completes); events are filtered by the member's permissions; actions need ``trade`` and go through
``submit_action`` (the same pipeline as any operation). Membership and permissions are re-checked
on every action and at least every ``RECHECK_SECONDS`` while events flow, and at once when the
membership is removed (the socket is kicked) or its permissions change (the events that follow are
filtered by the new ones; kicked if nothing is left to see).
"""

import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from core.errors import ServiceError
from execution.accounts.selectors import accounts_for
from execution.live import audience
from execution.live.events import operation_data
from execution.live.publishing import serve_from_this_loop
from execution.live.snapshot import snapshot
from execution.orders import accept
from execution.orders.models import Operation
from execution.protection import services as protection
from observability import recording
from orgs.security import mfa_setup_required
from orgs.selectors import organization_for_member, organization_permissions

RECHECK_SECONDS = 15.0


class BadRequest(Exception):
    pass


def _access(user, slug: str):
    organization = organization_for_member(user=user, slug=slug)
    if organization is None or mfa_setup_required(user=user, organization=organization):
        return None, frozenset()  # not a member, or one who must set up two-factor login first
    return organization, organization_permissions(user=user, organization=organization)


def _permissions(user, organization) -> frozenset[str]:
    return organization_permissions(user=user, organization=organization)


def _text(content: dict, name: str) -> str:
    value = content.get(name)
    if value is None or str(value).strip() == "":
        raise BadRequest(f"{name} is required.")
    return str(value).strip()


def _decimal(content: dict, name: str) -> Decimal | None:
    value = content.get(name)
    if value is None or str(value).strip() == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadRequest(f"{name} must be a number.") from None
    if not number.is_finite() or number < 0:
        raise BadRequest(f"{name} must be a positive number.")
    return number


def _position_target(content: dict) -> dict:
    return {"position_id": _text(content, "position_id")}


def _close_arguments(content: dict) -> dict:
    volume = _decimal(content, "volume")
    if volume is not None and volume <= 0:
        raise BadRequest("volume must be positive.")
    return {**_position_target(content), "volume": volume}


def _levels_arguments(content: dict) -> dict:
    # present and empty: remove the level; absent: keep it
    levels = {level: _decimal(content, level) for level in ("sl", "tp") if level in content}
    if not levels:
        raise BadRequest("Give sl and/or tp.")
    return {**_position_target(content), **levels}


def _order_target(content: dict) -> dict:
    return {"order_id": _text(content, "order_id")}


def _trade_target(content: dict) -> dict:
    try:
        return {"trade_id": int(content.get("trade_id"))}
    except (TypeError, ValueError):
        raise BadRequest("trade_id must be a trade id.") from None


@dataclass(frozen=True)
class DashboardAction:
    """A browser action: how its message is read, and the service that accepts it."""

    parse: Callable[[dict], dict]
    submit: Callable[..., Operation]


# The dashboard's actions: each becomes an operation through the same pipeline as any other.
ACTIONS: Mapping[str, DashboardAction] = MappingProxyType(
    {
        "close_position": DashboardAction(_close_arguments, accept.position_close),
        "breakeven": DashboardAction(
            _position_target, functools.partial(accept.position_modify, breakeven=True)
        ),
        "modify_position": DashboardAction(_levels_arguments, accept.position_modify),
        "cancel_order": DashboardAction(_order_target, accept.order_cancel),
        "breakeven_trade": DashboardAction(_trade_target, protection.breakeven_for_user),
    }
)


def parse_action(action: str, content: dict) -> dict:
    """The arguments of ``submit_action`` for a browser message (raises BadRequest)."""
    try:
        account_id = int(content.get("account_id"))
    except (TypeError, ValueError):
        raise BadRequest("account_id must be an account id.") from None
    return {"account_id": account_id, **ACTIONS[action].parse(content)}


class LiveConsumer(AsyncJsonWebsocketConsumer):
    organization = None
    permissions: frozenset[str] = frozenset()
    kicked = False
    counted = False  # in the open sockets of /metrics

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except ValueError:
            return None  # ignored, like any message that is not an object

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        slug = self.scope["url_route"]["kwargs"]["slug"]
        self.organization, self.permissions = await database_sync_to_async(_access)(user, slug)
        if self.organization is None or not (self.permissions & audience.CONNECT_PERMISSIONS):
            await self.close()  # refused: another organization's socket, or nothing to see
            return
        self.user = user
        self.status_only = b"status=1" in self.scope.get("query_string", b"").split(b"&")
        self.checked_at = time.monotonic()
        self.groups_joined = [
            audience.org_group(self.organization.pk),
            audience.user_group(self.organization.pk, user.pk),
        ]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        serve_from_this_loop()
        await self.accept()
        await self._send_snapshot()
        recording.websocket_opened()
        self.counted = True

    async def disconnect(self, code):
        if self.counted:
            recording.websocket_closed()
            self.counted = False
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _send_snapshot(self):
        data = await database_sync_to_async(snapshot)(
            self.organization, self.permissions, status_only=self.status_only
        )
        await self.send_json(data)

    async def _still_member(self, *, force: bool = False) -> bool:
        if self.kicked:
            return False
        if not force and time.monotonic() - self.checked_at < RECHECK_SECONDS:
            return True
        self.permissions = await database_sync_to_async(_permissions)(self.user, self.organization)
        self.checked_at = time.monotonic()
        if not self.permissions & audience.CONNECT_PERMISSIONS:
            await self._kick()
            return False
        return True

    async def _kick(self):
        self.kicked = True
        reason = "You are no longer a member of this organization, or may no longer see its live data."
        await self.send_json({"type": "kick", "reason": reason})
        await self.close(code=audience.KICK_CLOSE_CODE)

    # -- from the channel layer -------------------------------------------------------------------
    async def live_event(self, message):
        event = message["event"]
        if not await self._still_member():
            return
        if audience.allowed(event.get("type", ""), self.permissions, status_only=self.status_only):
            await self.send_json(event)

    async def live_kick(self, message):
        # the membership was removed or its permissions changed: re-read them now (kicked if
        # nothing is left to see; a re-added member keeps the socket)
        await self._still_member(force=True)

    # -- from the browser -------------------------------------------------------------------------
    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        action = content.get("action")
        request_id = content.get("request_id")
        if action == "ping":
            await self.send_json({"type": "pong", "request_id": request_id})
            return
        if not await self._still_member(force=action != "resync"):
            return
        if action == "resync":
            await self._send_snapshot()
            return
        if action not in ACTIONS:
            await self._answer(request_id, error=f"Unknown action {action!r}.")
            return
        if "trade" not in self.permissions:
            await self._answer(request_id, error="You may not trade in this organization.")
            return
        try:
            arguments = parse_action(action, content)
            operation = await database_sync_to_async(submit_action)(
                organization=self.organization, user=self.user, action=action, **arguments
            )
        except BadRequest as error:
            await self._answer(request_id, error=str(error))
        except ServiceError as error:
            await self._answer(request_id, error=error.message)
        else:
            await self._answer(request_id, operation=operation)

    async def _answer(self, request_id, *, operation: dict | None = None, error: str | None = None):
        message = {"type": "action_result", "request_id": request_id, "ok": error is None}
        if error is None:
            message["operation"] = operation
        else:
            message["error"] = error
        await self.send_json(message)


def submit_action(*, organization, user, action: str, account_id: int, **arguments) -> dict:
    """Submit one parsed dashboard action (the caller checked ``trade``); another organization's
    account is unknown. Returns the accepted operation as the live contract shows it."""
    account = accounts_for(organization).filter(pk=account_id).first()
    if account is None:
        raise ServiceError("Unknown account.", field="account_id", code="not_found")
    operation = ACTIONS[action].submit(account=account, requested_by=str(user), **arguments)
    return operation_data(operation, "queued")
