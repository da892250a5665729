"""Test helper for other apps: a user whose KYC was approved through the real flow."""

from __future__ import annotations

import io
from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from accounts.roles import Role
from accounts.testing import make_user
from kyc import services


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (10, 120, 60)).save(out, format="PNG")
    return out.getvalue()


def kyc_approve(*, user: User, reviewer: User | None = None) -> User:
    """Fill the profile, upload the required documents, submit, and have a reviewer
    approve every document and the case."""
    reviewer = reviewer or make_user(roles=(Role.KYC_REVIEWER,), is_staff=True)
    services.kyc_profile_update(
        user=user,
        legal_name=user.full_name or "Test User",
        date_of_birth=date(1990, 1, 15),
        country="IN",
        address_line1="1 Test Street",
        city="Mumbai",
        postal_code="400001",
        id_type="pan",
        id_number=f"ABCDE{user.pk % 10000:04d}F",
    )
    for doc_type in ("pan_card", "proof_of_address", "selfie"):
        services.kyc_document_upload(
            user=user,
            doc_type=doc_type,
            uploaded=SimpleUploadedFile(f"{doc_type}.png", _png()),
        )
    case = services.kyc_submit(user=user)
    services.kyc_case_claim(case_id=case.pk, reviewer=reviewer)
    for document in case.documents.all():
        services.kyc_document_decide(
            case_id=case.pk, document_id=document.pk, reviewer=reviewer, accept=True
        )
    services.kyc_case_approve(case_id=case.pk, reviewer=reviewer)
    return user


def make_verified_user(**kwargs) -> User:
    """`accounts.testing.make_user` plus approved KYC."""
    return kyc_approve(user=make_user(**kwargs))
