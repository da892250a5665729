"""The reviewer's writes: claim, release, document decisions, case decisions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError, Conflict, Forbidden, NotFound
from kyc.errors import KycErrorCode as Code
from kyc.models import (
    CaseReason,
    DocumentReason,
    DocumentStatus,
    DocumentType,
    EventAction,
    KycCase,
    KycDocument,
    KycProfile,
)
from kyc.selectors import kyc_user_is_reviewer
from kyc.services._common import (
    S,
    _audit,
    _claimed_case,
    _document_move,
    _lock_case,
    _require_reviewer,
    _transition,
)

# --- The reviewer's side ----------------------------------------------------------


@transaction.atomic
def kyc_case_claim(
    *, case_id: int, reviewer: User, meta: RequestMeta | None = None
) -> KycCase:
    """Take a waiting case. The rows are locked, so two reviewers never both win."""
    profile, case = _lock_case(case_id)
    _require_reviewer(reviewer, profile)
    if case.status == S.IN_REVIEW:
        if case.claimed_by_id == reviewer.pk:
            return case
        raise Conflict(
            Code.ALREADY_CLAIMED,
            f"case: already claimed by {case.claimed_by}.",
        )
    if case.first_approved_by_id == reviewer.pk:
        raise Conflict(
            Code.SECOND_APPROVER_REQUIRED,
            "case: you gave the first approval; another reviewer gives the second.",
        )
    _transition(
        profile=profile,
        case=case,
        to=S.IN_REVIEW,
        action=EventAction.CLAIMED,
        actor=reviewer,
        fields={"claimed_by": reviewer, "claimed_at": timezone.now()},
    )
    _audit(
        AuditCode.KYC_CLAIMED,
        profile=profile,
        actor=reviewer,
        target=case,
        meta=meta,
        extra={"old": S.SUBMITTED, "new": S.IN_REVIEW},
    )
    return case


@transaction.atomic
def kyc_case_release(
    *,
    case_id: int,
    reviewer: User,
    internal_note: str = "",
    meta: RequestMeta | None = None,
) -> KycCase:
    """Put a claimed case back in the queue (its claimer, or a superuser)."""
    profile, case = _lock_case(case_id)
    if not kyc_user_is_reviewer(user=reviewer):
        raise Forbidden(Code.NOT_A_REVIEWER, "Only KYC reviewers may do this.")
    if case.status != S.IN_REVIEW:
        raise Conflict(Code.NOT_CLAIMED, "case: it is not claimed.")
    if case.claimed_by_id != reviewer.pk and not reviewer.is_superuser:
        raise Forbidden(
            Code.ALREADY_CLAIMED,
            "case: only its claimer or a superuser may release it.",
        )
    previous = case.claimed_by
    _transition(
        profile=profile,
        case=case,
        to=S.SUBMITTED,
        action=EventAction.RELEASED,
        actor=reviewer,
        internal_note=internal_note,
        fields=_UNCLAIMED,
    )
    _audit(
        AuditCode.KYC_RELEASED,
        profile=profile,
        actor=reviewer,
        target=case,
        meta=meta,
        extra={"old": S.IN_REVIEW, "new": S.SUBMITTED, "claimed_by": str(previous)},
    )
    return case


@transaction.atomic
def kyc_document_decide(
    *,
    case_id: int,
    document_id: int,
    reviewer: User,
    accept: bool,
    reason_code: str = "",
    user_note: str = "",
    internal_note: str = "",
    meta: RequestMeta | None = None,
) -> KycDocument:
    """Accept a document, or reject it with a reason code (`other` needs a note the
    user will read). A decision may be changed until the case is decided; the
    same decision again (same status, reason and note) is a no-op: no history
    row, no audit event."""
    profile, case = _claimed_case(case_id, reviewer)
    if case.first_approved_by_id is not None:
        raise Conflict(
            Code.DOCUMENT_LOCKED,
            "document: decisions are locked after the first approval; reject the "
            "case or request a resubmission instead.",
        )
    document = case.documents.filter(pk=document_id).first()
    if document is None:
        raise NotFound(Code.DOCUMENT_NOT_FOUND, "document: not in this case.")
    user_note = user_note.strip()
    if accept:
        new_status, reason_code, user_note = DocumentStatus.ACCEPTED, "", ""
    else:
        if reason_code not in DocumentReason.values:
            raise ApplicationError(
                Code.REASON_REQUIRED,
                "reason_code: choose why the document is rejected.",
                details={
                    "reason_code": [f"One of {', '.join(DocumentReason.values)}."]
                },
            )
        if reason_code == DocumentReason.OTHER and not user_note:
            raise ApplicationError(
                Code.REASON_REQUIRED,
                "user_note: explain the reason 'other' to the user.",
                details={"user_note": ["Required with the reason 'other'."]},
            )
        new_status = DocumentStatus.REJECTED
    user_note = user_note[:500]
    if (document.status, document.reason_code, document.user_note) == (
        new_status,
        reason_code,
        user_note,
    ):
        # The same decision again (a second click, a retried POST): nothing
        # changed, so no history row and no audit event.
        return document
    old_status = _document_move(
        document,
        case=case,
        to=new_status,
        reviewer=reviewer,
        reason_code=reason_code,
        user_note=user_note,
        internal_note=internal_note,
    )
    _audit(
        AuditCode.KYC_DOCUMENT_DECIDED,
        profile=profile,
        actor=reviewer,
        target=document,
        meta=meta,
        extra={"old": old_status, "new": new_status, "reason_code": reason_code},
    )
    return document


_UNCLAIMED = {"claimed_by": None, "claimed_at": None}

_DECISION_AUDIT: dict[str, AuditCode] = {
    S.APPROVED: AuditCode.KYC_APPROVED,
    S.REJECTED: AuditCode.KYC_REJECTED,
    S.RESUBMISSION_REQUESTED: AuditCode.KYC_RESUBMISSION_REQUESTED,
}


def _decide(
    *,
    profile: KycProfile,
    case: KycCase,
    reviewer: User,
    to: str,
    internal_note: str,
    meta: RequestMeta | None,
    reason_codes: list[str] | None = None,
    fields: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> KycCase:
    """Close a claimed case: who decided and when, the claim let go, the move
    (history row; the `KycDecided` event, whose subscriber emails the user after
    commit) and the audit event."""
    old = _transition(
        profile=profile,
        case=case,
        to=to,
        action=EventAction(to),
        actor=reviewer,
        reason_codes=reason_codes,
        internal_note=internal_note,
        fields={
            "decided_by": reviewer,
            "decided_at": timezone.now(),
            **_UNCLAIMED,
            **(fields or {}),
        },
    )
    _audit(
        _DECISION_AUDIT[to],
        profile=profile,
        actor=reviewer,
        target=case,
        meta=meta,
        extra={"old": old, "new": to, **(extra or {})},
    )
    return case


@transaction.atomic
def kyc_case_approve(
    *,
    case_id: int,
    reviewer: User,
    internal_note: str = "",
    meta: RequestMeta | None = None,
) -> KycCase:
    """Approve a claimed case whose documents are all accepted. For a high-risk
    country the first approval puts the case back in the queue for a second,
    different reviewer."""
    profile, case = _claimed_case(case_id, reviewer)
    documents = list(case.documents.all())
    undecided = [doc for doc in documents if doc.status != DocumentStatus.ACCEPTED]
    if undecided:
        raise Conflict(
            Code.DOCUMENTS_UNDECIDED,
            "documents: accept every document before approving ("
            + ", ".join(
                f"#{doc.pk} {doc.doc_type} is {doc.status}" for doc in undecided
            )
            + ").",
        )
    accepted_types = {doc.doc_type for doc in documents}
    for group in settings.KYC_REQUIRED_DOCUMENTS:
        if not accepted_types.intersection(group):
            raise Conflict(
                Code.DOCUMENTS_MISSING,
                f"documents: no accepted {' or '.join(group)}; request it again.",
            )
    if case.needs_second_approval and case.first_approved_by_id is None:
        old = _transition(
            profile=profile,
            case=case,
            to=S.SUBMITTED,
            action=EventAction.FIRST_APPROVAL,
            actor=reviewer,
            internal_note=internal_note,
            fields={
                "first_approved_by": reviewer,
                "first_approved_at": timezone.now(),
                **_UNCLAIMED,
            },
        )
        _audit(
            AuditCode.KYC_FIRST_APPROVAL,
            profile=profile,
            actor=reviewer,
            target=case,
            meta=meta,
            extra={"old": old, "new": case.status},
        )
        return case
    if case.first_approved_by_id == reviewer.pk:
        raise Forbidden(
            Code.SECOND_APPROVER_REQUIRED,
            "case: the second approval must come from another reviewer.",
        )
    return _decide(
        profile=profile,
        case=case,
        reviewer=reviewer,
        to=S.APPROVED,
        internal_note=internal_note,
        meta=meta,
        extra={"first_approved_by": case.first_approved_by_id},
    )


@transaction.atomic
def kyc_case_reject(
    *,
    case_id: int,
    reviewer: User,
    reason_codes: list[str],
    user_message: str = "",
    internal_note: str = "",
    meta: RequestMeta | None = None,
) -> KycCase:
    """Reject a claimed case for good (the user cannot submit again)."""
    profile, case = _claimed_case(case_id, reviewer)
    codes = sorted(set(reason_codes or []))
    unknown = [code for code in codes if code not in CaseReason.values]
    if not codes or unknown:
        raise ApplicationError(
            Code.REASON_REQUIRED,
            "reason_codes: give at least one known reason.",
            details={
                "reason_codes": [f"One or more of {', '.join(CaseReason.values)}."]
            },
        )
    user_message = user_message.strip()
    if CaseReason.OTHER in codes and not user_message:
        raise ApplicationError(
            Code.REASON_REQUIRED,
            "user_message: explain the reason 'other' to the user.",
            details={"user_message": ["Required with the reason 'other'."]},
        )
    return _decide(
        profile=profile,
        case=case,
        reviewer=reviewer,
        to=S.REJECTED,
        internal_note=internal_note,
        meta=meta,
        reason_codes=codes,
        fields={"reason_codes": codes, "user_message": user_message},
        extra={"reason_codes": codes},
    )


@transaction.atomic
def kyc_case_request_resubmission(
    *,
    case_id: int,
    reviewer: User,
    document_types: list[str],
    user_message: str = "",
    internal_note: str = "",
    meta: RequestMeta | None = None,
) -> KycCase:
    """Ask the user to send the named document types again (rejected documents'
    types are always included). Those documents are marked superseded; the others
    carry over to the next round with their decisions."""
    profile, case = _claimed_case(case_id, reviewer)
    unknown = [t for t in document_types or [] if t not in DocumentType.values]
    if unknown:
        raise ApplicationError(
            Code.REASON_REQUIRED,
            f"document_types: unknown {', '.join(unknown)}.",
            details={"document_types": [f"One of {', '.join(DocumentType.values)}."]},
        )
    documents = list(case.documents.all())
    rejected_types = {
        doc.doc_type for doc in documents if doc.status == DocumentStatus.REJECTED
    }
    requested = [
        t for t in DocumentType.values if t in set(document_types) | rejected_types
    ]
    if not requested:
        raise ApplicationError(
            Code.REASON_REQUIRED,
            "document_types: name at least one document to send again.",
            details={"document_types": ["Required."]},
        )
    for doc in documents:
        if doc.doc_type in requested and doc.status in (
            DocumentStatus.PENDING,
            DocumentStatus.ACCEPTED,
        ):
            _document_move(
                doc, case=case, to=DocumentStatus.SUPERSEDED, reviewer=reviewer
            )
    return _decide(
        profile=profile,
        case=case,
        reviewer=reviewer,
        to=S.RESUBMISSION_REQUESTED,
        internal_note=internal_note,
        meta=meta,
        reason_codes=requested,
        fields={
            "requested_documents": requested,
            "user_message": user_message.strip(),
        },
        extra={"requested_documents": requested},
    )


@transaction.atomic
def kyc_document_view_record(
    *, document: KycDocument, viewer: User, meta: RequestMeta | None = None
) -> None:
    """Audit a look at someone else's document (reviewers); owners are not logged."""
    if document.profile.user_id == viewer.pk:
        return
    audit_event_record(
        code=AuditCode.KYC_DOCUMENT_VIEWED,
        user=document.profile.user,
        acting_user=viewer,
        target=document,
        meta=meta,
        extra={"doc_type": document.doc_type},
    )
