"""Prometheus metrics: who may read /metrics, the platform's counters moving with
the work, the figures read from the database at scrape time, and several
processes seen together (config/metrics.py, docs/operations.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from accounts.testing import make_user
from backoffice.models import LedgerVerification
from backoffice.services import ledger_verification_run
from config.metrics import exposition
from kyc import services as kyc_services
from kyc.testing import _png, make_verified_user
from trading.services import order_place
from trading.tests.helpers import balances, fund, make_btc_usd, match
from wallet.services import withdrawal_request
from wallet.tests.helpers import make_beneficiary

ROOT = Path(__file__).resolve().parents[2]
USD = 100
BTC = 10**8


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# --- Access -----------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_served_to_the_internal_network_without_a_token():
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    assert "# TYPE django_http_requests_total_by_method_total counter" in body
    assert "# TYPE exchange_order_commands_pending gauge" in body


@pytest.mark.django_db
def test_metrics_refused_outside_the_network_without_a_token(settings):
    settings.METRICS_TOKEN = ""
    response = Client(REMOTE_ADDR="203.0.113.7").get("/metrics")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_metrics_ask_for_the_token_when_one_is_configured(settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    outside = Client(REMOTE_ADDR="203.0.113.7")
    response = outside.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json()["error"]["message"].startswith("Authorization:")

    wrong = outside.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401
    right = outside.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert right.status_code == 200
    assert b"exchange_order_commands_pending" in right.content


@pytest.mark.django_db
def test_a_wrong_token_is_refused_even_from_the_internal_network(settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    response = Client(REMOTE_ADDR="127.0.0.1").get(
        "/metrics", HTTP_AUTHORIZATION="Bearer guess"
    )
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_make_a_client_internal(settings):
    settings.METRICS_TOKEN = ""
    settings.TRUSTED_PROXIES = ""  # nobody may say who the client is
    response = Client(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="127.0.0.1").get(
        "/metrics"
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_configured_networks_are_trusted(settings):
    settings.METRICS_TRUSTED_NETWORKS = "10.20.0.0/16"
    assert Client(REMOTE_ADDR="10.20.3.4").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


@pytest.mark.django_db
def test_metrics_only_answer_get():
    assert Client(REMOTE_ADDR="127.0.0.1").post("/metrics").status_code == 405


@pytest.mark.django_db
def test_http_responses_are_counted_by_status_and_view():
    before = value(
        "django_http_responses_total_by_status_view_method_total",
        status="200",
        view="healthz",
        method="GET",
    )
    assert Client().get("/healthz").status_code == 200
    after = value(
        "django_http_responses_total_by_status_view_method_total",
        status="200",
        view="healthz",
        method="GET",
    )
    assert after == before + 1


@pytest.mark.django_db
def test_a_malformed_content_length_is_not_a_server_error():
    response = Client().get("/healthz", headers={"content-length": "abc"})
    assert response.status_code == 200


# --- The platform's counters ------------------------------------------------------


@pytest.mark.django_db
def test_placement_counts_accepted_and_refused_orders_by_code():
    instrument = make_btc_usd()
    buyer = make_verified_user(email="buyer@example.com")
    seller = make_verified_user(email="seller@example.com")
    fund(buyer, instrument.quote, 1000 * USD)
    accepted = value("exchange_orders_accepted_total", symbol="BTC-USD")
    no_funds = value("exchange_orders_refused_total", code="insufficient_funds")

    order_place(user=buyer, symbol="BTC-USD", side="buy", price="100", quantity="1")
    with pytest.raises(Exception) as refused:
        order_place(
            user=seller, symbol="BTC-USD", side="sell", price="100", quantity="1"
        )

    assert refused.value.code == "insufficient_funds"
    assert value("exchange_orders_accepted_total", symbol="BTC-USD") == accepted + 1
    assert (
        value("exchange_orders_refused_total", code="insufficient_funds")
        == no_funds + 1
    )


@pytest.mark.django_db
def test_a_refusal_of_the_whole_call_counts_its_code():
    make_btc_usd()
    unverified = make_user(email="new@example.com")
    before = value("exchange_orders_refused_total", code="kyc_required")
    with pytest.raises(Exception) as refused:
        order_place(
            user=unverified, symbol="BTC-USD", side="buy", price="1", quantity="1"
        )
    assert refused.value.code == "kyc_required"
    assert value("exchange_orders_refused_total", code="kyc_required") == before + 1


@pytest.mark.django_db
def test_a_matching_run_counts_its_size_duration_trades_and_settlements(
    django_capture_on_commit_callbacks,
):
    instrument = make_btc_usd()
    buyer = make_verified_user(email="buyer@example.com")
    seller = make_verified_user(email="seller@example.com")
    fund(buyer, instrument.quote, 10_000 * USD)
    fund(seller, instrument.base, 1 * BTC)
    runs = value("exchange_matching_runs_total", outcome="ok")
    sizes = value("exchange_matching_run_commands_sum")
    timed = value("exchange_matching_run_seconds_count")
    trades = value("exchange_trades_total", symbol="BTC-USD")
    settled = value("exchange_settlement_postings_total", symbol="BTC-USD")

    order_place(user=seller, symbol="BTC-USD", side="sell", price="100", quantity="1")
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="100", quantity="1")
    with django_capture_on_commit_callbacks(execute=True):
        match(instrument)

    assert value("exchange_matching_runs_total", outcome="ok") == runs + 1
    assert value("exchange_matching_run_commands_sum") == sizes + 2  # both orders
    assert value("exchange_matching_run_seconds_count") == timed + 1
    assert value("exchange_trades_total", symbol="BTC-USD") == trades + 1
    # one fill each side, each a settlement posting
    assert value("exchange_settlement_postings_total", symbol="BTC-USD") == settled + 2


@pytest.mark.django_db
def test_a_failed_matching_run_is_counted_as_an_error():
    from trading.services import matching_run

    errors = value("exchange_matching_runs_total", outcome="error")
    with pytest.raises(Exception):  # noqa: B017 (the instrument does not exist)
        matching_run(instrument_id=987654)
    assert value("exchange_matching_runs_total", outcome="error") == errors + 1


@pytest.mark.django_db
def test_celery_tasks_are_timed_and_their_failures_counted():
    from trading.tasks import match_instrument, sweep

    done = value(
        "exchange_celery_task_seconds_count", task="trading.sweep", state="SUCCESS"
    )
    failed = value(
        "exchange_celery_task_failures_total",
        task="trading.match_instrument",
        exception="DoesNotExist",
    )
    sweep.delay()
    # as a worker runs it: the error recorded, not raised to the caller
    result = match_instrument.apply(args=(987654,), throw=False)
    assert result.state == "FAILURE"
    assert (
        value(
            "exchange_celery_task_seconds_count", task="trading.sweep", state="SUCCESS"
        )
        == done + 1
    )
    assert (
        value(
            "exchange_celery_task_failures_total",
            task="trading.match_instrument",
            exception="DoesNotExist",
        )
        == failed + 1
    )
    assert (
        value(
            "exchange_celery_task_seconds_count",
            task="trading.match_instrument",
            state="FAILURE",
        )
        >= 1
    )


# --- Figures read from the database -----------------------------------------------


def _submit_kyc(email: str):
    user = make_user(email=email, full_name="Queue Person")
    kyc_services.kyc_profile_update(
        user=user,
        legal_name="Queue Person",
        date_of_birth=date(1990, 1, 15),
        country="IN",
        address_line1="1 Test Street",
        city="Mumbai",
        postal_code="400001",
        id_type="pan",
        id_number=f"ABCDE{user.pk % 10000:04d}F",
    )
    for doc_type in ("pan_card", "proof_of_address", "selfie"):
        kyc_services.kyc_document_upload(
            user=user,
            doc_type=doc_type,
            uploaded=SimpleUploadedFile(f"{doc_type}.png", _png()),
        )
    return kyc_services.kyc_submit(user=user)


@pytest.mark.django_db
def test_scrape_time_figures_match_the_database():
    instrument = make_btc_usd()
    buyer = make_verified_user(email="buyer@example.com")
    fund(buyer, instrument.quote, 10_000 * USD)
    # two commands waiting (no matching run in a test transaction)
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="100", quantity="1")
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="90", quantity="2")
    case = _submit_kyc("waiting@example.com")
    withdrawal_request(
        user=buyer,
        asset=instrument.quote,
        amount=1_500,
        beneficiary=make_beneficiary(buyer),
    )
    ledger_verification_run(run_key="test:1", trigger=LedgerVerification.Trigger.BEAT)

    samples = scraped(exposition().decode())

    assert samples[("exchange_order_commands_pending", (("symbol", "BTC-USD"),))] == 2
    assert (
        samples[
            ("exchange_order_commands_oldest_age_seconds", (("symbol", "BTC-USD"),))
        ]
        >= 0
    )
    # holds: 100.00 + 2 x 90.00 USD for the orders, 15.00 for the withdrawal;
    # the same as the buyer's held balance in the ledger
    held = 100_00 + 180_00 + 15_00
    assert balances(buyer)["USD"][1] == held
    assert samples[("exchange_holds_pending_amount", (("asset", "USD"),))] == held
    assert samples[("exchange_holds_pending", (("asset", "USD"),))] == 3
    assert case.status == "submitted"
    assert samples[("exchange_kyc_queue_cases", (("status", "submitted"),))] == 1
    assert samples[("exchange_kyc_queue_cases", (("status", "in_review"),))] == 0
    assert samples[("exchange_kyc_queue_oldest_age_seconds", ())] >= 0
    assert samples[("exchange_withdrawals_waiting", (("status", "requested"),))] == 1
    assert samples[("exchange_withdrawals_waiting", (("status", "approved"),))] == 0
    assert samples[("exchange_ledger_verification_ok", ())] == 1
    assert samples[("exchange_ledger_verification_problems", ())] == 0
    last = LedgerVerification.objects.get()
    assert samples[
        ("exchange_ledger_verification_last_run_timestamp_seconds", ())
    ] == pytest.approx(last.finished_at.timestamp())


@pytest.mark.django_db
def test_commands_applied_leave_the_pending_figures():
    instrument = make_btc_usd()
    buyer = make_verified_user(email="buyer@example.com")
    fund(buyer, instrument.quote, 10_000 * USD)
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="100", quantity="1")
    match(instrument)
    samples = scraped(exposition().decode())
    assert samples[("exchange_order_commands_pending", (("symbol", "BTC-USD"),))] == 0
    assert (
        samples[
            ("exchange_order_commands_oldest_age_seconds", (("symbol", "BTC-USD"),))
        ]
        == 0
    )


def test_celery_queue_lengths_are_read_from_a_redis_broker(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (set REDIS_URL)")
    import redis

    from config.metrics import celery_queue_lengths

    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.TRADING_MATCH_SHARDS = 2
    client = redis.Redis.from_url(settings.REDIS_URL)
    queues = ("celery", "matching-0", "matching-1")
    client.delete(*queues)
    try:
        client.rpush("celery", "a", "b", "c")
        client.rpush("matching-1", "x")
        (rows,) = celery_queue_lengths()
        assert rows == [
            (("celery",), 3.0),
            (("matching-0",), 0.0),
            (("matching-1",), 1.0),
        ]
    finally:
        client.delete(*queues)
        client.close()


# --- Several processes ------------------------------------------------------------

_WRITER = """
import sys
from config import metrics
metrics.notification_delivery_count(channel="email", outcome="sent")
for _ in range(int(sys.argv[1])):
    metrics.notification_delivery_count(channel="sms", outcome="failed")
metrics.websocket_opened("user")
"""

_READER = """
from config.metrics import exposition
print(exposition().decode())
"""


def test_two_processes_counters_are_both_visible(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # plain processes, no Django

    def run(code: str, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    run(_WRITER, "2")
    run(_WRITER, "3")
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process

    samples = scraped(run(_READER))
    assert (
        samples[
            (
                "exchange_notification_deliveries_total",
                (("channel", "email"), ("outcome", "sent")),
            )
        ]
        == 2
    )
    assert (
        samples[
            (
                "exchange_notification_deliveries_total",
                (("channel", "sms"), ("outcome", "failed")),
            )
        ]
        == 5
    )
    # each writer ended: its open WebSockets went with it (livesum)
    assert (
        samples.get(("exchange_websocket_connections", (("stream", "user"),)), 0) == 0
    )
