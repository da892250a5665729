"""Shared pieces of the KYC services: the transition table, locks, checks."""

from __future__ import annotations

from datetime import date

from django.core.files.storage import storages
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.errors import Conflict, Forbidden, NotFound
from kyc.errors import KycErrorCode as Code
from kyc.models import (
    EDITABLE_STATUSES,
    CasePurpose,
    KycCase,
    KycProfile,
    KycStatus,
    KycStatusEvent,
)
from kyc.selectors import (
    kyc_user_is_reviewer,
)

S = KycStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.NOT_SUBMITTED: frozenset({S.SUBMITTED}),
    S.SUBMITTED: frozenset({S.IN_REVIEW}),
    # Back to submitted: released, or first of two approvals given.
    S.IN_REVIEW: frozenset(
        {S.SUBMITTED, S.APPROVED, S.REJECTED, S.RESUBMISSION_REQUESTED}
    ),
    S.RESUBMISSION_REQUESTED: frozenset({S.SUBMITTED}),
    S.APPROVED: frozenset(),
    S.REJECTED: frozenset(),
}


def storage():
    return storages["kyc"]


def _today() -> date:
    return timezone.localdate()


# --- Internals --------------------------------------------------------------------


def _transition(
    *,
    profile: KycProfile,
    case: KycCase,
    to: str,
    action: str,
    actor: User | None,
    reason_codes: list[str] | None = None,
    internal_note: str = "",
    from_status: str | None = None,
) -> KycStatusEvent:
    """Move the case (and the profile, which mirrors its latest case) to `to`."""
    old = from_status if from_status is not None else case.status
    if to not in TRANSITIONS.get(old, frozenset()):
        raise Conflict(
            Code.INVALID_TRANSITION,
            f"status: cannot go from {old} to {to}.",
        )
    now = timezone.now()
    case.status = to
    case.save()
    if case.purpose == CasePurpose.ONBOARDING:  # a re-check leaves the profile be
        profile.status = to
        profile.updated_at = now
        profile.save(update_fields=["status", "updated_at"])
    return KycStatusEvent.objects.create(
        case=case,
        action=action,
        from_status=old,
        to_status=to,
        actor=actor,
        reason_codes=list(reason_codes or []),
        internal_note=internal_note,
        created_at=now,
    )


def _lock_profile(user: User) -> KycProfile:
    profile, _ = KycProfile.objects.get_or_create(user=user)
    return KycProfile.objects.select_for_update().get(pk=profile.pk)


def _lock_case(case_id: int) -> tuple[KycProfile, KycCase]:
    """Lock the profile, then the case: the same order as the user's writes."""
    profile_id = (
        KycCase.objects.filter(pk=case_id).values_list("profile_id", flat=True).first()
    )
    if profile_id is None:
        raise NotFound("case_not_found", "case: not found.")
    profile = (
        KycProfile.objects.select_for_update().select_related("user").get(pk=profile_id)
    )
    case = KycCase.objects.select_for_update().get(pk=case_id)
    return profile, case


def _require_editable(profile: KycProfile) -> None:
    if profile.status not in EDITABLE_STATUSES:
        raise Conflict(
            Code.PROFILE_LOCKED,
            f"status: the KYC data cannot change while it is {profile.status}.",
        )


def _require_reviewer(reviewer: User, profile: KycProfile) -> None:
    if not kyc_user_is_reviewer(user=reviewer):
        raise Forbidden(Code.NOT_A_REVIEWER, "Only KYC reviewers may do this.")
    if profile.user_id == reviewer.pk:
        raise Forbidden(Code.OWN_CASE, "Nobody may review their own KYC case.")


def _require_claimed_by(case: KycCase, reviewer: User) -> None:
    if case.status != S.IN_REVIEW or case.claimed_by_id != reviewer.pk:
        raise Conflict(
            Code.NOT_CLAIMED, "case: claim the case before deciding anything on it."
        )


def _audit(
    code: AuditCode,
    *,
    profile: KycProfile,
    actor: User | None,
    target,
    meta: RequestMeta | None,
    extra: dict | None = None,
) -> None:
    audit_event_record(
        code=code,
        user=profile.user,
        acting_user=actor,
        target=target,
        meta=meta,
        extra=extra,
    )
