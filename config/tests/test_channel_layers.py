"""A cancelled receive ends even when the Redis client swallows the cancellation
(config/channel_layers.py). The swallowing is simulated: the base layer's
receive catches the first CancelledError and pops again, as channels-redis does
when redis-py loses one during a blocking pop; a plain layer would wait for ever."""

from __future__ import annotations

import asyncio

import pytest
from channels_redis.core import RedisChannelLayer as BaseLayer

from config.channel_layers import RedisChannelLayer

pytestmark = pytest.mark.asyncio


def swallowing_receive(pops: list[int]):
    async def receive(self, channel):
        swallowed = False
        while True:
            pops.append(1)
            try:
                await asyncio.sleep(0.2)  # one blocking pop, nothing arrives
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed = True  # the lost cancellation: pop again

    return receive


async def test_a_cancelled_receive_ends_though_the_client_swallowed_it(monkeypatch):
    pops: list[int] = []
    monkeypatch.setattr(BaseLayer, "receive", swallowing_receive(pops))
    monkeypatch.setattr("config.channel_layers.RECANCEL_SECONDS", 0.1)
    layer = RedisChannelLayer(hosts=[{"address": "redis://127.0.0.1:6379/0"}])
    waiting = asyncio.ensure_future(layer.receive("specific.abc!def"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, timeout=1)  # the caller ends at once
    # the abandoned receive is cancelled again and ends within a second
    inner = [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task() and "receive" in repr(task.get_coro())
    ]
    assert len(inner) == 1
    done, _ = await asyncio.wait(inner, timeout=1)
    assert done == set(inner) and inner[0].cancelled()
    assert len(pops) == 2  # one pop more than the cancellation allowed


async def test_without_the_wrapper_the_same_receive_never_ends(monkeypatch):
    """The control: what the suite stalled on."""
    monkeypatch.setattr(BaseLayer, "receive", swallowing_receive([]))
    layer = BaseLayer(hosts=[{"address": "redis://127.0.0.1:6379/0"}])
    waiting = asyncio.ensure_future(layer.receive("specific.abc!def"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    done, _ = await asyncio.wait([waiting], timeout=0.6)
    assert done == set()  # still popping after its cancellation
    waiting.cancel()  # a second cancel ends it (the swallow is once only)
    with pytest.raises(asyncio.CancelledError):
        await waiting
