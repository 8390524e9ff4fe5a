"""One subscription to a gateway's events, shared by every gateway implementation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from execution.broker.gateways.base import GatewayEvent

_CLOSED = object()


class EventStream:
    """An async iterator over one subscription; it ends after the gateway's ``disconnect()``.

    A slow consumer loses the oldest events beyond ``max_queue`` (counted in ``dropped``).
    ``on_close`` is called with the stream when the consumer closes it (the gateway forgets it)."""

    def __init__(self, max_queue: int, on_close: Callable[[EventStream], None]) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._max_queue = max_queue
        self._on_close = on_close
        self._closed = False
        self.dropped = 0

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> GatewayEvent:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _CLOSED:
            self._closed = True
            raise StopAsyncIteration
        return item

    def drain(self) -> list[GatewayEvent]:
        """The events already waiting, without blocking."""
        items = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _CLOSED:
                self._closed = True
                break
            items.append(item)
        return items

    def put(self, event: GatewayEvent) -> None:
        if self._closed:
            return
        if self._queue.qsize() >= self._max_queue:
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    def finish(self) -> None:
        """End the stream (the gateway disconnected): the consumer's iteration stops."""
        if not self._closed:
            self._queue.put_nowait(_CLOSED)

    async def aclose(self) -> None:
        self._on_close(self)
        self.finish()
