"""Sending live events to the channel layer after commit, from any process, thread or loop.

With a shared layer (Redis) a per-process publisher thread sends in order without blocking the
caller; with the in-memory layer of the embedded default, sends happen on the server's loop, and
only once a socket has connected to this process. Best effort: a push never fails its caller.
"""

import asyncio
import logging
import os
import threading

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from execution.live.audience import org_group, user_group

logger = logging.getLogger(__name__)

_home_loop: asyncio.AbstractEventLoop | None = None
_pending: set = set()


def serve_from_this_loop() -> None:
    """Called by the consumer (in the server's event loop): with the in-memory layer of the embedded
    default, every send must happen on the loop the sockets wait on, whichever thread publishes."""
    global _home_loop
    _home_loop = asyncio.get_running_loop()


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    home = _home_loop
    return home if home is not None and home.is_running() and not home.is_closed() else None


class _Publisher:
    """Sends to a shared layer (Redis) from a thread of its own, in order, without blocking the
    caller (a worker between two broker calls, the streaming loop); one per process."""

    MAX_BACKLOG = 10_000  # beyond this (the layer is down), new pushes are dropped

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue | None = None
        self.ready = threading.Event()
        threading.Thread(target=self._run, name="ttmt-live-publisher", daemon=True).start()
        self.ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        self.queue = asyncio.Queue(self.MAX_BACKLOG)
        self.ready.set()
        while True:
            layer, group, message = await self.queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("live push to %s failed", group)

    def _put(self, item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            logger.warning("live pushes dropped: the channel layer does not keep up")

    def send(self, layer, group: str, message: dict) -> None:
        self.loop.call_soon_threadsafe(self._put, (layer, group, message))


_publisher: _Publisher | None = None
_publisher_guard = threading.Lock()


def _shared_publisher() -> _Publisher:
    global _publisher
    with _publisher_guard:
        if _publisher is None or _publisher.pid != os.getpid():  # not inherited across a fork
            _publisher = _Publisher()
        return _publisher


def listening() -> bool:
    """Whether a push can reach anyone: always with a shared layer (Redis); with the in-memory
    layer, only in a process where a socket connected (else nothing is built or sent)."""
    try:
        layer = get_channel_layer()
    except Exception:  # a misconfigured layer must not break what publishes
        logger.exception("no channel layer")
        return False
    return layer is not None and (_serving_loop() is not None or not isinstance(layer, InMemoryChannelLayer))


def dispatch(group: str, message: dict) -> None:
    """Send ``message`` to ``group`` now, from any thread or loop, without blocking; never raises."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        if not isinstance(layer, InMemoryChannelLayer):
            _shared_publisher().send(layer, group, message)
            return
        home = _serving_loop()
        if home is None:
            return  # no socket ever connected to this process: nobody can be listening
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is home:
            task = home.create_task(layer.group_send(group, message))
            _pending.add(task)
            task.add_done_callback(_pending.discard)
        else:
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), home)
    except Exception:  # a push is best effort: never fail the operation or the stream over it
        logger.exception("live push to %s failed", group)


def push(organization_id: int, event: dict) -> None:
    """Send an event to the organization's members now (the caller's data is already committed)."""
    dispatch(org_group(organization_id), {"type": "live.event", "event": event})


def publish(organization_id: int, event: dict | None = None, *, build=None) -> None:
    """Send an event to the organization's members after the current transaction commits.
    ``build`` (a callable returning the event) runs at commit time, for data read then."""

    def send() -> None:
        try:
            if listening():
                push(organization_id, event if build is None else build())
        except Exception:
            logger.exception("live event for organization %s failed", organization_id)

    transaction.on_commit(send, robust=True)


def kick(organization_id: int, user_id: int) -> None:
    """Close the user's sockets on the organization (after commit)."""
    transaction.on_commit(
        lambda: dispatch(user_group(organization_id, user_id), {"type": "live.kick"}), robust=True
    )
