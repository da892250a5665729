from django import forms
from django.conf import settings

from kyc.countries import COUNTRIES
from kyc.models import CaseReason, DocumentReason, DocumentType, IdType

_MAX_MIB = round(settings.KYC_MAX_UPLOAD_BYTES / 1048576, 1)


class KycProfileForm(forms.Form):
    legal_name = forms.CharField(
        max_length=150, help_text="Exactly as on your identity document."
    )
    date_of_birth = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="You must be 18 or older.",
    )
    country = forms.ChoiceField(
        choices=[("", "Choose…"), *COUNTRIES], label="Country of residence"
    )
    address_line1 = forms.CharField(max_length=200, label="Address")
    address_line2 = forms.CharField(
        max_length=200, required=False, label="Address (line 2)"
    )
    city = forms.CharField(max_length=100)
    postal_code = forms.CharField(max_length=20, required=False)
    id_type = forms.ChoiceField(
        choices=[("", "Choose…"), *IdType.choices], label="Identity number type"
    )
    id_number = forms.CharField(
        max_length=40,
        required=False,
        label="Identity number",
        help_text="PAN: ABCDE1234F. Stored encrypted; leave blank to keep yours.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class KycDocumentForm(forms.Form):
    doc_type = forms.ChoiceField(
        choices=[("", "Choose…"), *DocumentType.choices], label="Document type"
    )
    file = forms.FileField(
        allow_empty_file=True,
        help_text=f"JPEG, PNG or PDF, up to {_MAX_MIB} MiB.",
        widget=forms.ClearableFileInput(
            attrs={
                "accept": "image/jpeg,image/png,application/pdf",
                "data-kyc-file": "",
                "data-max-bytes": settings.KYC_MAX_UPLOAD_BYTES,
            }
        ),
    )


# --- Back office (admin review screen) --------------------------------------------


class InternalNoteMixin(forms.Form):
    internal_note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="For reviewers only; never shown to the user.",
    )


class DocumentDecisionForm(InternalNoteMixin):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    reason_code = forms.ChoiceField(
        choices=[("", "—"), *DocumentReason.choices], required=False
    )
    user_note = forms.CharField(
        required=False,
        max_length=500,
        help_text="Shown to the user (required with 'Other').",
    )


class CaseApproveForm(InternalNoteMixin):
    pass


class CaseRejectForm(InternalNoteMixin):
    reason_codes = forms.MultipleChoiceField(
        choices=CaseReason.choices, widget=forms.CheckboxSelectMultiple
    )
    user_message = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown to the user (required with 'Other').",
    )


class CaseResubmissionForm(InternalNoteMixin):
    document_types = forms.MultipleChoiceField(
        choices=DocumentType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Rejected documents' types are always included.",
    )
    user_message = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown to the user.",
    )


class CaseReleaseForm(InternalNoteMixin):
    pass
