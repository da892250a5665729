"""Getting back in and proving the address: password reset by email, email
verification at signup, and changing the email (the new address verified first).

- A reset link is Django's `default_token_generator`: its hash covers the
  password, the last login and the email, so it works once (and not after a
  login or an email change), for `PASSWORD_RESET_TIMEOUT` seconds. Asking for one
  answers the same whether the email is registered or not, and is limited per
  client address and per email (`PASSWORD_RESET_RATE_*`, 429 with Retry-After).
  Completing it needs the second factor when the user has one, sets the new
  password and ends every session, refresh and access token of the user.
- A verification link is a signed, timestamped token naming the user, the
  address to verify and the address the account had when it was sent: it stops
  working once the account's address changes, and after
  `EMAIL_VERIFICATION_TIMEOUT` seconds. Until it is followed, KYC, deposits and
  trading refuse (`accounts.guards.email_verified_require`).
- A change of email (by the user, with their password, or by staff) takes effect
  only when the link sent to the new address is followed; the old address is
  told at both steps.

Emails go out after the commit; a mail outage is logged and never undoes it."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.errors import AccountsErrorCode as Code
from accounts.models import AuditCode, User
from accounts.selectors import user_has_two_factor
from accounts.services import (
    RequestMeta,
    _revoke_all_tokens,
    _validate_password,
    audit_event_record,
    otp_verify,
    security_notice_record,
    staff_action_notice_record,
)
from accounts.services._staff_common import (
    reason_clean,
    staff_may_act_on,
    staff_require,
)
from config import domain_errors
from config.domain_errors import ApplicationError, Conflict, Forbidden

logger = logging.getLogger(__name__)

SEND_PASSWORD_RESET_PERMISSION = "accounts.send_password_reset"
VERIFY_SALT = "accounts.email-verify"
REQUEST_ANSWER = (
    "If an account uses this email address, a link to choose a new password is "
    "on its way. It works once, for {minutes} minutes."
)


class RateLimited(domain_errors.RateLimited):
    """429 `throttled`: `retry_after` seconds until the next try is counted."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(
            Code.THROTTLED, message, details={"retry_after_seconds": retry_after}
        )
        self.retry_after = retry_after


# --- Rate limits: fixed windows in the cache (Redis in production) ----------------

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """ "10/h" -> (10, 3600). Periods: s, m, h, d, or a word starting with one."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[:1].lower()]


def _rate_hit(*, scope: str, ident: str, rate: str) -> int:
    """Count one request of `ident` in `scope`; the whole seconds it must wait
    when this one is over the limit, else 0."""
    limit, window = rate_parse(rate)
    now = time.time()
    bucket = int(now // window)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    key = f"rate:{scope}:{digest}:{bucket}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        count = 1
    if count <= limit:
        return 0
    return max(1, math.ceil((bucket + 1) * window - now))


def _rate_check(
    *, scope: str, address: str | None, account: str, address_rate: str, rate: str
) -> None:
    """Per client address, then per account: the first limit passed refuses."""
    wait = _rate_hit(scope=f"{scope}:address", ident=address or "", rate=address_rate)
    wait = wait or _rate_hit(scope=f"{scope}:account", ident=account, rate=rate)
    if wait:
        raise RateLimited(
            f"Too many requests; try again in {_wait_text(wait)}.", retry_after=wait
        )


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- Email --------------------------------------------------------------------------


def _mail_on_commit(subject: str, lines: list[str], to: str) -> None:
    body = "\n".join([*lines, "", "— The Exchange team"])

    def _send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
        except Exception:  # a mail outage must not undo the committed change
            logger.exception("Email %r to user failed", subject)

    transaction.on_commit(_send)


def _hello(user: User) -> str:
    return f"Hello {user.full_name or user.email},"


def _absolute(site_url: str, path: str) -> str:
    return f"{site_url.rstrip('/')}{path}"


def _minutes(seconds: int) -> int:
    return max(1, seconds // 60)


# --- Password reset -----------------------------------------------------------------


def password_reset_request_answer() -> str:
    """What every reset request is told, whether the email is registered or not."""
    return REQUEST_ANSWER.format(minutes=_minutes(settings.PASSWORD_RESET_TIMEOUT))


def password_reset_link(*, user: User, site_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("accounts:password-reset-confirm", args=[uid, token])
    return _absolute(site_url, path)


def _reset_email_on_commit(*, user: User, site_url: str) -> None:
    minutes = _minutes(settings.PASSWORD_RESET_TIMEOUT)
    lines = [
        _hello(user),
        "",
        "Someone (we hope you) asked to choose a new password for your account.",
        f"Choose it here within {minutes} minutes; the link works once:",
        f"  {password_reset_link(user=user, site_url=site_url)}",
        "",
        "If you have two-factor login on, you will need a code as well.",
        "If you did not ask for this, ignore this email: your password stays.",
    ]
    _mail_on_commit("Choose a new password", lines, user.email)


def password_reset_request(
    *, email: str, site_url: str, meta: RequestMeta | None = None
) -> None:
    """Email a reset link if an active account has this address. Answers the same
    (nothing) either way, and counts the request per client address and per
    email, registered or not: 429 `throttled` over the limit."""
    meta = meta or RequestMeta()
    email = User.objects.normalize_email((email or "").strip()).lower()
    _rate_check(
        scope="password-reset",
        address=meta.ip_address,
        account=email,
        address_rate=settings.PASSWORD_RESET_RATE_PER_ADDRESS,
        rate=settings.PASSWORD_RESET_RATE_PER_ACCOUNT,
    )
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        sent = user is not None and user.is_active
        audit_event_record(
            code=AuditCode.PASSWORD_RESET_REQUESTED,
            user=user,
            meta=meta,
            extra={"email": email, "sent": sent},
        )
        if user is not None and sent:
            _reset_email_on_commit(user=user, site_url=site_url)


def _link_invalid() -> ApplicationError:
    return ApplicationError(
        Code.LINK_INVALID,
        "token: this password reset link is invalid, expired or already used; "
        "ask for a new one.",
        details={"token": ["Invalid, expired or used."]},
    )


def password_reset_user(*, uid: str, token: str) -> User:
    """The user a reset link is for, if the link still works: 400 `link_invalid`
    otherwise (wrong, used or expired alike), 403 `account_suspended`."""
    try:
        pk = int(urlsafe_base64_decode(uid or "").decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        raise _link_invalid() from None
    user = User.objects.filter(pk=pk).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise _link_invalid()
    if not user.is_active:
        raise Forbidden(Code.ACCOUNT_SUSPENDED, "This account is suspended.")
    return user


def _second_factor_check(*, user: User, otp: str | None) -> str | None:
    """A user with a second factor gives a code from any of their devices
    (`otp_verify`: devices locked, a code works once). Runs in its own
    transaction, before the reset's, so a wrong code counts towards the
    device's throttle even though the reset is refused."""
    if not user_has_two_factor(user=user):
        return None
    if not otp:
        raise ApplicationError(
            Code.OTP_REQUIRED,
            "otp: this account has two-factor login on; give a current code "
            "(or a backup code) to choose a new password.",
            details={"otp": ["Required."]},
        )
    device = otp_verify(user=user, token=otp)
    if device is None:
        raise ApplicationError(
            Code.OTP_INVALID,
            "otp: the code is wrong, expired or already used.",
            details={"otp": ["Invalid code."]},
        )
    return device._meta.model_name


def password_reset_complete(
    *,
    uid: str,
    token: str,
    new_password: str,
    otp: str | None = None,
    meta: RequestMeta | None = None,
) -> User:
    """Set a new password from a reset link. The second factor is required when
    the user has one. Every session, refresh and access token of the user ends;
    the user is told by email. Following the link also proves the address, so an
    unverified one becomes verified."""
    user = password_reset_user(uid=uid, token=token)
    _validate_password(new_password, user=user, field="new_password")
    device = _second_factor_check(user=user, otp=otp)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not default_token_generator.check_token(user, token):
            raise _link_invalid()  # used by a concurrent request meanwhile
        user.set_password(new_password)
        fields = ["password"]
        verified = user.email_verified_at is None
        if verified:
            user.email_verified_at = timezone.now()
            fields.append("email_verified_at")
        user.save(update_fields=fields)
        revoked = _revoke_all_tokens(user)
        audit_event_record(
            code=AuditCode.PASSWORD_RESET_COMPLETED,
            user=user,
            acting_user=user,
            meta=meta,
            extra={"second_factor": device},
        )
        audit_event_record(
            code=AuditCode.TOKENS_REVOKED,
            user=user,
            acting_user=user,
            meta=meta,
            extra={"refresh_tokens": revoked, "reason": "password_reset"},
        )
        if verified:
            audit_event_record(
                code=AuditCode.EMAIL_VERIFIED,
                user=user,
                acting_user=user,
                meta=meta,
                extra={"email": user.email, "via": "password_reset"},
            )
        # the owner is told (notifications; a security notice)
        security_notice_record(
            user=user,
            kind="password_changed",
            detail={"via": "Password reset link"},
            meta=meta,
        )
    return user


@transaction.atomic
def user_password_reset_send(
    *, user: User, staff: User, reason: str, site_url: str, meta: RequestMeta | None
) -> User:
    """Staff send the user the same reset email the user could ask for (the user
    still needs their second factor to finish). Audited as
    `STAFF_PASSWORD_RESET_SENT`, which puts the user's withdrawals on the
    credential cool-off."""
    staff_require(staff=staff, perm=SEND_PASSWORD_RESET_PERMISSION)
    reason = reason_clean(reason)
    user = User.objects.select_for_update().get(pk=user.pk)
    staff_may_act_on(staff=staff, user=user)
    if not user.is_active:
        raise Conflict(
            Code.ACCOUNT_SUSPENDED,
            "This account is locked: unlock it before sending a reset link.",
        )
    audit_event_record(
        code=AuditCode.STAFF_PASSWORD_RESET_SENT,
        user=user,
        acting_user=staff,
        target=user,
        meta=meta,
        extra={"reason": reason, "email": user.email},
    )
    staff_action_notice_record(user=user, action="Password reset link sent by support")
    _reset_email_on_commit(user=user, site_url=site_url)
    return user


# --- Email verification -------------------------------------------------------------


def email_verification_token(*, user: User, email: str | None = None) -> str:
    """Signed: the user, the address to verify (the account's own, or a new one),
    and the account's address now (the link dies once that changes)."""
    return signing.dumps(
        {"u": user.pk, "e": email or user.email, "c": user.email}, salt=VERIFY_SALT
    )


def email_verification_link(*, token: str, site_url: str) -> str:
    return _absolute(site_url, reverse("accounts:email-verify", args=[token]))


def _verification_email_on_commit(*, user: User, site_url: str) -> None:
    token = email_verification_token(user=user)
    hours = max(1, settings.EMAIL_VERIFICATION_TIMEOUT // 3600)
    lines = [
        _hello(user),
        "",
        f"Please confirm that this is your email address, within {hours} hours:",
        f"  {email_verification_link(token=token, site_url=site_url)}",
        "",
        "Until you do, identity checks, deposits and trading stay closed.",
        "If you did not sign up, ignore this email.",
    ]
    _mail_on_commit("Confirm your email address", lines, user.email)


def email_verification_start(
    *, user: User, site_url: str, meta: RequestMeta | None = None
) -> None:
    """At signup, inside the signup's transaction: audit and send the first link."""
    audit_event_record(
        code=AuditCode.EMAIL_VERIFICATION_SENT,
        user=user,
        acting_user=user,
        meta=meta,
        extra={"email": user.email},
    )
    _verification_email_on_commit(user=user, site_url=site_url)


def email_verification_send(
    *, user: User, site_url: str, meta: RequestMeta | None = None
) -> None:
    """Send a new verification link: 409 `email_already_verified`, or 429
    `throttled` past the limits per client address and per account."""
    meta = meta or RequestMeta()
    user = User.objects.get(pk=user.pk)
    if user.email_verified_at is not None:
        raise Conflict(
            Code.EMAIL_ALREADY_VERIFIED, "email: this address is already verified."
        )
    _rate_check(
        scope="email-verify",
        address=meta.ip_address,
        account=str(user.pk),
        address_rate=settings.EMAIL_VERIFICATION_RATE_PER_ADDRESS,
        rate=settings.EMAIL_VERIFICATION_RATE_PER_ACCOUNT,
    )
    with transaction.atomic():
        email_verification_start(user=user, site_url=site_url, meta=meta)


def _verification_link_invalid(message: str) -> ApplicationError:
    return ApplicationError(
        Code.LINK_INVALID, f"token: {message}", details={"token": ["Invalid."]}
    )


def _verification_read(token: str) -> dict:
    max_age = timedelta(seconds=settings.EMAIL_VERIFICATION_TIMEOUT)
    try:
        data = signing.loads(token or "", salt=VERIFY_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise ApplicationError(
            Code.LINK_EXPIRED,
            "token: this confirmation link has expired; ask for a new one.",
            details={"token": ["Expired."]},
        ) from None
    except signing.BadSignature:
        raise _verification_link_invalid(
            "this confirmation link is not valid."
        ) from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("u"), int)
        and isinstance(data.get("e"), str)
        and isinstance(data.get("c"), str)
    ):
        raise _verification_link_invalid("this confirmation link is not valid.")
    return data


@transaction.atomic
def email_verify(*, token: str, meta: RequestMeta | None = None) -> User:
    """Follow a verification link: the account's address becomes verified
    (`EMAIL_VERIFIED`), or, for a change, the new address replaces the old one,
    verified (`EMAIL_CHANGED`), and the old address is told. Following a link
    for an address already verified changes nothing."""
    data = _verification_read(token)
    user = User.objects.select_for_update().filter(pk=data["u"]).first()
    if user is None or user.email.lower() != data["c"].lower():
        raise _verification_link_invalid(
            "this link is for an address the account no longer has."
        )
    new = data["e"].lower()
    if new == user.email.lower():
        if user.email_verified_at is None:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
            audit_event_record(
                code=AuditCode.EMAIL_VERIFIED,
                user=user,
                acting_user=user,
                meta=meta,
                extra={"email": user.email},
            )
        return user
    old = user.email
    if User.objects.filter(email__iexact=new).exclude(pk=user.pk).exists():
        raise _email_taken()
    user.email = new
    user.email_verified_at = timezone.now()
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "email_verified_at"])
    except IntegrityError:  # taken by a concurrent signup
        raise _email_taken() from None
    audit_event_record(
        code=AuditCode.EMAIL_CHANGED,
        user=user,
        acting_user=user,
        meta=meta,
        extra={"old": old, "new": new},
    )
    # the old address is told (notifications read `old_email` from the detail)
    security_notice_record(
        user=user,
        kind="email_changed",
        detail={"old_email": old, "new_email": new},
        meta=meta,
    )
    return user


def _email_taken() -> Conflict:
    return Conflict(
        Code.EMAIL_TAKEN,
        "email: another account has this email.",
        details={"email": ["Another account has this email."]},
    )


def email_normalize(email: str) -> str:
    """Lower-cased and checked: 400 `email_invalid`."""
    email = User.objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ApplicationError(
            Code.EMAIL_INVALID,
            "email: enter a valid email address.",
            details={"email": exc.messages},
        ) from exc
    return email


def email_change_request(
    *,
    user: User,
    new_email: str,
    site_url: str,
    acting_user: User | None = None,
    meta: RequestMeta | None = None,
) -> None:
    """Ask to change the account's email (call it inside the caller's
    transaction): a link goes to the new address, and the change happens when it
    is followed; the old address is told now. If another account already has the
    new address, that address is told instead, and the caller answers the same
    (no telling who is registered)."""
    new = email_normalize(new_email)
    if new == user.email.lower():
        raise ApplicationError(
            Code.EMAIL_UNCHANGED,
            "email: this is already the account's address.",
            details={"email": ["Unchanged."]},
        )
    taken = User.objects.filter(email__iexact=new).exclude(pk=user.pk).exists()
    audit_event_record(
        code=AuditCode.EMAIL_CHANGE_REQUESTED,
        user=user,
        acting_user=acting_user or user,
        meta=meta,
        extra={"old": user.email, "new": new, "sent": not taken},
    )
    by_staff = acting_user is not None and acting_user.pk != user.pk
    _mail_on_commit(
        "A change of your email address was asked for",
        [
            _hello(user),
            "",
            f"{'Our support team' if by_staff else 'Someone signed in to your account'}"
            f" asked to change its email address to {new}.",
            "Nothing changes unless the link we sent to that address is followed.",
            "If this was not you, change your password and contact support.",
        ],
        user.email,
    )
    if taken:
        _mail_on_commit(
            "Someone tried to use your email address",
            [
                "Hello,",
                "",
                "Someone asked to move another account to this email address. It "
                "already has an account here, so nothing was changed.",
                "If it was you, sign in to the account this address already has.",
            ],
            new,
        )
        return
    token = email_verification_token(user=user, email=new)
    hours = max(1, settings.EMAIL_VERIFICATION_TIMEOUT // 3600)
    _mail_on_commit(
        "Confirm your new email address",
        [
            _hello(user),
            "",
            f"Confirm within {hours} hours that this address ({new}) is to "
            "become your account's email address:",
            f"  {email_verification_link(token=token, site_url=site_url)}",
            "",
            "If you did not ask for this, ignore this email.",
        ],
        new,
    )


def email_change_rate_check(*, user: User, meta: RequestMeta | None) -> None:
    """A user's own change requests share the verification emails' limits."""
    _rate_check(
        scope="email-verify",
        address=(meta or RequestMeta()).ip_address,
        account=str(user.pk),
        address_rate=settings.EMAIL_VERIFICATION_RATE_PER_ADDRESS,
        rate=settings.EMAIL_VERIFICATION_RATE_PER_ACCOUNT,
    )


# --- Signing up on the pages, without telling who is registered -----------------


def user_signup(
    *,
    email: str,
    password: str,
    full_name: str,
    phone: str = "",
    accept_terms: bool,
    site_url: str,
    meta: RequestMeta | None = None,
) -> None:
    """The pages' signup: the same answer ("check your inbox") whether the email
    is new or registered. A new one gets an account and a verification link; a
    registered one is told by email that someone tried to sign up with it. The
    password is checked (and hashed) either way, so neither the errors nor the
    time taken tell the two apart. (The API's register keeps its 409.)"""
    from accounts.services import user_register

    email = User.objects.normalize_email((email or "").strip()).lower()
    candidate = User(email=email, full_name=full_name.strip(), phone=phone.strip())
    _validate_password(password, user=candidate)
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        try:
            user_register(
                email=email,
                password=password,
                full_name=full_name,
                phone=phone,
                accept_terms=accept_terms,
                site_url=site_url,
                meta=meta,
            )
            return
        except Conflict:  # registered by a concurrent request meanwhile
            existing = User.objects.filter(email__iexact=email).first()
            if existing is None:
                raise
    make_password(password)  # the time a new account's hashing takes
    with transaction.atomic():
        _mail_on_commit(
            "Someone tried to sign up with your email address",
            [
                _hello(existing),
                "",
                "Someone tried to open a new account with this email address. You "
                "already have one, so nothing was created.",
                "If it was you, log in; if you forgot your password, choose a new "
                "one here:",
                f"  {_absolute(site_url, reverse('accounts:password-reset'))}",
            ],
            existing.email,
        )
