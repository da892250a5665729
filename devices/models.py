"""What a user's own devices need to receive notifications
(docs/notification-channels.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class PhoneNumber(models.Model):
    """The user's verified phone number: the only number SMS goes to. It counts
    while it equals `User.phone` (a change of the profile's number, by the user
    or by staff, leaves it unverified until a new code is confirmed)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    number = models.CharField(max_length=16, help_text="E.164, e.g. +447700900123")
    verified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(number__regex=r"^\+[1-9][0-9]{6,14}$"),
                name="devices_phone_number_e164",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} (user {self.user_id})"


class PhoneChallenge(models.Model):
    """One code sent by SMS to prove a number. The code is kept as an HMAC only;
    rows stay after use (the send limits count them) until pruned with the user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    number = models.CharField(max_length=16)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    # set once: confirmed, replaced by a newer code, or the SMS was refused
    closed_at = models.DateTimeField(null=True, blank=True)
    provider_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["number", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"code for {self.number} (user {self.user_id})"


class WebPushSubscription(models.Model):
    """One browser subscribed to Web Push (its PushSubscription): the endpoint
    belongs to one row; a 404 or 410 from the push service deletes it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webpush_subscriptions",
    )
    endpoint = models.URLField(max_length=1024, unique=True)
    p256dh = models.CharField(max_length=128)
    auth = models.CharField(max_length=64)
    browser = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.browser or 'browser'} (user {self.user_id})"


class MobileDevice(models.Model):
    """One installation of a mobile app, by its push token (a token belongs to
    one row). Tied to the sign-in (token family) that registered it: ending that
    sign-in (logout) deletes it, and so does the provider calling it dead."""

    class Platform(models.TextChoices):
        FCM = "fcm", "Android (FCM)"
        APNS = "apns", "iOS (APNs through FCM)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    platform = models.CharField(max_length=8, choices=Platform.choices)
    token = models.CharField(max_length=512, unique=True)
    name = models.CharField(max_length=100, blank=True)
    # accounts.SignIn.public_id of the sign-in that registered it (its JWT's `fam`)
    sign_in = models.UUIDField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["user", "sign_in"])]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}: {self.name or 'device'}"
