"""KYC state: one profile per user, one case per submission round, the documents,
and the append-only status history. Only kyc/services.py changes any of it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.models import StatusHistory
from kyc.countries import COUNTRIES


class KycStatus(models.TextChoices):
    NOT_SUBMITTED = "not_submitted", "Not submitted"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RESUBMISSION_REQUESTED = "resubmission_requested", "Resubmission requested"


OPEN_STATUSES = (KycStatus.SUBMITTED, KycStatus.IN_REVIEW)
DECIDED_STATUSES = (
    KycStatus.APPROVED,
    KycStatus.REJECTED,
    KycStatus.RESUBMISSION_REQUESTED,
)
# The user may edit the profile and the draft documents only in these states.
EDITABLE_STATUSES = (KycStatus.NOT_SUBMITTED, KycStatus.RESUBMISSION_REQUESTED)


class IdType(models.TextChoices):
    PAN = "pan", "PAN (India)"
    PASSPORT = "passport", "Passport"
    NATIONAL_ID = "national_id", "National ID"
    DRIVING_LICENCE = "driving_licence", "Driving licence"


class DocumentType(models.TextChoices):
    PAN_CARD = "pan_card", "PAN card"
    PASSPORT = "passport", "Passport"
    NATIONAL_ID = "national_id", "National ID card"
    DRIVING_LICENCE = "driving_licence", "Driving licence"
    PROOF_OF_ADDRESS = "proof_of_address", "Proof of address"
    SELFIE = "selfie", "Selfie"


class DocumentStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    # Named in a resubmission request: the user sends a new one; kept for history.
    SUPERSEDED = "superseded", "To be sent again"


class DocumentReason(models.TextChoices):
    EXPIRED = "expired", "Expired"
    UNREADABLE = "unreadable", "Unreadable or incomplete"
    MISMATCH = "mismatch", "Does not match the profile"
    SUSPECTED_FORGERY = "suspected_forgery", "Suspected forgery"
    WRONG_TYPE = "wrong_type", "Wrong document type"
    OTHER = "other", "Other"


class CaseReason(models.TextChoices):
    DOCUMENTS_INVALID = "documents_invalid", "Documents not valid"
    PROFILE_MISMATCH = "profile_mismatch", "Profile does not match the documents"
    UNDERAGE = "underage", "Under the minimum age"
    UNSUPPORTED_COUNTRY = "unsupported_country", "Country not supported"
    DUPLICATE_ACCOUNT = "duplicate_account", "Identity already used by another account"
    SUSPECTED_FRAUD = "suspected_fraud", "Suspected fraud"
    OTHER = "other", "Other"


class CasePurpose(models.TextChoices):
    """Why a case was opened. Only an onboarding case sets the profile's status;
    a re-check (opened by staff for an already verified user) is decided through
    the same workflow and leaves the profile as it is."""

    ONBOARDING = "onboarding", "Onboarding"
    SECOND_FACTOR_RESET = "second_factor_reset", "Re-check: second-factor reset"


class EventAction(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    CLAIMED = "claimed", "Claimed"
    RELEASED = "released", "Released"
    DOCUMENT_DECIDED = "document_decided", "Document decided"
    FIRST_APPROVAL = "first_approval", "First approval (second pending)"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RESUBMISSION_REQUESTED = "resubmission_requested", "Resubmission requested"


class KycProfile(models.Model):
    """The user's identity data and current KYC status (the latest case's)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kyc_profile"
    )
    status = models.CharField(
        max_length=32, choices=KycStatus.choices, default=KycStatus.NOT_SUBMITTED
    )
    legal_name = models.CharField(max_length=150, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    country = models.CharField(max_length=2, choices=COUNTRIES, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    id_type = models.CharField(max_length=16, choices=IdType.choices, blank=True)
    # Fernet token of the normalised identity number; never stored in clear.
    id_number_encrypted = models.TextField(blank=True)
    id_number_last4 = models.CharField(max_length=4, blank=True)
    # Keyed hash (HMAC) of type + number: finds the same identity on two accounts
    # without decrypting anything.
    id_number_digest = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "KYC profile"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=KycStatus.values),
                name="kyc_profile_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"KYC profile of {self.user}"

    @property
    def id_number_masked(self) -> str:
        if not self.id_number_last4:
            return ""
        return "•" * 6 + self.id_number_last4

    @property
    def address(self) -> str:
        parts = [self.address_line1, self.address_line2, self.postal_code, self.city]
        return ", ".join(part for part in parts if part)


class KycCase(models.Model):
    """One submission round: submitted, claimed, decided. Earlier rounds stay.
    The profile's status mirrors its latest case's."""

    # A new case continues its profile's status (not_submitted or
    # resubmission_requested -> submitted). Back to submitted from in_review:
    # released, or the first of two approvals given.
    TRANSITIONS = {
        KycStatus.NOT_SUBMITTED: (KycStatus.SUBMITTED,),
        KycStatus.SUBMITTED: (KycStatus.IN_REVIEW,),
        KycStatus.IN_REVIEW: (
            KycStatus.SUBMITTED,
            KycStatus.APPROVED,
            KycStatus.REJECTED,
            KycStatus.RESUBMISSION_REQUESTED,
        ),
        KycStatus.RESUBMISSION_REQUESTED: (KycStatus.SUBMITTED,),
        KycStatus.APPROVED: (),
        KycStatus.REJECTED: (),
    }

    profile = models.ForeignKey(
        KycProfile, on_delete=models.PROTECT, related_name="cases"
    )
    number = models.PositiveIntegerField(help_text="1 for the first submission.")
    purpose = models.CharField(
        max_length=32, choices=CasePurpose.choices, default=CasePurpose.ONBOARDING
    )
    status = models.CharField(
        max_length=32, choices=KycStatus.choices, default=KycStatus.SUBMITTED
    )
    # Snapshot at submission (the profile may change in a later round).
    legal_name = models.CharField(max_length=150)
    country = models.CharField(max_length=2, choices=COUNTRIES)
    profile_snapshot = models.JSONField(default=dict)
    documents: models.ManyToManyField[KycDocument, models.Model] = (
        models.ManyToManyField("KycDocument", related_name="cases", blank=True)
    )
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kyc_cases_claimed",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    needs_second_approval = models.BooleanField(default=False)
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kyc_cases_first_approved",
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kyc_cases_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # What the user sees about the decision (never the reviewer's internal note).
    reason_codes = models.JSONField(default=list, blank=True)
    user_message = models.TextField(blank=True)
    requested_documents = models.JSONField(
        default=list, blank=True, help_text="Document types to send again."
    )

    class Meta:
        verbose_name = "KYC case"
        ordering = ("submitted_at", "id")
        permissions = [("review_kyccase", "Can review KYC cases")]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "number"], name="kyc_case_number_unique"
            ),
            # At most one open case per user: a double submit cannot open two.
            models.UniqueConstraint(
                fields=["profile"],
                condition=Q(status__in=OPEN_STATUSES),
                name="kyc_case_one_open_per_profile",
            ),
            models.CheckConstraint(
                condition=Q(status__in=KycStatus.values)
                & ~Q(status=KycStatus.NOT_SUBMITTED),
                name="kyc_case_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(claimed_by__isnull=True) | Q(status=KycStatus.IN_REVIEW),
                name="kyc_case_claimed_only_in_review",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DECIDED_STATUSES, decided_at__isnull=False)
                | Q(status__in=OPEN_STATUSES, decided_at__isnull=True),
                name="kyc_case_decided_at_iff_decided",
            ),
        ]
        indexes = [models.Index(fields=["status", "submitted_at"])]

    def __str__(self) -> str:
        return f"KYC case #{self.pk} ({self.legal_name})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def awaiting_second_approval(self) -> bool:
        return self.first_approved_by_id is not None and self.is_open


class KycDocument(models.Model):
    """An uploaded file, validated and stored under a generated name in the private
    "kyc" storage. Its decision sticks across rounds."""

    # A decision may change (even to the same status with another reason) until
    # the case is decided; a resubmission request supersedes it for good.
    TRANSITIONS = {
        DocumentStatus.PENDING: (
            DocumentStatus.ACCEPTED,
            DocumentStatus.REJECTED,
            DocumentStatus.SUPERSEDED,
        ),
        DocumentStatus.ACCEPTED: (DocumentStatus.REJECTED, DocumentStatus.SUPERSEDED),
        DocumentStatus.REJECTED: (DocumentStatus.ACCEPTED, DocumentStatus.REJECTED),
        DocumentStatus.SUPERSEDED: (),
    }

    profile = models.ForeignKey(
        KycProfile, on_delete=models.PROTECT, related_name="documents"
    )
    # The round it was first submitted in; null while it is a draft.
    submitted_in = models.ForeignKey(
        KycCase,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="new_documents",
    )
    doc_type = models.CharField(max_length=32, choices=DocumentType.choices)
    storage_name = models.CharField(max_length=255, unique=True)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    page_count = models.PositiveSmallIntegerField(
        default=0,
        help_text="PDFs: pages rendered to PNG images at upload (see page_name).",
    )
    original_name = models.CharField(
        max_length=100, blank=True, help_text="Sanitised, for display only."
    )
    status = models.CharField(
        max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING
    )
    reason_code = models.CharField(
        max_length=32, choices=DocumentReason.choices, blank=True
    )
    user_note = models.CharField(
        max_length=500, blank=True, help_text="Shown to the user with the reason."
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kyc_documents_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "KYC document"
        ordering = ("created_at", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DocumentStatus.values),
                name="kyc_document_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status=DocumentStatus.REJECTED) & ~Q(reason_code="")
                | ~Q(status=DocumentStatus.REJECTED) & Q(reason_code=""),
                name="kyc_document_reason_iff_rejected",
            ),
            models.CheckConstraint(condition=Q(size__gt=0), name="kyc_document_size"),
        ]

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()} #{self.pk}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def extension(self) -> str:
        return self.storage_name.rsplit(".", 1)[-1]

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf"

    @property
    def page_numbers(self) -> range:
        return range(1, self.page_count + 1)

    def page_name(self, number: int) -> str:
        """Where page `number` (from 1) of a PDF, rendered at upload, is stored:
        beside the original in the private storage."""
        return page_storage_name(self.storage_name, number)


def page_storage_name(storage_name: str, number: int) -> str:
    return f"{storage_name.rsplit('.', 1)[0]}.page-{number}.png"


class KycStatusEvent(StatusHistory):
    """Append-only history of every status change of a case or one of its
    documents: who, from, to, why, when."""

    from_field = "from_status"
    to_field = "to_status"

    case = models.ForeignKey(KycCase, on_delete=models.PROTECT, related_name="events")
    document = models.ForeignKey(
        KycDocument,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        help_text="Set when the change is a document decision.",
    )
    action = models.CharField(max_length=32, choices=EventAction.choices)
    from_status = models.CharField(max_length=32)
    to_status = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kyc_events",
    )
    reason_codes = models.JSONField(default=list, blank=True)
    internal_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta(StatusHistory.Meta):
        verbose_name = "KYC status event"

    def __str__(self) -> str:
        return f"{super().__str__()} ({self.action})"
