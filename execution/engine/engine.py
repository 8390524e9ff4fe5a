"""The engine of one worker process: it serves the accounts homed here, on the process's one event
loop, with one broker session per account.

:meth:`Engine.offer` (from the execution actor, any thread) hands an operation over: if its account
is homed here (or free, or its home's worker is dead: then it is claimed) the operation runs here as
a task of the loop; otherwise the home's worker is woken (Redis) to run it. Every second the engine
also looks for work nobody is running (lost messages, dead workers' accounts, waits that came due)
and takes it; its heartbeat keeps its homes, takes homeless set-up accounts up to its fair share,
closes idle sessions, and lets go of accounts another worker took over. The accounts homed here are
also streamed here (``execution.live.streaming``), on the same broker sessions. Started by
``execution.engine.middleware`` in each worker consuming the execution queue (and so in the embedded
server); :func:`engine` is this process's.
"""

import asyncio
import logging
import os
import socket
import threading
import uuid

import redis.asyncio as aioredis
from django.conf import settings

from execution.broker.sessions import BrokerSessions
from execution.engine import homes
from execution.engine.loop import EngineLoop, engine_loop
from execution.live.streaming import Streamer
from execution.orders import pipeline
from execution.orders.models import Operation

logger = logging.getLogger(__name__)
WAKE_CHANNEL = "ttmt:engine:wake:"


def _account_of(operation_id: int) -> int | None:
    return Operation.objects.filter(pk=operation_id).values_list("account_id", flat=True).first()


class Engine:
    def __init__(self, loop: EngineLoop) -> None:
        self.loop = loop
        self.config = settings.TTMT_ENGINE
        self.worker_id = f"{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._fresh_sessions()
        self._tasks: dict[int, asyncio.Task] = {}
        self._homes: set[int] = set()
        self._background: list[asyncio.Task] = []
        self._redis: aioredis.Redis | None = None
        self.streamer: Streamer | None = None
        self.started = False

    def _fresh_sessions(self) -> None:
        self.sessions = BrokerSessions()
        self.runtime = pipeline.Runtime(
            worker_id=self.worker_id,
            sessions=self.sessions,
            db=self.loop.db,
            admission=asyncio.Semaphore(self.config["max_active"]),
            nudges=pipeline.SlotNudges(),
            pacer=pipeline.SendPacer(),
        )

    # -- from any thread ------------------------------------------------------------------------
    def offer(self, operation_id: int) -> None:
        """Run the operation here, or wake its account's home (returns at once)."""
        self.loop.call_soon(self._offer, operation_id, None)

    def run_now(self, operation_id: int) -> None:
        """Run the operation here now and wait for its end (maintenance, tests, benchmarks)."""
        self.loop.run(pipeline.execute(operation_id, self.runtime))

    def start(self) -> None:
        """Start the heartbeat, the search for unserved work and the wake-ups (idempotent)."""
        if not self.started:
            self.started = True
            self.loop.run(self._start())

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving: running operations are cancelled (an unsent one runs again elsewhere; a
        sent one is looked up there), sessions closed, homes left for other workers at once."""
        if self.started:
            self.started = False
            self.loop.run(self._stop(), timeout)

    def join(self, timeout: float = 60.0) -> None:
        """Wait until no operation runs here (tests)."""
        self.loop.run(self._idle(), timeout)

    # -- on the loop ----------------------------------------------------------------------------
    def _offer(self, operation_id: int, account_id: int | None) -> None:
        if operation_id in self._tasks:
            return
        task = self.loop.loop.create_task(self._serve(operation_id, account_id))
        self._tasks[operation_id] = task
        task.add_done_callback(lambda done: self._served(operation_id, done))

    def _served(self, operation_id: int, task: asyncio.Task) -> None:
        if self._tasks.get(operation_id) is task:
            del self._tasks[operation_id]
        if not task.cancelled() and task.exception() is not None:
            logger.error("operation %s stopped on an error", operation_id, exc_info=task.exception())

    async def _serve(self, operation_id: int, account_id: int | None) -> None:
        db = self.loop.db
        if account_id is None:
            account_id = await db(_account_of, operation_id)
            if account_id is None:
                return
        if account_id not in self._homes:
            holder = await db(homes.claim, account_id, self.worker_id)
            if holder != self.worker_id:
                await self._wake(holder, operation_id)
                return
            self._homes.add(account_id)
            if self.streamer is not None:
                await self.streamer.relist()
        await pipeline.execute(operation_id, self.runtime)

    async def _wake(self, worker_id: str, operation_id: int) -> None:
        """Tell the home's worker (another process) to run the operation; its search for unserved
        work finds it anyway if this is lost."""
        if self._redis is not None:
            await self._redis.publish(WAKE_CHANNEL + worker_id, str(operation_id))

    async def _start(self) -> None:
        self._homes = await self.loop.db(homes.heartbeat, self.worker_id, ttl=self.config["worker_ttl"])
        if settings.REDIS_URL:
            self._redis = aioredis.Redis.from_url(settings.REDIS_URL)
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(WAKE_CHANNEL + self.worker_id)
            self._background.append(asyncio.create_task(self._listen(pubsub)))
        if self.config["stream"]:
            self.streamer = Streamer(
                sessions=self.sessions, serves=lambda account_id: account_id in self._homes
            )
            self._background.append(asyncio.create_task(self.streamer.run()))
        self._background.append(asyncio.create_task(self._every(self.config["heartbeat"], self._beat)))
        self._background.append(asyncio.create_task(self._every(self.config["scan_every"], self._scan)))

    async def _stop(self) -> None:
        for task in [*self._background, *self._tasks.values()]:
            task.cancel()
        await asyncio.gather(*self._background, *self._tasks.values(), return_exceptions=True)
        self._background.clear()
        self.streamer = None
        await self.sessions.close_all()
        self._fresh_sessions()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        await self.loop.db(homes.leave, self.worker_id)
        self._homes = set()

    async def _idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    @staticmethod
    async def _every(seconds: float, job) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:  # keep going: one failed pass (the database away) is not fatal
                logger.exception("engine %s failed", job.__name__)

    async def _beat(self) -> None:
        before = set(self._homes)
        self._homes = await self.loop.db(homes.heartbeat, self.worker_id, ttl=self.config["worker_ttl"])
        to_stream = await self.loop.db(homes.streams_to_take, self.worker_id) if self.streamer else []
        for account_id in to_stream:
            if await self.loop.db(homes.claim, account_id, self.worker_id) == self.worker_id:
                self._homes.add(account_id)
        await self.sessions.close_idle(self.config["session_idle"], keep=self._homes.__contains__)
        if self._homes != before and self.streamer is not None:
            await self.streamer.relist()  # streams follow the homes at once, not at the next re-list

    async def _scan(self) -> None:
        for operation_id, account_id in await self.loop.db(homes.due_work, self.worker_id):
            self._offer(operation_id, account_id)

    async def _listen(self, pubsub) -> None:
        async for message in pubsub.listen():
            try:
                self._offer(int(message["data"]), None)
            except (TypeError, ValueError):
                logger.warning("engine wake-up not understood: %r", message.get("data"))


_engine: Engine | None = None
_guard = threading.Lock()


def engine() -> Engine:
    """This process's engine (a forked child makes its own)."""
    global _engine
    with _guard:
        loop = engine_loop()
        if _engine is None or _engine.loop is not loop:
            _engine = Engine(loop)
        return _engine
