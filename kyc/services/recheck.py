"""Re-checks: a case opened by staff for a user who is already verified (the
second-factor reset of accounts/services/factors.py). It goes through the same
claim / decide workflow as any case, but never changes the profile's status."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.errors import AccountsErrorCode as AccountsCode
from accounts.events import SecondFactorResetRequested
from accounts.models import AuditCode, AuditEvent, User
from accounts.services import RequestMeta, audit_event_record
from accounts.services.factors import (
    second_factor_reset_finish,
    second_factor_reset_refused,
)
from config.domain_errors import Conflict, Forbidden
from kyc.errors import KycErrorCode as Code
from kyc.events import KycDecided
from kyc.models import (
    OPEN_STATUSES,
    CasePurpose,
    DocumentStatus,
    EventAction,
    KycCase,
    KycProfile,
    KycStatusEvent,
)
from kyc.services._common import S, _lock_profile
from kyc.services.user import _profile_snapshot


@transaction.atomic
def kyc_recheck_open(
    *, user: User, purpose: str, opened_by: User, internal_note: str = ""
) -> KycCase:
    """Open a re-check case for a verified user, with the documents on file that
    were accepted, waiting in the reviewers' queue."""
    if purpose == CasePurpose.ONBOARDING or purpose not in CasePurpose.values:
        raise ValueError(f"not a re-check purpose: {purpose}")
    profile = _lock_profile(user)
    if profile.status != S.APPROVED:
        raise Conflict(
            Code.INVALID_TRANSITION,
            f"status: a re-check needs a verified profile, this one is "
            f"{profile.status}.",
        )
    if profile.cases.filter(status__in=OPEN_STATUSES).exists():
        raise Conflict(
            Code.INVALID_TRANSITION, "status: this user already has an open case."
        )
    number = (profile.cases.aggregate(last=Max("number"))["last"] or 0) + 1
    case = KycCase.objects.create(
        profile=profile,
        number=number,
        purpose=purpose,
        status=S.SUBMITTED,
        legal_name=profile.legal_name,
        country=profile.country,
        profile_snapshot=_profile_snapshot(profile),
        submitted_at=timezone.now(),
    )
    case.documents.set(profile.documents.filter(status=DocumentStatus.ACCEPTED))
    KycStatusEvent.objects.create(
        case=case,
        action=EventAction.SUBMITTED,
        from_status=S.APPROVED,
        to_status=S.SUBMITTED,
        actor=opened_by,
        internal_note=internal_note,
    )
    return case


# --- The second-factor reset's identity check ----------------------------------------


def second_factor_reset_recheck_open(event: SecondFactorResetRequested) -> None:
    """Subscriber of accounts' `SecondFactorResetRequested`, in its transaction:
    open the re-check case (audited as 912 with the case) or refuse, which rolls
    the request back. A reset needs a verified identity to check against."""
    user = User.objects.get(pk=event.user_id)
    staff = User.objects.get(pk=event.staff_id)
    if not KycProfile.objects.filter(user=user, status=S.APPROVED).exists():
        raise Conflict(
            AccountsCode.KYC_RECHECK_IMPOSSIBLE,
            "user: the reset needs a KYC re-check, and this user's identity was "
            "never verified; it cannot be reset from the back office.",
        )
    if KycCase.objects.filter(
        profile__user=user,
        purpose=CasePurpose.SECOND_FACTOR_RESET,
        status__in=OPEN_STATUSES,
    ).exists():
        raise Conflict(
            AccountsCode.SECOND_FACTOR_RESET_OPEN,
            "user: a second-factor reset is already waiting for its KYC re-check.",
        )
    case = kyc_recheck_open(
        user=user,
        purpose=CasePurpose.SECOND_FACTOR_RESET,
        opened_by=staff,
        internal_note=f"Second-factor reset started by {staff.email}: {event.reason}",
    )
    audit_event_record(
        code=AuditCode.STAFF_SECOND_FACTOR_RESET_STARTED,
        user=user,
        acting_user=staff,
        target=case,
        meta=RequestMeta(ip_address=event.ip_address, user_agent=event.user_agent),
        extra={"reason": event.reason, "kyc_case": case.pk},
    )


def second_factor_reset_on_kyc_decision(event: KycDecided) -> None:
    """Subscriber of `KycDecided`, in the deciding transaction: the approval of a
    reset re-check finishes the reset; a refusal leaves the factors and tells the
    user. Refuses (rolling the approval back) when the reviewer is the member of
    staff who started the reset."""
    if event.purpose != CasePurpose.SECOND_FACTOR_RESET:
        return
    started = (
        AuditEvent.objects.filter(
            code=AuditCode.STAFF_SECOND_FACTOR_RESET_STARTED,
            target_type="kyc.kyccase",
            target_id=str(event.case_id),
        )
        .select_related("acting_user")
        .first()
    )
    if event.status == S.APPROVED:
        if started is not None and started.acting_user_id == event.reviewer_id:
            raise Forbidden(
                AccountsCode.FOUR_EYES_REQUIRED,
                "case: you started this second-factor reset; another reviewer "
                "approves its re-check.",
            )
        second_factor_reset_finish(
            user=User.objects.select_for_update().get(pk=event.user_id),
            reviewer=User.objects.get(pk=event.reviewer_id or 0),
            started=started,
            case_id=event.case_id,
        )
    elif event.status in (S.REJECTED, S.RESUBMISSION_REQUESTED):
        second_factor_reset_refused(user=User.objects.get(pk=event.user_id))
