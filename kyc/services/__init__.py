"""Every write of the KYC app. Each function is one transaction; every status change
goes through `config.transitions.transition` (the tables on `KycCase` and
`KycDocument`) and writes its history row and audit event in the same
transaction; a decision records `KycDecided`, whose subscriber emails the user
after commit."""

from kyc.services._common import storage
from kyc.services.review import (
    kyc_case_approve,
    kyc_case_claim,
    kyc_case_reject,
    kyc_case_release,
    kyc_case_request_resubmission,
    kyc_document_decide,
    kyc_document_view_record,
)
from kyc.services.user import (
    kyc_document_delete,
    kyc_document_upload,
    kyc_profile_update,
    kyc_submit,
)

__all__ = [
    "kyc_case_approve",
    "kyc_case_claim",
    "kyc_case_reject",
    "kyc_case_release",
    "kyc_case_request_resubmission",
    "kyc_document_decide",
    "kyc_document_delete",
    "kyc_document_upload",
    "kyc_document_view_record",
    "kyc_profile_update",
    "kyc_submit",
    "storage",
]
