"""Content-Security-Policy: django-csp's middleware with the three cases its one
global policy cannot say.

- Responses that are not HTML (the API's JSON, CSV exports, KYC files) get
  `default-src 'none'; frame-ancestors 'none'`: nothing in them may load anything,
  and a file opened in the browser (an SVG, a PDF) runs no script.
- Pages may open the market and user WebSockets on their own host. 'self' covers
  ws:/wss: of the same host only in recent browsers (CSP 3), so the origin is named
  explicitly, from the request's validated host and scheme.
- The admin keeps `style="..."` attributes (its templates and the status colours its
  list columns format in Python); attributes cannot carry a nonce, so under /admin/
  only `style-src-attr` allows them. Scripts and `<style>` elements stay nonce-only.
- The API's Swagger UI (/api/docs/) loads its bundle from drf-spectacular's
  SWAGGER_UI_DIST. It is "SIDECAR" (drf-spectacular-sidecar: our own static files,
  under 'self'), so nothing is added; were it set to a CDN, that origin would be
  allowed there and nowhere else.
- The API's ReDoc page (/api/redoc/, bundle from our static files too) runs its
  search index in a web worker made from a blob: URL: `worker-src 'self' blob:`
  there and nowhere else. Its inserted <style> elements carry the page's nonce
  (templates/drf_spectacular/redoc.html hands it to ReDoc).

Settings: CONTENT_SECURITY_POLICY or CONTENT_SECURITY_POLICY_REPORT_ONLY
(config/settings/base.py, CSP_REPORT_ONLY and CSP_REPORT_URI).
"""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase
from django.urls import NoReverseMatch, reverse


@cache
def _path(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


# The one <style> ReDoc's bundle inserts as it loads, before it can be handed the
# nonce (perfect-scrollbar's CSS), by its hash, and the empty <style> it is while
# being inserted: on the ReDoc page only. Tied to the pinned
# drf-spectacular-sidecar; config/tests/test_csp.py's Chromium test fails if an
# update changes it.
REDOC_STYLE_HASHES = (
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty string
)


@cache
def _swagger_origin() -> str | None:
    from drf_spectacular.settings import spectacular_settings

    parts = urlsplit(str(spectacular_settings.SWAGGER_UI_DIST))
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None  # "SIDECAR" or a local path: served as static files, under 'self'


def _configured(report_only: bool) -> dict:
    name = (
        "CONTENT_SECURITY_POLICY_REPORT_ONLY"
        if report_only
        else "CONTENT_SECURITY_POLICY"
    )
    return getattr(settings, name, None) or {}


def _websocket_origin(request: HttpRequest) -> str | None:
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    return f"{'wss' if request.is_secure() else 'ws'}://{host}"


class CSPMiddleware(BaseCSPMiddleware):
    def get_policy_parts(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        report_only: bool = False,
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        policy = _configured(report_only)
        if not policy or parts.config is not None or parts.replace is not None:
            return parts  # this header is off, or a view's @csp / @csp_replace decides
        if not response.get("Content-Type", "").startswith("text/html"):
            parts.config = {"default-src": [NONE], "frame-ancestors": [NONE]}
            report_uri = policy.get("DIRECTIVES", {}).get("report-uri")
            if report_uri:
                parts.config["report-uri"] = report_uri
            return parts
        # A page gets its nonce whether or not its template used it: one header
        # shape for every page, and a nonce is never reused across responses.
        parts.nonce = self._make_nonce(request)
        update: dict[str, list[str]] = dict(parts.update or {})

        def add(directive: str, source: str) -> None:
            update[directive] = [*update.get(directive, []), source]

        websocket = _websocket_origin(request)
        if websocket:
            add("connect-src", websocket)
        path = request.path_info
        admin = _path("admin:index")
        if admin and path.startswith(admin):
            add("style-src-attr", UNSAFE_INLINE)
        docs = _path("docs")
        origin = _swagger_origin()
        if docs and origin and path == docs:
            for directive in ("script-src", "style-src", "img-src"):
                add(directive, origin)
        if path == _path("redoc"):
            add("worker-src", SELF)
            add("worker-src", "blob:")
            for digest in REDOC_STYLE_HASHES:
                add("style-src", digest)
        parts.update = update
        return parts
