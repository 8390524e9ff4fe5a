"""The live dashboard's websocket on the real ASGI application: session authentication, the tenant
boundary (another organization's user refused, a removed member's socket closed), events pushed to
members only, and dashboard actions through the same pipeline as any operation."""

import asyncio
from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from execution.broker.faults import simulated_faults_set
from execution.broker.gateways.base import OrderKind, OrderRequest, Side
from execution.broker.registry import gateway_for
from execution.broker.simulator import account_key, stream_book
from execution.live.audience import KICK_CLOSE_CODE
from execution.live.publishing import push
from execution.orders.accept import order_place
from execution.orders.models import Operation
from execution.safety.errors import Category
from execution.safety.runtime import safety
from orgs import permissions as perms
from orgs.models import Membership
from orgs.services import membership_remove, membership_update
from tests.factories import UserFactory, add_member, connected_simulated_account, organization_with_admin
from ttmt_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://testserver")
db = database_sync_to_async


@pytest.fixture(autouse=True)
def _fresh_layer():
    """The in-memory layer outlives tests: no group of an earlier test's sockets is left."""

    def flush():
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            async_to_sync(layer.flush)()

    flush()
    yield
    flush()


@pytest.fixture
def account(organization):
    # BTCUSD trades around the clock: these tests do not depend on the day they run
    return connected_simulated_account(organization, server="SimBroker-Demo")


@pytest.fixture
def other_org(db):
    return organization_with_admin(UserFactory(), name="Other Org")


@pytest.fixture
def other_account(other_org):
    return connected_simulated_account(other_org, login="7001")


def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(slug: str, user=None, *, query: str = "", origin: bool = True):
    headers = [ORIGIN] if origin else []
    if user is not None:
        headers.append((b"cookie", await db(_cookie)(user)))
    communicator = WebsocketCommunicator(application, f"/ws/orgs/{slug}/live/{query}", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    return communicator, connected


async def receive_until(communicator, predicate, timeout: float = 10.0) -> list[dict]:
    """Messages up to and including the first one ``predicate`` accepts."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no matching message; got {[m.get('type') for m in seen]}: {seen}")
        message = await communicator.receive_json_from(timeout=remaining)
        seen.append(message)
        if predicate(message):
            return seen


def is_type(kind: str, **fields):
    def accept(message):
        if message.get("type") != kind:
            return False
        payload = message.get("operation") or message.get("safety") or message
        return all(payload.get(key) == value for key, value in fields.items())

    return accept


async def connected_socket(slug, user, **kwargs):
    communicator, connected = await open_socket(slug, user, **kwargs)
    assert connected
    snapshot = await communicator.receive_json_from(timeout=10)
    assert snapshot["type"] == "snapshot"
    return communicator, snapshot


def open_position(account) -> str:
    async def place():
        gateway = gateway_for(account)
        await gateway.connect()
        result = await gateway.place_order(
            OrderRequest("BTCUSD", Side.BUY, OrderKind.MARKET, Decimal("0.01"))
        )
        return result.position_id

    return async_to_sync(place)()


# --- authentication and the tenant boundary -------------------------------------------------------


async def test_a_member_connects_with_the_session_and_receives_a_snapshot(admin_user, organization, account):
    position_id = await db(open_position)(account)
    communicator, snapshot = await connected_socket(organization.slug, admin_user)
    try:
        assert snapshot["organization"] == {"slug": organization.slug, "name": organization.name}
        assert snapshot["can_trade"] is True
        (row,) = snapshot["accounts"]
        assert row["id"] == account.pk and row["connection_state"] == "connected"
        assert Decimal(row["balance"]) == Decimal("10000")
        assert [p["id"] for p in snapshot["positions"][str(account.pk)]] == [position_id]
        assert snapshot["orders"][str(account.pk)] == []
        assert snapshot["status"]["level"] == "green"
        assert snapshot["status"]["accounts"][0]["pause_state"] == "trading"
        assert snapshot["operations"] == [] and snapshot["safety_events"] == []
    finally:
        await communicator.disconnect()


async def test_an_anonymous_socket_is_refused(organization):
    communicator, connected = await open_socket(organization.slug)
    assert not connected


async def test_a_socket_without_an_allowed_origin_is_refused(admin_user, organization):
    communicator, connected = await open_socket(organization.slug, admin_user, origin=False)
    assert not connected


async def test_another_organizations_user_is_refused(organization, account, other_org):
    stranger = await db(lambda: Membership.objects.get(organization=other_org).user)()
    communicator, connected = await open_socket(organization.slug, stranger)
    assert not connected
    communicator, connected = await open_socket("no-such-org", stranger)
    assert not connected


async def test_a_member_without_view_permissions_is_refused(organization):
    member = await db(add_member)(organization, permissions=frozenset({"view_organization"}))
    communicator, connected = await open_socket(organization.slug, await db(lambda: member.user)())
    assert not connected


async def test_a_member_of_an_organization_requiring_two_factor_login_needs_it_for_the_socket(
    admin_user, organization
):
    trader = await db(add_member)(organization, role=perms.TRADER)
    user = await db(lambda: trader.user)()
    await db(lambda: organization.__class__.objects.filter(pk=organization.pk).update(mfa_required=True))()

    communicator, connected = await open_socket(organization.slug, user)
    assert not connected

    await db(lambda: TOTP.activate(user, generate_totp_secret()))()
    communicator, _ = await connected_socket(organization.slug, user)
    await communicator.disconnect()


async def test_removing_a_member_closes_their_open_socket(admin_user, organization, account):
    membership = await db(add_member)(organization, role=perms.TRADER)
    user = await db(lambda: membership.user)()
    communicator, _ = await connected_socket(organization.slug, user)
    await db(membership_remove)(actor=admin_user, membership=membership)

    messages = await receive_until(communicator, is_type("kick"))
    assert messages[-1]["type"] == "kick"
    closed = await communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": KICK_CLOSE_CODE}
    # and a new socket is refused
    again, connected = await open_socket(organization.slug, user)
    assert not connected


async def test_removing_a_member_leaves_other_members_sockets_open(admin_user, organization, account):
    removed = await db(add_member)(organization, role=perms.VIEWER)
    admin_socket, _ = await connected_socket(organization.slug, admin_user)
    try:
        await db(membership_remove)(actor=admin_user, membership=removed)
        assert await admin_socket.receive_nothing(timeout=0.5)
    finally:
        await admin_socket.disconnect()


async def test_reduced_permissions_take_effect_on_an_open_socket_at_once(admin_user, organization, account):
    membership = await db(add_member)(organization, role=perms.TRADER)
    communicator, _ = await connected_socket(organization.slug, await db(lambda: membership.user)())
    try:
        await db(membership_update)(
            actor=admin_user, membership=membership, permissions=["view_organization", "view_operations"]
        )
        push(organization.pk, {"type": "positions", "account_id": account.pk, "positions": []})
        push(organization.pk, {"type": "status", "level": "green"})

        # the status event (view_operations, kept) arrives; the positions before it (view_accounts,
        # taken away) do not, although the periodic re-check is still far off
        messages = await receive_until(communicator, is_type("status"))
        assert [message["type"] for message in messages] == ["status"]
    finally:
        await communicator.disconnect()


async def test_a_member_left_with_nothing_to_see_is_kicked_at_once(admin_user, organization, account):
    membership = await db(add_member)(organization, role=perms.VIEWER)
    communicator, _ = await connected_socket(organization.slug, await db(lambda: membership.user)())
    await db(membership_update)(actor=admin_user, membership=membership, permissions=["view_organization"])

    await receive_until(communicator, is_type("kick"))
    assert await communicator.receive_output(timeout=5) == {
        "type": "websocket.close",
        "code": KICK_CLOSE_CODE,
    }


# --- events go to members only --------------------------------------------------------------------


async def test_an_operation_event_reaches_members_and_no_one_else(
    admin_user, organization, account, other_org, other_account, stub_broker
):
    viewer = await db(add_member)(organization, role=perms.VIEWER)
    stranger = await db(lambda: Membership.objects.get(organization=other_org).user)()
    ours, _ = await connected_socket(organization.slug, await db(lambda: viewer.user)())
    theirs, _ = await connected_socket(other_org.slug, stranger)
    try:
        operation = await db(order_place)(account=account, symbol="BTCUSD", side="buy", type="market")
        (message,) = await receive_until(ours, is_type("operation", event="queued"))
        assert message["operation"]["id"] == operation.pk
        assert message["operation"]["kind"] == "place_order"
        assert message["operation"]["params"]["symbol"] == "BTCUSD"
        assert await theirs.receive_nothing(timeout=0.5)
    finally:
        await ours.disconnect()
        await theirs.disconnect()


async def test_the_pipeline_pushes_sent_retry_with_its_category_and_done(
    admin_user, organization, account, run_queued
):
    communicator, _ = await connected_socket(organization.slug, admin_user)
    try:
        await db(simulated_faults_set)(account=account, scripted_errors=[10004], applies_to="trading")
        operation = await db(order_place)(account=account, symbol="BTCUSD", side="buy", type="market")
        await db(run_queued)()
        messages = await receive_until(communicator, is_type("operation", event="done"))
        events = [m["operation"] for m in messages if m["type"] == "operation"]
        assert [e["event"] for e in events] == ["queued", "sent", "retry", "sent", "done"]
        assert {e["id"] for e in events} == {operation.pk}
        retry = events[2]
        assert (retry["category"], retry["attempt"]) == ("transient", 1)
        assert retry["retry_in"] > 0
        # the new position is pushed by the streaming process, not here: figures/positions come from it
    finally:
        await communicator.disconnect()


async def test_a_failed_operation_carries_its_reason(admin_user, organization, account, run_queued):
    communicator, _ = await connected_socket(organization.slug, admin_user)
    try:
        await db(simulated_faults_set)(account=account, scripted_errors=[10019], applies_to="trading")
        await db(order_place)(account=account, symbol="BTCUSD", side="buy", type="market")
        await db(run_queued)()
        messages = await receive_until(communicator, is_type("operation", event="failed"))
        failed = messages[-1]["operation"]
        assert "not enough money" in failed["reason"]
        assert any(m["type"] == "operation" and m["operation"]["event"] == "attempt_failed" for m in messages)
    finally:
        await communicator.disconnect()


def _pause(account):
    pause = safety().pause
    for _ in range(2):
        pause.record(pause.acquire(str(account.pk)), Category.PERMANENT)


async def test_a_safety_pause_pushes_the_transition_and_a_red_status_to_members_only(
    admin_user, organization, account, other_org, other_account
):
    stranger = await db(lambda: Membership.objects.get(organization=other_org).user)()
    ours, _ = await connected_socket(organization.slug, admin_user)
    header, _ = await connected_socket(organization.slug, admin_user, query="?status=1")
    theirs, _ = await connected_socket(other_org.slug, stranger)
    try:
        await db(_pause)(account)
        messages = await receive_until(ours, is_type("status"))
        safety_event = next(m["safety"] for m in messages if m["type"] == "safety")
        assert (safety_event["account_id"], safety_event["from_state"], safety_event["to_state"]) == (
            account.pk,
            "trading",
            "paused",
        )
        status = messages[-1]
        assert status["level"] == "red"
        (line,) = status["accounts"]
        assert line["pause_state"] == "paused" and 0 < line["seconds_to_test"] <= 30
        # the header's status-only socket gets the status too
        header_messages = await receive_until(header, is_type("status"))
        assert header_messages[-1]["level"] == "red"
        assert await theirs.receive_nothing(timeout=0.5)
    finally:
        for communicator in (ours, header, theirs):
            await communicator.disconnect()


async def test_a_status_only_socket_receives_no_operations(admin_user, organization, account, stub_broker):
    header, snapshot = await connected_socket(organization.slug, admin_user, query="?status=1")
    try:
        assert snapshot["status"]["level"] == "green" and "accounts" not in snapshot
        await db(order_place)(account=account, symbol="BTCUSD", side="buy", type="market")
        assert await header.receive_nothing(timeout=0.5)
    finally:
        await header.disconnect()


async def test_a_member_without_view_operations_receives_no_operations(organization, account, stub_broker):
    member = await db(add_member)(organization, permissions=frozenset({"view_organization", "view_accounts"}))
    communicator, snapshot = await connected_socket(organization.slug, await db(lambda: member.user)())
    try:
        assert "operations" not in snapshot and "status" not in snapshot
        assert snapshot["accounts"][0]["id"] == account.pk
        await db(order_place)(account=account, symbol="BTCUSD", side="buy", type="market")
        assert await communicator.receive_nothing(timeout=0.5)
    finally:
        await communicator.disconnect()


async def test_an_account_change_is_pushed(admin_user, organization, account):
    from execution.accounts.services import account_update

    communicator, _ = await connected_socket(organization.slug, admin_user)
    try:
        await db(account_update)(account=account, name="Renamed")
        (message,) = await receive_until(communicator, is_type("account"))
        assert message["account"]["name"] == "Renamed"
    finally:
        await communicator.disconnect()


# --- actions --------------------------------------------------------------------------------------


async def test_a_trader_closes_a_position_through_the_pipeline(organization, account, run_queued):
    trader = await db(add_member)(organization, role=perms.TRADER)
    user = await db(lambda: trader.user)()
    position_id = await db(open_position)(account)
    communicator, _ = await connected_socket(organization.slug, user)
    try:
        await communicator.send_json_to(
            {
                "action": "close_position",
                "account_id": account.pk,
                "position_id": position_id,
                "request_id": "r1",
            }
        )
        messages = await receive_until(communicator, is_type("action_result"))
        result = messages[-1]
        assert result["ok"] is True and result["request_id"] == "r1"
        assert (result["operation"]["kind"], result["operation"]["priority"]) == ("close_position", "high")
        operation = await db(Operation.objects.get)(pk=result["operation"]["id"])
        assert operation.requested_by == user.email
        await db(run_queued)()
        await receive_until(communicator, is_type("operation", event="done"))
        assert await db(lambda: list(stream_book(account_key(account.pk))[0]))() == []
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize(
    ("message", "kind", "params"),
    [
        ({"action": "breakeven"}, "breakeven", {"breakeven": True}),
        ({"action": "modify_position", "sl": "1000.5"}, "modify_sl", {"sl": "1000.5"}),
        ({"action": "modify_position", "tp": "99999"}, "modify_tp", {"tp": "99999"}),
        ({"action": "close_position", "volume": "0.01"}, "close_position", {"volume": "0.01"}),
    ],
)
async def test_dashboard_actions_become_operations(
    admin_user, organization, account, stub_broker, message, kind, params
):
    communicator, _ = await connected_socket(organization.slug, admin_user)
    try:
        await communicator.send_json_to({**message, "account_id": account.pk, "position_id": "42"})
        result = (await receive_until(communicator, is_type("action_result")))[-1]
        assert result["ok"], result
        operation = await db(Operation.objects.get)(pk=result["operation"]["id"])
        assert operation.kind == kind
        assert {key: operation.params.get(key) for key in params} == params
    finally:
        await communicator.disconnect()


async def test_a_trader_cancels_an_order(admin_user, organization, account, stub_broker):
    communicator, _ = await connected_socket(organization.slug, admin_user)
    try:
        await communicator.send_json_to(
            {"action": "cancel_order", "account_id": account.pk, "order_id": "77"}
        )
        result = (await receive_until(communicator, is_type("action_result")))[-1]
        assert result["ok"] and result["operation"]["kind"] == "cancel_order"
        assert result["operation"]["priority"] == "high"
    finally:
        await communicator.disconnect()


async def test_a_viewer_cannot_trade_from_the_socket(organization, account, stub_broker):
    viewer = await db(add_member)(organization, role=perms.VIEWER)
    communicator, snapshot = await connected_socket(organization.slug, await db(lambda: viewer.user)())
    try:
        assert snapshot["can_trade"] is False
        await communicator.send_json_to(
            {"action": "close_position", "account_id": account.pk, "position_id": "1"}
        )
        result = (await receive_until(communicator, is_type("action_result")))[-1]
        assert result["ok"] is False and "trade" in result["error"]
        assert await db(Operation.objects.count)() == 0
    finally:
        await communicator.disconnect()


async def test_an_action_on_another_organizations_account_is_unknown(
    admin_user, organization, account, other_account, stub_broker
):
    communicator, _ = await connected_socket(organization.slug, admin_user)
    try:
        await communicator.send_json_to(
            {"action": "close_position", "account_id": other_account.pk, "position_id": "1"}
        )
        result = (await receive_until(communicator, is_type("action_result")))[-1]
        assert result == {
            "type": "action_result",
            "request_id": None,
            "ok": False,
            "error": "Unknown account.",
        }
        assert await db(Operation.objects.count)() == 0
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"action": "close_position", "account_id": "x", "position_id": "1"}, "account_id"),
        ({"action": "close_position", "position_id": "1"}, "account_id"),
        ({"action": "close_position", "account_id": 1}, "position_id is required"),
        ({"action": "close_position", "account_id": 1, "position_id": "1", "volume": "abc"}, "number"),
        ({"action": "close_position", "account_id": 1, "position_id": "1", "volume": "0"}, "positive"),
        ({"action": "modify_position", "account_id": 1, "position_id": "1"}, "sl and/or tp"),
        ({"action": "explode"}, "Unknown action"),
    ],
)
async def test_malformed_actions_are_answered_with_an_error(
    admin_user, organization, account, message, error
):
    communicator, _ = await connected_socket(organization.slug, admin_user)
    try:
        await communicator.send_json_to(message)
        result = (await receive_until(communicator, is_type("action_result")))[-1]
        assert result["ok"] is False and error in result["error"]
    finally:
        await communicator.disconnect()


async def test_a_malformed_message_is_ignored(admin_user, organization, account):
    communicator, _ = await connected_socket(organization.slug, admin_user)
    try:
        await communicator.send_to(text_data="{not json")
        await communicator.send_json_to(["not", "an", "object"])
        await communicator.send_json_to({"action": "ping", "request_id": "p"})
        assert await communicator.receive_json_from(timeout=5) == {"type": "pong", "request_id": "p"}
    finally:
        await communicator.disconnect()


async def test_resync_sends_a_fresh_snapshot(admin_user, organization, account):
    communicator, _ = await connected_socket(organization.slug, admin_user)
    try:
        position_id = await db(open_position)(account)
        await communicator.send_json_to({"action": "resync"})
        snapshot = (await receive_until(communicator, is_type("snapshot")))[-1]
        assert [p["id"] for p in snapshot["positions"][str(account.pk)]] == [position_id]
    finally:
        await communicator.disconnect()


# --- production: the Redis channel layer ------------------------------------------------------------


@pytest.fixture
def redis_layer(settings):
    import uuid

    from tests.services import redis_url

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url()], "prefix": f"ttmt-test-{uuid.uuid4().hex[:8]}"},
        }
    }
    yield get_channel_layer()


@pytest.mark.service("redis")
async def test_with_redis_an_event_made_by_another_thread_reaches_the_socket(
    redis_layer, admin_user, organization, account, other_org, stub_broker
):
    """As in production: the web server's sockets and a worker's pushes meet in Redis (the push is
    sent by the publishing thread, not on the server's loop)."""
    stranger = await db(lambda: Membership.objects.get(organization=other_org).user)()
    ours, _ = await connected_socket(organization.slug, admin_user)
    theirs, _ = await connected_socket(other_org.slug, stranger)
    try:
        operation = await db(order_place)(account=account, symbol="BTCUSD", side="buy", type="market")
        (message,) = await receive_until(ours, is_type("operation", event="queued"))
        assert message["operation"]["id"] == operation.pk
        assert await theirs.receive_nothing(timeout=0.5)

        membership = await db(add_member)(organization, role=perms.VIEWER)
        removed, _ = await connected_socket(organization.slug, await db(lambda: membership.user)())
        await db(membership_remove)(actor=admin_user, membership=membership)
        await receive_until(removed, is_type("kick"))
        assert await removed.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": KICK_CLOSE_CODE,
        }
    finally:
        await ours.disconnect()
        await theirs.disconnect()


# --- the dashboard page -----------------------------------------------------------------------------


def _dashboard(organization) -> str:
    return f"/orgs/{organization.slug}/live/"


def test_the_dashboard_page_is_a_shell_for_the_socket(client, admin_user, organization, account):
    client.force_login(admin_user)
    response = client.get(_dashboard(organization))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-ws-path="/ws/orgs/{organization.slug}/live/"' in html
    assert 'data-can-trade="1"' in html
    assert 'id="trading-status"' in html and "execution/live.js" in html  # the header indicator
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_viewer_gets_the_dashboard_without_trading(client, organization, account):
    viewer = add_member(organization, role=perms.VIEWER).user
    client.force_login(viewer)
    response = client.get(_dashboard(organization))
    assert response.status_code == 200 and 'data-can-trade="0"' in response.content.decode()


def test_the_dashboard_of_another_organization_is_not_found(client, organization, other_org):
    client.force_login(Membership.objects.get(organization=other_org).user)
    assert client.get(_dashboard(organization)).status_code == 404


def test_the_dashboard_needs_view_accounts(client, organization):
    member = add_member(organization, permissions=frozenset({"view_organization", "view_operations"}))
    client.force_login(member.user)
    assert client.get(_dashboard(organization)).status_code == 403


def test_the_dashboard_needs_a_login(client, organization):
    response = client.get(_dashboard(organization))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
