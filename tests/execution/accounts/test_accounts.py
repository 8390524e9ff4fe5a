import pytest

from execution.accounts.models import AccountSymbol
from execution.accounts.services import account_connect, symbol_resolve
from platforms.services import platform_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim_platform(organization):
    return platform_create(
        organization=organization,
        name="Sim",
        type="mt5",
        api="simulated",
        servers=["SimBroker-Demo", "SimMarkets-Live"],
    )


def test_connecting_a_simulated_demo_account_gets_figures_and_symbols(organization, sim_platform, run_queued):
    account = account_connect(
        organization=organization,
        platform=sim_platform,
        name="My demo",
        type="demo",
        login="5001",
        server="SimMarkets-Live",
        password="mt-password",
    )
    assert account.connection_state == "connecting"

    run_queued()

    account.refresh_from_db()
    assert account.connection_state == "connected", account.connection_error
    assert account.setup_password is None
    assert account.balance == 10000
    assert account.currency == "USD"
    names = set(AccountSymbol.objects.filter(account=account).values_list("name", flat=True))
    assert {"EURUSD.m", "GOLD", "DJ30"} <= names
    resolution = symbol_resolve(account=account, name="XAUUSD")
    assert (resolution.broker_symbol, resolution.asset_class) == ("GOLD", "metals")
