"""Reads of a user's channels, shared by the senders, the page and the API."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from accounts.models import AuditEvent, User
from config.domain_errors import Unavailable
from devices import providers
from devices.errors import DevicesErrorCode as Code
from devices.models import (
    MobileDevice,
    PhoneChallenge,
    PhoneNumber,
    WebPushSubscription,
)
from devices.phone import e164_normalize


@dataclass(frozen=True)
class PendingCode:
    number: str
    expires_at: datetime
    attempts_left: int


@dataclass(frozen=True)
class PhoneState:
    number: str  # the profile's number, as typed
    verified_number: str | None  # set only while it still is the profile's
    verified_at: datetime | None
    pending: PendingCode | None


def verified_phone(*, user: User) -> PhoneNumber | None:
    """The number SMS may go to: verified, still the profile's number, and the
    profile's number not changed since (by the user or by staff: both are in
    the audit trail), so a change drops the verification for good, even if the
    number is later set back."""
    row = PhoneNumber.objects.filter(user=user).first()
    if row is None or e164_normalize(user.phone) != row.number:
        return None
    changed_since = (
        AuditEvent.objects.filter(
            user=user,
            created_at__gt=row.verified_at,
            extra__changes__has_key="phone",
        )
        .exclude(extra__has_key="phone_verified")
        .exists()
    )
    return None if changed_since else row


def phone_challenge_open(*, user: User) -> PhoneChallenge | None:
    """The latest code still usable: not closed, not expired, not locked."""
    challenge = (
        PhoneChallenge.objects.filter(user=user, closed_at__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )
    if (
        challenge is None
        or challenge.expires_at <= timezone.now()
        or challenge.failed_attempts >= settings.DEVICES_PHONE_CODE_MAX_ATTEMPTS
    ):
        return None
    return challenge


def phone_state(*, user: User) -> PhoneState:
    verified = verified_phone(user=user)
    challenge = phone_challenge_open(user=user)
    return PhoneState(
        number=user.phone,
        verified_number=verified.number if verified else None,
        verified_at=verified.verified_at if verified else None,
        pending=PendingCode(
            number=challenge.number,
            expires_at=challenge.expires_at,
            attempts_left=settings.DEVICES_PHONE_CODE_MAX_ATTEMPTS
            - challenge.failed_attempts,
        )
        if challenge
        else None,
    )


def webpush_subscription_list(*, user: User) -> list[WebPushSubscription]:
    return list(
        WebPushSubscription.objects.filter(user=user).order_by("-created_at", "-id")
    )


def mobile_device_list(*, user: User) -> list[MobileDevice]:
    return list(MobileDevice.objects.filter(user=user).order_by("-created_at", "-id"))


# --- Reach: who has a target on a channel (one query per notify batch) --------------


def users_with_phone(user_ids: Collection[int]) -> set[int]:
    """Users with a phone number on record: a superset of those SMS reaches
    (the sender still checks that it is verified and unchanged)."""
    return set(
        PhoneNumber.objects.filter(user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )


def users_with_webpush(user_ids: Collection[int]) -> set[int]:
    return set(
        WebPushSubscription.objects.filter(user_id__in=user_ids)
        .values_list("user_id", flat=True)
        .distinct()
    )


def users_with_mobile(user_ids: Collection[int]) -> set[int]:
    return set(
        MobileDevice.objects.filter(user_id__in=user_ids)
        .values_list("user_id", flat=True)
        .distinct()
    )


def webpush_public_key() -> str:
    """The VAPID public key browsers subscribe with (`applicationServerKey`)."""
    if not providers.webpush_configured():
        raise Unavailable(
            Code.WEBPUSH_UNAVAILABLE, "Web Push is not available on this site."
        )
    return str(settings.WEBPUSH_VAPID_PUBLIC_KEY)
