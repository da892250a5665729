"""Domain events the KYC app records (config/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from kyc.models import DECIDED_STATUSES, KycCase


@dataclass(frozen=True, slots=True)
class KycDecided:
    """A reviewer approved, rejected or asked for documents again: what the user
    may read about it (never the reviewer's internal note)."""

    case_id: int
    user_id: int
    purpose: str  # onboarding, or a re-check (kyc.models.CasePurpose)
    status: str
    reviewer_id: int | None
    reason_codes: tuple[str, ...]
    requested_documents: tuple[str, ...]
    user_message: str

    @classmethod
    def of(cls, case: KycCase, old: str) -> KycDecided | None:
        if case.status not in DECIDED_STATUSES:
            return None
        return cls(
            case.pk,
            case.profile.user_id,
            case.purpose,
            case.status,
            case.decided_by_id,
            tuple(case.reason_codes),
            tuple(case.requested_documents),
            case.user_message,
        )
