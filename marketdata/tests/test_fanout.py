"""The market fan-out over a real uvicorn server (in this test's event loop): each
hand-out is encoded once for the whole group, and every subscriber gets the same
bytes in the same order, whichever path (the hub's direct write, a lagging
socket's sender task, a per-message-deflate socket's ASGI send) carried them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time

import pytest
import uvicorn
import websockets
from channels.layers import get_channel_layer
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from config.asgi import application
from marketdata import hub as hub_module
from marketdata.hub import ENCODED, Frame, MarketHub, WireSocket, ws_text_frame
from marketdata.publish import market_group, market_layer_alias
from marketdata.tests.helpers import make_market, place

TIMEOUT = 5


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70_000])
def test_the_wire_frame_is_what_the_websockets_library_writes(size):
    payload = ("é" * size).encode()[:size]
    expected = WsFrame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert ws_text_frame(payload) == expected


@pytest.fixture
def market(transactional_db, settings):
    settings.MARKETDATA_FANOUT_LINGER_MS = 0  # a hand-out per published frame
    instrument, buyer, seller = make_market()
    place(seller, "sell", "101", "0.5")
    place(buyer, "buy", "99", "1")
    return instrument


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def uvicorn_server(*, deflate: bool):
    port = free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        ws_per_message_deflate=deflate,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/ws/market/BTC-USD/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)


async def connect(url: str, *, deflate: bool = False):
    client = await websockets.connect(
        url, compression="deflate" if deflate else None, ping_interval=None
    )
    snapshot = json.loads(await asyncio.wait_for(client.recv(), TIMEOUT))
    assert snapshot["type"] == "snapshot"
    return client, snapshot["seq"]


def the_hub():
    return hub_module._HUBS[asyncio.get_running_loop()]["BTC-USD"]


async def publish(first: int, count: int) -> list[int]:
    """`count` one-change frames after sequence `first - 1`, through the market
    layer as the matcher's publisher sends them; returns their sequences."""
    layer = get_channel_layer(market_layer_alias())
    sequences = list(range(first, first + count))
    for seq in sequences:
        level = {
            "type": "level",
            "seq": seq,
            "side": "buy",
            "price": "99.00",
            "quantity": f"{seq}.00000000",
        }
        message = {"type": "market.frame", "first": seq, "last": seq}
        message.update(ts=1_700_000_000_000 + seq, body=json.dumps(level))
        await layer.group_send(market_group("BTC-USD"), message)
    return sequences


async def frames_until(client, last_seq: int) -> list[bytes]:
    """The raw payloads of the batch frames a client gets up to `last_seq`."""
    payloads = []
    while True:
        payload = await asyncio.wait_for(client.recv(decode=False), TIMEOUT)
        data = json.loads(payload)
        assert data["type"] == "batch"
        payloads.append(payload)
        if data["seq"] >= last_seq:
            return payloads


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_each_hand_out_is_encoded_once_for_every_subscriber(market):
    async with uvicorn_server(deflate=False) as url:
        clients = [await connect(url) for _ in range(25)]
        seq = clients[0][1]
        assert {s for _, s in clients} == {seq}
        hub = the_hub()
        assert all(sub.wire is not None for sub in hub.subscribers)
        before, handouts = ENCODED.copy(), hub.handouts

        sequences = await publish(seq + 1, 8)
        received = [await frames_until(client, sequences[-1]) for client, _ in clients]

        assert hub.handouts - handouts == 8
        assert ENCODED["text"] - before["text"] == 8  # JSON: once per hand-out
        assert ENCODED["wire"] - before["wire"] == 8  # frame bytes: once too
        assert ENCODED["merged"] == before["merged"]  # nobody was behind
        # Every subscriber got the same bytes, one frame per change, in order.
        assert all(frames == received[0] for frames in received)
        assert [json.loads(p)["seq"] for p in received[0]] == sequences
        assert json.loads(received[0][0]) == {
            "type": "batch",
            "seq": seq + 1,
            "ts": 1_700_000_000_000 + seq + 1,
            "messages": [
                {
                    "type": "level",
                    "seq": seq + 1,
                    "side": "buy",
                    "price": "99.00",
                    "quantity": f"{seq + 1}.00000000",
                }
            ],
        }
        for client, _ in clients:
            await client.close()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_paused_socket_catches_up_in_one_merged_frame_without_a_gap(market):
    async with uvicorn_server(deflate=False) as url:
        (fast, seq), (slow, _) = await connect(url), await connect(url)
        hub = the_hub()
        # The transport says one client's buffer is full (as uvloop does past
        # its high-water mark): the hub stops writing to it directly.
        assert len(hub.subscribers) == 2
        paused = next(iter(hub.subscribers))
        protocol = paused.wire.protocol
        protocol.pause_writing()
        assert not paused.wire.ready()
        before = ENCODED.copy()

        sequences = await publish(seq + 1, 5)
        await asyncio.sleep(0.05)  # the hub hands out all five meanwhile
        assert paused.seq == seq  # nothing written to it
        protocol.resume_writing()

        got = [await frames_until(s, sequences[-1]) for s in (fast, slow)]
        for frames in got:  # each client: every change once, in order, no gap
            parsed = [json.loads(p) for p in frames]
            seen = [
                m["seq"]
                for frame in parsed
                for m in (frame["messages"] if frame["type"] == "batch" else [frame])
            ]
            assert seen == sequences
            for frame in parsed:  # a merged frame's `ts` is its oldest change's
                if frame["type"] == "batch":
                    first = frame["messages"][0]["seq"]
                    assert frame["ts"] == 1_700_000_000_000 + first
        # The queued frames are merged when they wait together for the sender
        # task (under load); on an idle machine it may send each as it comes.
        assert ENCODED["merged"] - before["merged"] <= 4
        assert ENCODED["wire"] - before["wire"] == 5  # the fast one's, once each
        # Back in step: the next hand-out is written directly to both.
        again = await publish(sequences[-1] + 1, 1)
        last = [await frames_until(s, again[0]) for s in (fast, slow)]
        assert last[0] == last[1] and len(last[0]) == 1
        assert ENCODED["wire"] - before["wire"] == 6
        await fast.close()
        await slow.close()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_deflate_socket_gets_the_same_frames_through_the_asgi_send(market):
    async with uvicorn_server(deflate=True) as url:
        plain = [await connect(url) for _ in range(3)]
        deflated, seq = await connect(url, deflate=True)
        hub = the_hub()
        paths = sorted(sub.wire is None for sub in hub.subscribers)
        assert paths == [False, False, False, True]  # only the deflate one
        assert deflated.protocol.extensions  # negotiated

        sequences = await publish(seq + 1, 6)
        fast = [await frames_until(client, sequences[-1]) for client, _ in plain]
        slow = await frames_until(deflated, sequences[-1])
        assert all(frames == fast[0] for frames in fast)
        seen = [m["seq"] for p in slow for m in json.loads(p)["messages"]]
        assert seen == sequences  # merged or not, in order and complete
        if len(slow) == len(fast[0]):
            assert slow == fast[0]
        for client in [s for s, _ in plain] + [deflated]:
            await client.close()


def test_no_fast_path_behind_an_asgi_send_that_is_not_uvicorns():
    async def send(message):  # e.g. a test communicator or another server
        return None

    assert WireSocket.of(send) is None


class SlowSubscriber:
    """Takes `seconds` per hand-out, as writing to many sockets does (or a
    process that gets little CPU): the hub merges what comes meanwhile."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.frames: list[Frame] = []

    def deliver(self, frame: Frame) -> bool:
        time.sleep(self.seconds)
        self.frames.append(frame)
        return False


@pytest.mark.asyncio
async def test_a_slow_hand_out_spaces_the_next_one_by_its_own_length(settings):
    settings.MARKETDATA_FANOUT_LINGER_MS = 20
    hub = MarketHub("BTC-USD", layer=None)
    subscriber = SlowSubscriber(0.03)
    hub.subscribers.add(subscriber)
    loop = asyncio.get_running_loop()
    before = loop.time()

    hub.deliver(Frame(1, 1, 11, '{"seq":1}'))  # after a quiet period: at once
    hub.deliver(Frame(2, 2, 12, '{"seq":2}'))
    hub.deliver(Frame(3, 3, 13, '{"seq":3}'))

    # took >= 30 ms, so the next waits >= 30 ms after it (not the 20 ms linger)
    assert hub.next_flush - before >= 0.06
    assert [f.last for f in subscriber.frames] == [1]
    await asyncio.sleep(hub.next_flush - loop.time() + 0.05)
    assert hub.handouts == 2
    merged = subscriber.frames[1]
    assert (merged.first, merged.last, merged.ts) == (2, 3, 12)
    assert merged.body == '{"seq":2},{"seq":3}'


@pytest.mark.asyncio
async def test_linger_zero_hands_out_every_frame_at_once(settings):
    settings.MARKETDATA_FANOUT_LINGER_MS = 0
    hub = MarketHub("BTC-USD", layer=None)
    subscriber = SlowSubscriber(0.01)
    hub.subscribers.add(subscriber)
    for seq in (1, 2, 3):
        hub.deliver(Frame(seq, seq, seq, "{}"))
    assert [f.last for f in subscriber.frames] == [1, 2, 3]
    assert hub.handouts == 3


class ControlSubscriber:
    def __init__(self) -> None:
        self.controls: list[str] = []

    def deliver(self, frame: Frame) -> bool:
        return False

    def control_send(self, text: str) -> None:
        self.controls.append(text)


@pytest.mark.asyncio
async def test_a_snapshot_read_while_a_control_message_arrives_is_not_cached(
    monkeypatch,
):
    # Given a hub whose snapshot read is under way (the database is slow)
    reads: list[int] = []
    release = asyncio.Event()

    async def slow_read(*, symbol):
        reads.append(len(reads))
        if len(reads) == 1:
            await release.wait()
        return {"seq": 7, "indicative": None if len(reads) == 1 else "new"}

    monkeypatch.setattr(
        hub_module, "database_sync_to_async", lambda function: slow_read
    )
    hub = MarketHub("BTC-USD", layer=None)
    subscriber = ControlSubscriber()
    hub.subscribers.add(subscriber)
    first = asyncio.ensure_future(hub.snapshot())
    await asyncio.sleep(0)
    # When a phase or indicative message arrives before that read returns
    hub.control('{"type":"indicative","symbol":"BTC-USD","price":null}')
    release.set()
    old, _ = await first
    # Then every subscriber was handed it as it came, the read's (perhaps
    # older) result is not kept, and the next snapshot is read afresh
    assert subscriber.controls == [
        '{"type":"indicative","symbol":"BTC-USD","price":null}'
    ]
    assert json.loads(old.text)["indicative"] is None
    new, _ = await hub.snapshot()
    assert json.loads(new.text)["indicative"] == "new"
    assert len(reads) == 2
    # and a read with nothing arriving meanwhile is cached as before
    again, _ = await hub.snapshot()
    assert again is new and len(reads) == 2
