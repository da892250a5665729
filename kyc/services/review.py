"""The reviewer's writes: claim, release, document decisions, case decisions."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config import events
from config.errors import ApplicationError, Conflict, Forbidden, NotFound
from kyc import emails
from kyc.errors import KycErrorCode as Code
from kyc.events import KycCaseDecided
from kyc.models import (
    CaseReason,
    DocumentReason,
    DocumentStatus,
    DocumentType,
    EventAction,
    KycCase,
    KycDocument,
    KycStatusEvent,
)
from kyc.selectors import kyc_user_is_reviewer
from kyc.services._common import (
    S,
    _audit,
    _lock_case,
    _require_claimed_by,
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
    case.claimed_by = reviewer
    case.claimed_at = timezone.now()
    _transition(
        profile=profile,
        case=case,
        to=S.IN_REVIEW,
        action=EventAction.CLAIMED,
        actor=reviewer,
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
    case.claimed_by = None
    case.claimed_at = None
    _transition(
        profile=profile,
        case=case,
        to=S.SUBMITTED,
        action=EventAction.RELEASED,
        actor=reviewer,
        internal_note=internal_note,
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
    profile, case = _lock_case(case_id)
    _require_reviewer(reviewer, profile)
    _require_claimed_by(case, reviewer)
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
    old_status = document.status
    document.status = new_status
    document.reason_code = reason_code
    document.user_note = user_note
    document.decided_by = reviewer
    document.decided_at = timezone.now()
    document.save()
    KycStatusEvent.objects.create(
        case=case,
        document=document,
        action=EventAction.DOCUMENT_DECIDED,
        from_status=old_status,
        to_status=new_status,
        actor=reviewer,
        reason_codes=[reason_code] if reason_code else [],
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


def _decision_audit(code, *, profile, case, reviewer, meta, old, extra=None):
    events.record(
        KycCaseDecided(
            case_id=case.pk,
            user_id=profile.user_id,
            purpose=case.purpose,
            status=case.status,
            reviewer_id=reviewer.pk,
        )
    )
    _audit(
        code,
        profile=profile,
        actor=reviewer,
        target=case,
        meta=meta,
        extra={"old": old, "new": case.status, **(extra or {})},
    )


def _finish(case: KycCase, reviewer: User) -> None:
    case.decided_by = reviewer
    case.decided_at = timezone.now()
    case.claimed_by = None
    case.claimed_at = None


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
    profile, case = _lock_case(case_id)
    _require_reviewer(reviewer, profile)
    _require_claimed_by(case, reviewer)
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
    old = case.status
    if case.needs_second_approval and case.first_approved_by_id is None:
        case.first_approved_by = reviewer
        case.first_approved_at = timezone.now()
        case.claimed_by = None
        case.claimed_at = None
        _transition(
            profile=profile,
            case=case,
            to=S.SUBMITTED,
            action=EventAction.FIRST_APPROVAL,
            actor=reviewer,
            internal_note=internal_note,
        )
        _decision_audit(
            AuditCode.KYC_FIRST_APPROVAL,
            profile=profile,
            case=case,
            reviewer=reviewer,
            meta=meta,
            old=old,
        )
        return case
    if case.first_approved_by_id == reviewer.pk:
        raise Forbidden(
            Code.SECOND_APPROVER_REQUIRED,
            "case: the second approval must come from another reviewer.",
        )
    _finish(case, reviewer)
    _transition(
        profile=profile,
        case=case,
        to=S.APPROVED,
        action=EventAction.APPROVED,
        actor=reviewer,
        internal_note=internal_note,
    )
    _decision_audit(
        AuditCode.KYC_APPROVED,
        profile=profile,
        case=case,
        reviewer=reviewer,
        meta=meta,
        old=old,
        extra={"first_approved_by": case.first_approved_by_id},
    )
    emails.send_decision_on_commit(case_id=case.pk)
    return case


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
    profile, case = _lock_case(case_id)
    _require_reviewer(reviewer, profile)
    _require_claimed_by(case, reviewer)
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
    old = case.status
    case.reason_codes = codes
    case.user_message = user_message
    _finish(case, reviewer)
    _transition(
        profile=profile,
        case=case,
        to=S.REJECTED,
        action=EventAction.REJECTED,
        actor=reviewer,
        reason_codes=codes,
        internal_note=internal_note,
    )
    _decision_audit(
        AuditCode.KYC_REJECTED,
        profile=profile,
        case=case,
        reviewer=reviewer,
        meta=meta,
        old=old,
        extra={"reason_codes": codes},
    )
    emails.send_decision_on_commit(case_id=case.pk)
    return case


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
    profile, case = _lock_case(case_id)
    _require_reviewer(reviewer, profile)
    _require_claimed_by(case, reviewer)
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
    superseded = [
        doc
        for doc in documents
        if doc.doc_type in requested
        and doc.status in (DocumentStatus.PENDING, DocumentStatus.ACCEPTED)
    ]
    now = timezone.now()
    for doc in superseded:
        KycStatusEvent.objects.create(
            case=case,
            document=doc,
            action=EventAction.DOCUMENT_DECIDED,
            from_status=doc.status,
            to_status=DocumentStatus.SUPERSEDED,
            actor=reviewer,
            created_at=now,
        )
        doc.status = DocumentStatus.SUPERSEDED
        doc.reason_code = ""
        doc.decided_by = reviewer
        doc.decided_at = now
        doc.save()
    old = case.status
    case.requested_documents = requested
    case.user_message = user_message.strip()
    _finish(case, reviewer)
    _transition(
        profile=profile,
        case=case,
        to=S.RESUBMISSION_REQUESTED,
        action=EventAction.RESUBMISSION_REQUESTED,
        actor=reviewer,
        reason_codes=requested,
        internal_note=internal_note,
    )
    _decision_audit(
        AuditCode.KYC_RESUBMISSION_REQUESTED,
        profile=profile,
        case=case,
        reviewer=reviewer,
        meta=meta,
        old=old,
        extra={"requested_documents": requested},
    )
    emails.send_decision_on_commit(case_id=case.pk)
    return case


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
