"""channels-redis's channel layer with a receive that always ends when cancelled.

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
"""

from __future__ import annotations

import asyncio

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer

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


class RedisChannelLayer(_RedisChannelLayer):
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
