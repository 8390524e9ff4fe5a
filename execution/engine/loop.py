"""The process's one long-lived event loop, in a thread of its own, and the thread pool that runs
the database work of what runs on it.

Every broker call of this process runs on this loop: no event loop or thread is made per operation.
Work that blocks (the ORM) goes through :meth:`EngineLoop.db`, on a small fixed pool of threads, so
waiting on a broker never holds a thread and a slow query holds only one of them.
"""

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings

from core.blocking import register_pool, run_blocking

T = TypeVar("T")


class EngineLoop:
    def __init__(self, *, db_threads: int) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._db_pool = ThreadPoolExecutor(max_workers=db_threads, thread_name_prefix="ttmt-engine-db")
        register_pool(self.loop, self._db_pool)  # what runs on this loop blocks on this pool
        self._thread = threading.Thread(target=self._run, name="ttmt-engine-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run ``coroutine`` on the loop (from any other thread); its future."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and wait for its result (never from the loop itself)."""
        if self.in_loop:
            raise RuntimeError("EngineLoop.run() called from its own loop: await the coroutine instead")
        return self.submit(coroutine).result(timeout)

    def call_soon(self, function: Callable[..., Any], *args: Any) -> None:
        """Call ``function(*args)`` on the loop, from any thread."""
        self.loop.call_soon_threadsafe(function, *args)

    async def db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking ``function`` (the ORM) on the database pool; its result."""
        return await run_blocking(function, *args, **kwargs)


_loop: EngineLoop | None = None
_guard = threading.Lock()


def engine_loop() -> EngineLoop:
    """This process's loop (started on first use; a forked child starts its own)."""
    global _loop
    with _guard:
        if _loop is None or _loop.pid != os.getpid():
            _loop = EngineLoop(db_threads=settings.TTMT_ENGINE["db_threads"])
        return _loop
