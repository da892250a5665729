"""Decision emails: what was decided and the reasons the user may see (never the
reviewer's internal note). The wording only: notifications turns `KycDecided`
into a notification with it (notifications/handlers.py), which the email and
in-app channels deliver like every other (docs/notifications.md)."""

from __future__ import annotations

from kyc.models import (
    CaseReason,
    DocumentReason,
    DocumentType,
    KycCase,
    KycStatus,
)

_SUBJECTS: dict[str, str] = {
    KycStatus.APPROVED: "Your identity is verified",
    KycStatus.REJECTED: "Your identity verification was rejected",
    KycStatus.RESUBMISSION_REQUESTED: "Please send some KYC documents again",
}


def decision_email_text(case: KycCase) -> tuple[str, str]:
    """(subject, body) for a decided case."""
    user = case.profile.user
    lines = [f"Hello {case.legal_name or user.email},", ""]
    if case.status == KycStatus.APPROVED:
        lines.append(
            "Your identity verification is approved: you can now trade and withdraw."
        )
    elif case.status == KycStatus.REJECTED:
        lines.append("Your identity verification was rejected, for these reasons:")
        lines += [f"  - {CaseReason(code).label}" for code in case.reason_codes]
    else:
        lines.append("We need some documents again before we can verify you:")
        lines += [f"  - {DocumentType(t).label}" for t in case.requested_documents]
    rejected = [doc for doc in case.documents.all() if doc.status == "rejected"]
    if rejected:
        lines += ["", "Documents we could not accept:"]
        for doc in rejected:
            reason = DocumentReason(doc.reason_code).label
            note = f": {doc.user_note}" if doc.user_note else ""
            lines.append(f"  - {doc.get_doc_type_display()}: {reason}{note}")
    if case.user_message:
        lines += ["", case.user_message]
    if case.status == KycStatus.RESUBMISSION_REQUESTED:
        lines += ["", "Upload them on your verification page, then submit again."]
    lines += ["", "— The Exchange team"]
    return _SUBJECTS[case.status], "\n".join(lines)
