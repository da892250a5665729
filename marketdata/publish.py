"""Putting messages on the channel layer from sync code (after commit).

Two layers, two ways:

* InMemoryChannelLayer (embedded mode) lives in ONE process and its queues belong
  to the event loop that serves the consumers; feeding it from another loop or
  thread would not wake the waiting consumers. Sync views run (under ASGI) in a
  thread made by `sync_to_async`, and from there asgiref's `async_to_sync` runs
  the coroutine ON the server's loop, so that is what we use. (Outside a server,
  e.g. a management command, there is no consumer in this process to reach.)
* Any other layer (channels-redis): a per-process daemon thread per layer alias,
  with its own event loop and layer instance, sends in submission order (merging
  per group whatever queued up meanwhile), so the matcher never waits for Redis.

Market frames go to the "marketdata" layer alias (Redis Pub/Sub in production,
see settings), user events to the default layer.

Delivery is at most once either way: a lost message is healed by sequence numbers
and snapshots (market) or by replay from UserEvent rows (user).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, cast

from asgiref.sync import async_to_sync
from channels.layers import (
    DEFAULT_CHANNEL_LAYER,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)
from django.conf import settings

from config import tracing
from marketdata import formats, messages
from marketdata.events import MarketControlReady, MarketFrameReady, UserEventsSaved
from trading.events import InstrumentStatusChanged

if TYPE_CHECKING:
    from calendars.events import SessionChanged

logger = logging.getLogger(__name__)

MAX_BACKLOG = 20_000


MARKET_LAYER = "marketdata"  # Redis Pub/Sub in production (see settings)


def market_group(symbol: str) -> str:
    return f"market.{symbol}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


class _Publisher:
    _instances: dict[str, _Publisher] = {}
    _lock = threading.Lock()

    def __init__(self, alias: str) -> None:
        self.pid = os.getpid()
        self.layer = channel_layers.make_backend(alias)
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
    def get(cls, alias: str) -> _Publisher:
        publisher = cls._instances.get(alias)
        if publisher is None or publisher.pid != os.getpid():  # new or forked
            with cls._lock:
                publisher = cls._instances.get(alias)
                if publisher is None or publisher.pid != os.getpid():
                    publisher = cls._instances[alias] = cls(alias)
        return publisher

    def _main(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.queue = asyncio.Queue()
        ready.set()
        self.loop.run_until_complete(self._worker())

    async def _worker(self) -> None:
        assert self.queue is not None
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty():  # whatever piled up meanwhile
                items.append(self.queue.get_nowait())
            merged = coalesce(items)
            send_many = getattr(self.layer, "group_send_many", None)
            if send_many is not None:  # config.channel_layers: two round trips
                try:
                    await send_many(merged)
                except Exception:
                    logger.exception("group_send_many to %s groups failed", len(merged))
            else:
                for group, message in merged:
                    try:
                        await self.layer.group_send(group, message)
                    except Exception:
                        logger.exception("group_send to %s failed", group)
            with self.count_lock:
                self.pending -= len(items)
                if self.pending == 0:
                    self.idle.set()

    def submit(self, group: str, message: dict) -> None:
        with self.count_lock:
            if self.pending >= MAX_BACKLOG:
                logger.error("publisher backlog full, dropped a message to %s", group)
                return
            self.pending += 1
            self.idle.clear()
        queue = cast(asyncio.Queue, self.queue)  # made by _main before __init__ returns
        self.loop.call_soon_threadsafe(queue.put_nowait, (group, message))


def coalesce(items: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Merge queued messages per group, keeping their order: a group_send costs
    several Redis round trips, so under load one send carries everything that
    waited (market frames concatenated, user event lists joined)."""
    merged: dict[str, dict] = {}
    for group, message in items:
        known = merged.get(group)
        if known is None:
            merged[group] = dict(message)
        elif message["type"] == known["type"] == "market.frame":
            known["last"] = message["last"]
            known["body"] = known["body"] + "," + message["body"]
        elif message["type"] == known["type"] == "user.events":
            known["events"] = known["events"] + message["events"]
        else:  # unknown kind: keep it apart, in order
            merged[f"{group}\x00{len(merged)}"] = dict(message, _group=group)
    return [
        (message.pop("_group", group), message) for group, message in merged.items()
    ]


def market_layer_alias() -> str:
    return MARKET_LAYER if MARKET_LAYER in settings.CHANNEL_LAYERS else "default"


def group_send(
    group: str, message: dict, *, alias: str = DEFAULT_CHANNEL_LAYER
) -> None:
    """Send from sync code; never raises (the change it reports is committed)."""
    layer = get_channel_layer(alias)
    if layer is None:
        return
    try:
        if isinstance(layer, InMemoryChannelLayer):
            async_to_sync(layer.group_send)(group, message)
        else:
            _Publisher.get(alias).submit(group, message)
    except Exception:
        logger.exception("publishing to %s failed", group)


def market_frame_send(event: MarketFrameReady) -> None:
    """After commit: the run's frame to the instrument's market group, stamped
    with the time it leaves (the fan-out delay is measured from here)."""
    event.frame["ts"] = int(time.time() * 1000)
    with tracing.span("marketdata.publish", {"messaging.destination": event.group}):
        group_send(event.group, event.frame, alias=market_layer_alias())


def market_status_send(event: InstrumentStatusChanged) -> None:
    """After commit: a halt, resume or close to the instrument's market group
    (no sequence: it is not a book change; the snapshot carries the status too,
    so a client that missed this learns it at its next snapshot)."""
    message = messages.status(
        event.symbol, event.old, event.new, event.reason, event.at
    )
    group_send(
        market_group(event.symbol),
        {"type": "market.status", "body": messages.dumps(message)},
        alias=market_layer_alias(),
    )


def market_control_send(event: MarketControlReady) -> None:
    """After commit: an unsequenced message (a call's indicative uncross) to
    the instrument's market group, handed to every watcher at once like a
    status change (the snapshot carries the same state)."""
    group_send(
        event.group,
        {"type": "market.control", "body": event.body},
        alias=market_layer_alias(),
    )


def market_phase_send(event: SessionChanged) -> None:
    """After commit: the instrument's session moved (a transition, a volatility
    call, an operator's halt, extension or resume): a `phase` message, no
    sequence (the snapshot names the session too)."""
    message = formats.phase_message(event.symbol, event.state, event.reason, event.at)
    group_send(
        market_group(event.symbol),
        {"type": "market.control", "body": messages.dumps(message)},
        alias=market_layer_alias(),
    )


def user_events_send(event: UserEventsSaved) -> None:
    """After commit: each user's new events, with their ids, to their group (an
    event caused by a request carries its `request_id`: marketdata.services)."""
    per_user: dict[int, list] = {}
    for row in event.rows:
        per_user.setdefault(row.user_id, []).append(
            [row.pk, messages.dumps(row.message())]
        )
    ts = int(time.time() * 1000)  # when they leave: the stream's send lag from here
    with tracing.span("marketdata.publish", {"messaging.destination": "user"}):
        for user_id, events in per_user.items():
            message = {"type": "user.events", "events": events, "ts": ts}
            group_send(user_group(user_id), message)


def publisher_flush(timeout: float = 5.0) -> bool:
    """Wait until the background publisher sent everything (tests, benchmark)."""
    return all(
        publisher.idle.wait(timeout)
        for publisher in list(_Publisher._instances.values())
        if publisher.pid == os.getpid()
    )
