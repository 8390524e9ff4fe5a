"""Fixtures of the protection tests: a simulated account trading 0.03 lots, and a routed 3-TP signal
opened on it (one 0.01 position per TP) with BTCUSD pinned at 65000 by the ``market`` fixture."""

import pytest

from execution.accounts.models import RiskSettings
from execution.signals.models import Route, SignalSource, Trade
from tests.execution.signals.test_intake import post
from tests.factories import connected_simulated_account

SIGNAL = "BUY BTCUSD now\nSL 63500\nTP1 65400\nTP2 65800\nTP3 66200"


@pytest.fixture
def account(organization):
    account = connected_simulated_account(organization, server="SimBroker-Demo")
    RiskSettings.objects.create(account=account, mode="fixed", fixed_lots="0.03")
    return account


@pytest.fixture
def trade(organization, account, market, run_queued) -> Trade:
    source = SignalSource.objects.create(organization=organization, name="VIP", kind=SignalSource.MANUAL)
    Route.objects.create(organization=organization, source=source, account=account)
    post(source, SIGNAL)
    run_queued()
    trade = Trade.objects.get()
    assert trade.open_operation.state == "done", trade.open_operation.reason
    return trade
