"""config.threads.ReusedRequestThreads: each request's sync code on one thread of
its own, taken from a pool instead of started per request."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator

from config.threads import ReusedRequestThreads

# a GET /healthz as uvicorn hands it to the app
HEALTHZ_SCOPE = {
    "type": "http",
    "http_version": "1.1",
    "method": "GET",
    "path": "/healthz",
    "raw_path": b"/healthz",
    "query_string": b"",
    "root_path": "",
    "scheme": "http",
    "headers": [(b"host", b"testserver")],
    "client": ("127.0.0.1", 5000),
    "server": ("testserver", 80),
}


def _recording_app(seen: list[tuple[str, int]], *, hold: threading.Event | None = None):
    """An ASGI app that, like Django's views, runs sync code thread-sensitively:
    twice per request; a request to /slow waits for `hold` in between."""

    async def app(scope, receive, send):
        name = scope["path"]
        seen.append((name, await sync_to_async(threading.get_ident)()))
        if hold is not None and name == "/slow":
            await sync_to_async(hold.wait)(5)
        seen.append((name, await sync_to_async(threading.get_ident)()))

    return app


async def _empty_body():
    return {"type": "http.request", "body": b"", "more_body": False}


def _scope(path: str) -> dict:
    return {"type": "http", "path": path, "method": "GET", "headers": []}


@pytest.mark.asyncio
async def test_sequential_requests_reuse_one_thread_and_start_none():
    seen: list[tuple[str, int]] = []
    app = ReusedRequestThreads(_recording_app(seen))
    await app(_scope("/a"), None, None)
    threads_after_first = threading.active_count()
    for path in ("/b", "/c", "/d"):
        await app(_scope(path), None, None)
    idents = {ident for _, ident in seen}
    assert len(idents) == 1
    assert threading.get_ident() not in idents  # never on the event loop
    assert threading.active_count() == threads_after_first
    assert len(app.idle) == 1


@pytest.mark.asyncio
async def test_concurrent_requests_run_side_by_side_each_on_its_own_thread():
    """Request /slow waits in its sync code until /fast has run its own: if the
    two shared a thread, /fast would queue behind /slow and time out."""
    seen: list[tuple[str, int]] = []
    release = threading.Event()
    app = ReusedRequestThreads(_recording_app(seen, hold=release))
    slow = asyncio.ensure_future(app(_scope("/slow"), None, None))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(app(_scope("/fast"), None, None), 2)
    release.set()
    await asyncio.wait_for(slow, 5)
    by_path: dict[str, set[int]] = {}
    for path, ident in seen:
        by_path.setdefault(path, set()).add(ident)
    assert len(by_path["/slow"]) == 1  # one thread for the whole request
    assert len(by_path["/fast"]) == 1
    assert by_path["/slow"] != by_path["/fast"]
    assert len(app.idle) == 2  # both threads kept for the next requests


@pytest.mark.asyncio
async def test_at_most_keep_idle_threads_are_kept():
    release = threading.Event()
    app = ReusedRequestThreads(_recording_app([], hold=release), keep=1)
    running = [
        asyncio.ensure_future(app(_scope("/slow"), None, None)) for _ in range(3)
    ]
    await asyncio.sleep(0.1)
    release.set()
    await asyncio.wait_for(asyncio.gather(*running), 5)
    assert len(app.idle) == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_django_requests_through_the_pool_share_a_reused_thread():
    """Django's handler opens its own ThreadSensitiveContext inside: it must find
    the pool's and keep the whole request (middleware, view) on that thread."""
    from django.core.asgi import get_asgi_application

    from config.middleware import SyncMiddlewareChain

    chain_threads: list[int] = []
    original = SyncMiddlewareChain.__call__

    def spy(self, request):
        chain_threads.append(threading.get_ident())
        return original(self, request)

    app = ReusedRequestThreads(get_asgi_application())
    from unittest import mock

    with mock.patch.object(SyncMiddlewareChain, "__call__", spy):
        for _ in range(3):
            communicator = ApplicationCommunicator(
                app,
                dict(HEALTHZ_SCOPE),
            )
            await communicator.send_input({"type": "http.request", "body": b""})
            start = await communicator.receive_output(5)
            assert start["type"] == "http.response.start"
            assert start["status"] == 200
            await communicator.receive_output(5)  # the body
            await communicator.wait(5)
    assert len(chain_threads) == 3
    assert len(set(chain_threads)) == 1
    assert len(app.idle) == 1


def _responding_app(events: list[str], *, stall_body: asyncio.Event | None = None):
    """Reads the whole body, then responds; /download waits on `stall_body`
    between the response's start and its body (a slow client reading it)."""

    async def app(scope, receive, send):
        path = scope["path"]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await sync_to_async(events.append)(f"{path} ran ({len(body)} bytes)")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if stall_body is not None and path == "/download":
            await stall_body.wait()
        await send({"type": "http.response.body", "body": body})

    return app


async def _request(
    app, path: str, chunks: list[bytes], *, stall: asyncio.Event | None = None
):
    """Drive `app` with a request whose body comes in `chunks`; the last chunk
    waits for `stall` if given (a slow upload). Returns the response body."""
    incoming: asyncio.Queue = asyncio.Queue()
    for index, chunk in enumerate(chunks):
        more = index < len(chunks) - 1
        incoming.put_nowait({"type": "http.request", "body": chunk, "more_body": more})
    sent: list[dict] = []
    pending = list(chunks)

    async def receive():
        if stall is not None and incoming.qsize() == 1 and len(pending) > 1:
            await stall.wait()
        return await incoming.get()

    async def send(message):
        sent.append(message)

    await app({"type": "http", "path": path}, receive, send)
    return b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )


@pytest.mark.asyncio
async def test_limit_makes_requests_beyond_it_wait_for_a_place():
    events: list[str] = []
    release = threading.Event()
    app = ReusedRequestThreads(_recording_app([], hold=release), limit=1)
    first = asyncio.ensure_future(app(_scope("/slow"), _empty_body, None))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(app(_scope("/fast"), _empty_body, None))
    await asyncio.sleep(0.2)
    events.append(f"second done while first runs: {second.done()}")
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert events == ["second done while first runs: False"]
    assert len(app.idle) == 1  # one thread served both, one after the other


@pytest.mark.asyncio
async def test_a_slow_upload_does_not_hold_the_only_place():
    events: list[str] = []
    upload_stalled = asyncio.Event()
    app = ReusedRequestThreads(_responding_app(events), limit=1)
    upload = asyncio.ensure_future(
        _request(app, "/upload", [b"a" * 10, b"b" * 10], stall=upload_stalled)
    )
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(_request(app, "/other", [b"xyz"]), 2) == b"xyz"
    upload_stalled.set()
    assert await asyncio.wait_for(upload, 2) == b"a" * 10 + b"b" * 10
    assert events == ["/other ran (3 bytes)", "/upload ran (20 bytes)"]


@pytest.mark.asyncio
async def test_a_slow_download_gives_its_place_back_when_the_response_starts():
    events: list[str] = []
    reader_slow = asyncio.Event()
    app = ReusedRequestThreads(_responding_app(events, stall_body=reader_slow), limit=1)
    download = asyncio.ensure_future(_request(app, "/download", [b"data"]))
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(_request(app, "/other", [b"xyz"]), 2) == b"xyz"
    reader_slow.set()
    assert await asyncio.wait_for(download, 2) == b"data"
    assert app.slots._value == 1  # every place given back


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_view_runs_in_the_request_thread_without_a_trip_to_the_loop():
    """`SyncChainASGIHandler` (the production app's): the middleware and the
    view's resolution and call run on one thread, and nothing crosses back to
    the event loop (`async_to_sync`) in between. Django's own handler did so
    twice per request."""
    from asgiref.sync import AsyncToSync
    from django.core.handlers.base import BaseHandler

    from config.middleware import SyncMiddlewareChain
    from config.threads import sync_chain_asgi_application

    threads: list[tuple[str, int]] = []
    crossings: list[int] = []
    chain_call, core_call, to_sync_call = (
        SyncMiddlewareChain.__call__,
        BaseHandler._get_response,
        AsyncToSync.__call__,
    )

    def chain_spy(self, request):
        threads.append(("chain", threading.get_ident()))
        return chain_call(self, request)

    def core_spy(self, request):
        threads.append(("view", threading.get_ident()))
        return core_call(self, request)

    def to_sync_spy(self, *args, **kwargs):
        crossings.append(threading.get_ident())
        return to_sync_call(self, *args, **kwargs)

    from unittest import mock

    with (
        mock.patch.object(SyncMiddlewareChain, "__call__", chain_spy),
        mock.patch.object(BaseHandler, "_get_response", core_spy),
        mock.patch.object(AsyncToSync, "__call__", to_sync_spy),
    ):
        app = ReusedRequestThreads(sync_chain_asgi_application())
        communicator = ApplicationCommunicator(
            app,
            dict(HEALTHZ_SCOPE),
        )
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(5)
        await communicator.receive_output(5)
        await communicator.wait(5)
    assert start["status"] == 200
    assert [name for name, _ in threads] == ["chain", "view"]
    assert len({ident for _, ident in threads}) == 1
    assert threads[0][1] != threading.main_thread().ident
    assert crossings == []
