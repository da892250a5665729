"""Roles (Django groups, `accounts.roles`) and the four-eyes grant of power.

A back-office role is granted only by a `RoleGrantRequest` that one
administrator opens and a different one approves (never the requester, never
the user who would get it). Revoking removes power, so one administrator may do
it. `is_staff` follows the roles (a user with any back-office role is staff);
`is_superuser` is set by no service at all, only by `manage.py createsuperuser`.
Seed data and tests assign roles with `user_roles_bootstrap`, which no admin or
API path reaches.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.errors import AccountsErrorCode as Code
from accounts.models import (
    AuditCode,
    RoleGrantRequest,
    RoleGrantRequestStatusChange,
    User,
)
from accounts.roles import BACK_OFFICE_ROLES, Role
from accounts.services import RequestMeta, audit_event_record
from accounts.services._staff_common import (
    reason_clean,
    staff_not_on_self,
    staff_require,
)
from config.domain_errors import ApplicationError, Conflict, Forbidden, NotFound
from config.transitions import transition

GRANT_PERMISSION = "accounts.grant_role"
_BACK_OFFICE = frozenset(role.value for role in BACK_OFFICE_ROLES)


def _apply_roles(user: User, names: set[str]) -> None:
    """Give a (locked) user exactly these groups; staff iff a back-office role."""
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])
    is_staff = bool(names & _BACK_OFFICE) or user.is_superuser
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


def _role_names(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def _back_office_role(role: str | Role) -> str:
    value = str(role)
    if value not in _BACK_OFFICE:
        raise ApplicationError(
            Code.ROLE_INVALID,
            f"role: {value!r} is not a back-office role "
            f"({', '.join(sorted(_BACK_OFFICE))}).",
            details={"role": ["Not a back-office role."]},
        )
    return value


@transaction.atomic
def user_roles_bootstrap(*, user: User, roles: list[Role]) -> User:
    """Give a user exactly these roles without a second administrator: for seed
    data, tests and the first administrators of a fresh install (from code run
    by someone with shell access). Audited with no acting user."""
    user = User.objects.select_for_update().get(pk=user.pk)
    before = _role_names(user)
    after = {Role(role).value for role in roles}
    _apply_roles(user, after)
    for code, names in (
        (AuditCode.ROLE_GRANTED, after - before),
        (AuditCode.ROLE_REVOKED, before - after),
    ):
        for name in sorted(names):
            audit_event_record(
                code=code, user=user, extra={"role": name, "via": "bootstrap"}
            )
    return user


def role_grant_request_check(*, requested_by: User, user: User, role: str) -> str:
    """The rules a new request must pass; returns the role's value. The admin's
    form runs it too, so a problem shows on its field."""
    staff_require(staff=requested_by, perm=GRANT_PERMISSION)
    role = _back_office_role(role)
    staff_not_on_self(staff=requested_by, user=user)
    if not user.is_active:
        raise Conflict(
            Code.ACCOUNT_SUSPENDED,
            "user: this account is locked.",
            details={"user": ["Locked account."]},
        )
    if user.groups.filter(name=role).exists():
        raise Conflict(
            Code.ROLE_ALREADY_HELD,
            f"role: {user} already has the {role} role.",
            details={"role": ["Already held."]},
        )
    if RoleGrantRequest.objects.filter(
        user=user, role=role, status=RoleGrantRequest.Status.REQUESTED
    ).exists():
        raise Conflict(
            Code.ROLE_REQUEST_OPEN,
            f"role: a request for {role} for {user} is already waiting.",
            details={"role": ["A request is already waiting."]},
        )
    return role


def _decide(
    *, grant: RoleGrantRequest, new_status: str, approver: User, note: str
) -> None:
    """A second administrator's decision: the transition and who decided, when."""
    transition(
        obj=grant,
        to=new_status,
        history=RoleGrantRequestStatusChange,
        fields={
            "decided_by": approver,
            "decided_at": timezone.now(),
            "decision_note": note,
        },
        history_fields={"acting_user": approver, "note": note[:255]},
    )


def _locked_request(request_id: int) -> RoleGrantRequest:
    grant = (
        RoleGrantRequest.objects.select_for_update()
        .select_related("user", "requested_by")
        .filter(pk=request_id)
        .first()
    )
    if grant is None:
        raise NotFound("not_found", f"Role grant request {request_id} does not exist.")
    return grant


@transaction.atomic
def role_grant_request(
    *,
    requested_by: User,
    user: User,
    role: str | Role,
    reason: str,
    meta: RequestMeta | None = None,
) -> RoleGrantRequest:
    """Ask for a back-office role for `user`; a second administrator decides."""
    reason = reason_clean(reason)
    user = User.objects.select_for_update().get(pk=user.pk)  # one open request
    role = role_grant_request_check(requested_by=requested_by, user=user, role=role)
    grant = RoleGrantRequest.objects.create(
        user=user, role=role, requested_by=requested_by, reason=reason
    )
    RoleGrantRequestStatusChange.objects.create(
        request=grant,
        old_status="",
        new_status=grant.status,
        acting_user=requested_by,
        note=reason,
    )
    audit_event_record(
        code=AuditCode.ROLE_GRANT_REQUESTED,
        user=user,
        acting_user=requested_by,
        target=grant,
        meta=meta,
        extra={"role": role, "reason": reason},
    )
    return grant


@transaction.atomic
def role_grant_approve(
    *,
    request_id: int,
    approver: User,
    note: str = "",
    meta: RequestMeta | None = None,
) -> RoleGrantRequest:
    """The second administrator's yes: the role is granted now."""
    staff_require(staff=approver, perm=GRANT_PERMISSION)
    grant = _locked_request(request_id)
    if approver.pk == grant.requested_by_id:
        raise Forbidden(
            Code.FOUR_EYES_REQUIRED,
            "You asked for this role: a different administrator must approve it.",
        )
    staff_not_on_self(staff=approver, user=grant.user)
    user = User.objects.select_for_update().get(pk=grant.user_id)
    if grant.status == RoleGrantRequest.Status.REQUESTED and not user.is_active:
        raise Conflict(Code.ACCOUNT_SUSPENDED, "user: this account is locked.")
    note = note.strip()[:255]
    _decide(
        grant=grant,
        new_status=RoleGrantRequest.Status.APPROVED,
        approver=approver,
        note=note,
    )
    _apply_roles(user, _role_names(user) | {grant.role})
    audit_event_record(
        code=AuditCode.ROLE_GRANTED,
        user=user,
        acting_user=approver,
        target=grant,
        meta=meta,
        extra={
            "role": grant.role,
            "requested_by": grant.requested_by_id,
            "note": note,
        },
    )
    return grant


@transaction.atomic
def role_grant_reject(
    *,
    request_id: int,
    approver: User,
    note: str,
    meta: RequestMeta | None = None,
) -> RoleGrantRequest:
    """Another administrator's no (the requester cancels instead)."""
    staff_require(staff=approver, perm=GRANT_PERMISSION)
    note = reason_clean(note, field="note")
    grant = _locked_request(request_id)
    if approver.pk == grant.requested_by_id:
        raise Forbidden(
            Code.FOUR_EYES_REQUIRED,
            "You asked for this role: cancel the request instead of rejecting it.",
        )
    _decide(
        grant=grant,
        new_status=RoleGrantRequest.Status.REJECTED,
        approver=approver,
        note=note,
    )
    audit_event_record(
        code=AuditCode.ROLE_GRANT_REJECTED,
        user=grant.user,
        acting_user=approver,
        target=grant,
        meta=meta,
        extra={"role": grant.role, "note": note},
    )
    return grant


@transaction.atomic
def role_grant_cancel(
    *,
    request_id: int,
    staff: User,
    note: str = "",
    meta: RequestMeta | None = None,
) -> RoleGrantRequest:
    """The requester withdraws their own request."""
    staff_require(staff=staff, perm=GRANT_PERMISSION)
    grant = _locked_request(request_id)
    if staff.pk != grant.requested_by_id:
        raise Forbidden(
            Code.PERMISSION_DENIED,
            "Only the administrator who asked can cancel; others reject.",
        )
    note = note.strip()[:255]
    transition(
        obj=grant,
        to=RoleGrantRequest.Status.CANCELLED,
        history=RoleGrantRequestStatusChange,
        history_fields={"acting_user": staff, "note": note},
    )
    audit_event_record(
        code=AuditCode.ADMIN_OBJECT_CHANGED,
        user=grant.user,
        acting_user=staff,
        target=grant,
        meta=meta,
        extra={
            "model": "accounts.rolegrantrequest",
            "action": "cancelled",
            "role": grant.role,
            "note": note,
        },
    )
    return grant


@transaction.atomic
def user_role_revoke(
    *,
    user: User,
    role: str | Role,
    staff: User,
    reason: str,
    meta: RequestMeta | None = None,
) -> User:
    """Take a back-office role away. One administrator suffices: it removes
    power. Losing the last back-office role ends back-office access."""
    staff_require(staff=staff, perm=GRANT_PERMISSION)
    role = _back_office_role(role)
    staff_not_on_self(staff=staff, user=user)
    reason = reason_clean(reason)
    user = User.objects.select_for_update().get(pk=user.pk)
    names = _role_names(user)
    if role not in names:
        raise Conflict(
            Code.ROLE_NOT_HELD,
            f"role: {user} does not have the {role} role.",
            details={"role": ["Not held."]},
        )
    _apply_roles(user, names - {role})
    audit_event_record(
        code=AuditCode.ROLE_REVOKED,
        user=user,
        acting_user=staff,
        target=user,
        meta=meta,
        extra={"role": role, "reason": reason},
    )
    return user
