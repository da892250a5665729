"""OpenTelemetry tracing, set up in one place.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
is set: then nothing of the SDK is imported, no library is instrumented, and
`span()` hands back one shared do-nothing context manager. On, `tracing_init()`
(called by config/asgi.py, config/wsgi.py, and the Celery worker and beat in
config/celery.py) makes a tracer provider that batches spans to the OTLP/HTTP
exporter (which reads the standard `OTEL_EXPORTER_OTLP_*` variables: endpoint,
headers, timeout) and instruments Django, Celery, psycopg and Redis.

One trace runs from `POST /api/v1/orders` (Django's server span) through the
matching task (Celery's publish and run spans: the trace context travels in the
task's headers; an eager task runs inside the request's span) to the publish of
the run's messages on the channel layers (`marketdata.publish`, marketdata/
publish.py). docs/observability.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

_NOOP: AbstractContextManager[None] = nullcontext()

# The provider of this process once tracing is on (None: off). A forked child
# (a prefork Celery pool) keeps its parent's: the SDK's batch processor restarts
# its export thread after a fork.
_provider: TracerProvider | None = None


def tracing_enabled_by_env() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ) and os.environ.get("OTEL_SDK_DISABLED", "").lower() not in ("1", "true")


def tracing_init(*, service_name: str, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on for this process if the environment asks for it (or an
    `exporter` is given: tests, with an in-memory one, spans exported at once).
    Idempotent; returns whether tracing is on."""
    global _provider
    if _provider is not None:
        return True
    if exporter is None and not tracing_enabled_by_env():
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name}
    )
    provider = TracerProvider(resource=resource)
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)  # for any library tracing on its own
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    DjangoInstrumentor().instrument(tracer_provider=provider)
    CeleryInstrumentor().instrument(tracer_provider=provider)
    PsycopgInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return True


def tracing_shutdown() -> None:
    """Undo `tracing_init` (tests): instrumentations removed, spans flushed."""
    global _provider
    if _provider is None:
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (
        DjangoInstrumentor(),
        CeleryInstrumentor(),
        PsycopgInstrumentor(),
        RedisInstrumentor(),
    ):
        instrumentor.uninstrument()
    # a connection opened while instrumented stays wrapped: open new ones
    from django.db import connections

    connections.close_all()
    _provider.shutdown()
    _provider = None


def tracing_on() -> bool:
    return _provider is not None


def span(
    name: str, attributes: Mapping[str, Any] | None = None
) -> AbstractContextManager[Any]:
    """A span named `name`, child of the current one, around a `with` block; the
    shared no-op context manager when tracing is off (no allocation)."""
    if _provider is None:
        return _NOOP
    return _span(name, attributes)


@contextmanager
def _span(name: str, attributes: Mapping[str, Any] | None) -> Iterator[Any]:
    assert _provider is not None
    tracer = _provider.get_tracer("exchange")
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current
