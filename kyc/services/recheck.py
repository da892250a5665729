"""Re-checks: a case opened by staff for a user who is already verified (the
second-factor reset of accounts/services/factors.py). It goes through the same
claim / decide workflow as any case, but never changes the profile's status."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from config.domain_errors import Conflict
from kyc.errors import KycErrorCode as Code
from kyc.models import (
    OPEN_STATUSES,
    CasePurpose,
    DocumentStatus,
    EventAction,
    KycCase,
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
