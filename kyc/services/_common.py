"""Shared pieces of the KYC services: the moves, locks, checks."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.files.storage import storages
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import Conflict, Forbidden, NotFound
from config.transitions import transition
from kyc.errors import KycErrorCode as Code
from kyc.events import KycDecided
from kyc.models import (
    EDITABLE_STATUSES,
    CasePurpose,
    EventAction,
    KycCase,
    KycDocument,
    KycProfile,
    KycStatus,
    KycStatusEvent,
)
from kyc.selectors import (
    kyc_user_is_reviewer,
)

S = KycStatus


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
    fields: dict[str, Any] | None = None,
    from_status: str | None = None,
) -> str:
    """Move the case through `KycCase.TRANSITIONS` (with `fields`, the history row
    and, for a decision, the `KycDecided` event), and the profile, which mirrors
    its latest case, with it. Returns the old status."""
    old = transition(
        obj=case,
        to=to,
        history=KycStatusEvent,
        fields=fields,
        history_fields={
            "action": action,
            "actor": actor,
            "reason_codes": list(reason_codes or []),
            "internal_note": internal_note,
        },
        event=KycDecided.of,
        from_status=from_status,
    )
    if case.purpose == CasePurpose.ONBOARDING:  # a re-check leaves the profile be
        profile.status = to
        profile.updated_at = timezone.now()
        profile.save(update_fields=["status", "updated_at"])
    return old


def _document_move(
    document: KycDocument,
    *,
    case: KycCase,
    to: str,
    reviewer: User,
    reason_code: str = "",
    user_note: str = "",
    internal_note: str = "",
) -> str:
    """Decide (or supersede) a document through `KycDocument.TRANSITIONS`, with
    its history row on the case. Returns the old status."""
    return transition(
        obj=document,
        to=to,
        history=KycStatusEvent,
        fields={
            "reason_code": reason_code,
            "user_note": user_note,
            "decided_by": reviewer,
            "decided_at": timezone.now(),
        },
        history_fields={
            "case": case,
            "action": EventAction.DOCUMENT_DECIDED,
            "actor": reviewer,
            "reason_codes": [reason_code] if reason_code else [],
            "internal_note": internal_note,
        },
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
    case.profile = profile  # already locked and loaded
    return profile, case


def _claimed_case(case_id: int, reviewer: User) -> tuple[KycProfile, KycCase]:
    """Lock a case its reviewer has claimed, before deciding anything on it."""
    profile, case = _lock_case(case_id)
    _require_reviewer(reviewer, profile)
    _require_claimed_by(case, reviewer)
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
