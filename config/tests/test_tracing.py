"""One trace from `POST /api/v1/orders` through the matching task to the stream
publish, seen by an in-memory exporter; and tracing off by default."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind

from accounts.testing import api_client_for
from config import tracing
from kyc.testing import make_verified_user
from trading.models import Order
from trading.tests.helpers import fund, make_btc_usd


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    assert tracing.tracing_init(service_name="exchange-test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.tracing_shutdown()


def test_tracing_is_off_without_an_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.tracing_init(service_name="exchange-test") is False
    assert not tracing.tracing_on()
    # the same shared no-op object every time: nothing made per call
    assert tracing.span("a") is tracing.span("b")


@pytest.mark.django_db(transaction=True)
def test_one_trace_from_the_order_request_through_matching_to_the_publish(spans):
    instrument = make_btc_usd()
    seller = make_verified_user(email="seller@example.com")
    buyer = make_verified_user(email="buyer@example.com")
    fund(seller, instrument.base, 10**8)
    fund(buyer, instrument.quote, 10_000_000)
    order = {"symbol": "BTC-USD", "price": "90000", "quantity": "0.5"}
    resting = api_client_for(seller).post(
        "/api/v1/orders", {**order, "side": "sell"}, format="json"
    )
    assert resting.status_code == 201
    spans.clear()

    # a new client: Django builds its middleware (the tracing one first) anew
    response = api_client_for(buyer).post(
        "/api/v1/orders", {**order, "side": "buy"}, format="json"
    )
    assert response.status_code == 201
    assert Order.objects.get(pk=response.json()["id"]).status == Order.Status.FILLED

    finished = spans.get_finished_spans()
    (server,) = [span for span in finished if span.kind == SpanKind.SERVER]
    assert server.name == "POST api/v1/orders"
    assert server.attributes["http.status_code"] == 201
    trace_id = server.context.trace_id
    (run,) = [span for span in finished if span.name == "run/trading.match_instrument"]
    publishes = [span for span in finished if span.name == "marketdata.publish"]

    # the eager matching task runs inside the request (after its commit)
    assert run.context.trace_id == trace_id
    assert run.parent.span_id == server.context.span_id
    assert run.attributes["celery.task_name"] == "trading.match_instrument"
    # the placement's own balance events go out after the request's commit; the
    # run's market frame, its order and fill events and its settlements' balance
    # events after the run's
    by_parent = sorted(
        (span.parent.span_id, span.attributes["messaging.destination"])
        for span in publishes
    )
    run_id, server_id = run.context.span_id, server.context.span_id
    # ... and the fills' notifications, whose stream items the run writes too
    assert by_parent == sorted(
        [
            (server_id, "user"),
            (run_id, "market.BTC-USD"),
            (run_id, "user"),
            (run_id, "user"),
            (run_id, "user"),
        ]
    )
    assert all(span.context.trace_id == trace_id for span in publishes)
    # SQL under the request and under the run: psycopg's spans, their children
    sql_parents = {
        span.parent.span_id
        for span in finished
        if span.kind == SpanKind.CLIENT and span.parent is not None
    }
    assert {server_id, run_id} <= sql_parents
