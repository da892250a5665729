"""The email channel: a delivery rendered from the text and HTML templates
(templates/notifications/email/), in the user's time zone, sent through
Django's email backend: django-anymail's backend for a provider in production
(EMAIL_BACKEND + ANYMAIL), SMTP (EMAIL_URL) or the console locally.

Every email of a type the user may turn off carries a one-click unsubscribe
(RFC 8058): `List-Unsubscribe` with the signed link and `List-Unsubscribe-Post`.
The Message-ID is derived from the delivery id, so a resend after a crash is
the same message to the receiving side (and anymail passes it on)."""

from __future__ import annotations

import smtplib
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from notifications import catalogue
from notifications.channels import NoTarget, OutgoingMessage, ProviderError
from notifications.models import Delivery

_UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def unsubscribe_token(*, user_id: int, event_type: str) -> str:
    return signing.dumps({"u": user_id, "t": event_type}, salt=_UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> tuple[int, str] | None:
    """(user id, event type) of a token this site signed, else None."""
    try:
        value = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
        return int(value["u"]), str(value["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def local_time(moment: datetime, zone_name: str) -> str:
    """ "7 Dec 2026, 10:15 (Europe/Paris)"; UTC, labelled, when the user has
    no zone (or one this system does not know)."""
    zone = ZoneInfo("UTC")
    label = "UTC"
    if zone_name:
        try:
            zone = ZoneInfo(zone_name)
            label = zone_name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return f"{moment.astimezone(zone):%-d %b %Y, %H:%M} ({label})"


def _site(path: str) -> str:
    return settings.NOTIFICATIONS_SITE_URL.rstrip("/") + path


def email_build(delivery: Delivery, message: OutgoingMessage) -> EmailMultiAlternatives:
    notification = delivery.notification
    user = delivery.user
    address = delivery.address or user.email
    if not address:
        raise NoTarget("the user has no email address")
    spec = catalogue.event_type(notification.event_type)
    unsubscribe = ""
    if not spec.security:
        token = unsubscribe_token(user_id=user.pk, event_type=spec.code)
        unsubscribe = _site(reverse("notifications:unsubscribe", args=[token]))
    context = {
        "user": user,
        "notification": notification,
        "event_type": spec,
        "when": local_time(notification.created_at, user.time_zone),
        "link": message.url,
        "unsubscribe_url": unsubscribe,
        "preferences_url": _site(reverse("notifications:preferences")),
        "to_old_address": bool(delivery.address),
    }
    text = render_to_string("notifications/email/message.txt", context)
    html = render_to_string("notifications/email/message.html", context)
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "exchange.local"
    headers = {
        "Message-ID": f"<notification-delivery-{delivery.pk}@{domain}>",
        "X-Delivery-Id": str(delivery.pk),
    }
    if unsubscribe:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(
        subject=notification.title,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        headers=headers,
    )
    email.attach_alternative(html, "text/html")
    return email


def email_send(message: OutgoingMessage) -> str:
    """The "email" channel's sender (notifications.channels): the provider's
    message id, or our Message-ID when the backend reports none."""
    delivery = Delivery.objects.select_related("notification", "user").get(
        pk=message.delivery_id
    )
    email = email_build(delivery, message)
    try:
        email.send(fail_silently=False)
    except AnymailRecipientsRefused as exc:
        raise ProviderError(str(exc), permanent=True) from exc
    except AnymailError as exc:
        raise ProviderError(str(exc)) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise ProviderError(
            f"recipient refused: {exc.recipients}", permanent=True
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
    status = getattr(email, "anymail_status", None)
    if status is not None and status.message_id:
        return str(status.message_id)
    return email.extra_headers["Message-ID"]
