"""Levels that cannot be valid are refused when an order, a trade or a position change is accepted
(issue 20, finding 4): 400 on the field, in the one error shape, with nothing stored or enqueued.
BTCUSD is pinned at a mid of 65000 (its bid below, its ask above)."""

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from core.errors import ServiceError
from execution.broker.gateways.base import OrderKind, OrderRequest, Side
from execution.broker.registry import connector_for, gateway_for
from execution.broker.simulator import SimulatedConnector
from execution.orders.accept import order_place, position_modify
from execution.orders.models import Operation
from execution.signals.models import Trade
from tests.factories import connected_simulated_account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("market")]


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization, server="SimBroker-Demo")


@pytest.fixture
def admin_api(api, admin_user):
    api.force_authenticate(admin_user)
    return api


def url(account, path):
    return f"/api/v1/orgs/{account.organization.slug}/accounts/{account.pk}/{path}"


def refused(response, field, code="invalid"):
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, code)
    assert field in error["fields"], error
    assert not Operation.objects.exists()
    assert not Trade.objects.exists()
    return error["fields"][field][0]


def open_position(account, side=Side.BUY):
    async def go():
        async with gateway_for(account) as gateway:
            result = await gateway.place_order(
                OrderRequest("BTCUSD", side, OrderKind.MARKET, Decimal("0.01"))
            )
            return result.position_id

    return async_to_sync(go)()


def test_the_issue_s_order_a_buy_with_its_sl_above_the_market_is_refused(admin_api, organization):
    account = connected_simulated_account(organization, login="fx")
    response = admin_api.post(
        url(account, "orders/"), {"symbol": "EURUSD", "side": "buy", "sl": "2.0"}, format="json"
    )
    message = refused(response, "sl", "stops_invalid")
    assert message.startswith("SL 2.0") and "below the bid" in message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sl": "0"}, "sl"),
        ({"sl": "-1"}, "sl"),
        ({"tp": "-65000"}, "tp"),
        ({"type": "limit", "price": "0"}, "price"),
        ({"sl": "NaN"}, "sl"),
        ({"tp": "Infinity"}, "tp"),
    ],
)
def test_an_order_s_price_sl_or_tp_must_be_a_finite_number_above_zero(admin_api, account, body, field):
    response = admin_api.post(
        url(account, "orders/"), {"symbol": "BTCUSD", "side": "buy", **body}, format="json"
    )
    refused(response, field)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"side": "buy", "sl": "65000"}, "sl", "stops_invalid"),  # the mid: above the bid
        ({"side": "buy", "tp": "65000"}, "tp", "stops_invalid"),  # the mid: below the ask
        ({"side": "sell", "sl": "64000"}, "sl", "stops_invalid"),
        ({"side": "buy", "type": "limit", "price": "66000"}, "price", "pending_wrong_side"),
        ({"side": "buy", "type": "stop", "price": "64000"}, "price", "pending_wrong_side"),
        ({"side": "sell", "type": "limit", "price": "64000"}, "price", "pending_wrong_side"),
        ({"side": "buy", "type": "limit", "price": "64000", "sl": "64500"}, "sl", "stops_invalid"),
    ],
)
def test_levels_on_the_wrong_side_are_refused_on_their_field(admin_api, account, body, field, code):
    response = admin_api.post(url(account, "orders/"), {"symbol": "BTCUSD", **body}, format="json")
    refused(response, field, code)


def test_valid_levels_are_accepted(admin_api, account):
    for body in (
        {"side": "buy", "sl": "64000", "tp": "66000"},
        {"side": "sell", "sl": "66000", "tp": "64000"},
        {"side": "buy", "type": "limit", "price": "64000", "sl": "63000", "tp": "65500"},
        {"side": "sell", "type": "stop", "price": "64000", "sl": "64500"},
    ):
        response = admin_api.post(url(account, "orders/"), {"symbol": "BTCUSD", **body}, format="json")
        assert response.status_code == 202, (body, response.json())


def test_the_symbol_s_stop_level_is_kept(admin_api, organization):
    account = connected_simulated_account(organization, login="idx", server="SimMarkets-Live")
    quote = connector_for(account.platform).reference_quote(account, "DJ30")
    assert quote.stop_distance == Decimal("1.0")  # 10 points of 0.1
    near = {"symbol": "DJ30", "side": "buy", "sl": str(quote.bid - Decimal("0.5"))}
    message = refused(admin_api.post(url(account, "orders/"), near, format="json"), "sl", "stops_invalid")
    assert "stop level" in message
    far = {**near, "sl": str(quote.bid - Decimal("50"))}
    assert admin_api.post(url(account, "orders/"), far, format="json").status_code == 202


def test_every_take_profit_of_a_trade_is_judged(admin_api, account):
    trade = {"symbol": "BTCUSD", "side": "buy", "sl": "63500", "tps": ["65400", "64900", "66200"]}
    message = refused(admin_api.post(url(account, "trades/"), trade, format="json"), "tps", "stops_invalid")
    assert message.startswith("TP2 64900.00")
    negative = {**trade, "tps": ["65400", "-1"]}
    refused(admin_api.post(url(account, "trades/"), negative, format="json"), "tps")


def test_a_position_s_new_levels_are_judged_on_its_side_of_the_market(admin_api, account):
    bought, sold = open_position(account), open_position(account, Side.SELL)

    for position, body in ((bought, {"sl": "65000"}), (bought, {"tp": "64000"}), (sold, {"sl": "64000"})):
        response = admin_api.patch(url(account, f"positions/{position}/"), body, format="json")
        refused(response, next(iter(body)), "stops_invalid")
    refused(admin_api.patch(url(account, f"positions/{bought}/"), {"sl": "-5"}, format="json"), "sl")

    accepted = admin_api.patch(
        url(account, f"positions/{bought}/"), {"sl": "64000", "tp": "66000"}, format="json"
    )
    assert accepted.status_code == 202, accepted.json()


def test_without_a_known_price_only_what_needs_none_is_judged(account, monkeypatch):
    monkeypatch.setattr(SimulatedConnector, "reference_quote", lambda self, account, symbol: None)

    # the market's side cannot be judged: left to the broker (whose refusal pauses nothing)
    order_place(account=account, symbol="BTCUSD", side="buy", type="market", sl=Decimal("70000"))
    with pytest.raises(ServiceError) as negative:
        order_place(account=account, symbol="BTCUSD", side="buy", type="market", sl=Decimal("-1"))
    assert (negative.value.field, negative.value.code) == ("sl", "price_not_positive")
    with pytest.raises(ServiceError) as pending:
        order_place(account=account, symbol="BTCUSD", side="buy", type="limit", price="64000", sl="64500")
    assert (pending.value.field, pending.value.code) == ("sl", "stops_invalid")
    with pytest.raises(ServiceError) as unknown_position:
        position_modify(account=account, position_id="nope", tp=Decimal("0"))
    assert (unknown_position.value.field, unknown_position.value.code) == ("tp", "price_not_positive")
    assert Operation.objects.count() == 1
