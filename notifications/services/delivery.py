"""Sending one delivery, retrying it, giving up on it, and finding lost ones.

A delivery is sent under its row lock and only while it is pending, so a task
run twice (a redelivered message, the sweeper's copy) sends once; the delivery
id is the provider's idempotency key for the crash between its answer and our
commit. A provider error schedules the next attempt with exponential back-off
(NOTIFICATIONS_RETRY_BASE_SECONDS x 2^(attempts-1), at most
NOTIFICATIONS_RETRY_MAX_SECONDS) until NOTIFICATIONS_MAX_ATTEMPTS, then the row
is failed with the provider's answer. Nothing here touches the transaction
that caused the notification: it committed before the first attempt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditCode
from accounts.services import audit_event_record
from config.domain_errors import Conflict
from config.metrics import notification_delivery_count
from notifications import catalogue
from notifications.channels import NoTarget, OutgoingMessage, ProviderError, sender_for
from notifications.models import Delivery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    status: str  # the delivery's status after it ("pending" after a retryable error)
    retry_in: float | None = None  # seconds until the next attempt is due


def retry_delay(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`, after `attempts` failed ones."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS
    return float(
        min(base * 2 ** max(attempts - 1, 0), settings.NOTIFICATIONS_RETRY_MAX_SECONDS)
    )


def absolute_url(path: str) -> str:
    if not path or "://" in path:
        return path
    return settings.NOTIFICATIONS_SITE_URL.rstrip("/") + path


def outgoing_message(delivery: Delivery) -> OutgoingMessage:
    notification = delivery.notification
    return OutgoingMessage(
        delivery_id=delivery.pk,
        user_id=delivery.user_id,
        event_type=notification.event_type,
        title=notification.title,
        body=notification.body,
        url=absolute_url(notification.url),
        security=catalogue.event_type(notification.event_type).security,
        data={str(k): str(v) for k, v in notification.data.items()},
    )


def delivery_attempt(*, delivery_id: int) -> Attempt | None:
    """Send the delivery if it is still pending and due. None: nothing to do
    (gone, already decided, or its next attempt is not due yet)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notification")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != Delivery.Status.PENDING:
            return None
        now = timezone.now()
        if delivery.next_attempt_at > now:
            return None
        delivery.attempts += 1
        retry_in: float | None = None
        sender = sender_for(delivery.channel)
        if sender is None:
            delivery.status = Delivery.Status.SKIPPED
            delivery.provider_answer = f"no sender for channel {delivery.channel!r}"
        else:
            try:
                reference = sender(outgoing_message(delivery))
            except NoTarget as exc:
                delivery.status = Delivery.Status.SKIPPED
                delivery.provider_answer = str(exc)
            except ProviderError as exc:
                retry_in = _failed(delivery, exc.answer, exc.permanent, now)
            except Exception as exc:  # a sender's bug: retried like an outage
                logger.exception("sender for %s raised", delivery.channel)
                retry_in = _failed(delivery, f"{type(exc).__name__}: {exc}", False, now)
            else:
                delivery.status = Delivery.Status.SENT
                delivery.sent_at = now
                delivery.provider_reference = str(reference)[:200]
                delivery.provider_answer = ""
        delivery.save(
            update_fields=[
                "status",
                "attempts",
                "next_attempt_at",
                "provider_reference",
                "provider_answer",
                "sent_at",
            ]
        )
        attempt = Attempt(status=delivery.status, retry_in=retry_in)
    # committed: count it (the NotificationFailures alert reads outcome="failed")
    outcome = "retry" if attempt.status == Delivery.Status.PENDING else attempt.status
    notification_delivery_count(channel=delivery.channel, outcome=str(outcome))
    return attempt


def _failed(delivery: Delivery, answer: str, permanent: bool, now) -> float | None:
    delivery.provider_answer = answer[:4000]
    if permanent or delivery.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        delivery.status = Delivery.Status.FAILED
        logger.warning(
            "delivery %s (%s) failed after %s attempts: %s",
            delivery.pk,
            delivery.channel,
            delivery.attempts,
            answer,
        )
        return None
    delay = retry_delay(delivery.attempts)
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    return delay


def delivery_ids_overdue(*, limit: int = 1000) -> list[int]:
    """Pending deliveries whose attempt was due NOTIFICATIONS_SWEEP_AFTER_SECONDS
    ago and has not happened: their task was lost (a crash between commit and
    publish, a purged queue, a killed worker)."""
    cutoff = timezone.now() - timedelta(
        seconds=settings.NOTIFICATIONS_SWEEP_AFTER_SECONDS
    )
    return list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING, next_attempt_at__lte=cutoff
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def delivery_retry(*, delivery_id: int, staff, meta=None) -> Delivery:
    """An operator sends a failed or skipped delivery again (from the admin):
    pending, attempts from zero, queued after commit; audited."""
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=delivery_id)
    )
    if delivery.status not in (Delivery.Status.FAILED, Delivery.Status.SKIPPED):
        raise Conflict(
            "delivery_not_retryable",
            f"Delivery {delivery.pk} is {delivery.status}: only failed or skipped "
            "deliveries are sent again.",
            details={"status": [delivery.status]},
        )
    old = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status = Delivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    audit_event_record(
        code=AuditCode.NOTIFICATION_DELIVERY_RETRIED,
        user=delivery.user,
        acting_user=staff,
        target=delivery,
        meta=meta,
        extra={
            "old": old,
            "new": {"status": delivery.status, "attempts": 0},
            "channel": delivery.channel,
            "previous_answer": delivery.provider_answer[:500],
        },
    )

    def queue() -> None:
        from notifications.tasks import deliver

        deliver.delay(delivery.pk)

    transaction.on_commit(queue, robust=True)
    return delivery
