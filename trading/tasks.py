"""Celery entry points: thin, take ids, safe to run twice or concurrently.

Each sets its own soft limit below its hard limit: Celery refuses to send a task
whose soft_time_limit (default CELERY_TASK_SOFT_TIME_LIMIT, 100 s) exceeds its
time_limit, so without it every `.delay()` raised and nothing was ever matched.
"""

from celery import shared_task

from trading.services.matching import matching_linger, matching_run, matching_sweep


@shared_task(
    bind=True,
    name="trading.match_instrument",
    acks_late=True,
    soft_time_limit=50,
    time_limit=60,
)
def match_instrument(self, instrument_id: int) -> int:
    """Apply pending commands of one instrument (the row lock makes it exclusive).
    A worker busy with runs lingers first (never an eager run, inside a request)."""
    if not self.request.is_eager:
        matching_linger()
    return matching_run(instrument_id=instrument_id).processed


@shared_task(name="trading.sweep", acks_late=True, soft_time_limit=25, time_limit=30)
def sweep() -> list[int]:
    """Re-drive instruments whose commands waited too long (lost messages,
    killed workers, a broker restart)."""
    return matching_sweep()
