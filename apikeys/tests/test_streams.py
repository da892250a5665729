"""A stream opened with a key's ticket is bound to the key: revoking the key
closes it (real WebSockets through the whole ASGI application)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.testing import make_user
from accounts.tests.test_sessions_streams import (
    TIMEOUT,
    assert_revoked,
    receive,
    stays_open,
)
from apikeys import services
from apikeys.tests.conftest import SignedClient, make_key
from config.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def signed_ticket(client: SignedClient) -> str:
    response = client.post("/api/v1/stream-tickets")
    assert response.status_code == 201, response.content
    return response.json()["ticket"]


async def open_stream(ticket: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, f"/ws/user/?ticket={ticket}")
    assert (await comm.connect())[0]
    assert await receive(comm) == {"type": "auth", "ok": True}
    return comm


@pytest.fixture
def owner_keys():
    owner = make_user(email="bot-owner@example.com")
    return owner, [SignedClient(*make_key(owner)) for _ in range(2)]


async def test_revoking_the_key_closes_its_stream_only(owner_keys):
    owner, (first, second) = owner_keys
    revoked = await open_stream(await database_sync_to_async(signed_ticket)(first))
    kept = await open_stream(await database_sync_to_async(signed_ticket)(second))
    await database_sync_to_async(services.api_key_revoke)(key=first.key, user=owner)
    await assert_revoked(revoked)
    # (stays_open ends the communicator once it has waited)
    assert await stays_open(kept)


async def test_a_ticket_of_a_key_revoked_before_use_opens_nothing(owner_keys):
    owner, (client, _) = owner_keys
    ticket = await database_sync_to_async(signed_ticket)(client)
    await database_sync_to_async(services.api_key_revoke)(key=client.key, user=owner)
    comm = WebsocketCommunicator(application, f"/ws/user/?ticket={ticket}")
    await comm.connect()
    assert (await receive(comm))["code"] == "unauthenticated"
    assert (await comm.receive_output(TIMEOUT))["code"] == 4401
