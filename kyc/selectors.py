"""Reads shared by several callers. The one question other apps ask KYC is
`kyc_is_verified` (may this user trade and withdraw?); `kyc_require_verified` is the
same question as a guard that raises the API's 403 `kyc_required`."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, Prefetch, QuerySet

from accounts.models import User
from config.domain_errors import Forbidden, NotFound
from kyc.countries import country_name
from kyc.errors import KycErrorCode as Code
from kyc.models import (
    EDITABLE_STATUSES,
    DocumentStatus,
    DocumentType,
    KycCase,
    KycDocument,
    KycProfile,
    KycStatus,
    KycStatusEvent,
)

REVIEW_PERMISSION = "kyc.review_kyccase"
# (model attribute, the field's name in the API and forms)
PROFILE_REQUIRED_FIELDS = (
    ("legal_name", "legal_name"),
    ("date_of_birth", "date_of_birth"),
    ("country", "country"),
    ("address_line1", "address_line1"),
    ("city", "city"),
    ("id_type", "id_type"),
    ("id_number_encrypted", "id_number"),
)


# --- Gating (wallet withdrawals, order placement) ---------------------------------


def kyc_approved_exists(*, user: User) -> Exists:
    """The approval half of `kyc_is_verified` as an expression, for a caller that
    reads other rows anyway and wants the answer in the same query (placement)."""
    return Exists(KycProfile.objects.filter(user=user, status=KycStatus.APPROVED))


def kyc_is_verified(*, user: User, approved: bool | None = None) -> bool:
    """True only for an active user whose KYC is approved. `approved`: the value
    of `kyc_approved_exists` if the caller already read it."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if approved is not None:
        return approved
    return KycProfile.objects.filter(user=user, status=KycStatus.APPROVED).exists()


def kyc_require_verified(*, user: User, approved: bool | None = None) -> None:
    """Raise 403 `kyc_required` unless `kyc_is_verified(user=user)`."""
    if not kyc_is_verified(user=user, approved=approved):
        raise Forbidden(
            Code.KYC_REQUIRED,
            "KYC verification is required: complete and submit your identity "
            "check at /kyc/ and wait for its approval.",
        )


# --- Who may see what -------------------------------------------------------------


def kyc_user_is_reviewer(*, user: User) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
        and user.has_perm(REVIEW_PERMISSION)
    )


def kyc_document_for_viewer(
    *, user: User | AnonymousUser, document_id: int, second_factor: bool
) -> KycDocument:
    """The document if `user` owns it, or reviews KYC, proved a second factor and
    the document was submitted; otherwise 404, so nobody learns that someone else's
    document exists."""
    document = (
        KycDocument.objects.select_related("profile").filter(pk=document_id).first()
    )
    if document is not None and user.is_authenticated:
        if document.profile.user_id == user.pk and user.is_active:
            return document
        # Reviewers see what was submitted for review, never a user's drafts.
        submitted = document.submitted_in_id is not None
        if submitted and second_factor and kyc_user_is_reviewer(user=user):
            return document
    raise NotFound(Code.DOCUMENT_NOT_FOUND, "document: not found.")


# --- The user's own view ----------------------------------------------------------


@dataclass(frozen=True)
class Requirements:
    """What the user still has to provide before submitting."""

    profile_fields: list[str] = field(default_factory=list)
    # Groups of document types with no usable document yet (one of each needed).
    documents: list[list[str]] = field(default_factory=list)
    # Document types the reviewer asked for again and not uploaded since.
    resend: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.profile_fields or self.documents or self.resend)


def kyc_profile_get(*, user: User) -> KycProfile | None:
    return KycProfile.objects.filter(user=user).first()


def kyc_active_documents(*, profile: KycProfile) -> QuerySet[KycDocument]:
    """Documents that count for the next submission: new drafts plus earlier ones
    still pending or accepted (rejected and superseded ones never count again)."""
    return profile.documents.filter(
        status__in=(DocumentStatus.PENDING, DocumentStatus.ACCEPTED)
    )


def kyc_latest_case(*, profile: KycProfile) -> KycCase | None:
    return profile.cases.order_by("-number").first()


def kyc_requirements(*, profile: KycProfile | None) -> Requirements:
    if profile is None:
        return Requirements(
            profile_fields=[public for _, public in PROFILE_REQUIRED_FIELDS],
            documents=[list(group) for group in settings.KYC_REQUIRED_DOCUMENTS],
        )
    if profile.status not in (
        KycStatus.NOT_SUBMITTED,
        KycStatus.RESUBMISSION_REQUESTED,
    ):
        return Requirements()
    missing_fields = [
        public
        for attr, public in PROFILE_REQUIRED_FIELDS
        if getattr(profile, attr) in ("", None)
    ]
    active = list(kyc_active_documents(profile=profile))
    have = {doc.doc_type for doc in active}
    missing_groups = [
        list(group)
        for group in settings.KYC_REQUIRED_DOCUMENTS
        if not have.intersection(group)
    ]
    resend: list[str] = []
    if profile.status == KycStatus.RESUBMISSION_REQUESTED:
        latest = kyc_latest_case(profile=profile)
        fresh = {doc.doc_type for doc in active if doc.submitted_in_id is None}
        resend = [
            doc_type
            for doc_type in (latest.requested_documents if latest else [])
            if doc_type not in fresh
        ]
    return Requirements(
        profile_fields=missing_fields,
        documents=missing_groups,
        resend=resend,
    )


def kyc_user_documents(*, profile: KycProfile) -> QuerySet[KycDocument]:
    return profile.documents.order_by("-created_at", "-id")


def kyc_user_cases(*, profile: KycProfile) -> QuerySet[KycCase]:
    return profile.cases.order_by("-number")


def document_type_label(doc_type: str) -> str:
    return DocumentType(doc_type).label if doc_type in DocumentType.values else doc_type


def kyc_overview(*, user: User) -> dict:
    """The user's whole KYC picture, for the API and the browser page."""
    profile = kyc_profile_get(user=user)
    status = profile.status if profile else KycStatus.NOT_SUBMITTED
    needs = kyc_requirements(profile=profile)
    documents: list[KycDocument] = []
    if profile is not None:
        documents = list(kyc_user_documents(profile=profile))
        for doc in documents:
            doc.profile = profile  # no query per document
    can_edit = status in EDITABLE_STATUSES
    return {
        "status": status,
        "verified": status == KycStatus.APPROVED and user.is_active,
        "can_edit": can_edit,
        "can_submit": can_edit and needs.complete,
        "profile": profile if profile and profile.legal_name else None,
        "documents": documents,
        "cases": list(kyc_user_cases(profile=profile)) if profile else [],
        "needed": {
            "profile_fields": needs.profile_fields,
            "documents": needs.documents,
            "resend": needs.resend,
        },
    }


# --- Back office ------------------------------------------------------------------


def kyc_waiting_case_count() -> int:
    return KycCase.objects.filter(status=KycStatus.SUBMITTED).count()


def kyc_case_countries() -> list[tuple[str, str]]:
    """(code, "Name (CODE)") once per country that has a case, sorted by name.
    `order_by()` drops the model's ordering, which DISTINCT would otherwise count
    (one row per case instead of one per country)."""
    codes = (
        KycCase.objects.exclude(country="")
        .order_by()
        .values_list("country", flat=True)
        .distinct()
    )
    return sorted(
        ((code, f"{country_name(code)} ({code})") for code in set(codes)),
        key=lambda item: (item[1].casefold(), item[0]),
    )


def kyc_case_events(*, case: KycCase) -> QuerySet[KycStatusEvent]:
    return case.events.select_related("actor", "document").order_by("created_at", "id")


def kyc_case_documents(*, case: KycCase) -> QuerySet[KycDocument]:
    return case.documents.select_related("decided_by", "submitted_in").order_by(
        "doc_type", "created_at", "id"
    )


def kyc_case_history(*, case: KycCase) -> QuerySet[KycCase]:
    """The same user's other cases, newest first, with their decisions."""
    return (
        KycCase.objects.filter(profile_id=case.profile_id)
        .exclude(pk=case.pk)
        .select_related("decided_by", "first_approved_by")
        .prefetch_related(
            Prefetch(
                "documents",
                queryset=KycDocument.objects.order_by("doc_type", "id"),
            )
        )
        .order_by("-number")
    )


def kyc_profiles_sharing_id_number(*, profile: KycProfile) -> QuerySet[KycProfile]:
    if not profile.id_number_digest:
        return KycProfile.objects.none()
    return (
        KycProfile.objects.filter(id_number_digest=profile.id_number_digest)
        .exclude(pk=profile.pk)
        .select_related("user")
    )
