"""Second factors beside the authenticator, and what happens when all are lost.

- Recovery codes: ten single-use codes, issued when 2FA is turned on, shown once,
  regenerated with a current code (the old ones stop working). Stored in
  django-otp's static device named `RECOVERY_DEVICE_NAME`, as keyed digests
  (`recovery_code_digest`): django-otp itself keeps static tokens in clear and
  matches them by equality, so we hand it the digest of what the user typed.
- Passkeys (django-otp-webauthn): a second factor on the pages and the admin,
  registered once the authenticator is on; removal takes a current code.
- A support-started reset: support opens a KYC re-check (912); only a reviewer's
  approval of that case removes every factor (908), ends the sessions and tokens,
  puts withdrawals on the credential cool-off and tells the user by email.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.errors import AccountsErrorCode as Code
from accounts.events import SecondFactorResetRequested
from accounts.models import AuditCode, AuditEvent, User
from accounts.services import (
    RequestMeta,
    _revoke_all_tokens,
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
from accounts.services.staff import RESET_SECOND_FACTOR_PERMISSION
from config import events
from config.domain_errors import ApplicationError, Conflict, NotFound

logger = logging.getLogger(__name__)

RECOVERY_DEVICE_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10
PASSKEY_NAME_MAX = 64


# --- Recovery codes ------------------------------------------------------------------


def recovery_code_normalise(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def recovery_code_digest(code: str) -> str:
    """What is stored for a recovery code: HMAC-SHA256 keyed with SECRET_KEY, 80
    bits in 16 base32 characters (django-otp's token column holds 16). A database
    copy alone does not give the codes; rotating SECRET_KEY voids them."""
    mac = hmac.new(
        settings.SECRET_KEY.encode(),
        b"accounts.recovery-code:" + recovery_code_normalise(code).encode(),
        hashlib.sha256,
    ).digest()
    return base64.b32encode(mac[:10]).decode("ascii").lower()


def _recovery_code_new() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()[:10]
    return f"{raw[:5]}-{raw[5:]}"  # 50 random bits


def recovery_codes_issue(
    *, user: User, meta: RequestMeta | None = None, reason: str = "enabled"
) -> list[str]:
    """Replace the user's recovery codes with new ones and return them (the only
    time they exist in clear). Call inside the transaction of the action."""
    device, _ = StaticDevice.objects.select_for_update().get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [_recovery_code_new() for _ in range(RECOVERY_CODE_COUNT)]
    device.token_set.bulk_create(
        [
            device.token_set.model(device=device, token=recovery_code_digest(c))
            for c in codes
        ]
    )
    audit_event_record(
        code=AuditCode.RECOVERY_CODES_GENERATED,
        user=user,
        acting_user=user,
        target=device,
        meta=meta,
        extra={"count": len(codes), "reason": reason},
    )
    return codes


def _require_code(*, user: User, otp: str, meta: RequestMeta | None) -> None:
    if otp_verify(user=user, token=otp, meta=meta) is None:
        raise ApplicationError(
            Code.OTP_INVALID,
            "otp: the code is wrong, expired or already used.",
            details={"otp": ["Invalid code."]},
        )


@transaction.atomic
def recovery_codes_regenerate(
    *, user: User, otp: str, meta: RequestMeta | None = None
) -> list[str]:
    """New recovery codes for a current code (authenticator or recovery code);
    every earlier recovery code stops working."""
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ApplicationError(
            Code.TWO_FACTOR_NOT_ENABLED,
            "Two-factor login is not on: recovery codes come with it.",
        )
    _require_code(user=user, otp=otp, meta=meta)
    codes = recovery_codes_issue(user=user, meta=meta, reason="regenerated")
    security_notice_record(user=user, kind="backup_codes_regenerated", meta=meta)
    return codes


# --- Passkeys ----------------------------------------------------------------------


def passkey_added_record(
    *, user: User, passkey: WebAuthnCredential, meta: RequestMeta | None = None
) -> None:
    """Name the new passkey and audit it; inside the registration's transaction."""
    if not passkey.name:
        count = WebAuthnCredential.objects.filter(user=user).count()
        passkey.name = f"Passkey {count}"
        passkey.save(update_fields=["name"])
    audit_event_record(
        code=AuditCode.PASSKEY_ADDED,
        user=user,
        acting_user=user,
        target=passkey,
        meta=meta,
        extra={"name": passkey.name},
    )
    security_notice_record(
        user=user,
        kind="second_factor_added",
        detail={"factor": "Passkey", "name": passkey.name},
        meta=meta,
    )


def _own_passkey(*, user: User, passkey_id: int) -> WebAuthnCredential:
    passkey = (
        WebAuthnCredential.objects.select_for_update()
        .filter(user=user, pk=passkey_id)
        .first()
    )
    if passkey is None:
        raise NotFound(Code.PASSKEY_NOT_FOUND, "passkey: not found.")
    return passkey


@transaction.atomic
def passkey_rename(*, user: User, passkey_id: int, name: str) -> WebAuthnCredential:
    name = " ".join((name or "").split())[:PASSKEY_NAME_MAX]
    if not name:
        raise ApplicationError(
            Code.PASSKEY_NAME_INVALID,
            "name: give the passkey a name.",
            details={"name": ["Required."]},
        )
    passkey = _own_passkey(user=user, passkey_id=passkey_id)
    passkey.name = name
    passkey.save(update_fields=["name"])
    return passkey


@transaction.atomic
def passkey_remove(
    *, user: User, passkey_id: int, otp: str, meta: RequestMeta | None = None
) -> None:
    """Remove a passkey; a current code (authenticator or recovery code) proves
    the user still holds a factor."""
    passkey = _own_passkey(user=user, passkey_id=passkey_id)
    _require_code(user=user, otp=otp, meta=meta)
    name = passkey.name
    pk = passkey.pk
    passkey.delete()
    audit_event_record(
        code=AuditCode.PASSKEY_REMOVED,
        user=user,
        acting_user=user,
        meta=meta,
        extra={"passkey_id": pk, "name": name},
    )
    security_notice_record(
        user=user,
        kind="second_factor_removed",
        detail={"factor": "Passkey", "name": name},
        meta=meta,
    )


def user_recovery_and_passkeys_remove(*, user: User) -> list[str]:
    """When the authenticator goes, its recovery codes and the passkeys go too
    (they are factors beside it, never alone). Inside the caller's transaction."""
    removed = [
        f"passkey:{name}"
        for name in WebAuthnCredential.objects.filter(user=user)
        .order_by("pk")
        .values_list("name", flat=True)
    ]
    recovery = StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME)
    if recovery.exists():
        removed.append("recovery_codes")
    recovery.delete()
    WebAuthnCredential.objects.filter(user=user).delete()
    return removed


def second_factors_remove(*, user: User) -> list[str]:
    """Delete every device of the user (authenticator, recovery and backup codes,
    passkeys); returns what was removed. Inside the caller's transaction."""
    removed = [
        f"{model._meta.model_name}:{name}"
        for model in (TOTPDevice, StaticDevice, WebAuthnCredential)
        for name in model.objects.filter(user=user)
        .order_by("pk")
        .values_list("name", flat=True)
    ]
    for model in (TOTPDevice, StaticDevice, WebAuthnCredential):
        model.objects.filter(user=user).delete()
    return removed


# --- The support-started reset -----------------------------------------------------
#
# Accounts checks who asks and records the request; kyc opens the re-check case
# and, when a reviewer approves it, calls `second_factor_reset_finish` (kyc's
# subscribers, kyc/services/recheck.py: accounts never imports kyc).


@transaction.atomic
def user_second_factor_reset_start(
    *, user: User, staff: User, reason: str, meta: RequestMeta | None = None
) -> None:
    """Support starts a reset for a user who lost every factor: nothing is removed
    yet. The `SecondFactorResetRequested` event's subscriber (kyc) opens a KYC
    re-check case, or refuses (a user never verified, a reset already waiting),
    which rolls this back; only the re-check's approval by a reviewer other than
    the starter finishes the reset."""
    staff_require(staff=staff, perm=RESET_SECOND_FACTOR_PERMISSION)
    reason = reason_clean(reason)
    user = User.objects.select_for_update().get(pk=user.pk)
    staff_may_act_on(staff=staff, user=user)
    if not second_factor_devices_exist(user=user):
        raise Conflict(
            Code.TWO_FACTOR_NOT_ENABLED, "This user has no second factor to reset."
        )
    meta = meta or RequestMeta()
    events.record(
        SecondFactorResetRequested(
            user_id=user.pk,
            staff_id=staff.pk,
            reason=reason,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
        )
    )
    staff_action_notice_record(
        user=user, action="Second-factor reset started by support"
    )


def second_factor_devices_exist(*, user: User) -> bool:
    return any(
        model.objects.filter(user=user).exists()
        for model in (TOTPDevice, StaticDevice, WebAuthnCredential)
    )


def second_factor_reset_finish(
    *, user: User, reviewer: User, started: AuditEvent | None, case_id: int
) -> None:
    """The identity re-check passed: remove every factor, end every session and
    token (the credential cool-off starts from the 908 audit event), tell the
    user after commit."""
    removed = second_factors_remove(user=user)
    revoked = _revoke_all_tokens(user)
    starter = started.acting_user if started else None
    audit_event_record(
        code=AuditCode.STAFF_SECOND_FACTOR_RESET,
        user=user,
        acting_user=reviewer,
        target=user,
        extra={
            "reason": started.extra.get("reason", "") if started else "",
            "kyc_case": case_id,
            "started_by": starter.pk if starter else None,
            "devices": removed,
            "refresh_tokens": revoked,
        },
    )
    _email_on_commit(user, approved=True)


def second_factor_reset_refused(*, user: User) -> None:
    """The re-check was refused: the factors stay; the user is told."""
    _email_on_commit(user, approved=False)


def reset_email_text(*, user: User, approved: bool) -> tuple[str, str]:
    hours = settings.BACKOFFICE_CREDENTIAL_COOLOFF_HOURS
    if approved:
        subject = "Your second factor was reset"
        body = [
            "Your identity check passed, and the second factors of your account "
            "(authenticator, recovery codes, passkeys) were removed as you asked "
            "our support team.",
            "",
            "Every session and API token of your account was signed out. Sign in "
            "with your password and turn two-factor login on again from your "
            "security page.",
            f"Withdrawals are paused for {hours} hours.",
            "",
            "If you did not ask for this, contact support at once.",
        ]
    else:
        subject = "Your second-factor reset was not completed"
        body = [
            "The identity check for the second-factor reset you asked our support "
            "team for did not pass; your second factors were not changed.",
            "",
            "If you did not ask for a reset, contact support at once.",
        ]
    greeting = f"Hello {user.full_name or user.email},"
    return subject, "\n".join([greeting, "", *body, "", "— The Exchange team"])


def _email_on_commit(user: User, *, approved: bool) -> None:
    subject, body = reset_email_text(user=user, approved=approved)
    address = user.email

    def _send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except Exception:  # a mail outage must not undo a committed decision
            logger.exception("second-factor reset email to user %s failed", user.pk)

    transaction.on_commit(_send)
