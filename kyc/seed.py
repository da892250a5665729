"""Demo KYC data, made through the services. Idempotent: a user who already has a
KYC case is left alone.

- alice@ and bob@ (traders) are approved, so they can trade and withdraw;
- carol@ waits in the review queue (claim her case as reviewer@);
- dan@ was asked to send his proof of address again.
"""

from __future__ import annotations

import io
from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from accounts import services as account_services
from accounts.models import User
from accounts.seed import DEMO_PASSWORD
from kyc import services
from kyc.models import KycCase, KycProfile

REVIEWER = "reviewer@example.com"
DEMO_PROFILES = {
    "alice@example.com": ("Alice Trader", "IN", "pan", "ALICE1234T", "approve"),
    "bob@example.com": ("Bob Trader", "GB", "passport", "B12345678", "approve"),
    "carol@example.com": ("Carol Applicant", "DE", "national_id", "T22000129", ""),
    "dan@example.com": ("Dan Resubmit", "FR", "driving_licence", "DL1234567", "resend"),
}


def _image(label: str, color: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (480, 300), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((12, 12, 467, 287), outline=(255, 255, 255), width=3)
    draw.text((30, 30), f"DEMO {label.upper()}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _pdf(label: str) -> bytes:
    text = f"Demo {label}".encode()
    stream = b"BT /F1 18 Tf 40 100 Td (" + text + b") Tj ET"
    return (
        b"%PDF-1.4\n"
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >> endobj\n"
        b"4 0 obj << /Length "
        + str(len(stream)).encode()
        + b" >>\nstream\n"
        + stream
        + b"\nendstream\nendobj\n"
        b"5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def _user(email: str, full_name: str) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = account_services.user_register(
            email=email,
            password=DEMO_PASSWORD,
            full_name=full_name,
            email_verified=True,
            accept_terms=True,
        )
    return user


def _submit(user: User, name: str, country: str, id_type: str, number: str):
    services.kyc_profile_update(
        user=user,
        legal_name=name,
        date_of_birth=date(1990, 1, 15),
        country=country,
        address_line1="1 Demo Street",
        city="Demo City",
        postal_code="10001",
        id_type=id_type,
        id_number=number,
    )
    id_doc = {"pan": "pan_card"}.get(id_type, id_type)
    for doc_type, name_, content in (
        (id_doc, "id.png", _image(id_doc, (40, 90, 160))),
        ("proof_of_address", "bill.pdf", _pdf("utility bill")),
        ("selfie", "selfie.png", _image("selfie", (150, 90, 60))),
    ):
        services.kyc_document_upload(
            user=user,
            doc_type=doc_type,
            uploaded=SimpleUploadedFile(name_, content),
        )
    return services.kyc_submit(user=user)


def _review(case: KycCase, reviewer: User, outcome: str) -> None:
    services.kyc_case_claim(case_id=case.pk, reviewer=reviewer)
    for doc in case.documents.all():
        reject = outcome == "resend" and doc.doc_type == "proof_of_address"
        services.kyc_document_decide(
            case_id=case.pk,
            document_id=doc.pk,
            reviewer=reviewer,
            accept=not reject,
            reason_code="expired" if reject else "",
            internal_note="Demo: bill older than three months." if reject else "",
        )
    if outcome == "approve":
        services.kyc_case_approve(case_id=case.pk, reviewer=reviewer)
    else:
        services.kyc_case_request_resubmission(
            case_id=case.pk,
            reviewer=reviewer,
            document_types=[],
            user_message="Please send a utility bill from the last three months.",
        )


def seed(*, out) -> None:
    reviewer = User.objects.filter(email__iexact=REVIEWER).first()
    out("KYC:")
    for email, (name, country, id_type, number, outcome) in DEMO_PROFILES.items():
        user = _user(email, name)
        profile = KycProfile.objects.filter(user=user).first()
        if profile is None or not profile.cases.exists():
            case = _submit(user, name, country, id_type, number)
            if outcome and reviewer is not None:
                _review(case, reviewer, outcome)
            profile = KycProfile.objects.get(user=user)
        out(f"  {email:<24} {profile.status}")
