"""X-Request-ID (accepted, made, returned), the fields of a log line, the request
id carried into Celery tasks and onto the user stream, and the redaction
processor on its own."""

from __future__ import annotations

import logging
import re

import pytest
import structlog
from asgiref.testing import ApplicationCommunicator
from celery import Celery
from celery.worker.request import Request as WorkerRequest
from django.test import Client
from rest_framework.test import APIClient
from structlog.contextvars import clear_contextvars, get_contextvars

from accounts.testing import api_client_for
from config.logging import REDACTED, log_bind, log_context, logging_config, scrub
from config.request_id import RequestIdMiddleware
from config.tests.logcapture import capture_logs
from kyc.testing import make_verified_user
from marketdata.models import UserEvent
from trading.models import Order
from trading.tests.helpers import fund, make_btc_usd

MADE = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def _no_bound_context():
    clear_contextvars()
    yield
    clear_contextvars()


# --- X-Request-ID --------


def test_an_id_is_made_when_the_client_sends_none():
    response = Client().get("/healthz")
    assert MADE.fullmatch(response["X-Request-ID"])
    assert Client().get("/healthz")["X-Request-ID"] != response["X-Request-ID"]


@pytest.mark.parametrize(
    "given", ["abc", "req-2026.12.07:node_1-XYZ", "a" * 128, "0af7651916cd43dd"]
)
def test_a_well_formed_id_is_kept(given):
    assert Client().get("/healthz", HTTP_X_REQUEST_ID=given)["X-Request-ID"] == given


@pytest.mark.parametrize(
    "given", ["", "a" * 129, "two words", "<script>", "id\r\nSet-Cookie: x=1", "né"]
)
def test_a_malformed_id_is_replaced(given):
    returned = Client().get("/healthz", HTTP_X_REQUEST_ID=given)["X-Request-ID"]
    assert MADE.fullmatch(returned)


@pytest.mark.django_db
def test_pages_api_and_edge_errors_all_return_the_id():
    client = APIClient()
    headers = {"HTTP_X_REQUEST_ID": "edge-1"}
    page = Client().get("/login/", **headers)
    missing = client.get("/api/v1/no-such-thing", **headers)
    unauthenticated = client.get("/api/v1/orders", **headers)
    too_large = client.generic(
        "POST", "/api/v1/orders", b"{}", "application/json", CONTENT_LENGTH="99999999"
    )
    assert page.status_code == 200
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert unauthenticated.status_code == 401
    assert too_large.status_code == 413
    for response in (page, missing, unauthenticated):
        assert response["X-Request-ID"] == "edge-1"
    assert MADE.fullmatch(too_large["X-Request-ID"])


@pytest.mark.asyncio
async def test_the_asgi_body_limit_answer_carries_the_id():
    from config.asgi import application

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/api/v1/orders",
        "raw_path": b"/api/v1/orders",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "headers": [
            (b"host", b"testserver"),
            (b"content-length", b"99999999"),
            (b"x-request-id", b"asgi-413"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    await communicator.wait(5)
    assert start["status"] == 413
    assert (b"x-request-id", b"asgi-413") in start["headers"]


# --- Log lines --------


@pytest.mark.django_db
def test_a_line_carries_the_request_id_and_the_authenticated_user():
    user = make_verified_user(email="logs@example.com")
    client = api_client_for(user)
    with capture_logs(logging.INFO) as logs:
        response = client.get("/api/v1/orders/987654", HTTP_X_REQUEST_ID="rid-404")
    assert response.status_code == 404
    (line,) = [line for line in logs.lines() if line["logger"] == "django.request"]
    assert line["event"] == "Not Found: /api/v1/orders/987654"
    assert (line["level"], line["request_id"], line["user_id"]) == (
        "warning",
        "rid-404",
        user.pk,
    )
    assert line["timestamp"].endswith("Z")
    # and nothing stays bound once the request is over
    assert get_contextvars() == {}


def test_structlog_and_stdlib_lines_share_the_fields_and_the_bound_ids():
    with capture_logs(logging.INFO) as logs, log_context(instrument_id=7):
        structlog.get_logger("exchange.test").info("run applied", order_id=3)
        logging.getLogger("exchange.test").info("plain %s", "line")
    first, second = logs.lines()
    assert first == {
        "order_id": 3,
        "event": "run applied",
        "instrument_id": 7,
        "level": "info",
        "logger": "exchange.test",
        "timestamp": first["timestamp"],
    }
    assert (second["event"], second["instrument_id"]) == ("plain line", 7)


def test_ids_bound_by_a_service_last_to_the_end_of_the_request_only():
    def view(request):
        log_bind(order_id=41, instrument_id=3)
        logging.getLogger("exchange.test").info("in the view")
        return _ok()

    request = Client().get("/healthz").wsgi_request
    request.META["HTTP_X_REQUEST_ID"] = "rid-bind"
    with capture_logs(logging.INFO) as logs:
        RequestIdMiddleware(view)(request)
        log_bind(order_id=42)  # outside a request or task: nothing would clear it
        logging.getLogger("exchange.test").info("after")
    inside, after = logs.lines()
    assert (inside["request_id"], inside["order_id"], inside["instrument_id"]) == (
        "rid-bind",
        41,
        3,
    )
    assert "order_id" not in after and "request_id" not in after
    assert get_contextvars() == {}


def test_production_writes_json_and_elsewhere_readable_lines(monkeypatch):
    import importlib
    import sys

    from django.conf import settings

    for name, value in {
        "DJANGO_SECRET_KEY": "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "exchange.example.com",
        "KYC_ENCRYPTION_KEY": "k",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    sys.modules.pop("config.settings.production", None)
    production = importlib.import_module("config.settings.production")
    sys.modules.pop("config.settings.production", None)
    assert production.LOGGING["formatters"]["structured"]["fmt"] == "json"
    assert settings.LOGGING["formatters"]["structured"]["fmt"] == "console"
    assert settings.LOGGING_CONFIG == "config.logging.configure"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config(fmt="xml")


# --- Redaction, on its own --------


@pytest.mark.parametrize(
    "text,secret",
    [
        ("login password=hunter2-secret ok", "hunter2-secret"),
        ('{"refresh": "abc.def.ghi", "x": 1}', "abc.def.ghi"),
        ("Authorization: Bearer s3cr3t-token-value", "s3cr3t-token-value"),
        ("GET /ws/user/?ticket=tkt-123456&since_id=4", "tkt-123456"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.sig-part", "eyJhbGciOi"),
        ("card 4111 1111 1111 1111 declined", "4111 1111 1111 1111"),
        ("card 5500-0000-0000-0004 declined", "5500-0000-0000-0004"),
        ("card 4012888888881881", "4012888888881881"),
        ("identity ABCDE1234F checked", "ABCDE1234F"),
        ("{'id_number': 'K1234567'}", "K1234567"),
        ("api_key=ak_live_42 and client_secret: cs_9", "ak_live_42"),
    ],
)
def test_scrub_removes_the_secret(text, secret):
    assert secret not in scrub(text)


@pytest.mark.parametrize(
    "text",
    [
        "status_code=200 order 1234567890123 at 1765100000000",
        "token rotation failed for user 7",
        "matching 12: attempt 2 failed",
    ],
)
def test_scrub_leaves_ordinary_text_alone(text):
    # 1234567890123 and the millisecond time fail the Luhn check
    assert scrub(text) == text


def test_sensitive_keys_lose_their_values_at_any_depth():
    with capture_logs(logging.INFO) as logs:
        structlog.get_logger("exchange.test").info(
            "login",
            password="pw-1",
            new_password="pw-2",
            refresh="r-1",
            headers={"Authorization": "Bearer zzzzzzzzzz", "Accept": "json"},
            pan="4111111111111111",
            document_number="P-778899",
            email="a@example.com",
        )
    (line,) = logs.lines()
    for key in ("password", "new_password", "refresh", "pan", "document_number"):
        assert line[key] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert line["email"] == "a@example.com"


def test_an_exception_s_text_is_scrubbed_too():
    try:
        raise ValueError("bad token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
    except ValueError:
        with capture_logs(logging.INFO) as logs:
            logging.getLogger("exchange.test").exception("failed")
    assert "eyJhbGciOiJIUzI1NiJ9" not in logs.text
    assert "ValueError: bad token [redacted]" in logs.lines()[0]["exception"]


# --- The request id follows the work --------


probe = Celery("probe", broker="memory://", set_as_current=False)
probe.conf.task_always_eager = False
seen: list[dict] = []


@probe.task(name="probe.context", bind=True)
def context_probe(self) -> None:
    seen.append(dict(get_contextvars()))
    logging.getLogger("exchange.probe").warning("in the task")


@pytest.mark.django_db
def test_a_task_sent_by_a_request_runs_with_its_request_and_user_ids():
    user = make_verified_user(email="sender@example.com")
    request = Client().get("/healthz").wsgi_request
    request.user = user
    request.META["HTTP_X_REQUEST_ID"] = "rid-task-1"
    RequestIdMiddleware(lambda r: (context_probe.delay(), _ok())[1])(request)
    assert get_contextvars() == {}  # the sender's request is over

    # the message, as a worker receives it from the broker
    with probe.connection_for_read() as connection:
        message = connection.SimpleQueue("celery").get(timeout=5)
        assert message.headers["request_id"] == "rid-task-1"
        assert message.headers["user_id"] == user.pk
        seen.clear()
        with capture_logs(logging.INFO) as logs:
            WorkerRequest(message, app=probe, task=context_probe).execute()
    assert seen == [
        {
            "request_id": "rid-task-1",
            "user_id": user.pk,
            "task": "probe.context",
            "task_id": message.headers["id"],
        }
    ]
    (line,) = [line for line in logs.lines() if line["logger"] == "exchange.probe"]
    assert (line["request_id"], line["user_id"], line["task"]) == (
        "rid-task-1",
        user.pk,
        "probe.context",
    )
    assert get_contextvars() == {}  # cleared after the task


def _ok():
    from django.http import HttpResponse

    return HttpResponse("ok")


@pytest.mark.django_db(transaction=True)
def test_user_stream_events_carry_the_request_id_of_their_user_s_request():
    instrument = make_btc_usd()
    seller = make_verified_user(email="seller@example.com")
    buyer = make_verified_user(email="buyer@example.com")
    fund(seller, instrument.base, 10**8)
    fund(buyer, instrument.quote, 10_000_000)
    order = {"symbol": "BTC-USD", "price": "90000", "quantity": "0.5"}
    first = api_client_for(seller).post(
        "/api/v1/orders",
        {**order, "side": "sell"},
        format="json",
        HTTP_X_REQUEST_ID="rid-seller",
    )
    second = api_client_for(buyer).post(
        "/api/v1/orders",
        {**order, "side": "buy"},
        format="json",
        HTTP_X_REQUEST_ID="rid-buyer",
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert Order.objects.get(pk=second.json()["id"]).status == Order.Status.FILLED

    def ids(user) -> list[tuple[str, str | None]]:
        return [
            (event.type, event.message().get("request_id"))
            for event in UserEvent.objects.filter(user=user)
            .exclude(type="notification")  # their own stream items (notifications)
            .order_by("pk")
        ]

    # the seller's own placement (its hold's balance, its order resting) carries
    # the seller's id; the fill the buyer's run made carries none of theirs
    assert ids(seller) == [
        ("balance", None),  # funded by the test, outside any request
        ("balance", "rid-seller"),
        ("order", "rid-seller"),
        ("order", None),
        ("fill", None),
        ("balance", None),
        ("balance", None),
    ]
    assert ids(buyer) == [
        ("balance", None),
        ("balance", "rid-buyer"),
        ("order", "rid-buyer"),
        ("fill", "rid-buyer"),
        ("balance", "rid-buyer"),
        ("balance", "rid-buyer"),
    ]
