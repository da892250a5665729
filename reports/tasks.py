"""Celery entry points of the reports (thin: one service call)."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="reports.build",
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
)
def reports_build_task() -> None:
    """Beat: rebuild the report days that can still change. Safe to run twice:
    the build recomputes days and writes only rows whose numbers differ."""
    from reports.services import reports_build

    reports_build()
