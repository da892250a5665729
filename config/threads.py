"""Request threads for the ASGI server: kept between requests, and few at a time.

Django's ASGI handler runs each request's sync code (middleware, views) in a thread
of its own (`ThreadSensitiveContext()`), started for the request, and starts a
second thread on the way out to shut the first down. `Thread.start()` waits, on the
event loop, until the new thread has run; while other threads keep the GIL busy
that is up to a switch interval (5 ms) each time, twice per request. Under load the
loop spent close to half its time there, and WebSocket frames (the user and market
streams) waited behind it for seconds.

And every request of a busy server ran at once, each thread getting a slice of one
GIL: a placement holding row locks (its user's accounts) kept them while it waited
for the GIL, and the matcher, which settles into those accounts, waited too.

`ReusedRequestThreads` gives each request the same kind of thread, one for the
whole request, from a pool (Django's own context then finds one set and leaves it
alone), and lets at most `limit` requests run their code at once per process; the
others wait on the event loop. A request takes its place once its body is read
and gives it back when its response starts, so neither a slow upload nor a slow
download holds one. Measured in docs/trading.md ("Speed").
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

# A body larger than this is not read ahead: its request takes its place first.
READ_AHEAD_BYTES = 1 << 20


class ReusedRequestThreads:
    """ASGI middleware for the HTTP app: a single-thread executor per request,
    taken from a pool and given back after, and at most `limit` requests (0: no
    limit) running at once. At most `keep` idle threads are kept."""

    def __init__(self, app, *, limit: int = 0, keep: int = 64) -> None:
        self.app = app
        self.keep = max(keep, limit)
        self.idle: list[ThreadPoolExecutor] = []
        self.slots = asyncio.Semaphore(limit) if limit > 0 else None

    async def __call__(self, scope, receive, send) -> None:
        if self.slots is None or scope["type"] != "http":
            await self._run(scope, receive, send)
            return
        receive = await _read_ahead(receive)
        slots = self.slots
        await slots.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                slots.release()

        async def send_releasing(message) -> None:
            # The response is made: what is left is sending it, at the
            # client's pace (a download, a streamed export), without a place.
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self._run(scope, receive, send_releasing)
        finally:
            release()

    async def _run(self, scope, receive, send) -> None:
        executor = (
            self.idle.pop()
            if self.idle
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        )
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            # Work the request left running (a client that went away mid-view)
            # finishes before the next request's, on the same thread.
            if len(self.idle) < self.keep:
                self.idle.append(executor)
            else:
                executor.shutdown(wait=False)


async def _read_ahead(receive):
    """Read the request body (up to READ_AHEAD_BYTES) before the request waits
    for its place; the app then gets the same messages, then the live ones."""
    buffered = []
    size = 0
    while True:
        message = await receive()
        buffered.append(message)
        size += len(message.get("body", b""))
        if (
            message["type"] != "http.request"
            or not message.get("more_body")
            or size > READ_AHEAD_BYTES
        ):
            break

    async def replay():
        return buffered.pop(0) if buffered else await receive()

    return replay


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler with its middleware chain built sync, view
    included, and entered once through `sync_to_async`: a request's code runs
    start to end in its request thread.

    Django's own handler puts the async `_get_response_async` at the core of
    the chain, so under a sync-only innermost middleware
    (`config.middleware.SyncMiddlewareChain`) each request left its thread
    through `async_to_sync` for the event loop, which resolved the URL and sent
    the view back to the thread through `sync_to_async`: two trips across
    threads per request, each waiting its turn on a loop busy with every other
    request and socket (py-spy of a loaded server: 58% of the request threads'
    samples under that `AsyncToSync`)."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        chain: Any = self._middleware_chain  # type: ignore[has-type]
        self._middleware_chain = sync_to_async(chain, thread_sensitive=True)


def sync_chain_asgi_application() -> SyncChainASGIHandler:
    """`django.core.asgi.get_asgi_application` with `SyncChainASGIHandler`."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
