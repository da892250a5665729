"""Project middleware."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from config.errors import (
    error_response,
    is_api_path,
    unavailable_response,
)
from config.ratelimit import usage_headers_write


class SyncMiddlewareChain:
    """Innermost and sync-only on purpose: it makes Django run the whole middleware
    chain and the (sync) views in one worker thread per request under ASGI.

    Django adapts each middleware to its neighbour. With WhiteNoise (sync only) near
    the top and async-capable ones below it, every request hopped from a thread back
    to the event loop and then, for each MiddlewareMixin's process_request and
    process_response, into a thread again: measured under uvicorn, about half of a
    trivial API request's CPU time. WebSockets do not pass through here.

    The production app's handler (`config.threads.SyncChainASGIHandler`) builds
    the chain sync to its core, so there this class only passes the request on;
    it still keeps Django's own async handlers (the test suite's AsyncClient) to
    one thread."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


# --- Request bodies: a limit per route, before anything reads the body ------------

# Routes that take uploads (a KYC document), by URL name: their limit is the
# largest document plus room for the multipart envelope and the form's fields.
UPLOAD_ROUTES = ("api-kyc-documents", "kyc:page")
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@functools.cache
def _upload_paths() -> frozenset[str]:
    return frozenset(reverse(name) for name in UPLOAD_ROUTES)


def body_limit_for(path: str) -> int:
    """The most bytes a request body to `path` may have."""
    if path in _upload_paths():
        return settings.KYC_MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES
    return settings.API_MAX_BODY_BYTES


def _too_large_message(limit: int) -> str:
    return f"The request body is larger than this route's limit of {limit} bytes."


def too_large_response(path: str, limit: int) -> HttpResponse:
    if is_api_path(path):
        return error_response(
            413, "payload_too_large", _too_large_message(limit), {"limit_bytes": limit}
        )
    return HttpResponse(
        f"<h1>Request body too large</h1><p>{_too_large_message(limit)}</p>",
        status=413,
    )


def _declared_length(value: str | bytes | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


class ASGIBodyLimit:
    """ASGI middleware, outermost for HTTP: refuses a body over its route's limit
    before it is read. Django's ASGI handler (and `config.threads`' read-ahead)
    read a whole body, spooling it to disk, before any Django middleware runs;
    this layer sits in front of both.

    A `Content-Length` over the limit is answered 413 at once, nothing read. A
    chunked body is counted as it arrives: once past the limit the app below is
    told the client went away (it stops reading and answers nothing) and this
    layer answers 413 and closes the connection, the rest left unread."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = body_limit_for(path)
        declared = _declared_length(
            next((v for k, v in scope["headers"] if k == b"content-length"), None)
        )
        if declared is not None and declared > limit:
            await _send_response(send, too_large_response(path, limit))
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, watching_send)
        if exceeded and not started:
            await _send_response(send, too_large_response(path, limit))


async def _send_response(send, response: HttpResponse) -> None:
    body = response.content
    headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in response.items()
        if name.lower() != "content-length"
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    # The rest of the body stays unread: the connection cannot be reused.
    headers.append((b"connection", b"close"))
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": headers,
        }
    )
    await send({"type": "http.response.body", "body": body})


class APIEdgeMiddleware:
    """Outermost Django middleware: the body limit (a declared `Content-Length`,
    under WSGI and the test client too) and one error shape under /api/.

    - a body over its route's limit: 413 `payload_too_large`, the body unread;
    - under /api/, an error response Django made rather than DRF (an unknown
      path, a 405 from a plain view, a 500 page) becomes the JSON error shape,
      whatever DEBUG says;
    - under /api/, the database or Redis unreachable in a view: 503
      `service_unavailable` with `Retry-After` (in a middleware: `handler500`,
      config/errors.py);
    - under /api/, the X-RateLimit-* headers of the usage the throttle kept on
      the request (config/ratelimit.py)."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit_for(request.path)
        declared = _declared_length(request.META.get("CONTENT_LENGTH"))
        if declared is not None and declared > limit:
            return too_large_response(request.path, limit)
        response = self.get_response(request)
        if not is_api_path(request.path):
            return response
        if response.status_code >= 400 and not response.get(
            "Content-Type", ""
        ).startswith("application/json"):
            response = _json_error_for(response)
        usage_headers_write(request, response)
        return response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        return unavailable_response(exception)


def _json_error_for(response: HttpResponse) -> HttpResponse:
    replacement = error_response(response.status_code)
    for header in ("Allow", "Retry-After", "Vary"):
        if header in response:
            replacement[header] = response[header]
    return replacement
