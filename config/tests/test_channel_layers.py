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


def _layer() -> RedisChannelLayer:
    import uuid

    return RedisChannelLayer(
        hosts=[{"address": "redis://127.0.0.1:6379/0"}],
        prefix=f"test-many-{uuid.uuid4().hex[:8]}",
    )


async def test_group_send_many_delivers_what_group_send_would_in_order():
    # given two consumers' channels of one process (one Redis queue for both),
    # one of another process, and the groups they are in
    layer = _layer()
    other_process = RedisChannelLayer(
        hosts=[{"address": "redis://127.0.0.1:6379/0"}], prefix=layer.prefix
    )
    alice, bob = await layer.new_channel(), await layer.new_channel()
    carol = await other_process.new_channel()
    await layer.group_add("user.1", alice)
    await layer.group_add("user.2", bob)
    await layer.group_add("market", alice)
    await layer.group_add("market", carol)
    try:
        # when several groups' messages, one group twice, go in one call
        # (and a group nobody is in)
        await layer.group_send_many(
            [
                ("user.1", {"type": "user.events", "n": 1}),
                ("market", {"type": "market.frame", "n": 2}),
                ("nobody", {"type": "user.events", "n": 3}),
                ("user.2", {"type": "user.events", "n": 4}),
                ("user.1", {"type": "user.events", "n": 5}),
            ]
        )

        async def drain(receiver, channel):
            got = []
            while True:
                try:
                    got.append(
                        (await asyncio.wait_for(receiver.receive(channel), 0.5))["n"]
                    )
                except TimeoutError:
                    return got

        # then each channel gets its groups' messages once, in the order given
        assert await drain(layer, alice) == [1, 2, 5]
        assert await drain(layer, bob) == [4]
        assert await drain(other_process, carol) == [2]
    finally:
        await layer.flush()
        await layer.close_pools()
        await other_process.close_pools()


async def test_group_send_many_respects_the_queues_capacity():
    layer = _layer()
    layer.capacity = 2
    channel = await layer.new_channel()
    await layer.group_add("user.9", channel)
    try:
        await layer.group_send_many(
            [("user.9", {"type": "user.events", "n": n}) for n in range(4)]
        )
        got = [(await layer.receive(channel))["n"] for _ in range(2)]
        assert got == [0, 1]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(channel), 0.5)
    finally:
        await layer.flush()
        await layer.close_pools()
