"""The broker refusing an order's own stops, price or volume (issue 20, finding 4): the operation
fails at once, and however many such refusals come in a row, neither the account's safety pause
nor the platform's broker health counts them."""

from decimal import Decimal

import pytest

from execution.accounts.models import RiskSettings
from execution.broker.faults import simulated_faults_set
from execution.orders.accept import order_place, submit
from execution.orders.models import Operation
from execution.safety.pause import PauseConfig
from execution.safety.runtime import safety
from tests.factories import connected_simulated_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("market")]
IN_A_ROW = PauseConfig().failure_threshold + 1  # more than enough to pause on broker failures


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization, server="SimBroker-Demo")


def assert_nothing_paused(account):
    pause = safety().pause.status(str(account.pk))
    assert (str(pause.state), pause.consecutive_failures, pause.consecutive_permanent) == ("trading", 0, 0)
    assert not safety().health.status(str(account.platform_id)).paused


def test_the_broker_refusing_an_order_s_stops_fails_it_and_pauses_nothing(account, run_queued):
    # sent as an order whose market moved between acceptance and the send: its SL is above the bid
    wrong = {"symbol": "BTCUSD", "side": "buy", "type": "market", "sl": "70000", "tp": None, "price": None}
    operations = []
    for _ in range(IN_A_ROW):
        operations.append(submit(account=account, kind="place_order", params=wrong))
        run_queued()

    for operation in operations:
        operation.refresh_from_db()
        assert operation.state == "failed"
        assert list(operation.attempts.values_list("category", "code")) == [("invalid_input", 10016)]
    assert_nothing_paused(account)
    after = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()
    after.refresh_from_db()
    assert after.state == "done", after.reason


@pytest.mark.parametrize("code", [10014, 10015, 10016])  # invalid volume, price, stops
def test_scripted_invalid_input_refusals_in_a_row_leave_the_account_trading(account, run_queued, code):
    simulated_faults_set(account=account, scripted_errors=[code] * IN_A_ROW, applies_to="trading")
    for _ in range(IN_A_ROW):
        order_place(account=account, symbol="BTCUSD", side="buy", type="market")
        run_queued()

    assert set(Operation.objects.values_list("state", "attempt_count")) == {("failed", 1)}  # not retried
    assert_nothing_paused(account)


def test_risk_settings_stored_out_of_bounds_fail_the_order_with_a_clear_reason(account, run_queued):
    # written around the API and the admin (e.g. before they checked): the worker must not crash
    RiskSettings.objects.create(account=account, mode="fixed", fixed_lots="0.05")
    RiskSettings.objects.filter(account=account).update(asset_caps={"crypto": "NaN"})
    operation = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()

    operation.refresh_from_db()
    assert operation.state == "failed"
    assert operation.reason.startswith("The risk settings cannot size an order (asset_caps: crypto:")
    assert list(operation.attempts.values_list("category", flat=True)) == ["rejected"]
    assert_nothing_paused(account)
    RiskSettings.objects.filter(account=account).update(asset_caps={}, fixed_lots=Decimal("-1"))
    again = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    run_queued()
    again.refresh_from_db()
    assert (again.state, "fixed_lots" in again.reason) == ("failed", True)
