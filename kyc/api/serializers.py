from django.urls import reverse
from rest_framework import serializers

from kyc.countries import COUNTRIES
from kyc.models import (
    EDITABLE_STATUSES,
    CaseReason,
    DocumentReason,
    DocumentType,
    IdType,
    KycCase,
    KycDocument,
    KycProfile,
)


class ProfileInputSerializer(serializers.Serializer):
    legal_name = serializers.CharField(max_length=150)
    date_of_birth = serializers.DateField()
    country = serializers.ChoiceField(choices=COUNTRIES)
    address_line1 = serializers.CharField(max_length=200)
    address_line2 = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    city = serializers.CharField(max_length=100)
    postal_code = serializers.CharField(
        max_length=20, required=False, allow_blank=True, default=""
    )
    id_type = serializers.ChoiceField(choices=IdType.choices)
    id_number = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="Checked for id_type; omit to keep the stored number (same type).",
    )


class ProfileOutputSerializer(serializers.ModelSerializer):
    id_number_masked = serializers.CharField(read_only=True)

    class Meta:
        model = KycProfile
        fields = (
            "legal_name",
            "date_of_birth",
            "country",
            "address_line1",
            "address_line2",
            "city",
            "postal_code",
            "id_type",
            "id_number_masked",
            "updated_at",
        )
        read_only_fields = fields


class DocumentUploadInputSerializer(serializers.Serializer):
    doc_type = serializers.ChoiceField(choices=DocumentType.choices)
    file = serializers.FileField(
        allow_empty_file=True, help_text="JPEG, PNG or PDF (multipart)."
    )


class DocumentOutputSerializer(serializers.ModelSerializer):
    # a read-only model field loses `blank`: "" (not rejected) stated here
    reason_code = serializers.ChoiceField(
        choices=DocumentReason.choices,
        allow_blank=True,
        read_only=True,
        help_text="Why the document was rejected; empty unless it was.",
    )
    reason = serializers.SerializerMethodField()
    note = serializers.CharField(source="user_note", read_only=True)
    submitted = serializers.SerializerMethodField()
    can_delete = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()
    page_urls = serializers.SerializerMethodField()

    class Meta:
        model = KycDocument
        fields = (
            "id",
            "doc_type",
            "status",
            "reason_code",
            "reason",
            "note",
            "content_type",
            "size",
            "original_name",
            "submitted",
            "can_delete",
            "file_url",
            "page_count",
            "page_urls",
            "created_at",
        )
        read_only_fields = fields

    def get_reason(self, doc: KycDocument) -> str:
        return DocumentReason(doc.reason_code).label if doc.reason_code else ""

    def get_submitted(self, doc: KycDocument) -> bool:
        return doc.submitted_in_id is not None

    def get_can_delete(self, doc: KycDocument) -> bool:
        return doc.submitted_in_id is None and doc.profile.status in EDITABLE_STATUSES

    def get_file_url(self, doc: KycDocument) -> str:
        return reverse("api-kyc-document-file", args=[doc.pk])

    def get_page_urls(self, doc: KycDocument) -> list[str]:
        """A PDF's pages as images rendered at upload (the PDF itself downloads)."""
        url = reverse("api-kyc-document-file", args=[doc.pk])
        return [f"{url}?page={number}" for number in doc.page_numbers]


class CaseOutputSerializer(serializers.ModelSerializer):
    reasons = serializers.SerializerMethodField()
    message = serializers.CharField(source="user_message", read_only=True)

    class Meta:
        model = KycCase
        fields = (
            "number",
            "status",
            "submitted_at",
            "decided_at",
            "reason_codes",
            "reasons",
            "message",
            "requested_documents",
        )
        read_only_fields = fields

    def get_reasons(self, case: KycCase) -> list[str]:
        return [CaseReason(code).label for code in case.reason_codes]


class NeededSerializer(serializers.Serializer):
    profile_fields = serializers.ListField(child=serializers.CharField())
    documents = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Groups of document types: one document of each group is needed.",
    )
    resend = serializers.ListField(
        child=serializers.CharField(),
        help_text="Document types the reviewer asked for again.",
    )


class OverviewOutputSerializer(serializers.Serializer):
    status = serializers.CharField()
    verified = serializers.BooleanField()
    can_edit = serializers.BooleanField()
    can_submit = serializers.BooleanField()
    profile = ProfileOutputSerializer(allow_null=True)
    documents = DocumentOutputSerializer(many=True)
    cases = CaseOutputSerializer(many=True)
    needed = NeededSerializer()
