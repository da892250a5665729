"""WebSocket streams through the real ASGI application (auth middleware, origin
check, routing), on the in-memory layer by default and on channels-redis when
REDIS_URL is set (CI)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.authentication import TOKEN_VERSION_CLAIM
from accounts.models import User
from config.asgi import application
from marketdata.tests.helpers import BookClient, make_market, place
from trading.services import order_cancel

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 5


def access_token(user, *, lifetime: timedelta | None = None) -> str:
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    access = refresh.access_token
    if lifetime is not None:
        access.set_exp(lifetime=lifetime)
    return str(access)


token_for = database_sync_to_async(access_token)


def stream_ticket(user) -> str:
    """A single-use /ws/user/ ticket, as POST /api/v1/stream-tickets gives one."""
    from accounts.services import stream_ticket_issue

    return stream_ticket_issue(user=user, sign_in=None).ticket


ticket_for = database_sync_to_async(stream_ticket)


def rest_depth(limit: int = 100) -> dict:
    return APIClient().get(f"/api/v1/markets/BTC-USD/depth?limit={limit}").json()


async def receive(comm, timeout: float = TIMEOUT) -> dict:
    return json.loads(await comm.receive_from(timeout=timeout))


async def follow(comm, client: BookClient, until_seq: int, *, drop=None) -> None:
    """Feed server messages to the reference client until it reached `until_seq`;
    `drop(message)` True skips a message on purpose (a lost delivery)."""
    while client.seq is None or client.seq < until_seq or client.resyncing:
        message = await receive(comm)
        if drop is not None and drop(message):
            continue
        reply = client.on_message(message)
        if reply is not None:
            await comm.send_json_to(reply)


@pytest.fixture
def market(transactional_db):
    instrument, buyer, seller = make_market()
    place(seller, "sell", "101", "0.5")
    place(buyer, "buy", "99", "1")
    return instrument, buyer, seller


async def connect_market(symbol: str = "BTC-USD") -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, f"/ws/market/{symbol}/")
    connected, _ = await comm.connect()
    assert connected
    return comm


# --- /ws/market/ ------------------------------------------------------------------


async def test_snapshot_then_deltas_in_strict_sequence(market):
    _, buyer, seller = market
    comm = await connect_market()
    snapshot = await receive(comm)
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 2
    assert snapshot["bids"] == [["99.00", "1.00000000"]]
    assert snapshot["asks"] == [["101.00", "0.50000000"]]
    assert snapshot["ticker"]["sequence"] == 2

    await database_sync_to_async(place)(seller, "sell", "103", "0.1")
    await database_sync_to_async(place)(buyer, "buy", "101", "0.2")  # trade
    seen: list[dict] = []
    while not seen or seen[-1]["seq"] < 5:
        frame = await receive(comm)
        assert frame["type"] == "batch" and frame["ts"] > 0
        seen += [m for m in frame["messages"] if m["type"] in ("level", "trade")]
        kinds = [m["type"] for m in frame["messages"]]
        if "trade" in kinds:  # ticker then the 7 candles close the batch
            assert kinds[-8:] == ["ticker"] + ["candle"] * 7
            assert {m["seq"] for m in frame["messages"][-8:]} == {frame["seq"]}
    assert [m["seq"] for m in seen] == [3, 4, 5]
    assert [m["type"] for m in seen] == ["level", "trade", "level"]
    assert seen[1]["price"] == "101.00" and seen[1]["taker_side"] == "buy"
    assert seen[2] == {
        "type": "level",
        "seq": 5,
        "side": "sell",
        "price": "101.00",
        "quantity": "0.30000000",
    }
    await comm.disconnect()


async def test_a_dropped_message_is_detected_and_healed_by_a_snapshot(market):
    _, buyer, seller = market
    comm = await connect_market()
    client = BookClient()
    await follow(comm, client, until_seq=2)
    dropped = []

    def drop_seq_4(message):  # once: the stream is lossy, not hostile
        if (
            not dropped
            and message["type"] == "batch"
            and any(m.get("seq") == 4 for m in message["messages"])
        ):
            dropped.append(message)
            return True
        return False

    await database_sync_to_async(place)(seller, "sell", "104", "0.1")  # seq 3
    await database_sync_to_async(place)(seller, "sell", "105", "0.1")  # seq 4
    while not dropped:  # until the batch with seq 4 is lost (seq 3 may go with it)
        message = await receive(comm)
        if not drop_seq_4(message):
            client.on_message(message)
    # Placed only now, so it cannot travel in the lost batch: its arrival shows the gap.
    await database_sync_to_async(place)(buyer, "buy", "98", "0.1")  # seq 5
    await follow(comm, client, until_seq=5)
    assert dropped and client.gaps == 1 and client.snapshots == 2
    depth = await database_sync_to_async(rest_depth)()
    assert client.seq == depth["sequence"] == 5
    assert client.depth() == (depth["bids"], depth["asks"])
    await comm.disconnect()


async def test_snapshot_on_request_ping_and_bad_messages(market):
    comm = await connect_market("btc-usd")
    assert (await receive(comm))["type"] == "snapshot"
    await comm.send_to(text_data="not json")
    assert (await receive(comm))["code"] == "invalid_json"
    await comm.send_json_to({"op": "subscribe"})
    assert (await receive(comm))["code"] == "invalid_op"
    await comm.send_json_to(["snapshot"])
    assert (await receive(comm))["code"] == "invalid_op"
    await comm.send_to(bytes_data=b"\x00")
    assert (await receive(comm))["code"] == "invalid_message"
    await comm.send_json_to({"op": "ping"})
    assert await receive(comm) == {"type": "pong"}
    await comm.send_json_to({"op": "snapshot"})
    snapshot = await receive(comm)
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 2
    await comm.disconnect()


async def test_after_a_cached_snapshot_what_was_sent_goes_again_in_its_own_frame(
    market, monkeypatch
):
    """A snapshot older than what the client has is followed by the changes above
    it that the client was already sent, in a frame of their own: the next
    frame's ts is then that of the oldest change new to the client."""
    from marketdata import hub

    monkeypatch.setattr(hub, "SNAPSHOT_CACHE_SECONDS", 600)  # keep the seq-2 one
    _, buyer, seller = market
    comm = await connect_market()
    client = BookClient()
    await follow(comm, client, until_seq=2)
    await database_sync_to_async(place)(seller, "sell", "104", "0.1")  # seq 3
    await database_sync_to_async(place)(seller, "sell", "105", "0.1")  # seq 4
    await follow(comm, client, until_seq=4)

    cached_snapshot = hub.MarketHub.snapshot

    async def snapshot_while_the_book_moves(self):
        # seq 5 reaches the hub while the client waits for its snapshot
        await database_sync_to_async(place)(buyer, "buy", "98", "0.1")
        while self.last_seq < 5:
            await asyncio.sleep(0.01)
        return await cached_snapshot(self)

    monkeypatch.setattr(hub.MarketHub, "snapshot", snapshot_while_the_book_moves)
    await comm.send_json_to({"op": "snapshot"})
    snapshot = await receive(comm)
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 2
    replay = await receive(comm)
    assert replay["type"] == "batch" and replay["seq"] == 4
    assert [m["seq"] for m in replay["messages"]] == [3, 4]
    client.on_message(snapshot)
    client.on_message(replay)
    fresh = await receive(comm)
    assert fresh["type"] == "batch" and fresh["seq"] == 5
    assert [m["seq"] for m in fresh["messages"]] == [5]
    assert fresh["ts"] > replay["ts"]
    client.on_message(fresh)
    depth = await database_sync_to_async(rest_depth)()
    assert client.gaps == 0 and client.seq == depth["sequence"] == 5
    assert client.depth() == (depth["bids"], depth["asks"])
    await comm.disconnect()


async def test_the_public_market_stream_carries_no_session(market):
    """The session middleware wraps every frame sent: only /ws/user/ has it."""
    from marketdata import hub

    comm = await connect_market()
    assert (await receive(comm))["type"] == "snapshot"
    (subscriber,) = hub._HUBS[asyncio.get_running_loop()]["BTC-USD"].subscribers
    assert "session" not in subscriber.scope and "user" not in subscriber.scope
    await comm.disconnect()


async def test_unknown_symbol_closes_4404(market):
    comm = await connect_market("NOPE-USD")
    assert (await receive(comm))["code"] == "unknown_symbol"
    assert (await comm.receive_output(TIMEOUT))["code"] == 4404


async def test_cross_site_browser_origin_is_refused(market):
    comm = WebsocketCommunicator(
        application, "/ws/market/BTC-USD/", headers=[(b"origin", b"https://evil.test")]
    )
    connected, _ = await comm.connect()
    assert not connected


async def test_streamed_book_equals_rest_depth_after_random_flow(market):
    import random

    _, buyer, seller = market
    rng = random.Random(20250131)
    comm = await connect_market()
    client = BookClient()
    await follow(comm, client, until_seq=2)

    def flow() -> None:
        open_orders: list[tuple[User, int]] = []  # (owner, order id)
        for _ in range(60):
            user, side = rng.choice([(buyer, "buy"), (seller, "sell")])
            if open_orders and rng.random() < 0.2:
                owner, order_id = open_orders.pop(rng.randrange(len(open_orders)))
                try:
                    order_cancel(user=owner, order_id=order_id)
                except Exception:  # already filled: fine
                    pass
                continue
            price = str(rng.randint(95, 105))
            quantity = f"{rng.randint(1, 30) / 100:.2f}"
            order = place(user, side, price, quantity)
            open_orders.append((user, order.pk))

    await database_sync_to_async(flow)()
    depth = await database_sync_to_async(rest_depth)()
    await follow(comm, client, until_seq=depth["sequence"])
    assert client.seq == depth["sequence"]
    assert client.gaps == 0
    assert client.depth() == (depth["bids"], depth["asks"])
    await comm.disconnect()


# --- /ws/user/ --------------------------------------------------------------------


async def connect_user(query: str = "", headers=None) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, f"/ws/user/{query}", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    return comm


async def receive_events(comm, count: int, *, notifications=False) -> list[dict]:
    """The next `count` order, fill and balance events (notifications, which
    share the stream, are skipped unless asked for: notifications/tests cover
    them)."""
    events: list[dict] = []
    while len(events) < count:
        message = await receive(comm)
        if "event_id" not in message:
            continue
        if notifications or message["type"] != "notification":
            events.append(message)
    return events


async def test_jwt_user_gets_own_events_only(market):
    instrument, buyer, seller = market
    buyer_comm = await connect_user(f"?ticket={await ticket_for(buyer)}")
    seller_comm = await connect_user(f"?ticket={await ticket_for(seller)}")
    assert await receive(buyer_comm) == {"type": "auth", "ok": True}
    assert await receive(seller_comm) == {"type": "auth", "ok": True}

    order = await database_sync_to_async(place)(buyer, "buy", "97", "0.1")
    # hold placed (balance), then the matcher opened the order (order)
    balance, opened = await receive_events(buyer_comm, 2)
    assert balance["type"] == "balance" and balance["asset"] == "USD"
    assert balance["held"] == "108.70"  # 99.00 + 9.70 held
    assert opened["type"] == "order" and opened["order"]["id"] == order.pk
    assert opened["order"]["status"] == "open"
    assert opened["event_id"] > balance["event_id"]
    assert await seller_comm.receive_nothing(timeout=0.3)

    await database_sync_to_async(place)(seller, "sell", "99", "0.4")  # fills 0.4
    events = await receive_events(seller_comm, 5)
    kinds = sorted(event["type"] for event in events)
    assert kinds == ["balance", "balance", "balance", "fill", "order"]
    fill = next(event["fill"] for event in events if event["type"] == "fill")
    assert (fill["price"], fill["quantity"], fill["liquidity"]) == (
        "99.00",
        "0.40000000",
        "taker",
    )
    ids = [event["event_id"] for event in events]
    assert ids == sorted(ids)
    buyer_events = await receive_events(buyer_comm, 4)  # 2 balances, order, fill
    assert {e["type"] for e in buyer_events} == {"balance", "order", "fill"}
    assert all(e.get("fill", {}).get("side", "buy") == "buy" for e in buyer_events)
    await buyer_comm.disconnect()
    await seller_comm.disconnect()


@pytest.mark.parametrize(
    "ticket", ["expired", "garbage", "used", "revoked"], ids=lambda t: t
)
async def test_bad_tickets_close_4401(market, ticket, settings):
    _, buyer, _ = market
    if ticket == "expired":
        settings.STREAM_TICKET_SECONDS = 1
        value = await ticket_for(buyer)
        await asyncio.sleep(1.2)
    elif ticket == "used":
        value = await ticket_for(buyer)
        first = await connect_user(f"?ticket={value}")
        assert await receive(first) == {"type": "auth", "ok": True}
        await first.disconnect()
    elif ticket == "revoked":
        value = await ticket_for(buyer)
        buyer.token_version += 1
        await database_sync_to_async(buyer.save)(update_fields=["token_version"])
    else:
        value = "not-a-ticket-but-long-enough-to-be-looked-up"
    comm = await connect_user(f"?ticket={value}")
    assert (await receive(comm))["code"] == "unauthenticated"
    assert (await comm.receive_output(TIMEOUT))["code"] == 4401


async def test_an_access_token_is_refused(market):
    _, buyer, _ = market
    comm = await connect_user(f"?token={await token_for(buyer)}")
    assert (await receive(comm))["code"] == "token_not_accepted"
    assert (await comm.receive_output(TIMEOUT))["code"] == 4401
    quiet = await connect_user()
    await quiet.send_json_to({"op": "auth", "token": await token_for(buyer)})
    assert (await receive(quiet))["code"] == "token_not_accepted"
    await quiet.disconnect()


async def test_first_message_auth_and_anonymous_deadline(market, monkeypatch):
    _, buyer, _ = market
    comm = await connect_user()
    await comm.send_json_to({"op": "auth", "ticket": await ticket_for(buyer)})
    assert await receive(comm) == {"type": "auth", "ok": True}
    await comm.send_json_to({"op": "ping"})
    assert await receive(comm) == {"type": "pong"}
    await comm.send_to(text_data="{")
    assert (await receive(comm))["code"] == "invalid_json"
    await comm.disconnect()

    monkeypatch.setattr("marketdata.consumers.AUTH_TIMEOUT_SECONDS", 0.1)
    anonymous = await connect_user()
    assert (await anonymous.receive_output(TIMEOUT))["code"] == 4401


async def test_session_cookie_authenticates_a_browser(market):
    _, buyer, _ = market

    def login() -> str:
        browser = Client()
        browser.force_login(buyer, backend="accounts.backends.EmailBackend")
        return browser.cookies["sessionid"].value

    session = await database_sync_to_async(login)()
    comm = await connect_user(
        headers=[
            (b"cookie", f"sessionid={session}".encode()),
            (b"origin", b"http://testserver"),
        ]
    )
    assert await receive(comm) == {"type": "auth", "ok": True}
    await database_sync_to_async(place)(buyer, "buy", "90", "0.1")
    (balance, order) = await receive_events(comm, 2)
    assert (balance["type"], order["type"]) == ("balance", "order")
    await comm.disconnect()


async def test_replay_since_id_fills_a_disconnect(market):
    _, buyer, seller = market
    token = await token_for(buyer)
    comm = await connect_user(f"?ticket={await ticket_for(buyer)}")
    await receive(comm)
    await database_sync_to_async(place)(buyer, "buy", "95", "0.1")
    first = await receive_events(comm, 2)
    last_seen = first[-1]["event_id"]
    await comm.disconnect()

    # While disconnected: a fill and an order of the buyer's.
    await database_sync_to_async(place)(seller, "sell", "99", "0.2")
    await database_sync_to_async(place)(buyer, "buy", "96", "0.1")

    def missed_over_rest() -> list[dict]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.get(f"/api/v1/events?since_id={last_seen}").json()["results"]

    missed = await database_sync_to_async(missed_over_rest)()
    # the fill's notification is on the stream too, and replayed with the rest
    assert {e["type"] for e in missed} == {"balance", "order", "fill", "notification"}

    again = await connect_user(
        f"?ticket={await ticket_for(buyer)}&since_id={last_seen}"
    )
    replayed = await receive_events(again, len(missed), notifications=True)
    assert replayed == missed
    assert await receive(again) == {"type": "auth", "ok": True}
    # and it continues live, with nothing twice
    await database_sync_to_async(place)(buyer, "buy", "94", "0.1")
    live = await receive_events(again, 2)
    assert live[0]["event_id"] > missed[-1]["event_id"]
    await again.disconnect()
