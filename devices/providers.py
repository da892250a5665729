"""The three providers, each behind one function that speaks our terms: a
reference on success, `ProviderError` (permanent or not) on failure, and
`DeadTarget` when the provider says the phone's subscription or token is gone
for good. Only this module imports the providers' SDKs
(docs/notification-channels.md)."""

from __future__ import annotations

import functools
import json
import logging
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from notifications.channels import ProviderError

logger = logging.getLogger(__name__)

# Seconds a provider may take to answer before the attempt counts as failed
# (and is retried): no SDK's default, some of which wait for ever.
TIMEOUT_SECONDS = 10

# Twilio error codes that no retry can fix: the number is invalid, not a mobile,
# unreachable, opted out (STOP), or in a region the account may not send to.
TWILIO_PERMANENT_CODES = frozenset(
    {21211, 21214, 21407, 21408, 21610, 21612, 21614, 21635}
)


class DeadTarget(ProviderError):
    """The provider says this subscription or token will never work again."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer, permanent=True)


def _retryable_status(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


# --- SMS: Twilio ---------------------------------------------------------------------


def sms_configured() -> bool:
    return bool(
        settings.TWILIO_ACCOUNT_SID
        and settings.TWILIO_AUTH_TOKEN
        and (settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID)
    )


def _twilio_client() -> Any:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    return Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS),
    )


def sms_send(*, to: str, body: str) -> str:
    """One SMS to an E.164 number; Twilio's message SID."""
    from twilio.base.exceptions import TwilioException, TwilioRestException

    if not sms_configured():
        raise ProviderError("SMS is not configured (TWILIO_*)", permanent=True)
    sender: dict[str, str] = (
        {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        if settings.TWILIO_MESSAGING_SERVICE_SID
        else {"from_": settings.TWILIO_FROM_NUMBER}
    )
    try:
        message = _twilio_client().messages.create(to=to, body=body, **sender)
    except TwilioRestException as exc:
        answer = f"Twilio {exc.status} (code {exc.code}): {exc.msg}"
        permanent = exc.code in TWILIO_PERMANENT_CODES or not _retryable_status(
            exc.status
        )
        raise ProviderError(answer, permanent=permanent) from exc
    except (requests.RequestException, TwilioException) as exc:
        raise ProviderError(f"Twilio unreachable: {exc}") from exc
    return str(message.sid)


# --- Web Push: pywebpush and VAPID --------------------------------------------------


def webpush_configured() -> bool:
    return bool(
        settings.WEBPUSH_VAPID_PUBLIC_KEY
        and settings.WEBPUSH_VAPID_PRIVATE_KEY
        and settings.WEBPUSH_VAPID_SUBJECT
    )


def webpush_public_key_or_empty() -> str:
    return str(settings.WEBPUSH_VAPID_PUBLIC_KEY) if webpush_configured() else ""


@functools.cache
def _vapid(private_key: str) -> Any:
    from py_vapid import Vapid

    return Vapid.from_string(private_key=private_key)


def webpush_endpoint_allowed(endpoint: str) -> bool:
    """Only https URLs of the push services in WEBPUSH_ALLOWED_HOSTS (the server
    POSTs to it: an arbitrary URL would make it a proxy into the network)."""
    parts = urlsplit(endpoint)
    if parts.scheme != "https" or not parts.hostname or parts.port not in (None, 443):
        return False
    host = parts.hostname.lower()
    return any(
        host == allowed or host.endswith("." + allowed)
        for allowed in settings.WEBPUSH_ALLOWED_HOSTS
    )


def webpush_send(
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    payload: Mapping[str, Any],
    ttl: int,
    topic: str = "",
) -> str:
    """One encrypted push message (aes128gcm, VAPID-signed) to one browser; the
    push service's message location, or its status."""
    from pywebpush import WebPushException, webpush

    if not webpush_configured():
        raise ProviderError(
            "Web Push is not configured (WEBPUSH_VAPID_*)", permanent=True
        )
    if not webpush_endpoint_allowed(endpoint):
        raise DeadTarget("endpoint is not an allowed push service")
    headers = {"Urgency": "high"}
    if topic:
        headers["Topic"] = topic
    try:
        response = webpush(
            subscription_info={
                "endpoint": endpoint,
                "keys": {"p256dh": p256dh, "auth": auth},
            },
            data=json.dumps(payload, separators=(",", ":")),
            vapid_private_key=_vapid(settings.WEBPUSH_VAPID_PRIVATE_KEY),
            vapid_claims={"sub": settings.WEBPUSH_VAPID_SUBJECT},
            content_encoding="aes128gcm",
            ttl=ttl,
            headers=headers,
            timeout=TIMEOUT_SECONDS,
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        text = (exc.response.text if exc.response is not None else str(exc))[:300]
        answer = f"push service {status}: {text}".strip()
        if status in (404, 410):
            raise DeadTarget(answer) from exc
        raise ProviderError(answer, permanent=not _retryable_status(status)) from exc
    except requests.RequestException as exc:
        raise ProviderError(f"push service unreachable: {exc}") from exc
    except (ValueError, TypeError) as exc:  # keys the browser gave are unusable
        raise DeadTarget(f"subscription keys unusable: {exc}") from exc
    return response.headers.get("Location") or str(response.status_code)


# --- Mobile push: Firebase Cloud Messaging (firebase-admin) -------------------------

FIREBASE_APP_NAME = "devices"


def mobile_configured() -> bool:
    return bool(settings.FCM_CREDENTIALS_FILE or settings.FCM_CREDENTIALS_JSON)


def _firebase_app() -> Any:
    import firebase_admin
    from firebase_admin import credentials

    try:
        return firebase_admin.get_app(FIREBASE_APP_NAME)
    except ValueError:
        pass
    if settings.FCM_CREDENTIALS_JSON:
        info: Any = json.loads(settings.FCM_CREDENTIALS_JSON)
    else:
        info = settings.FCM_CREDENTIALS_FILE
    options = {"projectId": settings.FCM_PROJECT_ID} if settings.FCM_PROJECT_ID else {}
    options["httpTimeout"] = TIMEOUT_SECONDS
    return firebase_admin.initialize_app(
        credentials.Certificate(info), options=options, name=FIREBASE_APP_NAME
    )


def firebase_reset() -> None:
    """Forget the Firebase app (tests change the credentials)."""
    import firebase_admin

    try:
        firebase_admin.delete_app(firebase_admin.get_app(FIREBASE_APP_NAME))
    except ValueError:
        pass


def _fcm_message(
    messaging: Any,
    *,
    token: str,
    platform: str,
    notification: Any,
    data: Mapping[str, str],
    collapse_key: str,
    ttl: int,
) -> Any:
    return messaging.Message(
        token=token,
        notification=notification,
        data=dict(data),
        android=messaging.AndroidConfig(
            collapse_key=collapse_key, priority="high", ttl=ttl
        )
        if platform == "fcm"
        else None,
        apns=messaging.APNSConfig(
            headers={"apns-collapse-id": collapse_key[:64], "apns-priority": "10"},
            payload=messaging.APNSPayload(aps=messaging.Aps(sound="default")),
        )
        if platform == "apns"
        else None,
    )


def mobile_send(
    *,
    token: str,
    platform: str,
    title: str,
    body: str,
    data: Mapping[str, str],
    collapse_key: str,
    ttl: int,
) -> str:
    """One notification to one app installation through FCM's HTTP v1 API (an
    iOS app's token is an FCM registration token too: FCM hands it to APNs);
    FCM's message name."""
    from firebase_admin import exceptions, messaging

    if not mobile_configured():
        raise ProviderError("Mobile push is not configured (FCM_*)", permanent=True)
    notification = messaging.Notification(title=title, body=body)
    with warnings.catch_warnings():
        # firebase-admin 7.7 deprecates registration tokens for Firebase
        # installation IDs (`fid`); the apps still hand out registration tokens
        # (docs/notification-channels.md).
        warnings.simplefilter("ignore", DeprecationWarning)
        message = _fcm_message(
            messaging,
            token=token,
            platform=platform,
            notification=notification,
            data=data,
            collapse_key=collapse_key,
            ttl=ttl,
        )
    try:
        return str(messaging.send(message, app=_firebase_app()))
    except (messaging.UnregisteredError, messaging.SenderIdMismatchError) as exc:
        raise DeadTarget(f"FCM: {exc.code}: {exc}") from exc
    except exceptions.InvalidArgumentError as exc:
        if "registration token" in str(exc).lower():
            raise DeadTarget(f"FCM: {exc.code}: {exc}") from exc
        raise ProviderError(f"FCM: {exc.code}: {exc}", permanent=True) from exc
    except exceptions.FirebaseError as exc:
        status = (
            exc.http_response.status_code if exc.http_response is not None else None
        )
        retryable = isinstance(
            exc,
            exceptions.UnavailableError
            | exceptions.InternalError
            | exceptions.ResourceExhaustedError
            | exceptions.DeadlineExceededError,
        ) or (status is not None and _retryable_status(status))
        answer = f"FCM {status}: {exc.code}: {exc}"
        raise ProviderError(answer, permanent=not retryable) from exc
