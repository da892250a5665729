"""Signed requests (docs/api-keys.md): X-Api-Key, X-Api-Timestamp,
X-Api-Signature and an optional X-Api-Window, checked in the spec's order, each
refusal with its own code.

First in DEFAULT_AUTHENTICATION_CLASSES; without an X-Api-Key header it steps
aside (None) and JWT or the session authenticate as before. Only DRF uses it: a
key never opens a page or the admin.

A refusal is a domain error (config/errors.py gives it its status and body);
the request is marked anonymous first, so nothing after the refusal
authenticates it again.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http.request import RawPostDataException
from rest_framework.authentication import BaseAuthentication

from apikeys import crypto, signing
from apikeys.errors import ApiKeyErrorCode as Code
from apikeys.models import ApiKey
from apikeys.permissions import api_key_scope_check, checks_scope
from apikeys.selectors import api_key_for_signature
from config.clientip import client_ip
from config.domain_errors import ApplicationError, Forbidden, Unauthenticated

KEY_ID_RE = re.compile(r"ak_[A-Za-z0-9_-]{24}")
TIMESTAMP_RE = re.compile(r"[0-9]{1,16}")
WINDOW_RE = re.compile(r"[0-9]{1,6}")
SIGNATURE_RE = re.compile(r"[A-Za-z0-9+/=_-]{1,256}")
REPLAY_CACHE_PREFIX = "apikey-sig:"
# Checked against an unknown key id, so that it costs what a known one does.
_DUMMY_SECRET = "x" * 43


def _headers_invalid(header: str, message: str) -> ApplicationError:
    return ApplicationError(
        Code.HEADERS_INVALID,
        f"{header}: {message}",
        details={header: [message]},
    )


def _signature_invalid() -> ApplicationError:
    return Unauthenticated(
        Code.SIGNATURE_INVALID,
        "The signature does not match (or the key is unknown); see "
        "docs/api-keys.md for the string to sign.",
    )


def _header(request, name: str, pattern: re.Pattern[str], what: str) -> str:
    value = request.META.get("HTTP_" + name.upper().replace("-", "_"))
    if value is None or value == "":
        raise _headers_invalid(name, "Required with X-Api-Key.")
    if not pattern.fullmatch(value):
        raise _headers_invalid(name, what)
    return value


def _window_ms(request) -> int:
    value = request.META.get("HTTP_X_API_WINDOW")
    if value is None:
        return settings.API_KEY_DEFAULT_WINDOW_MS
    limit = settings.API_KEY_MAX_WINDOW_MS
    message = f"Milliseconds, an integer from 1 to {limit}."
    if not WINDOW_RE.fullmatch(value) or not 1 <= int(value) <= limit:
        raise _headers_invalid("X-Api-Window", message)
    return int(value)


def _signature_matches(key: ApiKey | None, message: str, signature: str) -> bool:
    if key is None:
        signing.hmac_verify(_DUMMY_SECRET, message, signature)
        return False
    if key.kind == ApiKey.Kind.HMAC:
        secret = crypto.secret_decrypt(key.secret_encrypted)
        return signing.hmac_verify(secret, message, signature)
    return signing.ed25519_verify(bytes(key.public_key or b""), message, signature)


def address_allowed(key: ApiKey, address: str | None) -> bool:
    if not key.ip_allowlist:
        return True
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(
        ip in ipaddress.ip_network(network, strict=False)
        for network in key.ip_allowlist
    )


def api_key_verify(request) -> ApiKey:
    """The key that signed `request` (a DRF request), or the refusal."""
    key_id = _header(
        request, "X-Api-Key", KEY_ID_RE, 'The key id: "ak_" and 24 characters.'
    )
    timestamp = _header(
        request,
        "X-Api-Timestamp",
        TIMESTAMP_RE,
        "Milliseconds since the epoch, an integer.",
    )
    signature = _header(
        request,
        "X-Api-Signature",
        SIGNATURE_RE,
        "Hex (HMAC) or base64 (Ed25519) of the signature.",
    )
    window = _window_ms(request)

    django_request: Any = request._request
    try:
        body = django_request.body
    except RawPostDataException as exc:  # read as a form before us
        raise _headers_invalid(
            "X-Api-Signature", "The body could not be read."
        ) from exc
    message = signing.string_to_sign(
        timestamp=timestamp,
        method=django_request.method,
        path=django_request.path,
        path_decoded=True,
        query=django_request.META.get("QUERY_STRING", ""),
        body=body,
    )
    key = api_key_for_signature(key_id=key_id)
    if not _signature_matches(key, message, signature) or key is None:
        raise _signature_invalid()
    if key.revoked_at is not None:
        raise Unauthenticated(Code.REVOKED, "This API key was revoked.")
    now_ms = time.time() * 1000
    if key.expires_at is not None and key.expires_at.timestamp() * 1000 <= now_ms:
        raise Unauthenticated(Code.EXPIRED, "This API key has expired.")
    if abs(now_ms - int(timestamp)) > window:
        raise Unauthenticated(
            Code.TIMESTAMP_OUTSIDE_WINDOW,
            f"X-Api-Timestamp: more than {window} ms from the server's clock "
            f"({int(now_ms)}).",
            details={"server_time": int(now_ms), "window": window},
        )
    # Recorded only once the signature verified (nobody can burn another's
    # signature); kept until the timestamp leaves the window.
    ttl = max(1, math.ceil((int(timestamp) + window - now_ms) / 1000) + 1)
    digest = hashlib.sha256(signature.encode()).hexdigest()
    if not cache.add(f"{REPLAY_CACHE_PREFIX}{key.key_id}:{digest}", 1, timeout=ttl):
        raise Unauthenticated(
            Code.SIGNATURE_REPLAYED,
            "This signature was already used; sign each request anew.",
        )
    address = client_ip(request)
    if not address_allowed(key, address):
        raise Forbidden(
            Code.ADDRESS_NOT_ALLOWED,
            f"This API key may not be used from {address}.",
            details={"address": address},
        )
    return key


class ApiKeyAuthentication(BaseAuthentication):
    """`(user, api_key)` for a signed request; None without X-Api-Key."""

    def authenticate(self, request):
        if "HTTP_X_API_KEY" not in request.META:
            return None
        try:
            key = api_key_verify(request)
            if not key.user.is_active:
                raise Unauthenticated(
                    "account_suspended", "This account is suspended or closed."
                )
            view = (request.parser_context or {}).get("view")
            if view is not None and not checks_scope(view):
                # a view that replaced the default permissions still checks it
                api_key_scope_check(method=request.method, view=view, key=key)
        except ApplicationError:
            request._not_authenticated()
            raise
        from apikeys.services import api_key_touch  # light import at settings time

        api_key_touch(key=key, ip=client_ip(request))
        return (key.user, key)

    def authenticate_header(self, request):
        """The next scheme's challenge: a 401 from JWT keeps its own."""
        for authenticator in request.authenticators:
            if authenticator is not self:
                header = authenticator.authenticate_header(request)
                if header:
                    return header
        return "ApiKey"
