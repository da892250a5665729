"""Identity numbers at rest: Fernet (AES-128-CBC + HMAC-SHA256) with the key from
KYC_ENCRYPTION_KEY; older keys in KYC_ENCRYPTION_OLD_KEYS still decrypt (rotation).
A keyed digest (HMAC-SHA256, key derived from the encryption key) finds duplicates
without decrypting."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _keys() -> list[str]:
    key = settings.KYC_ENCRYPTION_KEY
    if not key:
        raise ImproperlyConfigured(
            "KYC_ENCRYPTION_KEY is not set (a Fernet key: "
            "python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        )
    return [key, *settings.KYC_ENCRYPTION_OLD_KEYS]


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys()])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "KYC_ENCRYPTION_KEY must be a url-safe base64 32-byte Fernet key."
        ) from exc


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An identity number cannot be decrypted with the configured keys."
        ) from exc


def digest(value: str) -> str:
    mac_key = hashlib.sha256(b"kyc-id-digest:" + _keys()[0].encode()).digest()
    return hmac.new(mac_key, value.encode(), hashlib.sha256).hexdigest()


def check_configuration() -> str | None:
    """None when the key works, else what is wrong (for the system check)."""
    try:
        decrypt(encrypt("check"))
    except ImproperlyConfigured as exc:
        return str(exc)
    return None
