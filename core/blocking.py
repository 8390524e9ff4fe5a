"""Blocking (ORM) work from async code, without a thread per call and without deadlocks.

On a loop that registered a pool (the engine's loop: a fixed set of threads, see
``execution.engine.loop``) the work runs on that pool, old connections closed first. Elsewhere it
runs where Django runs thread-sensitive work (``sync_to_async``: the thread of the sync caller of
``async_to_sync``, whose transaction it sees and leaves alone).
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from asgiref.sync import sync_to_async
from django.db import close_old_connections

T = TypeVar("T")
_pools: "WeakKeyDictionary[asyncio.AbstractEventLoop, Executor]" = WeakKeyDictionary()


def register_pool(loop: asyncio.AbstractEventLoop, pool: Executor) -> None:
    """Blocking work started on ``loop`` runs on ``pool`` from now on."""
    _pools[loop] = pool


def on_a_pool() -> bool:
    """Whether blocking work started here runs on a registered pool (call from a running loop)."""
    return asyncio.get_running_loop() in _pools


async def run_blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        return await sync_to_async(partial(function, *args, **kwargs))()

    def job() -> T:
        close_old_connections()
        return function(*args, **kwargs)

    return await loop.run_in_executor(pool, job)
