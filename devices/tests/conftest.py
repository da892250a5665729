"""Fixtures for the devices tests: the providers' settings, a user, and the keys
a real browser and a real service account would have."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from accounts.testing import make_user
from devices import providers
from devices.management.commands.webpush_vapid_keys import vapid_key_pair

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-test-auth-token"
TWILIO_FROM = "+15005550006"
TWILIO_MESSAGES_URL = (
    f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
)
FCM_PROJECT = "exchange-test"
FCM_SEND_URL = f"https://fcm.googleapis.com/v1/projects/{FCM_PROJECT}/messages:send"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
VAPID_SUBJECT = "mailto:ops@example.com"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Browser:
    """A browser's side of a push subscription: its ECDH key and auth secret
    (what the push service's client keeps, to decrypt what arrives)."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        return b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962,
                serialization.PublicFormat.UncompressedPoint,
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def subscription_json(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }


def new_browser(name: str = "abc") -> Browser:
    return Browser(
        endpoint=f"https://fcm.googleapis.com/fcm/send/{name}:APA91b{os.urandom(8).hex()}",
        key=ec.generate_private_key(ec.SECP256R1()),
        auth_secret=os.urandom(16),
    )


@pytest.fixture
def user(db):
    return make_user(email="devices-owner@example.com", full_name="Dana Devices")


@pytest.fixture
def twilio(settings):
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM_NUMBER = TWILIO_FROM
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    return settings


@pytest.fixture
def vapid(settings):
    public, private = vapid_key_pair()
    settings.WEBPUSH_VAPID_PUBLIC_KEY = public
    settings.WEBPUSH_VAPID_PRIVATE_KEY = private
    settings.WEBPUSH_VAPID_SUBJECT = VAPID_SUBJECT
    return public


@pytest.fixture
def fcm(settings):
    """A service account of our own making: google-auth signs its OAuth
    assertion with this key, and the fake token endpoint accepts it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    settings.FCM_CREDENTIALS_JSON = json.dumps(
        {
            "type": "service_account",
            "project_id": FCM_PROJECT,
            "private_key_id": "test-key-1",
            "private_key": pem,
            "client_email": f"push@{FCM_PROJECT}.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": GOOGLE_TOKEN_URL,
        }
    )
    settings.FCM_CREDENTIALS_FILE = ""
    settings.FCM_PROJECT_ID = ""
    providers.firebase_reset()
    yield key
    providers.firebase_reset()
