"""Celery entry points: thin, safe to run twice."""

from celery import shared_task

from marketdata.services import user_event_prune


@shared_task(name="marketdata.prune_events", acks_late=True, time_limit=300)
def prune_events() -> int:
    """Delete user events older than MARKETDATA_EVENT_RETENTION_HOURS."""
    return user_event_prune()
