"""Every write of the KYC app. Each function is one transaction; every status change
goes through `_transition` (the table below) and writes its history row and audit
event in the same transaction; emails leave only after commit."""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.errors import ApplicationError, Conflict, Forbidden, NotFound
from kyc import crypto, emails, uploads
from kyc.countries import COUNTRY_NAMES
from kyc.errors import KycErrorCode as Code
from kyc.identity import age_on, id_number_problem, normalise_id_number
from kyc.models import (
    EDITABLE_STATUSES,
    CaseReason,
    DocumentReason,
    DocumentStatus,
    DocumentType,
    EventAction,
    IdType,
    KycCase,
    KycDocument,
    KycProfile,
    KycStatus,
    KycStatusEvent,
)
from kyc.selectors import (
    kyc_active_documents,
    kyc_latest_case,
    kyc_requirements,
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
    profile.status = to
    profile.updated_at = now
    case.save()
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


# --- The user's side --------------------------------------------------------------


@transaction.atomic
def kyc_profile_update(
    *,
    user: User,
    legal_name: str,
    date_of_birth: date,
    country: str,
    address_line1: str,
    city: str,
    id_type: str,
    id_number: str | None = None,
    address_line2: str = "",
    postal_code: str = "",
    today: date | None = None,
    meta: RequestMeta | None = None,
) -> KycProfile:
    """Replace the profile (PUT semantics). The identity number is checked for its
    type, encrypted, and only its last four characters are kept in clear. A blank
    `id_number` keeps the stored one when the id type does not change."""
    profile = _lock_profile(user)
    _require_editable(profile)
    today = today or _today()
    details: dict[str, list[str]] = {}
    legal_name = " ".join(legal_name.split())
    if not legal_name:
        details["legal_name"] = ["Enter your full legal name."]
    country = (country or "").upper()
    if country not in COUNTRY_NAMES:
        details["country"] = ["Use an ISO 3166 alpha-2 country code, e.g. IN."]
    if date_of_birth > today:
        details["date_of_birth"] = ["The date of birth is in the future."]
    elif age_on(date_of_birth, today) < settings.KYC_MIN_AGE_YEARS:
        raise ApplicationError(
            Code.UNDERAGE,
            f"date_of_birth: you must be at least {settings.KYC_MIN_AGE_YEARS}.",
            details={"date_of_birth": ["Only adults can be verified."]},
        )
    if not address_line1.strip():
        details["address_line1"] = ["Enter your street address."]
    if not city.strip():
        details["city"] = ["Enter your city."]
    if id_type not in IdType.values:
        details["id_type"] = [f"Choose one of {', '.join(IdType.values)}."]
    number = normalise_id_number(id_number or "")
    keep_number = (
        not number and bool(profile.id_number_encrypted) and id_type == profile.id_type
    )
    if keep_number:
        number = crypto.decrypt(profile.id_number_encrypted)
    if "id_type" not in details:
        problem = id_number_problem(id_type, number) if number else "enter the number."
        if problem:
            raise ApplicationError(
                Code.INVALID_ID_NUMBER,
                f"id_number: {problem}",
                details={"id_number": [problem]},
            )
    if details:
        field_name, problems = next(iter(details.items()))
        raise ApplicationError(
            Code.INVALID_PROFILE, f"{field_name}: {problems[0]}", details=details
        )

    before = {
        "legal_name": profile.legal_name,
        "country": profile.country,
        "id_type": profile.id_type,
        "id_number_last4": profile.id_number_last4,
    }
    profile.legal_name = legal_name
    profile.date_of_birth = date_of_birth
    profile.country = country
    profile.address_line1 = address_line1.strip()
    profile.address_line2 = address_line2.strip()
    profile.city = city.strip()
    profile.postal_code = postal_code.strip()
    profile.id_type = id_type
    profile.id_number_encrypted = crypto.encrypt(number)
    profile.id_number_last4 = number[-4:]
    profile.id_number_digest = crypto.digest(f"{id_type}:{number}")
    profile.updated_at = timezone.now()
    profile.save()
    after = {key: getattr(profile, key) for key in before}
    _audit(
        AuditCode.KYC_PROFILE_UPDATED,
        profile=profile,
        actor=user,
        target=profile,
        meta=meta,
        extra={"old": before, "new": after},
    )
    return profile


def kyc_document_upload(
    *,
    user: User,
    doc_type: str,
    uploaded,
    meta: RequestMeta | None = None,
) -> KycDocument:
    """Validate and sanitise the bytes (see kyc/uploads.py), store them under a
    generated name, and record the document as a draft of the next submission."""
    if doc_type not in DocumentType.values:
        raise ApplicationError(
            Code.INVALID_PROFILE,
            f"doc_type: choose one of {', '.join(DocumentType.values)}.",
            details={"doc_type": ["Unknown document type."]},
        )
    if uploaded is None:
        raise ApplicationError(
            Code.EMPTY_FILE, "file: no file was sent.", details={"file": ["Required."]}
        )
    clean = uploads.clean_upload(uploads.read_limited(uploaded))
    original_name = uploads.display_name(getattr(uploaded, "name", ""))
    name = f"{user.pk}/{uuid.uuid4().hex}.{clean.extension}"
    stored_name = storage().save(name, ContentFile(clean.content))
    try:
        with transaction.atomic():
            profile = _lock_profile(user)
            _require_editable(profile)
            drafts = profile.documents.filter(submitted_in__isnull=True).count()
            if drafts >= settings.KYC_MAX_DRAFT_DOCUMENTS:
                raise Conflict(
                    Code.TOO_MANY_DOCUMENTS,
                    f"file: at most {settings.KYC_MAX_DRAFT_DOCUMENTS} new documents "
                    "per submission; delete one first.",
                )
            document = KycDocument.objects.create(
                profile=profile,
                doc_type=doc_type,
                storage_name=stored_name,
                content_type=clean.content_type,
                size=len(clean.content),
                sha256=clean.sha256,
                original_name=original_name,
            )
            _audit(
                AuditCode.KYC_DOCUMENT_UPLOADED,
                profile=profile,
                actor=user,
                target=document,
                meta=meta,
                extra={
                    "doc_type": doc_type,
                    "content_type": clean.content_type,
                    "size": len(clean.content),
                    "sha256": clean.sha256,
                },
            )
    except BaseException:
        storage().delete(stored_name)
        raise
    return document


@transaction.atomic
def kyc_document_delete(
    *, user: User, document_id: int, meta: RequestMeta | None = None
) -> None:
    """Delete a draft (never submitted) document, and its file after commit."""
    profile = _lock_profile(user)
    document = profile.documents.filter(pk=document_id).first()
    if document is None:
        raise NotFound(Code.DOCUMENT_NOT_FOUND, "document: not found.")
    if document.submitted_in_id is not None or profile.status not in EDITABLE_STATUSES:
        raise Conflict(
            Code.DOCUMENT_LOCKED,
            "document: a submitted document cannot be deleted.",
        )
    name = document.storage_name
    _audit(
        AuditCode.KYC_DOCUMENT_DELETED,
        profile=profile,
        actor=user,
        target=document,
        meta=meta,
        extra={"doc_type": document.doc_type, "sha256": document.sha256},
    )
    document.delete()
    transaction.on_commit(lambda: storage().delete(name))


def _profile_snapshot(profile: KycProfile) -> dict:
    return {
        "legal_name": profile.legal_name,
        "date_of_birth": profile.date_of_birth.isoformat(),
        "country": profile.country,
        "address_line1": profile.address_line1,
        "address_line2": profile.address_line2,
        "city": profile.city,
        "postal_code": profile.postal_code,
        "id_type": profile.id_type,
        "id_number_last4": profile.id_number_last4,
    }


@transaction.atomic
def kyc_submit(
    *, user: User, today: date | None = None, meta: RequestMeta | None = None
) -> KycCase:
    """Open a case with the complete profile and the required documents."""
    profile = _lock_profile(user)
    _require_editable(profile)
    needs = kyc_requirements(profile=profile)
    if needs.profile_fields:
        raise ApplicationError(
            Code.PROFILE_INCOMPLETE,
            f"profile: complete {', '.join(needs.profile_fields)} first.",
            details={name: ["Required."] for name in needs.profile_fields},
        )
    if needs.documents or needs.resend:
        wanted = [" or ".join(group) for group in needs.documents] + needs.resend
        raise ApplicationError(
            Code.DOCUMENTS_MISSING,
            f"documents: still needed: {'; '.join(wanted)}.",
            details={"documents": needs.documents, "resend": needs.resend},
        )
    today = today or _today()
    if age_on(profile.date_of_birth, today) < settings.KYC_MIN_AGE_YEARS:
        raise ApplicationError(
            Code.UNDERAGE,
            f"date_of_birth: you must be at least {settings.KYC_MIN_AGE_YEARS}.",
            details={"date_of_birth": ["Only adults can be verified."]},
        )
    previous = kyc_latest_case(profile=profile)
    case = KycCase(
        profile=profile,
        number=(previous.number + 1) if previous else 1,
        status=S.SUBMITTED,
        legal_name=profile.legal_name,
        country=profile.country,
        profile_snapshot=_profile_snapshot(profile),
        needs_second_approval=profile.country in settings.KYC_HIGH_RISK_COUNTRIES,
    )
    old_status = profile.status
    case.save()
    documents = list(kyc_active_documents(profile=profile))
    case.documents.set(documents)
    KycDocument.objects.filter(
        pk__in=[doc.pk for doc in documents], submitted_in__isnull=True
    ).update(submitted_in=case)
    _transition(
        profile=profile,
        case=case,
        to=S.SUBMITTED,
        action=EventAction.SUBMITTED,
        actor=user,
        from_status=old_status,
    )
    _audit(
        AuditCode.KYC_SUBMITTED,
        profile=profile,
        actor=user,
        target=case,
        meta=meta,
        extra={
            "old": old_status,
            "new": S.SUBMITTED,
            "documents": [doc.pk for doc in documents],
        },
    )
    return case


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
    user will read). A decision may be changed until the case is decided."""
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
    old_status = document.status
    document.status = new_status
    document.reason_code = reason_code
    document.user_note = user_note[:500]
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
