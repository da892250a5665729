"""HMAC secrets at rest: Fernet with the key from API_KEY_ENCRYPTION_KEY; older
keys in API_KEY_ENCRYPTION_OLD_KEYS still decrypt (rotation). The server must
read the secret back to check a signature, so it is encrypted, not hashed."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> MultiFernet:
    key = settings.API_KEY_ENCRYPTION_KEY
    if not key:
        raise ImproperlyConfigured(
            "API_KEY_ENCRYPTION_KEY is not set (a Fernet key: "
            "python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        )
    try:
        return MultiFernet(
            [Fernet(k) for k in (key, *settings.API_KEY_ENCRYPTION_OLD_KEYS)]
        )
    except ValueError as exc:
        raise ImproperlyConfigured(
            "API_KEY_ENCRYPTION_KEY must be a url-safe base64 32-byte Fernet key."
        ) from exc


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode("ascii")).decode("ascii")


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An API key secret cannot be decrypted with the configured keys."
        ) from exc
