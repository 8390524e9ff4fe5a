"""The asyncio tasks the MetaApi SDK starts for one session, so that closing the session stops them all.

The SDK starts background tasks everywhere and stops only some of them: ``MetaApi.__init__`` starts the
``ReferenceTree`` optimisation jobs, the websocket client's cache jobs, ``LatencyService``'s refresh job
and the ``PacketOrderer``; every socket starts ``SynchronizationThrottler`` jobs that ``MetaApi.close()``
never stops; ``MetaApiConnection.schedule_refresh`` starts a replica refresh task it does not keep
(``cancel_refresh`` cannot cancel it); ``ClientApiClient.refresh_ignored_field_lists`` starts an hourly
job nothing cancels; subscriptions loop in ``SubscriptionManager.schedule_subscribe``. Its closes are
themselves scheduled tasks (``MetaApi.close()`` and ``RpcMetaApiConnectionInstance.close()`` call
``asyncio.create_task``), which never run if the loop ends first.

A :class:`TaskScope` owns what is started while it is active (``with scope.active():`` around every call
into the SDK): a task factory on the running loop (installed once, chaining to any factory already there)
adopts each task created in a context where the scope is active, and tasks inherit the context of the
code that creates them, so everything the SDK starts from inside a call, and everything those tasks start
in turn, belongs to the scope. :meth:`TaskScope.close` lets the closes (and the tasks they schedule, such as
the SDK's own closing tasks) run for a bounded time, then cancels whatever is left and waits for it: after
it, the session has nothing pending on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from typing import Any

logger = logging.getLogger(__name__)

_ACTIVE: ContextVar[TaskScope | None] = ContextVar("metaapi_task_scope", default=None)
_CLOSING: ContextVar[bool] = ContextVar("metaapi_task_scope_closing", default=False)
_FACTORY_MARK = "_ttmt_metaapi_task_scope"


def _install_factory(loop: asyncio.AbstractEventLoop) -> None:
    previous = loop.get_task_factory()
    if getattr(previous, _FACTORY_MARK, False):
        return

    def factory(loop: asyncio.AbstractEventLoop, coro: Coroutine, **kwargs: Any) -> asyncio.Future:
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        scope = _ACTIVE.get()  # the context of the code creating the task
        if scope is not None:
            scope._adopt(task, closing=_CLOSING.get())
        return task

    setattr(factory, _FACTORY_MARK, True)
    loop.set_task_factory(factory)


def _settle(task: asyncio.Future) -> None:
    """Mark a finished SDK task's exception as seen (the SDK fires and forgets); log it quietly."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.debug("a MetaApi SDK task ended with %s", type(error).__name__)


class TaskScope:
    """The tasks one MetaApi session started (see the module docstring). Tasks started by a close
    (:meth:`start` / :meth:`collect` with ``closing``), and the tasks those start, are its *closers*:
    :meth:`close` gives them time to finish before it cancels the rest."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Future] = set()
        self._closers: set[asyncio.Future] = set()
        self.adopted = 0  # how many tasks were ever adopted (tests)

    def _adopt(self, task: asyncio.Future, *, closing: bool) -> None:
        self._tasks.add(task)
        if closing:
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)
        self.adopted += 1
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_settle)

    @contextlib.contextmanager
    def active(self, *, closing: bool = False) -> Iterator[TaskScope]:
        """Tasks created inside (directly or by tasks created inside) belong to this scope; with
        ``closing``, they are closers too."""
        _install_factory(asyncio.get_running_loop())
        token = _ACTIVE.set(self)
        closing_token = _CLOSING.set(True) if closing else None
        try:
            yield self
        finally:
            if closing_token is not None:
                _CLOSING.reset(closing_token)
            _ACTIVE.reset(token)

    def start(self, coro: Coroutine, *, name: str | None = None, closing: bool = False) -> asyncio.Task:
        """A task of this scope (and so is everything it starts)."""
        with self.active(closing=closing):
            return asyncio.get_running_loop().create_task(coro, name=name)

    def collect(self, function: Any, *args: Any) -> None:
        """Call ``function(*args)`` (a synchronous close that schedules tasks) as a close of the scope."""
        with self.active(closing=True):
            function(*args)

    def pending(self) -> list[asyncio.Future]:
        current = asyncio.current_task()
        return [task for task in self._tasks if not task.done() and task is not current]

    async def close(self, *, grace: float) -> None:
        """Let the closers (and what they start) run for at most ``grace`` seconds, then cancel every task of
        the scope still pending and wait (at most ``grace`` seconds again) until they are done. Cancelled
        itself, it still cancels everything before it lets the cancellation through."""
        loop = asyncio.get_running_loop()
        try:
            deadline = loop.time() + grace
            while True:
                current = asyncio.current_task()
                waiting = [task for task in self._closers if not task.done() and task is not current]
                left = deadline - loop.time()
                if not waiting or left <= 0:
                    break
                await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            left = self.pending()
            for task in left:
                task.cancel()
            if left:
                _done, stuck = await asyncio.wait(left, timeout=max(grace, 0.1))
                if stuck:
                    logger.warning(
                        "MetaApi session %s: %d SDK task(s) ignored their cancellation", self.name, len(stuck)
                    )
        except asyncio.CancelledError:
            for task in self.pending():
                task.cancel()
            raise


__all__ = ["TaskScope"]
