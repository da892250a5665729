"""API keys: create, update, revoke, and the last-used mark.

Creating or changing a key takes a fresh second factor (a TOTP or backup code,
checked through accounts' locked path); a user without one cannot hold keys.
Every change is audited (AuditCode 130-132, 913 by staff) and told to the owner
(SecurityNotice `api_key_changed`, emailed). Revoking ends the streams opened
with the key (SignInsEnded with its "apikey:<key_id>" sign-in)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.events import SignInsEnded
from accounts.models import AuditCode, User
from accounts.selectors import user_has_two_factor
from accounts.services import (
    RequestMeta,
    audit_event_record,
    otp_verify,
    security_notice_record,
)
from accounts.services._staff_common import (
    reason_clean,
    staff_not_on_self,
    staff_require,
)
from apikeys import crypto
from apikeys.errors import ApiKeyErrorCode as Code
from apikeys.models import ApiKey
from config import events
from config.domain_errors import ApplicationError, Conflict, Forbidden

NOTICE_KIND = "api_key_changed"
MAX_ALLOWLIST = 32
# last_used_at is written at most this often per key (seconds).
TOUCH_EVERY_SECONDS = 60
TOUCH_CACHE_PREFIX = "apikey-touch:"
_UNSET = object()


@dataclass(frozen=True)
class ApiKeyIssued:
    key: ApiKey
    # the HMAC secret, shown once; None for an Ed25519 key
    secret: str | None


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        "invalid", f"{field}: {message}", details={field: [message]}
    )


def second_factor_require(*, user: User, otp: str | None, meta: RequestMeta) -> None:
    """A fresh TOTP or backup code, used up by this call (403 otherwise)."""
    if not user_has_two_factor(user=user):
        raise Forbidden(
            Code.SECOND_FACTOR_REQUIRED,
            "Turn on two-factor authentication before managing API keys.",
        )
    if not otp or not otp.strip():
        raise Forbidden(
            Code.OTP_REQUIRED,
            "otp: confirm with the current code from your authenticator or a "
            "backup code.",
            details={"otp": ["Required."]},
        )
    if otp_verify(user=user, token=otp, meta=meta) is None:
        raise Forbidden(
            Code.OTP_INVALID,
            "otp: the code is wrong, expired or already used.",
            details={"otp": ["Invalid code."]},
        )


def scopes_clean(scopes: list[str] | None) -> list[str]:
    """The scopes in their canonical order; `read` is always among them."""
    valid = list(ApiKey.Scope.values)
    wanted = set(scopes or ())
    unknown = sorted(wanted - set(valid))
    if unknown:
        raise _invalid("scopes", f"unknown scope {unknown[0]!r}; one of {valid}.")
    wanted.add(ApiKey.Scope.READ)
    return [scope for scope in valid if scope in wanted]


def ip_allowlist_clean(entries: list[str] | None) -> list[str]:
    """Addresses and CIDR networks, normalised ("10.0.0.0/8", "2001:db8::1")."""
    cleaned: list[str] = []
    for entry in entries or ():
        if not isinstance(entry, str):
            raise _invalid("ip_allowlist", "each entry is an address or a network.")
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError as exc:
            raise _invalid(
                "ip_allowlist", f"{entry!r} is not an address or a CIDR network."
            ) from exc
        text = (
            str(network.network_address) if network.num_addresses == 1 else str(network)
        )
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_ALLOWLIST:
        raise _invalid("ip_allowlist", f"at most {MAX_ALLOWLIST} entries.")
    return cleaned


def public_key_parse(value: str) -> bytes:
    """The raw 32 bytes of an Ed25519 public key given as base64 of those bytes
    or as a PEM SubjectPublicKeyInfo."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    value = (value or "").strip()
    message = "base64 of the 32 raw bytes, or a PEM public key, of an Ed25519 key."
    if value.startswith("-----BEGIN"):
        try:
            loaded = serialization.load_pem_public_key(value.encode())
        except ValueError as exc:
            raise _invalid("public_key", message) from exc
        if not isinstance(loaded, Ed25519PublicKey):
            raise _invalid("public_key", "not an Ed25519 key; " + message)
        return loaded.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("public_key", message) from exc
    if len(raw) != 32:
        raise _invalid("public_key", message)
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise _invalid("public_key", message) from exc
    return raw


def _expires_clean(expires_at: datetime | None) -> datetime | None:
    if expires_at is not None and expires_at <= timezone.now():
        raise _invalid("expires_at", "must be in the future.")
    return expires_at


def _withdraw_needs_allowlist(scopes: list[str], allowlist: list[str]) -> None:
    if ApiKey.Scope.WITHDRAW in scopes and not allowlist:
        raise _invalid(
            "ip_allowlist",
            "a key with the withdraw scope must be limited to some addresses.",
        )


def _label_clean(label: str) -> str:
    label = (label or "").strip()
    if len(label) > 64:
        raise _invalid("label", "at most 64 characters.")
    return label


def _describe(key: ApiKey) -> dict:
    return {
        "key_id": key.key_id,
        "kind": key.kind,
        "label": key.label,
        "scopes": list(key.scopes),
        "ip_allowlist": list(key.ip_allowlist),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


def _notice(*, key: ApiKey, action: str, meta: RequestMeta | None) -> None:
    detail = {"action": action, "key": key.key_id}
    if key.label:
        detail["label"] = key.label
    security_notice_record(user=key.user, kind=NOTICE_KIND, detail=detail, meta=meta)


@transaction.atomic
def api_key_create(
    *,
    user: User,
    kind: str,
    label: str = "",
    scopes: list[str] | None = None,
    ip_allowlist: list[str] | None = None,
    expires_at: datetime | None = None,
    public_key: str | None = None,
    otp: str | None,
    meta: RequestMeta | None = None,
) -> ApiKeyIssued:
    """A new key; the HMAC secret (32 random bytes, base64url, 43 characters) is
    returned once and kept only encrypted."""
    meta = meta or RequestMeta()
    if kind not in ApiKey.Kind.values:
        raise _invalid("kind", f"one of {list(ApiKey.Kind.values)}.")
    label = _label_clean(label)
    scopes = scopes_clean(scopes)
    allowlist = ip_allowlist_clean(ip_allowlist)
    _withdraw_needs_allowlist(scopes, allowlist)
    expires_at = _expires_clean(expires_at)
    raw_public = None
    if kind == ApiKey.Kind.ED25519:
        raw_public = public_key_parse(public_key or "")
    elif public_key:
        raise _invalid("public_key", "only for an ed25519 key.")
    # the user row locked: two concurrent creations cannot both pass the limit
    User.objects.select_for_update().filter(pk=user.pk).first()
    live = ApiKey.objects.filter(user=user, revoked_at__isnull=True).exclude(
        expires_at__lte=timezone.now()
    )
    if live.count() >= settings.API_KEY_MAX_PER_USER:
        raise Conflict(
            Code.KEY_LIMIT,
            f"At most {settings.API_KEY_MAX_PER_USER} API keys; revoke one first.",
        )
    second_factor_require(user=user, otp=otp, meta=meta)
    secret = None
    if kind == ApiKey.Kind.HMAC:
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    key = ApiKey.objects.create(
        user=user,
        key_id="ak_" + secrets.token_urlsafe(18),
        kind=kind,
        label=label,
        scopes=scopes,
        ip_allowlist=allowlist,
        expires_at=expires_at,
        secret_encrypted=crypto.secret_encrypt(secret) if secret else "",
        public_key=raw_public,
    )
    audit_event_record(
        code=AuditCode.API_KEY_CREATED,
        user=user,
        acting_user=user,
        target=key,
        meta=meta,
        extra={"new": _describe(key)},
    )
    _notice(key=key, action="Created", meta=meta)
    return ApiKeyIssued(key=key, secret=secret)


def _lock(key: ApiKey) -> ApiKey:
    return ApiKey.objects.select_for_update().select_related("user").get(pk=key.pk)


@transaction.atomic
def api_key_update(
    *,
    key: ApiKey,
    user: User,
    label=_UNSET,
    ip_allowlist=_UNSET,
    expires_at=_UNSET,
    otp: str | None,
    meta: RequestMeta | None = None,
) -> ApiKey:
    """Change a live key's label, allowlist or expiry (its scopes and secret are
    fixed: make a new key for those)."""
    meta = meta or RequestMeta()
    key = _lock(key)
    if key.user_id != user.pk:
        raise Forbidden("permission_denied", "Not your API key.")
    if key.revoked_at is not None:
        raise Conflict(Code.REVOKED, "This API key was revoked.")
    old = _describe(key)
    if label is not _UNSET:
        key.label = _label_clean(label)
    if ip_allowlist is not _UNSET:
        key.ip_allowlist = ip_allowlist_clean(ip_allowlist)
        _withdraw_needs_allowlist(list(key.scopes), key.ip_allowlist)
    if expires_at is not _UNSET:
        key.expires_at = _expires_clean(expires_at)
    second_factor_require(user=user, otp=otp, meta=meta)
    key.save(update_fields=["label", "ip_allowlist", "expires_at"])
    new = _describe(key)
    audit_event_record(
        code=AuditCode.API_KEY_UPDATED,
        user=user,
        acting_user=user,
        target=key,
        meta=meta,
        extra={
            "old": {k: v for k, v in old.items() if new[k] != v},
            "new": {k: v for k, v in new.items() if old[k] != v},
        },
    )
    _notice(key=key, action="Changed", meta=meta)
    return key


def _revoke(
    *, key: ApiKey, acting_user: User, code: AuditCode, meta, extra: dict
) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_event_record(
        code=code,
        user=key.user,
        acting_user=acting_user,
        target=key,
        meta=meta,
        extra={"key_id": key.key_id, **extra},
    )
    events.record(SignInsEnded(user_id=key.user_id, sign_ins=(key.stream_sign_in,)))


@transaction.atomic
def api_key_revoke(
    *, key: ApiKey, user: User, meta: RequestMeta | None = None
) -> ApiKey:
    """The owner revokes a key at once: its next request is refused and its
    open streams close. Revoking a revoked key changes nothing."""
    key = _lock(key)
    if key.user_id != user.pk:
        raise Forbidden("permission_denied", "Not your API key.")
    if key.revoked_at is None:
        _revoke(
            key=key,
            acting_user=user,
            code=AuditCode.API_KEY_REVOKED,
            meta=meta,
            extra={},
        )
        _notice(key=key, action="Revoked", meta=meta)
    return key


REVOKE_PERMISSION = "apikeys.revoke_apikey"


@transaction.atomic
def api_key_revoke_by_staff(
    *, key: ApiKey, staff: User, reason: str, meta: RequestMeta | None = None
) -> ApiKey:
    """Staff revoke a user's key (a leaked secret, abuse): with the permission,
    never their own account's, saying why; the owner is told."""
    staff_require(staff=staff, perm=REVOKE_PERMISSION)
    key = _lock(key)
    staff_not_on_self(staff=staff, user=key.user)
    reason = reason_clean(reason)
    if key.revoked_at is None:
        _revoke(
            key=key,
            acting_user=staff,
            code=AuditCode.STAFF_API_KEY_REVOKED,
            meta=meta,
            extra={"reason": reason},
        )
        _notice(key=key, action="Revoked by our staff", meta=None)
    return key


def api_key_touch(*, key: ApiKey, ip: str | None) -> None:
    """Mark the key used, at most once a minute: most requests write nothing
    (the row says it was used less than a minute ago, or the cache does)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < timedelta(
        seconds=TOUCH_EVERY_SECONDS
    ):
        return
    if not cache.add(TOUCH_CACHE_PREFIX + key.key_id, 1, timeout=TOUCH_EVERY_SECONDS):
        return
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip)
    key.last_used_at, key.last_used_ip = now, ip
