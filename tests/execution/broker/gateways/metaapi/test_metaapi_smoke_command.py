"""The metaapi_smoke command, offline: the same code path over the SDK stand-ins."""

import asyncio
import io

import pytest
from django.core.management import CommandError, call_command

from execution.management.commands import metaapi_smoke
from tests.execution.broker.gateways.metaapi.fakes import MASTER_TOKEN, FakeCloud


@pytest.fixture
def offline(engine, clock, monkeypatch):
    cloud = FakeCloud(engine, clock=clock)
    record = asyncio.run(cloud.add_account())
    monkeypatch.setattr(metaapi_smoke, "GATEWAY_OVERRIDES", {"api_factory": cloud.factory, "clock": clock})
    return cloud, record


def run(*args) -> str:
    out = io.StringIO()
    call_command("metaapi_smoke", *args, stdout=out)
    return out.getvalue()


def test_smoke_prints_account_symbols_spec_and_price(offline):
    cloud, record = offline
    token = cloud.issue_token(record.id)
    output = run("--token", token, "--account-id", record.id, "--symbol", "EURUSD")
    assert "balance           10000.0 USD" in output
    assert ": EURUSD, GBPUSD, USDJPY" in output
    assert "symbol            EURUSD" in output and "bid " in output
    assert "MetaApi smoke test passed" in output
    assert token not in output
    assert not [call for call in record.calls if call[0].startswith("create_")]


def test_smoke_trade_opens_closes_and_finds_the_tag(offline):
    cloud, record = offline
    output = run(
        "--token", cloud.issue_token(record.id), "--account-id", record.id, "--trade", "--events-wait", "0"
    )
    assert "opened" in output and "closed" in output
    assert "0 orders, 0 positions, 2 deals (in, out)" in output
    assert "OrderFilled" in output and "PositionClosed" in output
    assert asyncio.run(record.sim.positions()) == []


def test_smoke_accepts_the_master_token_with_a_warning(offline):
    _cloud, record = offline
    output = run("--token", MASTER_TOKEN, "--account-id", record.id)
    assert "unrestricted (master) token" in output
    assert MASTER_TOKEN not in output


def test_smoke_failures_are_command_errors(offline):
    cloud, record = offline
    with pytest.raises(CommandError, match="forbidden"):
        run("--token", cloud.issue_token("another-account"), "--account-id", record.id)
