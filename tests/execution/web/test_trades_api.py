"""A trade opened through the API: several take-profits in one request, one position each, sized
from the risk settings; bad input refused on its field before anything is written; a replayed
request opens nothing twice."""

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from execution.accounts.models import RiskSettings
from execution.broker.registry import gateway_for
from execution.orders.models import Operation
from execution.signals.models import Trade
from tests.factories import connected_simulated_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("market")]
TRADE = {"symbol": "BTCUSD", "side": "buy", "sl": "63500", "tps": ["65400", "65800", "66200"]}


@pytest.fixture
def account(organization):
    account = connected_simulated_account(organization, server="SimBroker-Demo")
    RiskSettings.objects.create(account=account, mode="fixed", fixed_lots="0.03")
    return account


@pytest.fixture
def admin_api(api, admin_user):
    api.force_authenticate(admin_user)
    return api


def trades_url(account):
    return f"/api/v1/orgs/{account.organization.slug}/accounts/{account.pk}/trades/"


def positions(account):
    async def read():
        async with gateway_for(account) as gateway:
            return await gateway.positions()

    return sorted(async_to_sync(read)(), key=lambda p: p.client_tag)


def test_one_request_opens_one_position_per_tp_as_a_trade(admin_api, account, run_queued):
    response = admin_api.post(trades_url(account), TRADE, format="json")
    run_queued()

    assert response.status_code == 202, response.json()
    operation = Operation.objects.get(pk=response.json()["id"])
    assert (operation.kind, operation.state) == ("open_trade", "done"), operation.reason
    trade = Trade.objects.get()
    assert (trade.signal, trade.route, trade.open_operation) == (None, None, operation)
    opened = positions(account)
    assert [p.tp for p in opened] == [Decimal(tp) for tp in TRADE["tps"]]
    assert {p.sl for p in opened} == {Decimal("63500")}
    assert trade.tps == ["65400.00", "65800.00", "66200.00"]  # to the symbol's 2 digits
    assert [p.client_tag for p in opened] == trade.leg_tags[:3]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"tps": []}, "tps"),
        ({"tps": [str(65400 + 100 * i) for i in range(7)]}, "tps"),
        ({"symbol": "NOSUCH"}, "symbol"),
        ({"type": "limit"}, "price"),
        ({"side": "up"}, "side"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_is_written(admin_api, account, change, field):
    response = admin_api.post(trades_url(account), {**TRADE, **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Trade.objects.exists()
    assert not Operation.objects.exists()


def test_a_replayed_request_opens_the_trade_once(admin_api, account, run_queued):
    headers = {"HTTP_IDEMPOTENCY_KEY": "trade-1"}
    first = admin_api.post(trades_url(account), TRADE, format="json", **headers)
    again = admin_api.post(trades_url(account), TRADE, format="json", **headers)
    run_queued()

    assert first.json()["id"] == again.json()["id"]
    assert Trade.objects.count() == 1
    assert len(positions(account)) == 3


def test_opening_a_trade_needs_the_trade_permission_and_another_organization_s_account_is_not_found(
    api, account
):
    from orgs import permissions as perms
    from tests.factories import UserFactory, add_member, organization_with_admin

    viewer = UserFactory()
    add_member(account.organization, viewer, role=perms.VIEWER)
    api.force_authenticate(viewer)
    assert api.post(trades_url(account), TRADE, format="json").status_code == 403

    stranger = UserFactory()
    elsewhere = organization_with_admin(stranger, "Elsewhere")
    api.force_authenticate(stranger)
    other = f"/api/v1/orgs/{elsewhere.slug}/accounts/{account.pk}/trades/"
    assert api.post(other, TRADE, format="json").status_code == 404
    assert not Trade.objects.exists()
