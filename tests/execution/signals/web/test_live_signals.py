"""Signals on the live socket (``/ws/orgs/<slug>/live/``): a signal received, with its routes'
decisions, is pushed after commit to the organization's members holding ``view_accounts``, and to
no one else."""

import pytest
from channels.db import database_sync_to_async

from execution.signals import services
from orgs import permissions as perms
from orgs.models import Membership
from tests.execution.signals import factories
from tests.execution.web.test_live_consumer import (  # noqa: F401 (_fresh_layer: autouse)
    _fresh_layer,
    connected_socket,
    is_type,
    receive_until,
)
from tests.factories import UserFactory, add_member, connected_simulated_account, organization_with_admin

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async

OPEN = "GOLD BUY LIMIT 2275\nSL 2268\nTP 2285"


@pytest.fixture
def routed(organization):
    account = connected_simulated_account(organization)
    source = factories.source(organization, name="Gold VIP")
    return source, factories.route(source, account), account


@pytest.fixture
def other_org(db):
    return organization_with_admin(UserFactory(), name="Other Org")


async def test_a_received_signal_reaches_members_and_no_one_else(
    organization, routed, other_org, stub_broker
):
    source, route, account = routed
    viewer = await db(add_member)(organization, role=perms.VIEWER)
    stranger = await db(lambda: Membership.objects.get(organization=other_org).user)()
    await db(connected_simulated_account)(other_org, login="7001")
    ours, _ = await connected_socket(organization.slug, await db(lambda: viewer.user)())
    theirs, _ = await connected_socket(other_org.slug, stranger)
    try:
        signal = await db(services.message_post)(source=source, text=OPEN)

        messages = await receive_until(ours, is_type("signal"))
        event = messages[-1]["signal"]
        assert (event["id"], event["source_id"], event["source_name"]) == (signal.pk, source.pk, "Gold VIP")
        assert (event["text"], event["kind"], event["symbol"]) == (OPEN, "open", "XAUUSD")
        assert event["summary"] == "BUY LIMIT XAUUSD 2275 · SL 2268 · TP 2285"
        (decision,) = event["decisions"]
        stored = await db(lambda: signal.decisions.get())()
        assert decision == {
            "id": stored.pk,
            "route_id": route.pk,
            "account_id": account.pk,
            "account_name": account.name,
            "outcome": stored.outcome,
            "outcome_label": stored.get_outcome_display(),
            "code": stored.code,
            "reason": stored.reason,
        }
        assert await theirs.receive_nothing(timeout=0.5)
    finally:
        await ours.disconnect()
        await theirs.disconnect()


async def test_a_member_without_view_accounts_receives_no_signal(organization, routed, stub_broker):
    source, _, _ = routed
    member = await db(add_member)(
        organization, permissions=frozenset({"view_organization", "view_operations"})
    )
    communicator, _ = await connected_socket(organization.slug, await db(lambda: member.user)())
    try:
        await db(services.message_post)(source=source, text="Good morning traders!")
        assert await communicator.receive_nothing(timeout=0.5)
    finally:
        await communicator.disconnect()
