"""channels-redis's channel layer with a receive that always ends when cancelled,
and a send to many groups in two round trips.

A consumer's receive is a blocking pop on Redis (BZPOPMIN), and the consumer
cancels it when its socket closes. redis-py can swallow that cancellation when
it lands at the wrong moment of a blocking command (redis/redis-py#2028 and
#2551 describe the family): channels-redis then pops again, and again, for
ever. The closed consumer never finishes (its task waits for the receive), one
Redis connection polls an abandoned channel every few seconds, and an event
loop shutting down waits on it without end. The test suite stalled on exactly
this (a stream test's teardown, `asyncio.Runner.close` gathering the cancelled
tasks, the receive task still "cancelling" inside a new BZPOPMIN).

Here the caller waits on the real receive through `asyncio.shield`: a cancelled
caller ends at once, and the real receive is cancelled again every second
until it has ended, so a swallowed cancellation costs at most one more pop.

`group_send_many` sends messages to many groups at once. channels-redis's
`group_send` costs four round trips per group (expire the group, read its
channels, expire their queues, the Lua script that queues the message); a
ledger batch or a matching run publishes to every user it moved, one group
each (200 in a batch of 1,000 transfers), and the publisher thread took the
GIL from the posting code for all of them. Here every group's channels are
read in one pipelined round trip and every message is queued by one script,
with the same keys, the same message per key (`__asgi_channel__`), the same
capacity check and expiry as `group_send`, and scores that keep the order in
which the messages were given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer

logger = logging.getLogger(__name__)

RECANCEL_SECONDS = 1.0


def cancel_until_done(task: asyncio.Task) -> None:
    """Cancel `task` now and again every RECANCEL_SECONDS while it runs."""
    if task.done():
        return
    task.cancel()
    loop = task.get_loop()

    def again() -> None:
        if not task.done():
            task.cancel()
            loop.call_later(RECANCEL_SECONDS, again)

    loop.call_later(RECANCEL_SECONDS, again)


# KEYS: the channel queues, one per message (a queue may repeat); ARGV: the
# messages, their queues' capacities, their scores, then the expiry and the
# score below which a queued message has expired.
_QUEUE_MANY = """
local n = #KEYS
local expiry = ARGV[3 * n + 1]
local stale = ARGV[3 * n + 2]
local over_capacity = 0
for i = 1, n do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, stale)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[n + i]) then
        redis.call('ZADD', KEYS[i], ARGV[2 * n + i], ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""

# consecutive scores a microsecond apart: distinct doubles at today's epoch
_SCORE_STEP = 1e-6


class RedisChannelLayer(_RedisChannelLayer):
    async def group_send_many(self, items: Sequence[tuple[str, dict]]) -> None:
        """`group_send` of each (group, message), in order, in two round trips
        (one Redis server; with several, one `group_send` each)."""
        if not items:
            return
        if self.ring_size != 1:
            for group, message in items:
                await self.group_send(group, message)
            return
        connection = self.connection(0)
        now = int(time.time())
        pipe = connection.pipeline(transaction=False)
        for group, _ in items:
            assert self.require_valid_group_name(group), "Group name not valid"
            key = self._group_key(group)
            pipe.zremrangebyscore(key, min=0, max=now - self.group_expiry)
            pipe.zrange(key, 0, -1)
        replies = await pipe.execute()
        keys: list[str] = []
        messages: list[bytes] = []
        capacities: list[int] = []
        for (_, message), members in zip(items, replies[1::2], strict=True):
            if not members:
                continue
            names = [member.decode("utf8") for member in members]
            by_connection, key_message, key_capacity = (
                self._map_channel_keys_to_connection(names, message)
            )
            for channel_keys in by_connection.values():
                for key in channel_keys:
                    keys.append(key)
                    messages.append(key_message[key])
                    capacities.append(key_capacity[key])
        if not keys:
            return
        base = time.time()
        scores = [base + index * _SCORE_STEP for index in range(len(keys))]
        over = await connection.eval(
            _QUEUE_MANY,
            len(keys),
            *keys,
            *messages,
            *capacities,
            *scores,
            self.expiry,
            now - int(self.expiry),
        )
        if over:
            logger.info("%s of %s channel queues over capacity", over, len(keys))

    async def receive(self, channel):
        inner = asyncio.ensure_future(super().receive(channel))
        try:
            return await asyncio.shield(inner)
        except asyncio.CancelledError:
            # what it still receives is dropped, as without the shield: the
            # caller's socket is closing
            inner.add_done_callback(_retrieve)
            cancel_until_done(inner)
            raise


def _retrieve(task: asyncio.Task) -> None:
    """An abandoned receive's outcome, read so asyncio does not log it."""
    if not task.cancelled():
        task.exception()
