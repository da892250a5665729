"""django-prometheus's HTTP middlewares, as the project uses them (settings'
MIDDLEWARE): its "after" middleware read `Content-Length` with a bare `int()`,
so a malformed header was a 500 on every route; here it counts as 0 bytes and
the request goes on to be judged (config/middleware.py)."""

from __future__ import annotations

from django.http import HttpRequest
from django_prometheus.middleware import (
    PrometheusAfterMiddleware as _PrometheusAfterMiddleware,
)
from django_prometheus.middleware import (
    PrometheusBeforeMiddleware as PrometheusBeforeMiddleware,
)
from django_prometheus.utils import Time

__all__ = ["PrometheusAfterMiddleware", "PrometheusBeforeMiddleware"]


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.headers.get("content-length") or 0))
    except ValueError:
        return 0


class PrometheusAfterMiddleware(_PrometheusAfterMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        transport = self._transport(request)
        method = self._method(request)
        self.label_metric(self.metrics.requests_by_method, request, method=method).inc()
        self.label_metric(
            self.metrics.requests_by_transport, request, transport=transport
        ).inc()
        if request.headers.get("x-requested-with") == "XMLHttpRequest":
            self.label_metric(self.metrics.requests_ajax, request).inc()
        self.label_metric(self.metrics.requests_body_bytes, request).observe(
            _content_length(request)
        )
        request.prometheus_after_middleware_event = Time()  # type: ignore[attr-defined]
