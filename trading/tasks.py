"""Celery entry points: thin, take ids, safe to run twice or concurrently."""

from celery import shared_task

from trading.services.matching import matching_run, matching_sweep


# An explicit soft limit below the hard one: the global CELERY_TASK_SOFT_TIME_LIMIT
# (100 s) above a task's time_limit makes every call fail in Celery.
@shared_task(
    name="trading.match_instrument", acks_late=True, time_limit=60, soft_time_limit=50
)
def match_instrument(instrument_id: int) -> int:
    """Apply pending commands of one instrument (the row lock makes it exclusive)."""
    return matching_run(instrument_id=instrument_id).processed


@shared_task(name="trading.sweep", acks_late=True, time_limit=30, soft_time_limit=25)
def sweep() -> list[int]:
    """Re-drive instruments whose commands waited too long (lost messages,
    killed workers, a broker restart)."""
    return matching_sweep()
