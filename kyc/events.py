"""What the KYC app tells the rest of the platform (config/events.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KycCaseDecided:
    """A reviewer decided a case (recorded in the deciding transaction): `status`
    is the case's new status (approved, rejected, resubmission_requested, or
    submitted after the first of two approvals)."""

    case_id: int
    user_id: int
    purpose: str
    status: str
    reviewer_id: int
