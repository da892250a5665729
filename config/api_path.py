"""The lean /api/ path: API requests without a session cookie skip the page-only
middleware (docs/api-edges.md, "The API path").

MIDDLEWARE keeps every middleware in its one list (Django's and the packages'
system checks look for them there); two markers bracket the page-only block:

    APIPathMiddleware  ->  WhiteNoise, sessions, CSRF, auth, OTP, sign-in, consent,
                           time zone, messages, axes  ->  PageMiddlewareEnd

`APIPathMiddleware` sends a lean request straight to what follows
`PageMiddlewareEnd`; every other request walks the block as before. A request is
lean when its path is under /api/ and it carries no session cookie: it
authenticates with a Bearer token or an API key, or not at all, and nothing in the
block serves it (DRF's SessionAuthentication finds no session user and steps
aside, as it would with an empty session). A request with the session cookie (the
pages' JavaScript) takes the whole block: DRF needs `request.session` and the
session's user, and enforces CSRF itself.

What stays on every request sits outside the block: the request id, the body
limit and error shape, metrics, the client address, the security headers (HSTS,
nosniff, CSP, X-Frame-Options) and the login lockout. Of CommonMiddleware a lean
request keeps the `Content-Length` header; the API has no slash redirects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from config.errors import is_api_path

Handler = Callable[[HttpRequest], HttpResponse]

# The chain after the block, left by the PageMiddlewareEnd built last in this
# thread: Django builds a chain from the innermost middleware out, in one
# thread, so the end is built just before the APIPathMiddleware of the same
# chain, which takes it.
_built = threading.local()


def api_request_is_lean(request: HttpRequest) -> bool:
    """Under /api/ and without a session cookie: no page middleware needed."""
    return is_api_path(request.path) and (
        settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


class PageMiddlewareEnd:
    """Marks the end of the page-only block; passes every request on."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        _built.end = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class APIPathMiddleware:
    """Before the page-only block: a lean API request jumps past it."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Handler) -> None:
        after_pages = getattr(_built, "end", None)
        if after_pages is None:
            raise ImproperlyConfigured(
                "config.api_path.APIPathMiddleware needs "
                "config.api_path.PageMiddlewareEnd after it in MIDDLEWARE."
            )
        self.get_response = get_response
        self.after_pages: Handler = after_pages
        _built.end = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not api_request_is_lean(request):
            return self.get_response(request)
        response = self.after_pages(request)
        # CommonMiddleware's one job an API response still needs
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response
