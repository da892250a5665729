"""The string a signed API request signs, and the two ways of signing it.

Pure functions over the standard library (Ed25519 through `cryptography`, imported
where used): the server's authentication (apikeys/authentication.py) and the
example client (docs/api-keys.md) build the very same string, so a change here is
a change of the wire protocol.

Five lines joined by "\\n": the timestamp as sent, the method in upper case, the
canonical path, the canonical query, the hex SHA-256 of the raw body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from urllib.parse import quote, unquote, unquote_plus

PATH_SAFE = "/-_.~"
QUERY_SAFE = "-_.~"


def canonical_path(path: str, *, decoded: bool = False) -> str:
    """The path percent-decoded, then re-encoded (so "%7E" and "~" sign the same).

    `decoded=True` for a path already decoded once (Django's `request.path`):
    decoding it again would turn a literal "%41" in it into "A"."""
    return quote(path if decoded else unquote(path), safe=PATH_SAFE)


def canonical_query(query: str) -> str:
    """name=value pairs decoded ("+" is a space), re-encoded, sorted by (name,
    value), joined by "&"; a pair without "=" has an empty value."""
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append(
            (
                quote(unquote_plus(name), safe=QUERY_SAFE),
                quote(unquote_plus(value), safe=QUERY_SAFE),
            )
        )
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body or b"").hexdigest()


def string_to_sign(
    *,
    timestamp: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    path_decoded: bool = False,
) -> str:
    return "\n".join(
        (
            timestamp,
            method.upper(),
            canonical_path(path, decoded=path_decoded),
            canonical_query(query),
            body_digest(body),
        )
    )


def hmac_sign(secret: str, message: str) -> str:
    """Lowercase hex HMAC-SHA256; the key is the ASCII of the secret string."""
    return hmac.new(
        secret.encode("ascii"), message.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def hmac_verify(secret: str, message: str, signature: str) -> bool:
    return hmac.compare_digest(hmac_sign(secret, message), signature)


def ed25519_sign(private_key, message: str) -> str:
    """Standard base64 (padded) of the Ed25519 signature; `private_key` is a
    `cryptography` Ed25519PrivateKey."""
    return base64.b64encode(private_key.sign(message.encode("utf-8"))).decode()


def ed25519_verify(public_key: bytes, message: str, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            raw, message.encode("utf-8")
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_headers(
    *,
    key_id: str,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    timestamp_ms: int,
    secret: str | None = None,
    private_key=None,
    window_ms: int | None = None,
) -> dict[str, str]:
    """The X-Api-* headers of one request, signed with an HMAC `secret` or an
    Ed25519 `private_key` (exactly one of them). `path` as sent (encoded)."""
    if (secret is None) == (private_key is None):
        raise ValueError("give exactly one of secret and private_key")
    message = string_to_sign(
        timestamp=str(timestamp_ms), method=method, path=path, query=query, body=body
    )
    signature = (
        hmac_sign(secret, message)
        if secret is not None
        else ed25519_sign(private_key, message)
    )
    headers = {
        "X-Api-Key": key_id,
        "X-Api-Timestamp": str(timestamp_ms),
        "X-Api-Signature": signature,
    }
    if window_ms is not None:
        headers["X-Api-Window"] = str(window_ms)
    return headers
