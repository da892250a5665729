"""The senders of the channels "sms", "webpush" and "mobile"
(notifications.channels: registered from DevicesConfig.ready()). Each turns one
OutgoingMessage into provider calls: the provider's reference on success,
ProviderError when it failed, NoTarget when the user has nowhere to receive it.

A dead browser subscription or mobile token is deleted as soon as the provider
says so. A message for several browsers or devices counts as sent when any one
took it (a retry would repeat it on the others); it fails only when none did,
and is retryable when any failure was."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from devices import providers, services
from devices.models import MobileDevice, WebPushSubscription
from devices.selectors import verified_phone
from notifications.channels import NoTarget, OutgoingMessage, ProviderError

# GSM-7 fits 160 characters in one segment; three segments at most.
SMS_MAX_CHARS = 459


def _user(message: OutgoingMessage) -> User:
    user = User.objects.filter(pk=message.user_id).first()
    if user is None:
        raise NoTarget("no such user")
    return user


def sms_text(message: OutgoingMessage) -> str:
    parts = [message.title.strip(), message.body.strip()]
    text = "\n".join(part for part in parts if part)
    room = SMS_MAX_CHARS - (len(message.url) + 1 if message.url else 0)
    if len(text) > room:
        text = text[: max(0, room - 1)].rstrip() + "…"
    return f"{text}\n{message.url}" if message.url else text


def send_sms(message: OutgoingMessage) -> str:
    phone = verified_phone(user=_user(message))
    if phone is None:
        raise NoTarget("no verified phone number")
    return providers.sms_send(to=phone.number, body=sms_text(message))


def _push_payload(message: OutgoingMessage) -> dict[str, object]:
    return {
        "title": message.title,
        "body": message.body,
        "url": message.url,
        "tag": f"{message.event_type}-{message.delivery_id}",
        "data": dict(message.data),
    }


def _outcome(
    *, sent: list[str], failures: list[ProviderError], dead: int, what: str
) -> str:
    if sent:
        note = f"sent to {len(sent)} {what}"
        if failures or dead:
            note += f"; {len(failures)} failed, {dead} removed as dead"
        return f"{note}: {', '.join(sent)}"[:500]
    if not failures:
        raise NoTarget(f"every {what} was dead and is removed")
    answer = "; ".join(f.answer for f in failures)[:500]
    raise ProviderError(answer, permanent=all(f.permanent for f in failures))


def send_webpush(message: OutgoingMessage) -> str:
    subscriptions = list(
        WebPushSubscription.objects.filter(user_id=message.user_id).order_by("pk")
    )
    if not subscriptions:
        raise NoTarget("no browser is subscribed")
    sent: list[str] = []
    failures: list[ProviderError] = []
    dead = 0
    payload = _push_payload(message)
    for subscription in subscriptions:
        try:
            reference = providers.webpush_send(
                endpoint=subscription.endpoint,
                p256dh=subscription.p256dh,
                auth=subscription.auth,
                payload=payload,
                ttl=settings.DEVICES_PUSH_TTL_SECONDS,
            )
        except providers.DeadTarget:
            services.webpush_subscription_drop(subscription_id=subscription.pk)
            dead += 1
        except ProviderError as exc:
            failures.append(exc)
        else:
            sent.append(reference)
            WebPushSubscription.objects.filter(pk=subscription.pk).update(
                last_sent_at=timezone.now()
            )
    return _outcome(sent=sent, failures=failures, dead=dead, what="browsers")


def send_mobile(message: OutgoingMessage) -> str:
    devices = list(MobileDevice.objects.filter(user_id=message.user_id).order_by("pk"))
    if not devices:
        raise NoTarget("no mobile device is registered")
    sent: list[str] = []
    failures: list[ProviderError] = []
    dead = 0
    data = {**message.data, "url": message.url, "event_type": message.event_type}
    for device in devices:
        try:
            reference = providers.mobile_send(
                token=device.token,
                platform=device.platform,
                title=message.title,
                body=message.body,
                data=data,
                collapse_key=f"{message.event_type}-{message.delivery_id}",
                ttl=settings.DEVICES_PUSH_TTL_SECONDS,
            )
        except providers.DeadTarget:
            services.mobile_device_drop(device_id=device.pk)
            dead += 1
        except ProviderError as exc:
            failures.append(exc)
        else:
            sent.append(reference)
            MobileDevice.objects.filter(pk=device.pk).update(
                last_sent_at=timezone.now()
            )
    return _outcome(sent=sent, failures=failures, dead=dead, what="devices")
