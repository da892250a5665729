"""The user's writes: profile, documents, submission."""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.guards import email_verified_require
from accounts.models import AuditCode, User
from accounts.services import RequestMeta
from config.domain_errors import ApplicationError, Conflict, NotFound
from kyc import crypto, uploads
from kyc.countries import COUNTRY_NAMES
from kyc.errors import KycErrorCode as Code
from kyc.identity import age_on, id_number_problem, normalise_id_number
from kyc.models import (
    EDITABLE_STATUSES,
    DocumentType,
    EventAction,
    IdType,
    KycCase,
    KycDocument,
    KycProfile,
    page_storage_name,
)
from kyc.selectors import (
    kyc_active_documents,
    kyc_latest_case,
    kyc_requirements,
)
from kyc.services._common import (
    S,
    _audit,
    _lock_profile,
    _require_editable,
    _today,
    _transition,
    storage,
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
    stored = [stored_name]
    try:
        for number, page in enumerate(clean.pages, start=1):
            wanted = page_storage_name(stored_name, number)
            stored.append(storage().save(wanted, ContentFile(page)))
            if stored[-1] != wanted:  # pragma: no cover - names are fresh UUIDs
                raise RuntimeError(f"KYC storage renamed {wanted} to {stored[-1]}")
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
                page_count=len(clean.pages),
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
                    "pages": len(clean.pages),
                },
            )
    except BaseException:
        for stored_file in stored:
            storage().delete(stored_file)
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
    names = [document.storage_name] + [
        document.page_name(number) for number in document.page_numbers
    ]
    _audit(
        AuditCode.KYC_DOCUMENT_DELETED,
        profile=profile,
        actor=user,
        target=document,
        meta=meta,
        extra={"doc_type": document.doc_type, "sha256": document.sha256},
    )
    document.delete()
    transaction.on_commit(lambda: _delete_files(names))


def _delete_files(names: list[str]) -> None:
    for name in names:
        storage().delete(name)


def _profile_snapshot(profile: KycProfile) -> dict:
    # only a complete profile is snapshot (kyc_submit checked its requirements; a
    # re-check starts from an approved one)
    assert profile.date_of_birth is not None
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
    email_verified_require(user=user)
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
    assert profile.date_of_birth is not None  # a required field, checked above
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
