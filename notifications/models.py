"""Notifications: the in-app item, its deliveries on the other channels, and the
user's preferences over the catalogue's defaults (notifications/catalogue.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from notifications.catalogue import CHANNELS, EVENT_TYPE_CHOICES

_CHANNEL_CHOICES = [(channel, channel) for channel in CHANNELS]


class Notification(models.Model):
    """One occurrence of an event for one user: what it says, and whether the
    in-app centre shows it (`in_app`: the user's preference when it was made).
    `key` names the occurrence ("order:42:filled"): a repeat is ignored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    event_type = models.CharField(max_length=40, choices=EVENT_TYPE_CHOICES)
    key = models.CharField(max_length=128)
    # What the occurrence is about ("order:42"): partial fills coalesce on it.
    subject = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=300, blank=True, help_text="A path on the site.")
    data = models.JSONField(default=dict, blank=True)
    in_app = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], name="notification_key_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["user", "-created_at", "-id"],
                name="notification_centre",
                condition=Q(in_app=True),
            ),
            models.Index(
                fields=["user"],
                name="notification_unread",
                condition=Q(in_app=True, read_at__isnull=True),
            ),
            models.Index(
                fields=["subject", "event_type", "created_at"],
                name="notification_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} for {self.user_id} ({self.key})"


class Delivery(models.Model):
    """One (occurrence, channel, recipient): sent by the delivery task. Its id is
    the provider's idempotency key."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (nowhere to send it)"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=140)
    channel = models.CharField(max_length=16, choices=_CHANNEL_CHOICES)
    # Empty: the user's own address on the channel. Set for the old address of
    # an email change, which hears of it too.
    address = models.CharField(max_length=254, blank=True)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    provider_reference = models.CharField(max_length=200, blank=True)
    provider_answer = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        permissions = [
            ("retry_delivery", "Can send a failed notification delivery again"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "channel", "user"], name="delivery_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.key} for {self.user_id}: {self.status}"


class Preference(models.Model):
    """The user's choice for one (event type, channel); absent: the default."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    event_type = models.CharField(max_length=40, choices=EVENT_TYPE_CHOICES)
    channel = models.CharField(max_length=16, choices=_CHANNEL_CHOICES)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event_type", "channel"], name="preference_unique"
            ),
        ]

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.event_type}/{self.channel} {state} for {self.user_id}"
