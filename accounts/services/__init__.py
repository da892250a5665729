"""Every write of the accounts app: users, sessions/tokens, 2FA, the audit trail.

Staff powers over users live in `accounts.services.staff`, roles and their
four-eyes grants in `accounts.services.roles`; both are re-exported here."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import segno
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import lockout
from accounts.authentication import TOKEN_VERSION_CLAIM
from accounts.errors import AccountsErrorCode as Code
from accounts.events import SecurityNotice
from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.selectors import user_has_two_factor
from accounts.timezones import zone_valid
from config import events
from config.clientip import client_ip
from config.domain_errors import (
    ApplicationError,
    Conflict,
    Forbidden,
    RateLimited,
    Unauthenticated,
)

# A display currency's shape (accounts cannot see the wallet's assets)
CURRENCY_CODE_RE = re.compile(r"[A-Z0-9]{2,16}")


@dataclass(frozen=True)
class RequestMeta:
    """Where a request came from, for the audit trail: the client address is the
    one resolved from the trusted proxies (config/clientip.py)."""

    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest | None) -> RequestMeta:
        if request is None:
            return cls()
        return cls(
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        )


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


@dataclass(frozen=True)
class TotpProvisioning:
    secret: str
    otpauth_uri: str
    qr_svg: str


# --- Audit trail -------------------------------------------------------------------


def audit_event_record(
    *,
    code: AuditCode,
    user: User | None = None,
    acting_user: User | None = None,
    target: Any = None,
    meta: RequestMeta | None = None,
    extra: dict | None = None,
) -> AuditEvent:
    """Append one audit event; call it inside the transaction of the action."""
    meta = meta or RequestMeta()
    return AuditEvent.objects.create(
        code=code,
        user=user,
        acting_user=acting_user,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
        extra=extra or {},
    )


def security_notice_record(
    *,
    user: User,
    kind: str,
    detail: dict[str, str] | None = None,
    meta: RequestMeta | None = None,
) -> None:
    """Tell the owner that a way into the account changed, or that staff acted
    on it (`SecurityNotice`; notifications deliver it, and it cannot be turned
    off). `detail` holds short display strings only, never a secret or a code.
    Call it inside the transaction of the action."""
    if kind not in SecurityNotice.KINDS:
        raise ValueError(f"unknown security notice kind {kind!r}")
    meta = meta or RequestMeta()
    events.record(
        SecurityNotice(
            user_id=user.pk,
            kind=kind,
            detail=tuple((detail or {}).items()),
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
        )
    )


def staff_action_notice_record(*, user: User, action: str) -> None:
    """A staff action on the user's account, told to its owner (`staff_action`
    notice; `action` is what the user reads, e.g. "Account locked"). The staff
    member's address and browser stay out of it."""
    security_notice_record(user=user, kind="staff_action", detail={"action": action})


# --- Users -------------------------------------------------------------------------


def _validate_password(password: str, *, user: User, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ApplicationError(
            Code.WEAK_PASSWORD,
            f"{field}: {' '.join(exc.messages)}",
            details={field: exc.messages},
        ) from exc


@transaction.atomic
def user_register(
    *,
    email: str,
    password: str,
    full_name: str,
    phone: str = "",
    accept_terms: bool,
    site_url: str = "",
    email_verified: bool = False,
    meta: RequestMeta | None = None,
) -> User:
    """A new trader. Signing up is accepting the legal documents in force: without
    `accept_terms` nothing is written. The address starts unverified and, with
    `site_url`, a link to verify it is emailed (`email_verified` is for seed data
    and tests)."""
    if not accept_terms:
        raise ApplicationError(
            Code.TERMS_NOT_ACCEPTED,
            "accept_terms: accept the terms of service and the privacy notice to "
            "open an account.",
            details={"accept_terms": ["Required."]},
        )
    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(
            Code.EMAIL_TAKEN,
            "email: an account with this email already exists.",
            details={"email": ["An account with this email already exists."]},
        )
    candidate = User(email=email, full_name=full_name.strip(), phone=phone.strip())
    _validate_password(password, user=candidate)
    user = User.objects.create_user(
        email=email,
        password=password,
        full_name=candidate.full_name,
        phone=phone,
        email_verified_at=timezone.now() if email_verified else None,
    )
    user.groups.add(Group.objects.get_or_create(name=Role.TRADER)[0])
    accepted = consent_record(user=user, meta=meta)
    audit_event_record(
        code=AuditCode.USER_REGISTERED,
        user=user,
        meta=meta,
        extra={"accepted": accepted},
    )
    if site_url and not email_verified:
        email_verification_start(user=user, site_url=site_url, meta=meta)
    return user


@transaction.atomic
def user_profile_update(
    *,
    user: User,
    full_name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    password: str | None = None,
    time_zone: str | None = None,
    display_currency: str | None = None,
    site_url: str = "",
    meta: RequestMeta | None = None,
) -> User:
    """Name, phone, time zone and display currency change at once; a new
    `email` (with the current `password`) only when the link sent to it is
    followed (`email_change_request`)."""
    if email is not None and email.strip().lower() != user.email.lower():
        if not user.check_password(password or ""):
            raise ApplicationError(
                Code.INVALID_CREDENTIALS,
                "password: give your current password to change your email.",
                details={"password": ["Wrong password."]},
            )
        email_normalize(email)
        email_change_rate_check(user=user, meta=meta)
        email_change_request(user=user, new_email=email, site_url=site_url, meta=meta)
    changes: dict[str, list[str]] = {}
    # malformed values: 400 on the field, like any other bad input
    if time_zone is not None and time_zone.strip() and not zone_valid(time_zone):
        raise ApplicationError(
            Code.INVALID_TIME_ZONE,
            f"time_zone: {time_zone} is not a time zone.",
            details={"time_zone": ["Use an IANA name such as Asia/Kolkata."]},
        )
    if display_currency is not None:
        display_currency = display_currency.strip().upper()
        # the code's shape only: assets are the wallet's, above accounts; the
        # home page falls back to the default for a code no asset has
        if display_currency and not CURRENCY_CODE_RE.fullmatch(display_currency):
            raise ApplicationError(
                Code.INVALID_CURRENCY,
                f"display_currency: {display_currency} is not an asset code.",
                details={"display_currency": ["Use an asset code such as USD."]},
            )
    for field, value in (
        ("full_name", full_name),
        ("phone", phone),
        ("time_zone", time_zone),
        ("display_currency", display_currency),
    ):
        if value is not None and getattr(user, field) != value.strip():
            changes[field] = [getattr(user, field), value.strip()]
            setattr(user, field, value.strip())
    if changes:
        user.save(update_fields=list(changes))
        audit_event_record(
            code=AuditCode.PROFILE_UPDATED,
            user=user,
            acting_user=user,
            meta=meta,
            extra={"changes": changes},
        )
        if "phone" in changes:
            security_notice_record(user=user, kind="phone_changed", meta=meta)
    return user


# --- Tokens ------------------------------------------------------------------------


def _issue_tokens(
    user: User, *, family=None, meta: RequestMeta | None = None
) -> TokenPair:
    """A refresh/access pair; with `family` (a token family's SignIn) both carry
    its id and the family remembers the new refresh token."""
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    if family is not None:
        refresh[FAMILY_CLAIM] = str(family.public_id)
        token_family_rotated(
            family=family, jti=refresh["jti"], meta=meta or RequestMeta()
        )
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def _revoke_all_tokens(
    user: User, *, keep_sign_in: str | None = None, reason: str = "all_revoked"
) -> int:
    """Blacklist every outstanding refresh token and end every access token, and
    every sign-in (browser sessions, token families, their open streams) but
    `keep_sign_in`."""
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])
    outstanding = OutstandingToken.objects.filter(user=user).exclude(
        blacklistedtoken__isnull=False
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding],
        ignore_conflicts=True,
    )
    sign_ins_end_all(user=user, reason=reason, keep=keep_sign_in)
    return len(outstanding)


def _login_failed(*, user: User | None, email: str, reason: str, meta: RequestMeta):
    audit_event_record(
        code=AuditCode.LOGIN_FAILED,
        user=user,
        meta=meta,
        extra={"email": email, "reason": reason},
    )


def _login_locked(
    *, request: HttpRequest, email: str, seconds: int, meta: RequestMeta, extra: dict
) -> ApplicationError:
    audit_event_record(
        code=AuditCode.LOGIN_LOCKED_OUT,
        user=User.objects.filter(email__iexact=email).first(),
        meta=meta,
        extra={"email": email, "retry_after_seconds": seconds, **extra},
    )
    lockout.login_lockout_mark(request, seconds=seconds)
    return RateLimited(
        Code.LOGIN_LOCKED,
        lockout.lockout_message(seconds),
        details={"retry_after_seconds": seconds},
    )


def auth_authenticate(*, request: HttpRequest, email: str, password: str) -> User:
    """Check email and password, under the lockout of this account from this client
    address (accounts/lockout.py): while the pair waits, the password is not
    checked. Failures are audited and counted, and the one that starts a wait is
    answered as locked; a suspended user is told so."""
    meta = RequestMeta.from_request(request)
    email = email.strip().lower()
    wait = lockout.login_lockout_wait(email=email, address=meta.ip_address)
    if wait:
        raise _login_locked(
            request=request, email=email, seconds=wait, meta=meta, extra={}
        )
    user = authenticate(request, email=email, password=password)
    if user is None:
        known = User.objects.filter(email__iexact=email).first()
        _login_failed(user=known, email=email, reason="invalid_credentials", meta=meta)
        failures, wait = lockout.login_failure_record(
            email=email, address=meta.ip_address
        )
        if wait:
            raise _login_locked(
                request=request,
                email=email,
                seconds=wait,
                meta=meta,
                extra={"failures": failures},
            )
        raise Unauthenticated(
            Code.INVALID_CREDENTIALS, "Email or password is incorrect."
        )
    lockout.login_failures_forget(email=email, address=meta.ip_address)
    if not user.is_active:
        _login_failed(user=user, email=email, reason="suspended", meta=meta)
        raise Forbidden(Code.ACCOUNT_SUSPENDED, "This account is suspended.")
    return user


def auth_second_factor(*, request: HttpRequest, user: User, otp: str | None):
    """When the user has 2FA on, demand and check a code (TOTP or backup code).

    Returns the device that matched, or None when the user has no 2FA."""
    if not user_has_two_factor(user=user):
        return None
    if not otp:
        raise Unauthenticated(
            Code.OTP_REQUIRED,
            "otp: this account has two-factor login on; send the current code.",
            details={"otp": ["Required."]},
        )
    device = otp_verify(user=user, token=otp, meta=RequestMeta.from_request(request))
    if device is None:
        _login_failed(
            user=user,
            email=user.email,
            reason="otp_invalid",
            meta=RequestMeta.from_request(request),
        )
        raise Unauthenticated(
            Code.OTP_INVALID,
            "otp: the code is wrong, expired or already used.",
            details={"otp": ["Invalid code."]},
        )
    return device


def login_succeeded_record(*, request: HttpRequest, user: User, channel: str) -> None:
    """Audit a login; a browser login (any channel but "api", after `login()`)
    also starts its sign-in (accounts/services/sessions.py)."""
    if channel != "api" and getattr(request, "session", None) is not None:
        sign_in_web_start(request=request, user=user)
    audit_event_record(
        code=AuditCode.LOGIN_SUCCEEDED,
        user=user,
        acting_user=user,
        meta=RequestMeta.from_request(request),
        extra={"channel": channel},
    )


def auth_login(
    *,
    request: HttpRequest,
    email: str,
    password: str,
    otp: str | None,
    accept_terms: bool = False,
) -> tuple[User, TokenPair]:
    """API login: password (+ OTP when 2FA is on) (+ consent to documents that
    changed since the last sign-in) -> a JWT pair."""
    user = auth_authenticate(request=request, email=email, password=password)
    auth_second_factor(request=request, user=user, otp=otp)
    meta = RequestMeta.from_request(request)
    with transaction.atomic():
        consent_required_at_sign_in(user=user, accept_terms=accept_terms, meta=meta)
        family = sign_in_api_start(user=user, meta=meta)
        tokens = _issue_tokens(user, family=family, meta=meta)
        login_succeeded_record(request=request, user=user, channel="api")
    return user, tokens


def _token_error(message: str) -> ApplicationError:
    return Unauthenticated(Code.TOKEN_INVALID, message)


def _decode_refresh(refresh: str) -> dict:
    """Signature, expiry and type checked; blacklisting is the caller's business."""
    try:
        # simplejwt annotates `decode` as taking a Token; it takes the string.
        payload = token_backend.decode(refresh, verify=True)  # type: ignore[arg-type]
    except TokenBackendError as exc:
        raise _token_error("refresh: token is invalid or expired.") from exc
    if payload.get("token_type") != "refresh" or "jti" not in payload:
        raise _token_error("refresh: not a refresh token.")
    return payload


def auth_refresh(*, refresh: str, meta: RequestMeta | None = None) -> TokenPair:
    """Rotate a refresh token. The family's row, then the token's, are locked, so
    two concurrent refreshes of one token cannot both succeed. A rotated token
    used again ends its whole family (the newer token too: whoever holds it
    signs in again), audited as TOKEN_REFRESH_REUSED; the refusal is raised
    after that commits."""
    payload = _decode_refresh(refresh)
    meta = meta or RequestMeta()
    with transaction.atomic():
        family = token_family_lock(
            family_id=payload.get(FAMILY_CLAIM), user_id=int(payload["user_id"])
        )
        outstanding = (
            OutstandingToken.objects.select_for_update(of=("self",))
            .filter(jti=payload["jti"])
            .select_related("user")
            .first()
        )
        if outstanding is None or outstanding.user is None:
            raise _token_error("refresh: token is unknown.")
        user = outstanding.user
        if family is not None and family.ended_at is not None:
            raise _token_error("refresh: this sign-in was ended.")
        reused = BlacklistedToken.objects.filter(token=outstanding).exists()
        if not reused:
            if not user.is_active:
                raise Forbidden(Code.ACCOUNT_SUSPENDED, "This account is suspended.")
            if payload.get(TOKEN_VERSION_CLAIM) != user.token_version:
                raise _token_error("refresh: token was revoked.")
            BlacklistedToken.objects.create(token=outstanding)
            if family is None:  # a token from before families: one starts now
                family = sign_in_api_start(user=user, meta=meta, notify=False)
            return _issue_tokens(user, family=family, meta=meta)
        if family is not None:
            token_family_end(family=family, reason="refresh_reused")
        audit_event_record(
            code=AuditCode.TOKEN_REFRESH_REUSED,
            user=user,
            target=family,
            meta=meta,
            extra={
                "jti": payload["jti"],
                "family": str(family.public_id) if family else None,
            },
        )
    raise _token_error("refresh: token was already used or revoked.")


@transaction.atomic
def auth_logout(*, user: User, refresh: str, meta: RequestMeta | None = None) -> None:
    payload = _decode_refresh(refresh)
    family = token_family_lock(family_id=payload.get(FAMILY_CLAIM), user_id=user.pk)
    outstanding = OutstandingToken.objects.filter(jti=payload["jti"], user=user).first()
    if outstanding is None:
        raise _token_error("refresh: token does not belong to this user.")
    BlacklistedToken.objects.get_or_create(token=outstanding)
    if family is not None:
        token_family_end(family=family, reason="logout")
    audit_event_record(
        code=AuditCode.LOGOUT,
        user=user,
        acting_user=user,
        meta=meta,
        extra={"jti": payload["jti"]},
    )


@transaction.atomic
def password_change(
    *,
    user: User,
    old_password: str,
    new_password: str,
    meta: RequestMeta | None = None,
    keep_sign_in: str | None = None,
) -> User:
    """Every token and sign-in ends but `keep_sign_in` (the browser session that
    changed it, which the page keeps)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.check_password(old_password):
        raise ApplicationError(
            Code.INVALID_CREDENTIALS,
            "old_password: the current password is wrong.",
            details={"old_password": ["Wrong password."]},
        )
    _validate_password(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    revoked = _revoke_all_tokens(
        user, keep_sign_in=keep_sign_in, reason="password_changed"
    )
    audit_event_record(
        code=AuditCode.PASSWORD_CHANGED, user=user, acting_user=user, meta=meta
    )
    security_notice_record(user=user, kind="password_changed", meta=meta)
    audit_event_record(
        code=AuditCode.TOKENS_REVOKED,
        user=user,
        acting_user=user,
        meta=meta,
        extra={"refresh_tokens": revoked, "reason": "password_changed"},
    )
    return user


# --- Two-factor --------------------------------------------------------------------


def otp_verify(*, user: User, token: str, meta: RequestMeta | None = None):
    """Check a TOTP, recovery or backup code with the devices locked, so one code
    can be used only once, even by concurrent requests. Returns the matching
    device or None. A recovery code used is audited (`RECOVERY_CODE_USED`)."""
    from accounts.services.factors import RECOVERY_DEVICE_NAME, recovery_code_digest

    token = (token or "").strip().replace(" ", "")
    if not token:
        return None
    with transaction.atomic():
        totp_devices = [
            device
            for device in TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .order_by("pk")
            if token.isdigit() and len(token) == device.digits
        ]
        # A code shaped like an authenticator's is tried only there, anything
        # else only as a backup code: a miss on the wrong kind of device would
        # count as a failed attempt and throttle it.
        devices = totp_devices or (
            StaticDevice.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .order_by("pk")
        )
        for device in devices:
            recovery = device.name == RECOVERY_DEVICE_NAME and not totp_devices
            if device.verify_token(recovery_code_digest(token) if recovery else token):
                if recovery:
                    audit_event_record(
                        code=AuditCode.RECOVERY_CODE_USED,
                        user=user,
                        acting_user=user,
                        target=device,
                        meta=meta,
                        extra={"remaining": device.token_set.count()},
                    )
                return device
    return None


@transaction.atomic
def totp_setup(*, user: User) -> TotpProvisioning:
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise Conflict(
            Code.TWO_FACTOR_ALREADY_ENABLED,
            "Two-factor login is already on; disable it first to re-provision.",
        )
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=False)
    uri = device.config_url
    secret = _base32_secret(device)
    svg = segno.make(uri, error="m").svg_inline(scale=4)
    return TotpProvisioning(secret=secret, otpauth_uri=uri, qr_svg=svg)


def _base32_secret(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


@transaction.atomic
def totp_confirm(*, user: User, otp: str, meta: RequestMeta | None = None) -> list[str]:
    """Turn 2FA on; returns the new recovery codes (shown to the user once)."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("-pk")
        .first()
    )
    if device is None:
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise Conflict(
                Code.TWO_FACTOR_ALREADY_ENABLED, "Two-factor login is already on."
            )
        raise ApplicationError(
            Code.TWO_FACTOR_SETUP_MISSING,
            "Start with 2FA setup to get a secret, then confirm a code from it.",
        )
    if not device.verify_token((otp or "").strip()):
        raise ApplicationError(
            Code.OTP_INVALID,
            "otp: the code is wrong or expired.",
            details={"otp": ["Invalid code."]},
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_event_record(
        code=AuditCode.TWO_FACTOR_ENABLED, user=user, acting_user=user, meta=meta
    )
    security_notice_record(
        user=user,
        kind="second_factor_added",
        detail={"factor": "Authenticator app"},
        meta=meta,
    )
    return recovery_codes_issue(user=user, meta=meta)


@transaction.atomic
def totp_disable(
    *, user: User, password: str, otp: str, meta: RequestMeta | None = None
) -> None:
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ApplicationError(
            Code.TWO_FACTOR_NOT_ENABLED, "Two-factor login is not on."
        )
    if not user.check_password(password):
        raise ApplicationError(
            Code.INVALID_CREDENTIALS,
            "password: the password is wrong.",
            details={"password": ["Wrong password."]},
        )
    if otp_verify(user=user, token=otp, meta=meta) is None:
        raise ApplicationError(
            Code.OTP_INVALID,
            "otp: the code is wrong, expired or already used.",
            details={"otp": ["Invalid code."]},
        )
    # Recovery codes and passkeys come with the authenticator and go with it.
    TOTPDevice.objects.filter(user=user).delete()
    removed = user_recovery_and_passkeys_remove(user=user)
    audit_event_record(
        code=AuditCode.TWO_FACTOR_DISABLED,
        user=user,
        acting_user=user,
        meta=meta,
        extra={"removed": removed} if removed else None,
    )
    security_notice_record(
        user=user,
        kind="second_factor_removed",
        detail={"factor": "Authenticator app"},
        meta=meta,
    )


@transaction.atomic
def backup_codes_ensure(*, user: User, count: int = 10) -> list[str]:
    """Give a user a confirmed static device with `count` unused backup codes."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="Backup codes", defaults={"confirmed": True}
    )
    missing = count - device.token_set.count()
    for _ in range(max(0, missing)):
        device.token_set.create(token=StaticToken.random_token())
    return list(device.token_set.order_by("pk").values_list("token", flat=True))


# Re-exported so callers have one namespace: `services.user_lock(...)`.
from accounts.services.consent import (  # noqa: E402, F401
    consent_accept,
    consent_record,
    consent_required_at_sign_in,
)
from accounts.services.factors import (  # noqa: E402, F401
    passkey_added_record,
    passkey_remove,
    passkey_rename,
    recovery_codes_issue,
    recovery_codes_regenerate,
    user_recovery_and_passkeys_remove,
    user_second_factor_reset_start,
)
from accounts.services.recovery import (  # noqa: E402, F401
    email_change_rate_check,
    email_change_request,
    email_normalize,
    email_verification_send,
    email_verification_start,
    email_verify,
    password_reset_complete,
    password_reset_request,
    password_reset_user,
    user_password_reset_send,
    user_signup,
)
from accounts.services.roles import (  # noqa: E402, F401
    role_grant_approve,
    role_grant_cancel,
    role_grant_reject,
    role_grant_request,
    user_role_revoke,
    user_roles_bootstrap,
)
from accounts.services.sessions import (  # noqa: E402, F401
    FAMILY_CLAIM,
    sign_in_api_start,
    sign_in_end,
    sign_in_list,
    sign_in_logout,
    sign_in_web_start,
    sign_ins_end_all,
    sign_ins_end_others,
    stream_ticket_issue,
    stream_ticket_redeem,
    token_family_end,
    token_family_lock,
    token_family_rotated,
)
from accounts.services.staff import (  # noqa: E402, F401
    user_lock,
    user_login_lockout_clear,
    user_profile_update_by_staff,
    user_sessions_end,
    user_unlock,
)
