"""Per-process fan-out of an instrument's stream to its WebSocket consumers.

The channel layer is good at delivering a message to a few channels and poor at
delivering it to a thousand: channels-redis writes one copy per receiving
channel and each consumer pops, decodes and dispatches its own copy. So each
server process has ONE hub per instrument (per event loop) that joins the group
`market.<SYMBOL>` with one channel, receives each published frame once and hands
the same pre-encoded frame to every local subscriber. A subscriber queues frames
and its own sender task writes them; when a client is slow, the frames waiting
for it are merged into one batch frame.

Fan-out cost is (frames per second) x (subscribers), so the hub also bounds the
frame rate: a frame that arrives after a quiet period is handed out at once, and
frames arriving within MARKETDATA_FANOUT_LINGER_MS of the previous hand-out's
start (or within the time that hand-out took, after its end, if that is later)
are merged (once, for everybody) and handed out when that time is up. At most
1000 / linger frames per second per client under load, the fan-out at most
half the loop's time, no added delay when idle; linger 0 never merges.

The hub also caches the last snapshot it read (one database read per second at
most, per instrument and process, however many clients connect or ask) and keeps
the recent frames it received: a client gets the cached snapshot (sequence S)
followed by the recent frames above S, so a snapshot never has to be newer than
the stream, only recent enough that the history reaches back to it.

Each hand-out is encoded once for the whole group: its JSON text, and (for
connections served by uvicorn's websockets-sansio protocol with no extension
negotiated) the WebSocket frame bytes too. A subscriber that keeps up is written
those same bytes at the hand-out, in the hub's loop over subscribers: no task
switch, no ASGI call, no per-socket framing. Only a subscriber that is behind (or
whose socket cannot take the fast path) goes through its own sender task.
`ENCODED` counts the encodings (tests hold it to one per hand-out).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import Counter, deque
from dataclasses import dataclass
from functools import cached_property
from typing import cast

from channels.db import database_sync_to_async
from django.conf import settings
from uvicorn.protocols.websockets.websockets_sansio_impl import (
    WebSocketsSansIOProtocol,
)
from websockets.protocol import State

from config.metrics import websocket_sent
from marketdata import messages
from marketdata.publish import market_group
from marketdata.selectors import market_snapshot

logger = logging.getLogger(__name__)

SNAPSHOT_CACHE_SECONDS = 1.0
HISTORY_FRAMES = 5000  # recent frames kept to continue a cached snapshot
GROUP_REFRESH_SECONDS = 60.0  # re-join: survives group expiry and Redis restarts

# Encodings done, by kind: "text" (a hand-out's JSON), "wire" (its WebSocket
# frame), "merged" (a lagging subscriber's own merge of several hand-outs).
ENCODED: Counter[str] = Counter()


@dataclass(frozen=True)
class Frame:
    """One matching batch: `body` is its messages, JSON-encoded, comma-joined."""

    first: int
    last: int
    ts: int
    body: str

    @cached_property
    def text(self) -> str:
        """The batch frame as sent; built once however many subscribers get it."""
        ENCODED["text"] += 1
        return _batch([self])

    @cached_property
    def wire(self) -> bytes:
        """The WebSocket text frame of `text` as a server sends it (unmasked, no
        extension): the bytes every fast-path subscriber is written."""
        ENCODED["wire"] += 1
        return ws_text_frame(self.text.encode())


def batch_text(frames: list[Frame]) -> str:
    """One batch frame carrying `frames` in order: `ts` is the oldest one's."""
    ENCODED["merged"] += 1
    return _batch(frames)


def _batch(frames: list[Frame]) -> str:
    body = ",".join(frame.body for frame in frames)
    return (
        f'{{"type":"batch","seq":{frames[-1].last},"ts":{frames[0].ts},'
        f'"messages":[{body}]}}'
    )


def ws_text_frame(payload: bytes) -> bytes:
    """RFC 6455 section 5.2: FIN + text opcode, the payload length in 7, 16 or
    64 bits, no mask (a server never masks)."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + payload


class WireSocket:
    """The fast path to one client: pre-framed bytes straight to the transport
    of uvicorn's websockets-sansio connection, which frames each send itself
    (UTF-8 encode, frame header, join, write) and keeps no state between whole
    unfragmented frames. Only without extensions: per-message deflate keeps a
    compression context per connection, so those sockets use the ASGI send."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self.protocol = protocol

    @classmethod
    def of(cls, send) -> WireSocket | None:
        """The fast path behind an ASGI `send`, if it has one."""
        protocol = getattr(send, "__self__", None)
        if not isinstance(protocol, WebSocketsSansIOProtocol):
            return None
        if protocol.conn.extensions or not protocol.handshake_complete:
            return None
        return cls(protocol)

    def ready(self) -> bool:
        """Open, not closing, and not paused by the transport (a slow client:
        its sender task then waits for it through the ASGI send)."""
        protocol = self.protocol
        return (
            protocol.writable.is_set()
            and not protocol.close_sent
            and not protocol.disconnected
            and protocol.conn.state is State.OPEN
            and not protocol.conn.writes
            and not protocol.transport.is_closing()
        )

    def write(self, wire: bytes) -> None:
        self.protocol.transport.write(wire)


@dataclass(frozen=True)
class Snapshot:
    seq: int
    text: str
    at: float


class MarketHub:
    def __init__(self, symbol: str, layer) -> None:
        self.symbol = symbol
        self.group = market_group(symbol)
        self.layer = layer
        self.subscribers: set = set()
        self.last_seq = -1
        self.channel: str | None = None
        self.tasks: list[asyncio.Task] = []
        self.started: asyncio.Future | None = None
        self._snapshot: Snapshot | None = None
        self._snapshot_lock = asyncio.Lock()
        self.linger = settings.MARKETDATA_FANOUT_LINGER_MS / 1000
        self.pending: list[Frame] = []
        self.history: deque[Frame] = deque(maxlen=HISTORY_FRAMES)
        self.next_flush = 0.0  # loop time before which no hand-out starts
        self.flush_handle: asyncio.TimerHandle | None = None
        self.handouts = 0  # frames handed out (each encoded once: ENCODED)
        self.controls = 0  # unsequenced messages received (`control`)

    async def start(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.tasks = [
            asyncio.ensure_future(self._receive()),
            asyncio.ensure_future(self._refresh()),
        ]

    async def stop(self) -> None:
        if self.flush_handle is not None:
            self.flush_handle.cancel()
        for task in self.tasks:
            task.cancel()
        try:
            await self.layer.group_discard(self.group, self.channel)
        except Exception:
            logger.exception("leaving %s failed", self.group)

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
                if message.get("type") in ("market.status", "market.control"):
                    self.control(message["body"])
                elif message.get("type") == "market.frame":
                    self.deliver(
                        Frame(
                            message["first"],
                            message["last"],
                            message.get("ts", 0),
                            message["body"],
                        )
                    )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("market hub %s: bad message", self.symbol)
                await asyncio.sleep(0.1)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            try:
                await self.layer.group_add(self.group, self.channel)
            except Exception:
                logger.exception("market hub %s: re-join failed", self.symbol)

    def control(self, text: str) -> None:
        """An unsequenced message (a status change, a session phase, a call's
        indicative uncross): to every subscriber at once, outside the sequenced
        frames; the cached snapshot (which names all three) is dropped so the
        next one is read afresh, and a read already under way is not cached
        (`controls`): it may predate the change."""
        self._snapshot = None
        self.controls += 1
        for subscriber in self.subscribers:
            send = getattr(subscriber, "control_send", None)
            if send is not None:
                send(text)

    def deliver(self, frame: Frame) -> None:
        if frame.last > self.last_seq:
            self.last_seq = frame.last
        self.history.append(frame)
        self.pending.append(frame)
        if self.flush_handle is not None:
            return  # merged into the hand-out already scheduled
        loop = asyncio.get_running_loop()
        wait = self.next_flush - loop.time()
        if wait <= 0:
            self._flush()
        else:
            self.flush_handle = loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        self.flush_handle = None
        frames, self.pending = self.pending, []
        if not frames:
            return
        loop = asyncio.get_running_loop()
        start = loop.time()
        if len(frames) == 1:
            frame = frames[0]
        else:
            frame = Frame(
                frames[0].first,
                frames[-1].last,
                frames[0].ts,
                ",".join(f.body for f in frames),
            )
        self.handouts += 1
        written = 0
        for subscriber in self.subscribers:
            written += subscriber.deliver(frame)
        if written:  # one lag for the sockets written now (they share its time)
            websocket_sent("market", published_ms=frame.ts)
        if self.linger:
            # The next hand-out: a linger after this one began, and no sooner
            # than this one took (fan-out at most half the loop's time; when
            # the process gets little CPU, frames merge once here rather than
            # once per subscriber behind).
            end = loop.time()
            self.next_flush = max(start + self.linger, end + (end - start))

    def _continues(self, snap: Snapshot) -> bool:
        """The kept history holds every frame after the snapshot's sequence."""
        if not self.history or self.last_seq <= snap.seq:
            return True
        return self.history[0].first <= snap.seq + 1

    async def snapshot(self) -> tuple[Snapshot, list[Frame]]:
        """A recent snapshot (cached up to a second) and the frames after it."""
        loop = asyncio.get_running_loop()

        def usable(snap: Snapshot | None) -> bool:
            return (
                snap is not None
                and loop.time() - snap.at < SNAPSHOT_CACHE_SECONDS
                and self._continues(snap)
            )

        snap = self._snapshot
        if not usable(snap):
            async with self._snapshot_lock:
                snap = self._snapshot
                if not usable(snap):
                    at, controls = loop.time(), self.controls
                    data = await database_sync_to_async(market_snapshot)(
                        symbol=self.symbol
                    )
                    snap = Snapshot(data["seq"], messages.dumps(data), at)
                    if controls == self.controls:  # else it may be older
                        self._snapshot = snap
        assert snap is not None
        return snap, [frame for frame in self.history if frame.last > snap.seq]


_HUBS: dict[asyncio.AbstractEventLoop, dict[str, MarketHub]] = {}


async def hub_join(symbol: str, subscriber, layer) -> MarketHub:
    """The hub of `symbol` in this event loop (started on first use), with
    `subscriber` registered: anything with `deliver(frame) -> bool`, True when it
    wrote the frame to its socket at once, False when it queued it."""
    hubs = _HUBS.setdefault(asyncio.get_running_loop(), {})
    hub = hubs.get(symbol)
    if hub is None:
        hub = hubs[symbol] = MarketHub(symbol, layer)
        hub.started = asyncio.ensure_future(hub.start())
    try:
        # started when the hub was made (above, or by the join that made it)
        await asyncio.shield(cast(asyncio.Future, hub.started))
    except Exception:
        if hubs.get(symbol) is hub:
            del hubs[symbol]
        raise
    hub.subscribers.add(subscriber)
    return hub


async def hub_leave(hub: MarketHub, subscriber) -> None:
    hub.subscribers.discard(subscriber)
    if hub.subscribers:
        return
    loop = asyncio.get_running_loop()
    hubs = _HUBS.get(loop, {})
    if hubs.get(hub.symbol) is hub:
        del hubs[hub.symbol]
        if not hubs:
            _HUBS.pop(loop, None)
    await hub.stop()
