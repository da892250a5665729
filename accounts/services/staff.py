"""What staff may do to a user's account, each one audited: lock and unlock it,
end its sessions and tokens, correct its profile. (The second-factor reset,
started by support and finished by a KYC re-check, is in
`accounts.services.factors`.)

Every action on credentials, email, phone or second factor ends the user's JWTs
and browser sessions (a `token_version` bump: JWTs carry it, and the session
hash folds it in) and, through its audit code (`CREDENTIAL_STAFF_CODES`), puts
the user's withdrawals on a cool-off (`accounts.selectors.
user_withdrawal_cooloff_until`). Staff never see or set a password; they may
send the user a reset link (`accounts.services.recovery.user_password_reset_send`).
"""

from __future__ import annotations

import re

from axes.utils import reset as axes_reset
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.api.serializers import PHONE_PATTERN
from accounts.errors import AccountsErrorCode as Code
from accounts.lockout import login_lockout_clear
from accounts.models import AuditCode, User
from accounts.services import (
    RequestMeta,
    _revoke_all_tokens,
    audit_event_record,
    staff_action_notice_record,
)
from accounts.services._staff_common import (
    reason_clean,
    staff_may_act_on,
    staff_require,
)
from accounts.services.recovery import email_change_request
from config.domain_errors import ApplicationError, Conflict

LOCK_PERMISSION = "accounts.suspend_user"
END_SESSIONS_PERMISSION = "accounts.end_user_sessions"
RESET_SECOND_FACTOR_PERMISSION = "accounts.reset_second_factor"
CHANGE_PROFILE_PERMISSION = "accounts.change_user"
CLEAR_LOCKOUT_PERMISSION = "accounts.clear_login_lockout"

# what the user reads of a staff profile change (the `staff_action` notice)
_FIELD_NAMES = {"full_name": "name", "phone": "phone number"}


def _locked_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


@transaction.atomic
def user_lock(
    *, user: User, staff: User, reason: str, meta: RequestMeta | None = None
) -> User:
    """Suspend the account: no login, and every token and session ends now."""
    staff_require(staff=staff, perm=LOCK_PERMISSION)
    reason = reason_clean(reason)
    user = _locked_user(user)
    staff_may_act_on(staff=staff, user=user)
    if user.status == User.Status.SUSPENDED:
        raise Conflict(Code.ACCOUNT_ALREADY_LOCKED, "This account is already locked.")
    user.status = User.Status.SUSPENDED
    user.save(update_fields=["status"])
    revoked = _revoke_all_tokens(user)
    audit_event_record(
        code=AuditCode.STAFF_ACCOUNT_LOCKED,
        user=user,
        acting_user=staff,
        target=user,
        meta=meta,
        extra={
            "old": User.Status.ACTIVE,
            "new": User.Status.SUSPENDED,
            "reason": reason,
            "refresh_tokens": revoked,
        },
    )
    staff_action_notice_record(user=user, action="Account locked by support")
    return user


@transaction.atomic
def user_unlock(
    *, user: User, staff: User, reason: str, meta: RequestMeta | None = None
) -> User:
    """Reactivate a locked account. The user signs in afresh (nothing issued
    before the unlock works) and their withdrawals wait out the cool-off."""
    staff_require(staff=staff, perm=LOCK_PERMISSION)
    reason = reason_clean(reason)
    user = _locked_user(user)
    staff_may_act_on(staff=staff, user=user)
    if user.status != User.Status.SUSPENDED:
        raise Conflict(Code.ACCOUNT_NOT_LOCKED, "This account is not locked.")
    user.status = User.Status.ACTIVE
    user.save(update_fields=["status"])
    revoked = _revoke_all_tokens(user)
    audit_event_record(
        code=AuditCode.STAFF_ACCOUNT_UNLOCKED,
        user=user,
        acting_user=staff,
        target=user,
        meta=meta,
        extra={
            "old": User.Status.SUSPENDED,
            "new": User.Status.ACTIVE,
            "reason": reason,
            "refresh_tokens": revoked,
        },
    )
    staff_action_notice_record(user=user, action="Account unlocked by support")
    return user


@transaction.atomic
def user_sessions_end(
    *, user: User, staff: User, reason: str, meta: RequestMeta | None = None
) -> User:
    """End every browser session, access and refresh token of the user."""
    staff_require(staff=staff, perm=END_SESSIONS_PERMISSION)
    reason = reason_clean(reason)
    user = _locked_user(user)
    staff_may_act_on(staff=staff, user=user)
    revoked = _revoke_all_tokens(user)
    audit_event_record(
        code=AuditCode.STAFF_SESSIONS_ENDED,
        user=user,
        acting_user=staff,
        target=user,
        meta=meta,
        extra={"reason": reason, "refresh_tokens": revoked},
    )
    staff_action_notice_record(user=user, action="Every sign-in ended by support")
    return user


@transaction.atomic
def user_login_lockout_clear(
    *, user: User, staff: User, reason: str, meta: RequestMeta | None = None
) -> int:
    """Forget the user's failed logins from every address, ending any lockout
    before its wait is over (accounts/lockout.py), along with django-axes' records
    of them, e.g. once support has checked who is calling. Returns how many
    attempt records were removed."""
    staff_require(staff=staff, perm=CLEAR_LOCKOUT_PERMISSION)
    reason = reason_clean(reason)
    user = _locked_user(user)
    staff_may_act_on(staff=staff, user=user)
    cleared = axes_reset(username=user.email)
    login_lockout_clear(email=user.email)
    if not cleared:
        raise Conflict(
            Code.NO_FAILED_LOGINS, "This user has no failed logins on record."
        )
    audit_event_record(
        code=AuditCode.ADMIN_OBJECT_CHANGED,
        user=user,
        acting_user=staff,
        target=user,
        meta=meta,
        extra={
            "model": "axes.accessattempt",
            "action": "login_lockout_cleared",
            "attempts": cleared,
            "reason": reason,
        },
    )
    staff_action_notice_record(
        user=user, action="Failed sign-in lockout cleared by support"
    )
    return cleared


def user_contact_check(*, user: User, email: str | None, phone: str | None) -> None:
    """The rules a staff edit of email and phone must pass (also run by the admin
    form, so a problem shows on its field)."""
    if email is not None:
        email = User.objects.normalize_email(email.strip()).lower()
        try:
            validate_email(email)
        except DjangoValidationError as exc:
            raise ApplicationError(
                Code.EMAIL_INVALID,
                "email: enter a valid email address.",
                details={"email": exc.messages},
            ) from exc
        if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
            raise Conflict(
                Code.EMAIL_TAKEN,
                "email: another account has this email.",
                details={"email": ["Another account has this email."]},
            )
    if phone is not None and phone.strip() and not re.match(PHONE_PATTERN, phone):
        raise ApplicationError(
            Code.PHONE_INVALID,
            "phone: digits, spaces and +()- only, 5 to 32 characters.",
            details={"phone": ["Enter a phone number: digits, spaces, +()-."]},
        )


@transaction.atomic
def user_profile_update_by_staff(
    *,
    user: User,
    staff: User,
    reason: str,
    full_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    site_url: str = "",
    meta: RequestMeta | None = None,
) -> User:
    """Correct a user's profile from the back office. A change of email or phone
    (`STAFF_CONTACT_CHANGED`) ends the user's sessions and tokens and starts the
    withdrawal cool-off; a change of name alone is an `ADMIN_OBJECT_CHANGED`.
    A new email takes effect only when the user follows the link sent to it
    (`email_change_request`, `extra.email_requested`); the old one is told."""
    staff_require(staff=staff, perm=CHANGE_PROFILE_PERMISSION)
    reason = reason_clean(reason)
    user = _locked_user(user)
    staff_may_act_on(staff=staff, user=user)
    user_contact_check(user=user, email=email, phone=phone)
    wanted = {
        "full_name": None if full_name is None else full_name.strip(),
        "email": None
        if email is None
        else User.objects.normalize_email(email.strip()).lower(),
        "phone": None if phone is None else phone.strip(),
    }
    changes = {
        field: [getattr(user, field), value]
        for field, value in wanted.items()
        if value is not None and getattr(user, field) != value
    }
    if not changes:
        return user
    requested = changes.pop("email", [None, None])[1]
    if requested is not None:
        email_change_request(
            user=user,
            new_email=requested,
            site_url=site_url,
            acting_user=staff,
            meta=meta,
        )
    for field, (_, new) in changes.items():
        setattr(user, field, new)
    if changes:
        user.save(update_fields=list(changes))
    extra: dict[str, object] = {"changes": changes, "reason": reason}
    if requested is not None:
        extra["email_requested"] = requested
    if requested is not None or "phone" in changes:
        extra["refresh_tokens"] = _revoke_all_tokens(user)
        code = AuditCode.STAFF_CONTACT_CHANGED
    else:
        code = AuditCode.ADMIN_OBJECT_CHANGED
        extra["model"] = "accounts.user"
    audit_event_record(
        code=code, user=user, acting_user=staff, target=user, meta=meta, extra=extra
    )
    changed = [_FIELD_NAMES[field] for field in changes]
    if requested is not None:
        changed.append("email (once the new address is confirmed)")
    staff_action_notice_record(
        user=user, action=f"Profile changed by support: {', '.join(changed)}"
    )
    return user
