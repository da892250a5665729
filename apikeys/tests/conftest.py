"""Keys made through the real service, and a client that signs its requests."""

from __future__ import annotations

import itertools
import json as jsonlib
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from rest_framework.test import APIClient

from accounts.testing import make_user
from apikeys import services, signing

_codes = itertools.count(1)


def backup_code(user) -> str:
    """A fresh backup code of the user's (one is used up by each call to a
    service that asks for a second factor)."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="backup", defaults={"confirmed": True}
    )
    code = f"bk{next(_codes):08d}"
    StaticToken.objects.create(device=device, token=code)
    return code


def make_key(user, *, kind="hmac", scopes=("read",), **fields):
    """(key, secret or private key) made through the service."""
    private = None
    if kind == "ed25519":
        private = Ed25519PrivateKey.generate()
        from cryptography.hazmat.primitives import serialization

        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        import base64

        fields["public_key"] = base64.b64encode(raw).decode()
    issued = services.api_key_create(
        user=user, kind=kind, scopes=list(scopes), otp=backup_code(user), **fields
    )
    return issued.key, (issued.secret if kind == "hmac" else private)


class SignedClient:
    """Django's test client, every request signed as the spec says."""

    def __init__(self, key, credential, **extra):
        self.key = key
        self.credential = credential
        self.client = APIClient(**extra)

    def headers(
        self, method, path, query="", body=b"", *, timestamp_ms=None, window_ms=None
    ):
        credential = {
            "secret" if isinstance(self.credential, str) else "private_key": (
                self.credential
            )
        }
        headers = signing.signed_headers(
            key_id=self.key.key_id,
            method=method,
            path=path,
            query=query,
            body=body,
            timestamp_ms=timestamp_ms
            if timestamp_ms is not None
            else int(time.time() * 1000),
            window_ms=window_ms,
            **credential,
        )
        return {
            "HTTP_" + name.upper().replace("-", "_"): value
            for name, value in headers.items()
        }

    def request(
        self, method, path, *, query="", json=None, body=None, extra=None, **sign
    ):
        if json is not None:
            body = jsonlib.dumps(json).encode()
        body = body or b""
        meta = self.headers(method, path, query, body, **sign)
        meta.update(extra or {})
        url = f"{path}?{query}" if query else path
        return self.client.generic(
            method, url, data=body, content_type="application/json", **meta
        )

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)


@pytest.fixture
def owner(db):
    return make_user(email="owner@example.com", full_name="Olive Owner")


@pytest.fixture
def hmac_key(owner):
    return make_key(owner, label="bot")


@pytest.fixture
def signed(hmac_key):
    key, secret = hmac_key
    return SignedClient(key, secret)


def error_code(response) -> str:
    return response.json()["error"]["code"]
