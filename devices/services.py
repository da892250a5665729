"""Every write of the devices app: the phone number's verification, browsers'
Web Push subscriptions, mobile apps' push tokens, and the removals the
providers or the end of a sign-in call for (docs/notification-channels.md)."""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.events import SecurityNotice, SignInsEnded
from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from accounts.services.sessions import device_from_user_agent
from config import events
from config.domain_errors import (
    ApplicationError,
    Conflict,
    NotFound,
    RateLimited,
    Unavailable,
    Unprocessable,
)
from devices import providers
from devices.errors import DevicesErrorCode as Code
from devices.models import (
    MobileDevice,
    PhoneChallenge,
    PhoneNumber,
    WebPushSubscription,
)
from devices.phone import code_hash, e164_normalize
from devices.selectors import verified_phone
from notifications.channels import ProviderError

# Browsers one user may keep subscribed; a new one beyond it replaces the oldest.
WEBPUSH_MAX_PER_USER = 20
# Mobile devices one user may keep registered; the same rule.
MOBILE_MAX_PER_USER = 20


def _mask(number: str) -> str:
    return number[:3] + "•" * max(0, len(number) - 7) + number[-4:]


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _rate_limited(message: str, wait: int) -> RateLimited:
    wait = max(1, wait)
    return RateLimited(
        Code.PHONE_CODE_RATE_LIMITED,
        f"{message} Try again in {_wait_text(wait)}.",
        details={"retry_after_seconds": wait},
    )


# --- The phone number -------------------------------------------------------------


def _phone_number_clean(number: str) -> str:
    cleaned = e164_normalize(number)
    if cleaned is None:
        raise ApplicationError(
            Code.PHONE_INVALID,
            "number: give the number in international form, e.g. +447700900123.",
            details={
                "number": ["Enter the number with its country code: +447700900123."]
            },
        )
    return cleaned


def _code_send_limits_check(*, user: User, number: str) -> None:
    """One code per DEVICES_PHONE_CODE_RESEND_SECONDS, DEVICES_PHONE_CODES_PER_HOUR
    per user, and as many per number across all users (SMS pumping)."""
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    mine = PhoneChallenge.objects.filter(user=user, created_at__gt=hour_ago)
    last = mine.order_by("-created_at").values_list("created_at", flat=True).first()
    resend = settings.DEVICES_PHONE_CODE_RESEND_SECONDS
    if last is not None and (now - last).total_seconds() < resend:
        wait = math.ceil(resend - (now - last).total_seconds())
        raise _rate_limited("A code was just sent.", wait)
    for sent in (
        mine,
        PhoneChallenge.objects.filter(number=number, created_at__gt=hour_ago),
    ):
        times = list(sent.order_by("created_at").values_list("created_at", flat=True))
        if len(times) >= settings.DEVICES_PHONE_CODES_PER_HOUR:
            oldest = times[-settings.DEVICES_PHONE_CODES_PER_HOUR]
            wait = math.ceil((oldest + timedelta(hours=1) - now).total_seconds())
            raise _rate_limited("Too many codes were sent in the last hour.", wait)


@transaction.atomic
def _phone_challenge_create(*, user: User, number: str) -> tuple[PhoneChallenge, str]:
    # the user's row lock serialises two sends at once (the limits hold)
    User.objects.select_for_update().filter(pk=user.pk).first()
    _code_send_limits_check(user=user, number=number)
    now = timezone.now()
    PhoneChallenge.objects.filter(user=user, closed_at__isnull=True).update(
        closed_at=now
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    challenge = PhoneChallenge.objects.create(
        user=user,
        number=number,
        code_hash=code_hash(challenge_salt=f"{user.pk}:{number}", code=code),
        created_at=now,
        expires_at=now + timedelta(minutes=settings.DEVICES_PHONE_CODE_MINUTES),
    )
    return challenge, code


def phone_code_send(
    *, user: User, number: str, meta: RequestMeta | None = None
) -> PhoneChallenge:
    """Send a 6-digit code by SMS to `number` (E.164) to prove it is the user's.
    The code is valid DEVICES_PHONE_CODE_MINUTES; a newer code replaces it. Sent
    after the challenge is committed, so a provider outage leaves a closed
    challenge (it counts toward the limits) and a clear error."""
    cleaned = _phone_number_clean(number)
    current = verified_phone(user=user)
    if current is not None and current.number == cleaned:
        raise Conflict(
            Code.PHONE_ALREADY_VERIFIED,
            "number: this number is already verified.",
            details={"number": ["Already verified."]},
        )
    if not providers.sms_configured():
        raise Unavailable(Code.SMS_UNAVAILABLE, "SMS is not available on this site.")
    challenge, code = _phone_challenge_create(user=user, number=cleaned)
    minutes = settings.DEVICES_PHONE_CODE_MINUTES
    body = (
        f"{code} is your {settings.DEVICES_SMS_SITE_NAME} verification code. "
        f"It expires in {minutes} minutes. Never share it."
    )
    try:
        reference = providers.sms_send(to=cleaned, body=body)
    except ProviderError as exc:
        PhoneChallenge.objects.filter(pk=challenge.pk).update(
            closed_at=timezone.now(), provider_ref=exc.answer[:64]
        )
        if exc.permanent:
            raise Unprocessable(
                Code.SMS_REFUSED,
                "number: the SMS provider cannot deliver to this number.",
                details={"number": ["SMS cannot be delivered to this number."]},
            ) from exc
        raise Unavailable(
            Code.SMS_UNAVAILABLE, "The SMS could not be sent; try again shortly."
        ) from exc
    PhoneChallenge.objects.filter(pk=challenge.pk).update(provider_ref=reference[:64])
    challenge.provider_ref = reference[:64]
    return challenge


@transaction.atomic
def _phone_code_check(
    *, user: User, code: str, meta: RequestMeta | None
) -> tuple[PhoneNumber | None, ApplicationError | None]:
    """The attempt, committed whatever its outcome (a wrong code must count even
    though the caller gets an error): the error is returned, not raised."""
    challenge = (
        PhoneChallenge.objects.select_for_update()
        .filter(user=user, closed_at__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )
    limit = settings.DEVICES_PHONE_CODE_MAX_ATTEMPTS
    if challenge is None:
        return None, Conflict(
            Code.PHONE_NO_PENDING_CODE,
            "code: no code is waiting; ask for a new one.",
            details={"code": ["Ask for a new code."]},
        )
    if challenge.failed_attempts >= limit:
        return None, RateLimited(
            Code.PHONE_CODE_LOCKED,
            "code: too many wrong codes; ask for a new one.",
            details={"code": ["Too many wrong codes; ask for a new one."]},
        )
    if challenge.expires_at <= timezone.now():
        return None, Unprocessable(
            Code.PHONE_CODE_EXPIRED,
            "code: this code has expired; ask for a new one.",
            details={"code": ["Expired; ask for a new one."]},
        )
    expected = code_hash(
        challenge_salt=f"{user.pk}:{challenge.number}", code=code.strip()
    )
    if not secrets.compare_digest(expected, challenge.code_hash):
        challenge.failed_attempts += 1
        challenge.save(update_fields=["failed_attempts"])
        left = limit - challenge.failed_attempts
        if left <= 0:
            return None, RateLimited(
                Code.PHONE_CODE_LOCKED,
                "code: too many wrong codes; ask for a new one.",
                details={"code": ["Too many wrong codes; ask for a new one."]},
            )
        return None, Unprocessable(
            Code.PHONE_CODE_WRONG,
            f"code: wrong code; {left} tr{'ies' if left != 1 else 'y'} left.",
            details={"code": ["Wrong code."], "attempts_left": left},
        )
    now = timezone.now()
    challenge.closed_at = now
    challenge.save(update_fields=["closed_at"])
    caller = user
    user = User.objects.select_for_update().get(pk=user.pk)
    previous = PhoneNumber.objects.select_for_update().filter(user=user).first()
    was_verified = verified_phone(user=user)
    phone, _ = PhoneNumber.objects.update_or_create(
        user=user, defaults={"number": challenge.number, "verified_at": now}
    )
    extra: dict[str, object] = {"phone_verified": challenge.number}
    if user.phone != challenge.number:
        extra["changes"] = {"phone": [user.phone, challenge.number]}
        user.phone = challenge.number
        user.save(update_fields=["phone"])
        caller.phone = user.phone
    audit_event_record(
        code=AuditCode.PROFILE_UPDATED,
        user=user,
        acting_user=user,
        meta=meta,
        extra=extra,
    )
    if (
        was_verified is not None
        and previous is not None
        and previous.number != phone.number
    ):
        _phone_changed_notice(
            user=user,
            detail=f"{_mask(previous.number)} → {_mask(phone.number)}",
            meta=meta,
        )
    return phone, None


def phone_code_confirm(
    *, user: User, code: str, meta: RequestMeta | None = None
) -> PhoneNumber:
    """Confirm the latest code: the number becomes the verified one (and the
    profile's). A wrong code counts; after DEVICES_PHONE_CODE_MAX_ATTEMPTS the
    code is locked and only a new one helps. Replacing a verified number records
    SecurityNotice("phone_changed")."""
    phone, error = _phone_code_check(user=user, code=code, meta=meta)
    if error is not None:
        raise error
    assert phone is not None
    return phone


def _phone_changed_notice(*, user: User, detail: str, meta: RequestMeta | None) -> None:
    meta = meta or RequestMeta()
    events.record(
        SecurityNotice(
            user_id=user.pk,
            kind="phone_changed",
            detail=(("phone", detail),),
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
        )
    )


@transaction.atomic
def phone_remove(*, user: User, meta: RequestMeta | None = None) -> None:
    """Stop SMS: the verified number is forgotten (the profile keeps its number)
    and a pending code is dropped."""
    row = PhoneNumber.objects.select_for_update().filter(user=user).first()
    if row is None:
        raise NotFound(Code.PHONE_NOT_FOUND, "No verified phone number.")
    was_verified = verified_phone(user=user) is not None
    row.delete()
    PhoneChallenge.objects.filter(user=user, closed_at__isnull=True).update(
        closed_at=timezone.now()
    )
    audit_event_record(
        code=AuditCode.PROFILE_UPDATED,
        user=user,
        acting_user=user,
        meta=meta,
        extra={"phone_verification_removed": row.number},
    )
    if was_verified:
        _phone_changed_notice(
            user=user, detail=f"{_mask(row.number)} removed", meta=meta
        )


# --- Web Push subscriptions ---------------------------------------------------------


def _b64url_bytes(value: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _webpush_check(*, endpoint: str, p256dh: str, auth: str) -> None:
    if not providers.webpush_configured():
        raise Unavailable(
            Code.WEBPUSH_UNAVAILABLE, "Web Push is not available on this site."
        )
    if not providers.webpush_endpoint_allowed(endpoint):
        raise ApplicationError(
            Code.WEBPUSH_ENDPOINT_INVALID,
            "endpoint: not the https address of a known push service.",
            details={"endpoint": ["Not a known push service."]},
        )
    key = _b64url_bytes(p256dh)
    secret = _b64url_bytes(auth)
    if (
        key is None
        or len(key) != 65
        or key[0] != 4
        or secret is None
        or len(secret) != 16
    ):
        raise ApplicationError(
            Code.WEBPUSH_KEYS_INVALID,
            "keys: p256dh must be a P-256 public key and auth 16 bytes, base64url.",
            details={"keys": ["Not the keys of a push subscription."]},
        )


@transaction.atomic
def webpush_subscribe(
    *, user: User, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> tuple[WebPushSubscription, bool]:
    """This browser's subscription, for `user` (an endpoint belongs to one row: a
    browser signed in to another account moves to this one). True if new."""
    _webpush_check(endpoint=endpoint, p256dh=p256dh, auth=auth)
    subscription, created = WebPushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "user": user,
            "p256dh": p256dh,
            "auth": auth,
            "browser": device_from_user_agent(user_agent).label if user_agent else "",
        },
    )
    extra = WebPushSubscription.objects.filter(user=user).order_by(
        "-created_at", "-id"
    )[WEBPUSH_MAX_PER_USER:]
    WebPushSubscription.objects.filter(
        pk__in=list(extra.values_list("pk", flat=True))
    ).delete()
    return subscription, created


@transaction.atomic
def webpush_unsubscribe(*, user: User, endpoint: str) -> int:
    """This browser unsubscribed (its endpoint): how many rows went (0 or 1)."""
    deleted, _ = WebPushSubscription.objects.filter(
        user=user, endpoint=endpoint
    ).delete()
    return deleted


@transaction.atomic
def webpush_subscription_remove(*, user: User, subscription_id: int) -> None:
    """Remove one of the user's browsers from the list."""
    deleted, _ = WebPushSubscription.objects.filter(
        user=user, pk=subscription_id
    ).delete()
    if not deleted:
        raise NotFound(
            Code.SUBSCRIPTION_NOT_FOUND,
            "id: no browser of yours has this id.",
            details={"id": ["Not found."]},
        )


def webpush_subscription_drop(*, subscription_id: int) -> None:
    """The push service said the subscription is gone (404, 410)."""
    WebPushSubscription.objects.filter(pk=subscription_id).delete()


# --- Mobile devices ---------------------------------------------------------------


def _token_clean(token: str) -> str:
    token = (token or "").strip()
    if not token or len(token) > 512 or any(ch.isspace() for ch in token):
        raise ApplicationError(
            Code.MOBILE_TOKEN_INVALID,
            "token: the push token the platform gave, up to 512 characters.",
            details={"token": ["Not a push token."]},
        )
    return token


@transaction.atomic
def mobile_device_register(
    *,
    user: User,
    platform: str,
    token: str,
    name: str = "",
    sign_in: str | None = None,
) -> tuple[MobileDevice, bool]:
    """Register (or refresh) this app installation's push token. One row per
    device: a token already known moves to this user and sign-in, and a new
    token from a sign-in that has one replaces it (the app's token rotated).
    True if a row was created."""
    token = _token_clean(token)
    if platform not in MobileDevice.Platform.values:
        raise ApplicationError(
            Code.MOBILE_TOKEN_INVALID,
            "platform: one of fcm, apns.",
            details={"platform": ["One of fcm, apns."]},
        )
    family = _uuid_or_none(sign_in)
    device = MobileDevice.objects.select_for_update().filter(token=token).first()
    if device is None and family is not None:
        device = (
            MobileDevice.objects.select_for_update()
            .filter(user=user, sign_in=family)
            .first()
        )
    created = device is None
    if device is None:
        device = MobileDevice(token=token)
    device.user = user
    device.platform = platform
    device.token = token
    device.name = name.strip()[:100]
    device.sign_in = family
    device.save()
    extra = MobileDevice.objects.filter(user=user).order_by("-created_at", "-id")[
        MOBILE_MAX_PER_USER:
    ]
    MobileDevice.objects.filter(
        pk__in=list(extra.values_list("pk", flat=True))
    ).delete()
    return device, created


@transaction.atomic
def mobile_device_remove(*, user: User, device_id: int) -> None:
    deleted, _ = MobileDevice.objects.filter(user=user, pk=device_id).delete()
    if not deleted:
        raise NotFound(
            Code.MOBILE_DEVICE_NOT_FOUND,
            "id: no device of yours has this id.",
            details={"id": ["Not found."]},
        )


def mobile_device_drop(*, device_id: int) -> None:
    """FCM said the token is dead (unregistered, or another project's)."""
    MobileDevice.objects.filter(pk=device_id).delete()


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def mobile_devices_on_sign_ins_ended(event: SignInsEnded) -> None:
    """Subscriber (config/subscribers.py, in the transaction that ends them):
    a device stops receiving when its sign-in ends (logout, password change,
    staff lock, a session ended from the devices list)."""
    devices = MobileDevice.objects.filter(user_id=event.user_id)
    if event.everything:
        keep = _uuid_or_none(event.keep)
        if keep is not None:
            devices = devices.exclude(sign_in=keep)
        devices.delete()
        return
    ended = [_uuid_or_none(s) for s in event.sign_ins]
    ended = [s for s in ended if s is not None]
    if ended:
        devices.filter(sign_in__in=ended).delete()
