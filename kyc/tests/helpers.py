"""Builders for KYC tests: real files made in memory, and data made through the
real services."""

from __future__ import annotations

import io
from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.roles import Role
from accounts.testing import make_user
from kyc import services
from kyc.models import KycCase

TODAY = date(2025, 6, 1)
PAN = "ABCDE1234F"


def png_bytes(size=(40, 30), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(size=(40, 30), *, gps: bool = False) -> bytes:
    image = Image.new("RGB", size, (20, 120, 220))
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "SpyCam Inc."  # Make
        exif[0x0110] = "Model X"  # Model
        gps_ifd = {
            1: "N",
            2: (48.0, 51.0, 29.0),
            3: "E",
            4: (2.0, 17.0, 40.0),
        }
        exif[0x8825] = gps_ifd  # GPSInfo
        image.save(out, format="JPEG", exif=exif)
    else:
        image.save(out, format="JPEG")
    return out.getvalue()


def pdf_bytes(extra: bytes = b"") -> bytes:
    return (
        b"%PDF-1.4\n"
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
        + extra
        + b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def upload_file(name: str, content: bytes, content_type: str = "image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def make_reviewer(**kwargs):
    return make_user(roles=(Role.KYC_REVIEWER,), is_staff=True, **kwargs)


def fill_profile(user, **overrides):
    data = {
        "legal_name": "Asha Rao",
        "date_of_birth": date(1990, 5, 17),
        "country": "IN",
        "address_line1": "12 MG Road",
        "city": "Bengaluru",
        "postal_code": "560001",
        "id_type": "pan",
        "id_number": PAN,
        "today": TODAY,
    }
    data.update(overrides)
    return services.kyc_profile_update(user=user, **data)


def upload(user, doc_type: str, content: bytes | None = None, name="doc.png"):
    return services.kyc_document_upload(
        user=user,
        doc_type=doc_type,
        uploaded=upload_file(name, content or png_bytes()),
    )


def upload_required(user):
    return [
        upload(user, "pan_card"),
        upload(user, "proof_of_address", pdf_bytes(), "bill.pdf"),
        upload(user, "selfie", jpeg_bytes(), "me.jpg"),
    ]


def submitted_case(user=None, **profile) -> KycCase:
    user = user or make_user()
    fill_profile(user, **profile)
    upload_required(user)
    return services.kyc_submit(user=user, today=TODAY)


def approve(case: KycCase, reviewer) -> KycCase:
    services.kyc_case_claim(case_id=case.pk, reviewer=reviewer)
    for doc in case.documents.all():
        services.kyc_document_decide(
            case_id=case.pk, document_id=doc.pk, reviewer=reviewer, accept=True
        )
    return services.kyc_case_approve(case_id=case.pk, reviewer=reviewer)
