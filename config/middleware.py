"""Project middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SyncMiddlewareChain:
    """Innermost and sync-only on purpose: it makes Django run the whole middleware
    chain and the (sync) views in one worker thread per request under ASGI.

    Django adapts each middleware to its neighbour. With WhiteNoise (sync only) near
    the top and async-capable ones below it, every request hopped from a thread back
    to the event loop and then, for each MiddlewareMixin's process_request and
    process_response, into a thread again: measured under uvicorn, about half of a
    trivial API request's CPU time. WebSockets do not pass through here."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
