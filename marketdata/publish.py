"""Putting messages on the channel layer from sync code (after commit).

Two layers, two ways:

* InMemoryChannelLayer (embedded mode) lives in ONE process and its queues belong
  to the event loop that serves the consumers; feeding it from another loop or
  thread would not wake the waiting consumers. Sync views run (under ASGI) in a
  thread made by `sync_to_async`, and from there asgiref's `async_to_sync` runs
  the coroutine ON the server's loop, so that is what we use. (Outside a server,
  e.g. a management command, there is no consumer in this process to reach.)
* Any other layer (channels-redis): a per-process daemon thread with its own event
  loop and its own layer instance sends the messages one by one in submission
  order, so the matcher never waits for Redis and batch order is kept.

Delivery is at most once either way: a lost message is healed by sequence numbers
and snapshots (market) or by replay from UserEvent rows (user).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import (
    DEFAULT_CHANNEL_LAYER,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)

logger = logging.getLogger(__name__)

MAX_BACKLOG = 20_000


class _Publisher:
    _instance: _Publisher | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self.loop = asyncio.new_event_loop()
        self.pending = 0
        self.count_lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()
        self.queue: asyncio.Queue | None = None
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self._main, args=(ready,), name="marketdata-publisher", daemon=True
        )
        self.thread.start()
        ready.wait()

    @classmethod
    def get(cls) -> _Publisher:
        publisher = cls._instance
        if publisher is None or publisher.pid != os.getpid():  # new or forked
            with cls._lock:
                publisher = cls._instance
                if publisher is None or publisher.pid != os.getpid():
                    publisher = cls._instance = cls()
        return publisher

    def _main(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.queue = asyncio.Queue()
        ready.set()
        self.loop.run_until_complete(self._worker())

    async def _worker(self) -> None:
        assert self.queue is not None
        while True:
            group, message = await self.queue.get()
            try:
                await self.layer.group_send(group, message)
            except Exception:
                logger.exception("group_send to %s failed", group)
            finally:
                with self.count_lock:
                    self.pending -= 1
                    if self.pending == 0:
                        self.idle.set()

    def submit(self, group: str, message: dict) -> None:
        with self.count_lock:
            if self.pending >= MAX_BACKLOG:
                logger.error("publisher backlog full, dropped a message to %s", group)
                return
            self.pending += 1
            self.idle.clear()
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message))


def group_send(group: str, message: dict) -> None:
    """Send from sync code; never raises (the change it reports is committed)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        if isinstance(layer, InMemoryChannelLayer):
            async_to_sync(layer.group_send)(group, message)
        else:
            _Publisher.get().submit(group, message)
    except Exception:
        logger.exception("publishing to %s failed", group)


def publisher_flush(timeout: float = 5.0) -> bool:
    """Wait until the background publisher sent everything (tests, benchmark)."""
    publisher = _Publisher._instance
    if publisher is None or publisher.pid != os.getpid():
        return True
    return publisher.idle.wait(timeout)
