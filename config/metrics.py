"""The platform's own Prometheus metrics: every one is defined here, once.

Two kinds (docs/operations.md, "Metrics"):

- Counters, histograms and gauges updated where the work happens: by subscribers
  of the domain events (config/subscribers.py, the metrics block) or by a one-line
  call at the call site when no event fits (a placement's refusals, a matching
  run's duration, a WebSocket frame's send lag, Celery's signals below).
- Figures read from the database (and the broker) when Prometheus scrapes
  `/metrics`: commands pending per instrument, holds, the KYC queue, withdrawals
  waiting, the last ledger verification, the Celery queues. Their readers live in
  the apps that own the tables (selectors) and are attached in
  config/subscribers.py (`scrape_source`): config never imports an app.

Multi-process: with `PROMETHEUS_MULTIPROC_DIR` set (before prometheus_client is
first imported), every process (each ASGI server, each Celery worker and its
children) writes its samples to files in that directory and any `/metrics` of
the host reads them all (prometheus_client's multiprocess mode). Without it, the
process's own registry is served (tests, the embedded mode).
"""

from __future__ import annotations

import atexit
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

NAMESPACE = "exchange"

# --- Orders and matching ----------------------------------------------------------

ORDERS_ACCEPTED = Counter(
    "orders_accepted_total",
    "Orders accepted by placement (written as pending with their hold).",
    ["symbol"],
    namespace=NAMESPACE,
)
ORDERS_REFUSED = Counter(
    "orders_refused_total",
    "Orders refused by placement, by error code (nothing written for them).",
    ["code"],
    namespace=NAMESPACE,
)
MATCHING_RUNS = Counter(
    "matching_runs_total",
    "Matching runs by outcome: ok, halted (a crossed rebuild) or error.",
    ["outcome"],
    namespace=NAMESPACE,
)
MATCHING_RUN_COMMANDS = Histogram(
    "matching_run_commands",
    "Commands applied per matching run (its size).",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
    namespace=NAMESPACE,
)
MATCHING_RUN_SECONDS = Histogram(
    "matching_run_seconds",
    "Wall time of a matching run, lock to commit.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    namespace=NAMESPACE,
)
TRADES = Counter(
    "trades_total",
    "Trades committed by matching runs.",
    ["symbol"],
    namespace=NAMESPACE,
)
SETTLEMENT_POSTINGS = Counter(
    "settlement_postings_total",
    "Fills settled through the ledger (each posts part of a hold to the "
    "counterparty, fees to the fees account).",
    ["symbol"],
    namespace=NAMESPACE,
)

# --- Streams ----------------------------------------------------------------------

WEBSOCKET_CONNECTIONS = Gauge(
    "websocket_connections",
    "Open WebSocket connections, by stream (market, user).",
    ["stream"],
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)
WEBSOCKET_SEND_LAG = Histogram(
    "websocket_send_lag_seconds",
    "From the commit's publish to the frame's write to the client, by stream.",
    ["stream"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    namespace=NAMESPACE,
)

# --- Celery -----------------------------------------------------------------------

CELERY_TASK_SECONDS = Histogram(
    "celery_task_seconds",
    "Run time of Celery tasks, by task name and final state.",
    ["task", "state"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    namespace=NAMESPACE,
)
CELERY_TASK_FAILURES = Counter(
    "celery_task_failures_total",
    "Celery tasks that raised, by task name and exception type.",
    ["task", "exception"],
    namespace=NAMESPACE,
)

# --- Notifications ----------------------------------------------------------------

NOTIFICATION_DELIVERIES = Counter(
    "notification_deliveries_total",
    "Notification deliveries by channel (email, sms, web_push, mobile_push, ...) "
    "and outcome (sent, failed, skipped, ...).",
    ["channel", "outcome"],
    namespace=NAMESPACE,
)

# --- Call sites -------------------------------------------------------------------


def orders_observe(*, accepted: Iterable[str], refused: Iterable[str]) -> None:
    """A placement committed: the accepted orders' symbols, the refused ones'
    error codes."""
    for symbol in accepted:
        ORDERS_ACCEPTED.labels(symbol=symbol).inc()
    for code in refused:
        ORDERS_REFUSED.labels(code=code).inc()


def matching_run_observe(*, commands: int, seconds: float, outcome: str) -> None:
    MATCHING_RUNS.labels(outcome=outcome).inc()
    if outcome == "ok":
        MATCHING_RUN_COMMANDS.observe(commands)
    MATCHING_RUN_SECONDS.observe(seconds)


def matching_run_counted(event: Any) -> None:
    """trading's MatchingRunApplied, after commit (config/subscribers.py): its
    trades and its fills, each settled by a ledger posting."""
    symbol = event.instrument.symbol
    if event.trades:
        TRADES.labels(symbol=symbol).inc(len(event.trades))
    if event.fills:
        SETTLEMENT_POSTINGS.labels(symbol=symbol).inc(len(event.fills))


def websocket_opened(stream: str) -> None:
    WEBSOCKET_CONNECTIONS.labels(stream=stream).inc()


def websocket_closed(stream: str) -> None:
    WEBSOCKET_CONNECTIONS.labels(stream=stream).dec()


def websocket_sent(stream: str, *, published_ms: float | None) -> None:
    """A frame went to a client: its lag from `published_ms` (epoch ms)."""
    if published_ms:
        lag = max(0.0, time.time() - published_ms / 1000)
        WEBSOCKET_SEND_LAG.labels(stream=stream).observe(lag)


def notification_delivery_count(*, channel: str, outcome: str) -> None:
    NOTIFICATION_DELIVERIES.labels(channel=channel, outcome=outcome).inc()


# --- Celery signals ---------------------------------------------------------------

_task_started: dict[str, float] = {}


def _task_prerun(task_id: str | None = None, **kwargs: Any) -> None:
    if task_id:
        _task_started[task_id] = time.monotonic()


def _task_postrun(
    task_id: str | None = None,
    task: Any = None,
    state: str | None = None,
    **kwargs: Any,
) -> None:
    started = _task_started.pop(task_id or "", None)
    if started is not None and task is not None:
        CELERY_TASK_SECONDS.labels(task=task.name, state=state or "UNKNOWN").observe(
            time.monotonic() - started
        )


def _task_failure(
    sender: Any = None, exception: BaseException | None = None, **kwargs: Any
) -> None:
    name = getattr(sender, "name", None) or "unknown"
    kind = type(exception).__name__ if exception is not None else "unknown"
    CELERY_TASK_FAILURES.labels(task=name, exception=kind).inc()


def celery_signals_connect() -> None:
    """Time every task and count its failures (in workers and eager runs)."""
    from celery.signals import task_failure, task_postrun, task_prerun

    task_prerun.connect(_task_prerun, weak=False, dispatch_uid="metrics-prerun")
    task_postrun.connect(_task_postrun, weak=False, dispatch_uid="metrics-postrun")
    task_failure.connect(_task_failure, weak=False, dispatch_uid="metrics-failure")


# --- Figures read at scrape time --------------------------------------------------

Rows = Iterable[tuple[Sequence[str], float]]


@dataclass(frozen=True)
class ScrapeGauge:
    """A gauge read when /metrics is scraped, from a reader attached by the
    app that owns the rows (config/subscribers.py)."""

    name: str
    documentation: str
    labels: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{NAMESPACE}_{self.name}"


SCRAPE_GAUGES: dict[str, ScrapeGauge] = {
    gauge.name: gauge
    for gauge in (
        ScrapeGauge(
            "order_commands_pending",
            "Commands (new orders, cancels, amends) not yet applied, per instrument.",
            ("symbol",),
        ),
        ScrapeGauge(
            "order_commands_oldest_age_seconds",
            "Age of the oldest command not yet applied, per instrument.",
            ("symbol",),
        ),
        ScrapeGauge(
            "holds_pending_amount",
            "Sum of the pending holds' remaining amounts, in the asset's smallest "
            "unit.",
            ("asset",),
        ),
        ScrapeGauge("holds_pending", "Pending holds, per asset.", ("asset",)),
        ScrapeGauge(
            "kyc_queue_cases",
            "KYC cases waiting for a reviewer (submitted) or in review.",
            ("status",),
        ),
        ScrapeGauge(
            "kyc_queue_oldest_age_seconds",
            "Age of the oldest KYC case submitted and not decided.",
            (),
        ),
        ScrapeGauge(
            "withdrawals_waiting",
            "Withdrawals waiting for an approval or to be sent, by status.",
            ("status",),
        ),
        ScrapeGauge(
            "withdrawals_oldest_waiting_age_seconds",
            "Age of the oldest withdrawal still waiting (requested, approved once, "
            "approved).",
            (),
        ),
        ScrapeGauge(
            "ledger_verification_ok",
            "1 if the last verify_ledger run passed, 0 if it found problems or "
            "could not finish.",
            (),
        ),
        ScrapeGauge(
            "ledger_verification_problems",
            "Problems the last verify_ledger run found.",
            (),
        ),
        ScrapeGauge(
            "ledger_verification_last_run_timestamp_seconds",
            "When the last verify_ledger run finished (Unix time).",
            (),
        ),
        ScrapeGauge(
            "celery_queue_length",
            "Messages waiting in a Celery queue of the Redis broker.",
            ("queue",),
        ),
    )
}

# (gauge names, reader): the reader returns one list of rows per name, so one
# query can feed several gauges (a count and the age of the oldest).
_SOURCES: dict[tuple[str, ...], Callable[[], Sequence[Rows]]] = {}


def scrape_source(names: tuple[str, ...], read: Callable[[], Sequence[Rows]]) -> None:
    """Attach the reader of scrape-time gauges (config/subscribers.py)."""
    unknown = set(names) - set(SCRAPE_GAUGES)
    if unknown:
        raise ValueError(f"no scrape gauge named {sorted(unknown)}")
    _SOURCES[names] = read


def scrape_gauge_names() -> set[str]:
    return {gauge.full_name for gauge in SCRAPE_GAUGES.values()}


class ScrapeCollector:
    """The scrape-time gauges: read once per scrape by the process serving it
    (never per process: they are the database's figures, not a process's)."""

    def collect(self) -> Iterator[Metric]:
        for names, read in list(_SOURCES.items()):
            try:
                read_rows = read()
            except Exception:  # the database or broker down: the rest still served
                logger.exception("metrics: reading %s failed", ", ".join(names))
                continue
            for name, rows in zip(names, read_rows, strict=True):
                gauge = SCRAPE_GAUGES[name]
                family = GaugeMetricFamily(
                    gauge.full_name, gauge.documentation, labels=list(gauge.labels)
                )
                for labels, value in rows:
                    family.add_metric(list(labels), float(value))
                yield family


def celery_queue_lengths() -> list[Rows]:
    """LLEN of the Celery queues on a Redis broker (the default queue and the
    matching shards); nothing for another broker."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return [[]]
    import redis

    shards = settings.TRADING_MATCH_SHARDS
    queues = ["celery"] + [f"matching-{n}" for n in range(shards if shards > 1 else 0)]
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return [[((queue,), float(client.llen(queue))) for queue in queues]]
    finally:
        client.close()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _process_exit() -> None:
    """A process that ends takes its live gauges (open WebSockets) with it;
    its counters stay in the directory, as Prometheus expects of a counter."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid())


if multiprocess_dir():
    atexit.register(_process_exit)


def exposition() -> bytes:
    """What /metrics serves: every process's samples (multiprocess mode) or this
    process's registry, then the figures read now."""
    directory = multiprocess_dir()
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        processes = generate_latest(registry)
    else:
        processes = generate_latest(REGISTRY)
    scraped = CollectorRegistry()
    scraped.register(ScrapeCollector())
    return processes + generate_latest(scraped)
