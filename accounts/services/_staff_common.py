"""Checks shared by the staff services: who may act, on whom, and why."""

from __future__ import annotations

from accounts.errors import AccountsErrorCode as Code
from accounts.models import User
from config.domain_errors import ApplicationError, Conflict, Forbidden


def staff_require(*, staff: User, perm: str) -> None:
    """Only active staff holding `perm` (superusers hold every permission)."""
    if not (staff.is_active and staff.is_staff and staff.has_perm(perm)):
        raise Forbidden(
            Code.PERMISSION_DENIED, f"You need the {perm} permission for this."
        )


def staff_not_on_self(*, staff: User, user: User, field: str = "user") -> None:
    if staff.pk == user.pk:
        raise Forbidden(
            Code.NOT_ON_YOURSELF,
            f"{field}: staff powers are not used on your own account; "
            "ask another member of staff.",
            details={field: ["That is you."]},
        )


# Staff accounts are administrators' business: an operator or support agent may
# not lock, sign out or edit a colleague (nor clear the way to their account).
STAFF_ACCOUNTS_PERMISSION = "accounts.grant_role"


def staff_may_act_on(*, staff: User, user: User) -> None:
    """Never on yourself; on another member of staff only as an administrator;
    never on a closed account (its records are kept read-only)."""
    staff_not_on_self(staff=staff, user=user)
    if user.status == User.Status.CLOSED:
        raise Conflict(
            Code.ACCOUNT_CLOSED,
            "user: this account is closed; its records are kept read-only.",
            details={"user": ["Closed."]},
        )
    if (user.is_staff or user.is_superuser) and not staff.has_perm(
        STAFF_ACCOUNTS_PERMISSION
    ):
        raise Forbidden(
            Code.PERMISSION_DENIED,
            "user: this is a staff account; only an administrator acts on it.",
            details={"user": ["Staff account."]},
        )


def reason_clean(reason: str | None, *, field: str = "reason") -> str:
    """Every staff action says why; the reason goes into the audit trail."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            Code.REASON_REQUIRED,
            f"{field}: say why (it goes into the audit trail).",
            details={field: ["Required."]},
        )
    return reason[:255]
