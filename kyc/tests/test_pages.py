"""The user's verification page (session + CSRF forms)."""

import pytest

from accounts.testing import make_user
from kyc import services
from kyc.models import KycDocument, KycProfile, KycStatus
from kyc.tests.helpers import (
    fill_profile,
    jpeg_bytes,
    make_reviewer,
    pdf_bytes,
    png_bytes,
    submitted_case,
    upload_file,
)

pytestmark = pytest.mark.django_db
PAGE = "/kyc/"


@pytest.fixture
def user():
    return make_user()


@pytest.fixture
def browser(client, user):
    client.force_login(user, backend="accounts.backends.EmailBackend")
    return client


def test_page_needs_login(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_fill_upload_and_submit_from_the_page(browser, user):
    page = browser.get(PAGE).content.decode()
    assert "Verify your identity" in page
    assert "js/kyc.js" in page
    response = browser.post(
        PAGE,
        {
            "action": "profile",
            "legal_name": "Asha Rao",
            "date_of_birth": "1990-05-17",
            "country": "IN",
            "address_line1": "12 MG Road",
            "city": "Bengaluru",
            "id_type": "pan",
            "id_number": "ABCDE-1234-F",
        },
    )
    assert response.status_code == 302
    assert KycProfile.objects.get(user=user).id_number_last4 == "234F"

    for doc_type, name, content in (
        ("passport", "p.png", png_bytes()),
        ("proof_of_address", "bill.pdf", pdf_bytes()),
        ("selfie", "me.jpg", jpeg_bytes()),
    ):
        response = browser.post(
            PAGE,
            {
                "action": "upload",
                "doc_type": doc_type,
                "file": upload_file(name, content),
            },
        )
        assert response.status_code == 302, response.content
    page = browser.get(PAGE).content.decode()
    assert "Everything is there" in page
    for doc in KycDocument.objects.all():
        assert f"/kyc/documents/{doc.pk}/file/" in page
    assert browser.post(PAGE, {"action": "submit"}).status_code == 302
    page = browser.get(PAGE).content.decode()
    assert "We are checking your documents" in page
    assert KycProfile.objects.get(user=user).status == KycStatus.SUBMITTED


def test_form_errors_are_shown_on_the_field(browser):
    response = browser.post(
        PAGE,
        {
            "action": "profile",
            "legal_name": "Asha Rao",
            "date_of_birth": "1990-05-17",
            "country": "IN",
            "address_line1": "12 MG Road",
            "city": "Bengaluru",
            "id_type": "pan",
            "id_number": "12345",
        },
    )
    assert response.status_code == 400
    assert "five letters, four digits, one letter" in response.content.decode()
    response = browser.post(
        PAGE,
        {
            "action": "upload",
            "doc_type": "selfie",
            "file": upload_file("x.jpg", b"<?php echo 1; ?>"),
        },
    )
    assert response.status_code == 400
    assert "only JPEG, PNG and PDF" in response.content.decode()


def test_page_says_exactly_which_documents_to_send_again(browser, user):
    case = submitted_case(user)
    rita = make_reviewer()
    services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    poa = case.documents.get(doc_type="proof_of_address")
    services.kyc_document_decide(
        case_id=case.pk,
        document_id=poa.pk,
        reviewer=rita,
        accept=False,
        reason_code="expired",
        internal_note="INTERNAL-ONLY",
    )
    services.kyc_case_request_resubmission(
        case_id=case.pk, reviewer=rita, document_types=[], user_message="Newer bill"
    )
    page = browser.get(PAGE).content.decode()
    assert "Please send some documents again" in page
    assert "Newer bill" in page
    assert "Expired" in page
    assert "INTERNAL-ONLY" not in page
    assert "Send again: <strong>Proof of address</strong>" in page
    assert "still to upload" in page


def test_delete_a_draft_from_the_page(browser, user):
    fill_profile(user)
    doc = services.kyc_document_upload(
        user=user, doc_type="selfie", uploaded=upload_file("a.jpg", jpeg_bytes())
    )
    response = browser.post(PAGE, {"action": "delete", "document_id": doc.pk})
    assert response.status_code == 302
    assert not KycDocument.objects.exists()


def test_owner_opens_own_file_from_the_page(browser, user):
    case = submitted_case(user)
    doc = case.documents.get(doc_type="proof_of_address")
    response = browser.get(f"/kyc/documents/{doc.pk}/file/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    # A PDF is only ever a download; its pages are the images rendered at upload.
    assert response["Content-Disposition"] == (
        f'attachment; filename="document-{doc.pk}.pdf"'
    )
    page = browser.get(f"/kyc/documents/{doc.pk}/file/", {"page": "1"})
    assert (page.status_code, page["Content-Type"]) == (200, "image/png")
    html = browser.get("/kyc/").content.decode()
    assert f'<img class="kyc-thumb" src="/kyc/documents/{doc.pk}/file/?page=1"' in html
