"""WebSocket metrics through the real ASGI application: open connections per
stream, and the send lag of the frames and user events a placement causes."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from prometheus_client import REGISTRY

from accounts.services import stream_ticket_issue
from config.asgi import application
from marketdata.tests.helpers import make_market, place

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 5


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def market(transactional_db):
    return make_market()


async def receive(comm) -> dict:
    return json.loads(await comm.receive_from(timeout=TIMEOUT))


async def test_connections_and_send_lag_per_stream(market):
    _, buyer, _ = market
    users = value("exchange_websocket_connections", stream="user")
    markets = value("exchange_websocket_connections", stream="market")
    user_lag = value("exchange_websocket_send_lag_seconds_count", stream="user")
    market_lag = value("exchange_websocket_send_lag_seconds_count", stream="market")

    ticket = await database_sync_to_async(
        lambda: stream_ticket_issue(user=buyer, sign_in=None).ticket
    )()
    user_stream = WebsocketCommunicator(application, f"/ws/user/?ticket={ticket}")
    market_stream = WebsocketCommunicator(application, "/ws/market/BTC-USD/")
    assert (await user_stream.connect())[0]
    assert (await market_stream.connect())[0]
    assert await receive(user_stream) == {"type": "auth", "ok": True}
    assert (await receive(market_stream))["type"] == "snapshot"
    assert value("exchange_websocket_connections", stream="user") == users + 1
    assert value("exchange_websocket_connections", stream="market") == markets + 1

    await database_sync_to_async(place)(buyer, "buy", "97", "0.1")
    assert "event_id" in await receive(user_stream)  # the hold's balance event
    assert (await receive(market_stream))["type"] == "batch"

    assert value("exchange_websocket_send_lag_seconds_count", stream="user") > user_lag
    assert (
        value("exchange_websocket_send_lag_seconds_count", stream="market") > market_lag
    )
    await user_stream.disconnect()
    await market_stream.disconnect()
    assert value("exchange_websocket_connections", stream="user") == users
    assert value("exchange_websocket_connections", stream="market") == markets
