"""Phone numbers in E.164, and the verification codes' hashing."""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# what people type around the digits: spaces, dots, dashes, brackets
_SEPARATORS = re.compile(r"[\s.\-()]")


def e164_normalize(raw: str) -> str | None:
    """`+44 7700 900123` -> `+447700900123`; None unless it is E.164 (a leading
    `00` counts as `+`)."""
    number = _SEPARATORS.sub("", raw or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    return number if E164.match(number) else None


def code_hash(*, challenge_salt: str, code: str) -> str:
    """HMAC-SHA256 of a code under the site's key, bound to its challenge (a
    leaked table gives neither the codes nor a way to test one offline)."""
    key = f"devices.phone-code:{settings.SECRET_KEY}".encode()
    message = f"{challenge_salt}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
