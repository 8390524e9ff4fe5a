"""Connecting an account on a MetaApi platform, with stand-ins at the SDK boundary: the setup path
uses the master token once; the execution path only ever holds the narrowed per-account token."""

from datetime import timedelta

import pytest
from django.utils import timezone

from execution.accounts.models import AccountCredential, AccountSymbol, TradingAccount
from execution.accounts.services import account_connect
from execution.accounts.setup import account_setup
from execution.broker.gateways.simulated import InMemoryStateStore, SimulatedEngine
from execution.broker.metaapi import refresh_expiring_credentials
from execution.broker.registry import gateway_for
from platforms.services import platform_create
from tests.execution.broker.gateways.metaapi.fakes import MASTER_TOKEN, FakeCloud
from tests.stored import every_stored_value

pytestmark = pytest.mark.django_db

CLOUD: FakeCloud | None = None
MT_PASSWORD = "Mt-Pa55word-metaapi"


def cloud_factory(token, options):
    """The SDK's MetaApi, played by the stand-in cloud of the current test."""
    return CLOUD.factory(token, options)


@pytest.fixture
def cloud(settings, monkeypatch):
    global CLOUD
    CLOUD = FakeCloud(SimulatedEngine(InMemoryStateStore(), seed=7), clock=timezone.now)
    settings.TTMT_METAAPI_API_FACTORY = f"{__name__}.cloud_factory"
    monkeypatch.setenv("TTMT_METAAPI_TOKEN", MASTER_TOKEN)
    yield CLOUD
    CLOUD = None


def connect(organization, platform):
    """Connect an account on the MetaApi platform and run its setup, as the setup actor would."""
    account = account_connect(
        organization=organization,
        platform=platform,
        name="Live 1",
        type="live",
        login="5012345",
        server="SimBroker-Demo",
        password=MT_PASSWORD,
    )
    return account_setup(account_id=account.pk)


@pytest.fixture
def metaapi_platform(organization):
    return platform_create(
        organization=organization,
        name="Broker via MetaApi",
        type="mt5",
        api="metaapi",
        servers=["SimBroker-Demo"],
    )


def test_setup_provisions_narrows_and_stores_only_the_account_token(organization, metaapi_platform, cloud):
    account = connect(organization, metaapi_platform)

    assert account.connection_state == TradingAccount.CONNECTED, account.connection_error
    assert account.broker_account_id in cloud.accounts
    credential = AccountCredential.objects.get(account=account)
    assert cloud.tokens[credential.token] == account.broker_account_id  # narrowed to this one account
    assert credential.expires_at > timezone.now() + timedelta(hours=100)
    assert AccountSymbol.objects.filter(account=account, name="EURUSD").exists()
    assert account.balance is not None

    (created,) = cloud.created
    assert created["password"] == MT_PASSWORD  # used once, at MetaApi
    dump = every_stored_value()
    for secret in (MT_PASSWORD, MASTER_TOKEN, credential.token):
        assert secret not in dump  # password gone, master token never stored, account token encrypted


def test_the_execution_path_never_receives_the_master_token(organization, metaapi_platform, cloud):
    account = connect(organization, metaapi_platform)
    cloud.apis.clear()

    gateway = gateway_for(account)
    from asgiref.sync import async_to_sync

    async def read():
        await gateway.connect()
        try:
            return await gateway.account_information()
        finally:
            await gateway.disconnect()

    assert async_to_sync(read)().balance == account.balance
    assert cloud.tokens_seen and MASTER_TOKEN not in cloud.tokens_seen


def test_a_worker_without_the_master_token_fails_the_setup_with_a_reason(
    organization, metaapi_platform, cloud, monkeypatch
):
    monkeypatch.delenv("TTMT_METAAPI_TOKEN")
    account = connect(organization, metaapi_platform)
    assert account.connection_state == TradingAccount.ERROR
    assert "TTMT_METAAPI_TOKEN" in account.connection_error
    assert account.setup_password is None  # not kept, whatever the outcome


def test_expiring_credentials_are_refreshed(organization, metaapi_platform, cloud):
    account = connect(organization, metaapi_platform)
    credential = AccountCredential.objects.get(account=account)
    old_token = credential.token
    AccountCredential.objects.filter(pk=credential.pk).update(expires_at=timezone.now() + timedelta(hours=2))

    assert refresh_expiring_credentials() == [account.pk]
    credential.refresh_from_db()
    assert credential.token != old_token
    assert cloud.tokens[credential.token] == account.broker_account_id
    assert credential.expires_at > timezone.now() + timedelta(hours=100)
    assert refresh_expiring_credentials() == []
