"""A halt and a resume reach the market stream's watchers live (a `status`
message, no sequence), and the snapshot names the status, so a client that
connects (or resyncs) after the change knows it too."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from marketdata.tests.test_consumers import connect_market, market, receive  # noqa: F401
from trading.models import Instrument
from trading.services import instrument_set_status

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def set_status(status: str, reason: str = "") -> None:
    instrument_set_status(
        instrument=Instrument.objects.get(symbol="BTC-USD"),
        status=status,
        reason=reason,
    )


async def next_of_type(comm, kind: str) -> dict:
    while (message := await receive(comm))["type"] != kind:
        pass
    return message


async def test_halt_and_resume_arrive_live_and_in_the_snapshot(market):  # noqa: F811
    comm = await connect_market()
    snapshot = await receive(comm)
    assert (snapshot["status"], snapshot["status_reason"]) == ("trading", "")
    seq = snapshot["seq"]

    await database_sync_to_async(set_status)("halted", "Exchange maintenance")
    halted = await next_of_type(comm, "status")
    assert halted.pop("time").endswith("Z")
    assert halted == {
        "type": "status",
        "symbol": "BTC-USD",
        "status": "halted",
        "previous": "trading",
        "reason": "Exchange maintenance",
    }
    # a client connecting now is told by its snapshot; the book did not move
    late = await connect_market()
    late_snapshot = await receive(late)
    assert (late_snapshot["status"], late_snapshot["seq"]) == ("halted", seq)
    assert late_snapshot["status_reason"] == "Exchange maintenance"

    await database_sync_to_async(set_status)("trading")
    for watcher in (comm, late):
        resumed = await next_of_type(watcher, "status")
        assert (resumed["status"], resumed["previous"], resumed["reason"]) == (
            "trading",
            "halted",
            "",
        )
    # setting the status it already has says nothing: the next message is a pong
    await database_sync_to_async(set_status)("trading")
    await comm.send_json_to({"op": "ping"})
    assert await receive(comm) == {"type": "pong"}
    for watcher in (comm, late):
        await watcher.disconnect()
