"""The Grafana dashboard and the alert rules read only metrics that exist: ours
(config/metrics.py) or django-prometheus's; and every one of ours is on the
dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import django_prometheus.cache.metrics  # noqa: F401  (registers its metrics)
import django_prometheus.db  # noqa: F401
import yaml
from django_prometheus.middleware import Metrics
from prometheus_client import REGISTRY

from config import metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "exchange.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"

# Series Prometheus makes itself.
BUILTIN = {"up"}
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The series names an expression reads (PromQL, simplified: label
    matchers, grouping clauses, ranges and function calls removed)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r'"[^"]*"', "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        rest = expr[match.end() :].lstrip()
        if rest.startswith("("):  # a function
            continue
        if match.group().lower() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def known_names() -> set[str]:
    Metrics.get_instance()  # the middlewares' metrics, made on first use
    # Every sample name a registered collector exposes (counters' _total,
    # histograms' _bucket/_sum/_count), ours and django-prometheus's.
    names = set(REGISTRY._names_to_collectors)  # noqa: SLF001
    return names | metrics.scrape_gauge_names() | BUILTIN


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def alert_exprs() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [str(rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def test_the_expression_reader_finds_the_series():
    expr = (
        'sum by (le, stream) (rate(exchange_websocket_send_lag_seconds_bucket{a="b"}'
        "[5m])) / on (x) time() - up > 2 * 60"
    )
    assert metric_names(expr) == {"exchange_websocket_send_lag_seconds_bucket", "up"}


def test_every_dashboard_expression_reads_known_metrics():
    exprs = dashboard_exprs()
    assert len(exprs) >= 30
    unknown = {name for expr in exprs for name in metric_names(expr)} - known_names()
    assert unknown == set()


def test_every_alert_expression_reads_known_metrics():
    unknown = {
        name for expr in alert_exprs() for name in metric_names(expr)
    } - known_names()
    assert unknown == set()


def test_every_platform_metric_is_on_the_dashboard():
    read = {name for expr in dashboard_exprs() for name in metric_names(expr)}
    ours = {
        name
        for name in known_names()
        if name.startswith(f"{metrics.NAMESPACE}_") and not name.endswith("_created")
    }
    families = {
        re.sub(r"_(total|bucket|sum|count)$", "", name) for name in ours
    } | metrics.scrape_gauge_names()
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in read}
    assert families - shown == set()
