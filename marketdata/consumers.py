"""WebSocket consumers: /ws/market/<SYMBOL>/ (public) and /ws/user/ (own events).

Shapes: docs/asyncapi.yaml; the client procedure: docs/marketdata.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import cast
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from accounts.services.sessions import SIGN_IN_SESSION_KEY
from config.metrics import websocket_closed, websocket_opened, websocket_sent
from marketdata import messages
from marketdata.auth import ticket_authenticate
from marketdata.hub import (
    Frame,
    MarketHub,
    WireSocket,
    batch_text,
    hub_join,
    hub_leave,
)
from marketdata.publish import market_layer_alias, user_group
from marketdata.selectors import user_event_list
from trading.models import Instrument

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_UNKNOWN_SYMBOL = 4404
MAX_CLIENT_MESSAGE = 4096
MAX_QUEUED_FRAMES = 2000  # a client this far behind is resynced by a snapshot
AUTH_TIMEOUT_SECONDS = 10


def _error(code: str, message: str) -> str:
    return messages.dumps({"type": "error", "code": code, "message": message})


class _ClientMessages:
    """Parse a client frame into an op, or an error frame text."""

    ops: tuple[str, ...] = ()

    def parse(self, text_data, bytes_data) -> tuple[dict | None, str | None]:
        if text_data is None or len(text_data) > MAX_CLIENT_MESSAGE:
            return None, _error("invalid_message", "Send a JSON text frame.")
        try:
            data = json.loads(text_data)
        except ValueError:
            return None, _error("invalid_json", "The message is not valid JSON.")
        if not isinstance(data, dict) or data.get("op") not in self.ops:
            return None, _error(
                "invalid_op", f"op: must be one of {', '.join(self.ops)}."
            )
        return data, None


class MarketConsumer(_ClientMessages, AsyncJsonWebsocketConsumer):
    """Snapshot on connect, then batch frames in sequence order. A connection
    that keeps up is written each hand-out by the hub itself (`deliver`: the
    group's bytes, at once); everything else (snapshots, pings, replies, frames
    for a connection that is behind) goes out through one sender task, so a
    snapshot never overtakes or splits the deltas around it: after a snapshot at
    S come the hub's frames above S (its recent history, then live ones), never
    one at or below S twice. The hub writes only while that task is idle with
    nothing queued, so the two never interleave out of order."""

    # No per-consumer channel: the process's hub receives for every consumer.
    channel_layer_alias = "__marketdata_hub__"
    ops = ("snapshot", "ping")

    async def connect(self) -> None:
        self.hub = None
        self.tasks: list[asyncio.Task] = []
        await self.accept()
        symbol = self.scope["url_route"]["kwargs"]["symbol"].upper()
        exists = await database_sync_to_async(
            Instrument.objects.filter(symbol=symbol).exists
        )()
        if not exists:
            await self.send(_error("unknown_symbol", f"symbol: no instrument {symbol}"))
            await self.close(code=CLOSE_UNKNOWN_SYMBOL)
            return
        self.symbol = symbol
        self.seq = -1  # last sequence this client has been sent
        self.outbox: list[Frame] = []
        self.control: list[str] = []
        self.want_snapshot = True
        self.woken = True  # the sender has something to look at
        self.waiter: asyncio.Future | None = None  # the idle sender waits on it
        self.wire = WireSocket.of(self.base_send)  # None: always the sender
        # Join first, then read the snapshot (in the sender): nothing published
        # in between can be lost.
        layer = get_channel_layer(market_layer_alias())
        self.hub = await hub_join(symbol, self, layer)
        websocket_opened("market")
        self.tasks = [
            asyncio.ensure_future(self._sender()),
            asyncio.ensure_future(self._timer()),
        ]

    async def disconnect(self, code) -> None:
        for task in self.tasks:
            task.cancel()
        if self.hub is not None:
            await hub_leave(self.hub, self)
            self.hub = None
            websocket_closed("market")

    # -- from the hub --------------------------------------------------------------

    def deliver(self, frame: Frame) -> bool:
        """The hub's hand-out: written now if this connection keeps up (True),
        else queued for the sender (False)."""
        waiter, wire = self.waiter, self.wire
        if (
            wire is not None
            and waiter is not None
            and not waiter.done()  # the sender is idle: sent all it had
            and not self.outbox
            and not self.control
            and not self.want_snapshot
            and wire.ready()
        ):
            if frame.last > self.seq:  # else the snapshot covered it
                wire.write(frame.wire)
                self.seq = frame.last
                return True
            return False
        if len(self.outbox) >= MAX_QUEUED_FRAMES:
            self.outbox.clear()
            self.want_snapshot = True
        self.outbox.append(frame)
        self._wake()
        return False

    def control_send(self, text: str) -> None:
        """An unsequenced message (a status change) to send as it is."""
        self.control.append(text)
        self._wake()

    # -- from the client -------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None) -> None:
        data, error = self.parse(text_data, bytes_data)
        if error:
            self.control.append(error)
        elif cast(dict, data)["op"] == "snapshot":  # no error: parsed
            self.want_snapshot = True
        else:
            self.control.append('{"type":"pong"}')
        self._wake()

    # -- sending ----------------------------------------------------------------------

    async def _timer(self) -> None:
        loop = asyncio.get_running_loop()
        every = settings.MARKETDATA_SNAPSHOT_INTERVAL_SECONDS
        ping_every = settings.MARKETDATA_PING_INTERVAL_SECONDS
        # Spread the periodic snapshots of many clients over the interval.
        next_snapshot = loop.time() + every * (0.5 + random.random())
        next_ping = loop.time() + ping_every
        while True:
            await asyncio.sleep(max(0.0, min(next_snapshot, next_ping) - loop.time()))
            now = loop.time()
            if now >= next_ping:
                next_ping = now + ping_every
                ping = {"type": "ping", "time": messages.iso(timezone.now())}
                self.control.append(messages.dumps(ping))
            if now >= next_snapshot:
                next_snapshot = now + every
                self.want_snapshot = True
            self._wake()

    def _wake(self) -> None:
        # A bare future, not an asyncio.Event: the hub wakes every subscriber
        # for every frame, and this is the cheapest way to do it.
        self.woken = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _send_text(self, text: str) -> None:
        # Straight to the ASGI send: the consumer's send() adds two coroutine
        # layers per frame and subscriber.
        await self.base_send({"type": "websocket.send", "text": text})

    async def _sender(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not self.woken:
                    self.waiter = loop.create_future()
                    await self.waiter
                self.waiter = None
                self.woken = False
                while self.control:
                    await self._send_text(self.control.pop(0))
                if self.want_snapshot:
                    self.want_snapshot = False
                    sent_before = self.seq
                    # joined before this task started, left after it ends
                    hub = cast(MarketHub, self.hub)
                    snapshot, after = await hub.snapshot()
                    await self._send_text(snapshot.text)
                    self.seq = snapshot.seq
                    self.outbox = after  # everything the hub has seen since
                    # What this client was sent before the snapshot goes again in
                    # a frame of its own, so the next frame's `ts` is that of the
                    # oldest change new to the client.
                    replay = [
                        f for f in self.outbox if self.seq < f.last <= sent_before
                    ]
                    if replay:
                        await self._send_text(self._merge(replay))
                        self.seq = replay[-1].last
                frames = [f for f in self.outbox if f.last > self.seq]
                self.outbox = []
                if frames:
                    await self._send_text(self._merge(frames))
                    self.seq = frames[-1].last
                    websocket_sent("market", published_ms=frames[0].ts)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # mostly: the client went away mid-send
            logger.info("market stream %s ended: %r", self.symbol, exc)
            with contextlib.suppress(Exception):  # already closed
                await self.close(code=1011)

    @staticmethod
    def _merge(frames: list[Frame]) -> str:
        # A subscriber that keeps up is sent the hub's frame as it is: its text
        # is built once for all of them.
        return frames[0].text if len(frames) == 1 else batch_text(frames)


class UserConsumer(_ClientMessages, AsyncJsonWebsocketConsumer):
    """The signed-in user's order, fill and balance events. Authenticated by the
    session (pages) or a single-use stream ticket (?ticket= or a first
    {"op": "auth", "ticket": ...}); an access token is not accepted. Closed when
    its sign-in ends (logout, password change, staff lock, ended session or
    token family: `stream_revoke`)."""

    ops = ("auth", "ping")

    async def connect(self) -> None:
        self.user_id: int | None = None
        self.sign_in: str | None = None
        self.replayed: set[int] = set()
        self.tasks: list[asyncio.Task] = []
        await self.accept()
        self.metered = True
        websocket_opened("user")
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.since_id = self._int(query.get("since_id", [None])[0])
        ticket = query.get("ticket", [None])[0]
        user = self.scope.get("user")
        if "token" in query:
            await self.send(
                _error(
                    "token_not_accepted",
                    "token: access tokens are not accepted here; send a ticket "
                    "from POST /api/v1/stream-tickets.",
                )
            )
            await self.close(code=CLOSE_UNAUTHENTICATED)
        elif ticket is not None:
            await self._auth_ticket(ticket)
        elif user is not None and user.is_authenticated:
            session = self.scope.get("session")
            sign_in = session.get(SIGN_IN_SESSION_KEY) if session else None
            await self._start(user.pk, sign_in)
        else:
            self.tasks.append(asyncio.ensure_future(self._auth_deadline()))

    async def disconnect(self, code) -> None:
        for task in self.tasks:
            task.cancel()
        if getattr(self, "metered", False):
            self.metered = False
            websocket_closed("user")
        if self.user_id is not None:
            await self.channel_layer.group_discard(
                user_group(self.user_id), self.channel_name
            )

    @staticmethod
    def _int(value) -> int | None:
        try:
            return max(0, int(value)) if value is not None else None
        except ValueError:
            return None

    async def _auth_ticket(self, ticket) -> None:
        found = await database_sync_to_async(ticket_authenticate)(ticket)
        if found is None:
            await self.send(
                _error(
                    "unauthenticated",
                    "ticket: invalid, expired or already used; get a new one.",
                )
            )
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if self.user_id is None:
            await self._start(found.user_id, found.sign_in)
        elif found.user_id != self.user_id:
            await self.send(_error("auth_mismatch", "ticket: belongs to another user."))
        else:
            self.sign_in = found.sign_in
            await self.send('{"type":"auth","ok":true}')

    async def _auth_deadline(self) -> None:
        await asyncio.sleep(AUTH_TIMEOUT_SECONDS)
        if self.user_id is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _start(self, user_id: int, sign_in: str | None) -> None:
        self.user_id = user_id
        self.sign_in = sign_in
        await self.channel_layer.group_add(user_group(user_id), self.channel_name)
        if self.since_id is not None:
            since = self.since_id
            while True:
                events, more = await database_sync_to_async(user_event_list)(
                    user_id=user_id, since_id=since, limit=500
                )
                for event in events:
                    self.replayed.add(event["event_id"])
                    await self.send(messages.dumps(event))
                if events:
                    since = events[-1]["event_id"]
                if not more:
                    break
        await self.send('{"type":"auth","ok":true}')

    async def receive(self, text_data=None, bytes_data=None) -> None:
        data, error = self.parse(text_data, bytes_data)
        if error:
            await self.send(error)
            return
        message = cast(dict, data)  # no error: parsed
        if message["op"] == "ping":
            await self.send('{"type":"pong"}')
        elif "token" in message:
            await self.send(
                _error("token_not_accepted", "token: send a ticket instead.")
            )
        else:
            await self._auth_ticket(message.get("ticket"))

    async def user_events(self, event) -> None:
        for event_id, text in event["events"]:
            if event_id in self.replayed:
                self.replayed.discard(event_id)
                continue
            await self.send(text)
        websocket_sent("user", published_ms=event.get("ts"))

    async def stream_revoke(self, event) -> None:
        """The sign-in this stream belongs to ended (marketdata.auth.
        user_streams_close): say so and close."""
        if event["everything"]:
            ends = self.sign_in is None or self.sign_in != event["keep"]
        else:
            ends = self.sign_in is not None and self.sign_in in event["sign_ins"]
        if ends:
            await self.send(_error("revoked", "This sign-in was ended; sign in again."))
            await self.close(code=CLOSE_UNAUTHENTICATED)
