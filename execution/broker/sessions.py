"""Broker sessions: per account, one open gateway in this process, opened on first use and reused
by every later operation and query of the account.

A session is re-opened when it was dropped (:meth:`BrokerSessions.drop`, after a lost connection),
when the account's connection details or credential changed (its connector's ``session_key``), and
closed when idle or when this process no longer serves the account. Used on one event loop (the
engine's): the lock per account makes concurrent operations share one connect.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from execution.accounts.models import TradingAccount
from execution.broker.gateways.base import BrokerGateway
from execution.broker.registry import connector_for

logger = logging.getLogger(__name__)


@dataclass
class _Session:
    key: tuple
    gateway: BrokerGateway | None = None
    last_used: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class BrokerSessions:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions: dict[int, _Session] = {}
        self._clock = clock
        self.opened = 0  # sessions opened by this process (connects), for metrics and tests

    async def gateway(self, account: TradingAccount) -> BrokerGateway:
        """The account's open gateway: the session's, or a new one connected now (the caller bounds
        the time; a failed connect raises GatewayError and leaves no session)."""
        connector = connector_for(account.platform)
        key = connector.session_key(account)
        session = self._sessions.get(account.pk)
        if session is not None and session.key != key:
            await self.drop(account.pk)
            session = None
        if session is None:
            session = self._sessions[account.pk] = _Session(key)
        session.last_used = self._clock()
        if session.gateway is not None:
            return session.gateway
        async with session.lock:
            if session.gateway is None:
                gateway = connector.gateway(account)
                try:
                    await gateway.connect()
                except BaseException:
                    await _quietly_disconnect(gateway)
                    raise
                if self._sessions.get(account.pk) is not session:  # dropped while it connected
                    await _quietly_disconnect(gateway)
                    return await self.gateway(account)
                session.gateway = gateway
                self.opened += 1
            return session.gateway

    async def drop(self, account_id: int) -> None:
        """Close the account's session (if any); the next use opens a new one."""
        session = self._sessions.pop(account_id, None)
        if session is not None and session.gateway is not None:
            await _quietly_disconnect(session.gateway)

    async def close_idle(
        self, idle_after: float, *, keep: Callable[[int], bool] = lambda account_id: True
    ) -> None:
        """Close sessions unused for ``idle_after`` seconds, and those ``keep`` says to let go."""
        now = self._clock()
        for account_id, session in list(self._sessions.items()):
            if now - session.last_used >= idle_after or not keep(account_id):
                await self.drop(account_id)

    async def close_all(self) -> None:
        for account_id in list(self._sessions):
            await self.drop(account_id)


async def _quietly_disconnect(gateway: BrokerGateway) -> None:
    try:
        await gateway.disconnect()
    except Exception:  # closing is best effort: the session is gone either way
        logger.warning("closing a broker session failed", exc_info=True)
