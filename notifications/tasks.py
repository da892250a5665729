"""Celery entry points of the delivery pipeline: thin, take ids, safe to run
twice (services/delivery.py locks the row and sends only a pending one)."""

from __future__ import annotations

from celery import shared_task

from notifications.services.delivery import delivery_attempt, delivery_ids_overdue


def _attempt(delivery_id: int, *, eager: bool) -> None:
    attempt = delivery_attempt(delivery_id=delivery_id)
    # An eager run (embedded mode, tests) never waits in-line for a back-off:
    # the sweeper sends the retry once it is due.
    if attempt is not None and attempt.retry_in is not None and not eager:
        deliver.apply_async((delivery_id,), countdown=attempt.retry_in)


@shared_task(
    bind=True,
    name="notifications.deliver",
    acks_late=True,
    soft_time_limit=50,
    time_limit=60,
)
def deliver(self, delivery_id: int) -> None:
    _attempt(delivery_id, eager=bool(self.request.is_eager))


@shared_task(
    bind=True,
    name="notifications.deliver_many",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
)
def deliver_many(self, delivery_ids: list[int]) -> None:
    """The deliveries one cause wrote (a matching run's fills: one message for
    all of them); each is attempted on its own, under its own lock."""
    for delivery_id in delivery_ids:
        _attempt(delivery_id, eager=bool(self.request.is_eager))


@shared_task(
    name="notifications.sweep", acks_late=True, soft_time_limit=25, time_limit=30
)
def sweep() -> int:
    """Re-queue pending deliveries whose task was lost or whose retry is due."""
    ids = delivery_ids_overdue()
    for start in range(0, len(ids), 100):
        deliver_many.delay(ids[start : start + 100])
    return len(ids)
