"""Broker sessions: one open gateway per account, opened once and reused; re-opened after a drop or
when what it depends on changed; closed when idle or let go."""

import asyncio

import pytest

from execution.broker import sessions as sessions_module
from execution.broker.gateways.base import GatewayError
from execution.broker.sessions import BrokerSessions
from execution.safety.clock import FakeClock


class CountingGateway:
    instances: list["CountingGateway"] = []

    def __init__(self, account, *, fail_connect: bool = False, connect_delay: float = 0.0) -> None:
        self.account = account
        self.connects = self.disconnects = 0
        self.fail_connect, self.connect_delay = fail_connect, connect_delay
        CountingGateway.instances.append(self)

    async def connect(self) -> None:
        self.connects += 1
        await asyncio.sleep(self.connect_delay)
        if self.fail_connect:
            raise GatewayError("refused", source="transport", string_code="not_connected")

    async def disconnect(self) -> None:
        self.disconnects += 1


class FakeConnector:
    def __init__(self) -> None:
        self.options: dict = {}

    def gateway(self, account):
        return CountingGateway(account, **self.options)

    def session_key(self, account) -> tuple:
        return (account.pk, account.login)


class Account:
    def __init__(self, pk: int, login: str = "1") -> None:
        self.pk, self.login, self.platform = pk, login, object()


@pytest.fixture
def connector(monkeypatch):
    CountingGateway.instances = []
    connector = FakeConnector()
    monkeypatch.setattr(sessions_module, "connector_for", lambda platform: connector)
    return connector


def run(coroutine):
    return asyncio.run(coroutine)


def test_one_connect_serves_every_later_call_of_the_account(connector):
    sessions = BrokerSessions()
    account = Account(1)

    async def many():
        return [await sessions.gateway(account) for _ in range(100)]

    gateways = run(many())
    assert len({id(g) for g in gateways}) == 1
    assert [g.connects for g in CountingGateway.instances] == [1]
    assert sessions.opened == 1


def test_concurrent_first_uses_share_one_connect(connector):
    connector.options = {"connect_delay": 0.05}
    sessions = BrokerSessions()
    account = Account(1)

    async def together():
        return await asyncio.gather(*(sessions.gateway(account) for _ in range(5)))

    gateways = run(together())
    assert len({id(g) for g in gateways}) == 1 and len(CountingGateway.instances) == 1


def test_a_dropped_session_is_closed_and_the_next_use_opens_a_new_one(connector):
    sessions = BrokerSessions()
    account = Account(1)

    async def scenario():
        first = await sessions.gateway(account)
        await sessions.drop(account.pk)
        second = await sessions.gateway(account)
        return first, second

    first, second = run(scenario())
    assert first is not second
    assert (first.connects, first.disconnects, second.connects) == (1, 1, 1)


def test_a_changed_login_or_credential_re_opens_the_session(connector):
    sessions = BrokerSessions()

    async def scenario():
        first = await sessions.gateway(Account(1, login="1"))
        again = await sessions.gateway(Account(1, login="1"))
        changed = await sessions.gateway(Account(1, login="2"))
        return first, again, changed

    first, again, changed = run(scenario())
    assert first is again and changed is not first
    assert first.disconnects == 1


def test_a_failed_connect_leaves_no_session_and_closes_what_it_opened(connector):
    connector.options = {"fail_connect": True}
    sessions = BrokerSessions()

    async def scenario():
        with pytest.raises(GatewayError):
            await sessions.gateway(Account(1))
        connector.options = {}
        return await sessions.gateway(Account(1))

    working = run(scenario())
    failed = CountingGateway.instances[0]
    assert failed.disconnects == 1 and working is not failed and sessions.opened == 1


def test_idle_sessions_and_those_let_go_are_closed(connector):
    clock = FakeClock()
    sessions = BrokerSessions(clock=clock.now)

    async def scenario():
        idle = await sessions.gateway(Account(1))
        clock.advance(200)
        busy = await sessions.gateway(Account(2))
        let_go = await sessions.gateway(Account(3))
        clock.advance(150)
        await sessions.close_idle(300, keep=lambda account_id: account_id != 3)
        return idle, busy, let_go

    idle, busy, let_go = run(scenario())
    assert (idle.disconnects, busy.disconnects, let_go.disconnects) == (1, 0, 1)
    assert run(sessions.gateway(Account(2))) is busy  # the one kept is still open
