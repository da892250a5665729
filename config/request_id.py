"""X-Request-ID: one id per request, accepted or made, returned, and logged.

A client (or a proxy of ours) may send `X-Request-ID`: it is kept when it is 1 to
128 characters of letters, digits and `.`, `_`, `:`, `-`; anything else is
replaced by a new id (32 hex digits). Every response carries the id in
`X-Request-ID` (pages, the API, the edge's own errors), every log line written
while serving it carries it as `request_id` (config/logging.py), the Celery tasks
it sends carry it in their headers (config/celery.py), and the user stream events
it causes carry it (marketdata). docs/observability.md.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.log import log_response
from structlog.contextvars import bind_contextvars, clear_contextvars

from config.logging import current_request, work_scope

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
_ASGI_HEADER = b"x-request-id"
MAX_LENGTH = 128
_VALID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_LENGTH}}}")


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_accept(value: str | bytes | None) -> str | None:
    """The client's id if it is well formed, else None."""
    if not value:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    return value if _VALID.fullmatch(value) else None


class RequestIdMiddleware:
    """Outermost Django middleware: the request's id on `request.request_id`, in
    the log context while it is served, and on the response. Django's line for
    a 4xx or 5xx response is written here, so it carries the ids too (Django
    writes it after the middleware otherwise). What the request's code bound to
    the log context (order_id, ...) is cleared after it: threads are reused."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_accept(request.META.get(META_KEY)) or request_id_new()
        request.request_id = request_id  # type: ignore[attr-defined]
        clear_contextvars()
        bind_contextvars(request_id=request_id)
        request_token = current_request.set(request)
        scope_token = work_scope.set(True)
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            if response.status_code >= 400:  # once: it marks the response logged
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
        finally:
            work_scope.reset(scope_token)
            current_request.reset(request_token)
            clear_contextvars()
        return response


class ASGIRequestId:
    """ASGI middleware, outermost: the same id for what answers before Django
    (the body limit's 413) and for WebSocket connections. The id it settles on
    replaces the client's header in the scope, so Django's middleware keeps it;
    a response that has no `X-Request-ID` gets it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        given = next((v for k, v in headers if k == _ASGI_HEADER), None)
        request_id = request_id_accept(given) or request_id_new()
        scope = dict(scope)
        scope["headers"] = [
            *(pair for pair in headers if pair[0] != _ASGI_HEADER),
            (_ASGI_HEADER, request_id.encode("ascii")),
        ]
        scope["request_id"] = request_id
        if scope["type"] == "websocket":
            # the connection's task: its log lines carry the id
            bind_contextvars(request_id=request_id)
            await self.app(scope, receive, send)
            return

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                response_headers = list(message.get("headers") or [])
                if not any(k.lower() == _ASGI_HEADER for k, _ in response_headers):
                    response_headers.append((_ASGI_HEADER, request_id.encode()))
                    message = {**message, "headers": response_headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
