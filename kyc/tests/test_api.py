"""The whole flow through the API, and who may fetch a document's bytes."""

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AuditCode, AuditEvent
from accounts.services import backup_codes_ensure
from accounts.testing import api_client_for, make_user
from kyc import services
from kyc.models import KycCase, KycDocument
from kyc.selectors import kyc_is_verified
from kyc.tests.helpers import (
    jpeg_bytes,
    make_reviewer,
    pdf_bytes,
    png_bytes,
    submitted_case,
    upload_file,
)

pytestmark = pytest.mark.django_db

PROFILE = {
    "legal_name": "Asha Rao",
    "date_of_birth": "1990-05-17",
    "country": "IN",
    "address_line1": "12 MG Road",
    "city": "Bengaluru",
    "postal_code": "560001",
    "id_type": "pan",
    "id_number": "ABCDE1234F",
}


def upload(client, doc_type, content, name, content_type):
    return client.post(
        "/api/v1/kyc/documents",
        {"doc_type": doc_type, "file": upload_file(name, content, content_type)},
        format="multipart",
    )


def test_full_flow_via_api(django_capture_on_commit_callbacks):
    user = make_user(email="asha@example.com")
    client = api_client_for(user)

    body = client.get("/api/v1/kyc").json()
    assert body["status"] == "not_submitted"
    assert body["can_submit"] is False
    assert body["needed"]["documents"] == [
        ["pan_card", "passport", "national_id", "driving_licence"],
        ["proof_of_address"],
        ["selfie"],
    ]
    assert "id_number" in body["needed"]["profile_fields"]

    response = client.put("/api/v1/kyc/profile", PROFILE, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["profile"]["id_number_masked"] == "••••••234F"
    assert "ABCDE1234F" not in response.content.decode()

    bad = client.put(
        "/api/v1/kyc/profile", {**PROFILE, "id_number": "1234"}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_id_number"
    assert bad.json()["error"]["message"].startswith("id_number:")

    pan = upload(client, "pan_card", png_bytes(), "pan.png", "image/png")
    assert pan.status_code == 201, pan.content
    assert pan.json()["status"] == "pending"
    assert pan.json()["can_delete"] is True
    upload(client, "proof_of_address", pdf_bytes(), "bill.pdf", "application/pdf")
    extra = upload(client, "selfie", jpeg_bytes(), "old.jpg", "image/jpeg").json()
    assert client.delete(f"/api/v1/kyc/documents/{extra['id']}").status_code == 204
    upload(client, "selfie", jpeg_bytes(), "me.jpg", "image/jpeg")

    body = client.get("/api/v1/kyc").json()
    assert body["can_submit"] is True
    response = client.post("/api/v1/kyc/submit")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "submitted"
    assert body["can_edit"] is False
    assert [c["status"] for c in body["cases"]] == ["submitted"]
    assert client.post("/api/v1/kyc/submit").status_code == 409
    doc_id = body["documents"][0]["id"]
    assert client.delete(f"/api/v1/kyc/documents/{doc_id}").status_code == 409

    case = KycCase.objects.get()
    rita = make_reviewer()
    services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    assert client.get("/api/v1/kyc").json()["status"] == "in_review"
    docs = {d.doc_type: d for d in case.documents.all()}
    services.kyc_document_decide(
        case_id=case.pk,
        document_id=docs["selfie"].pk,
        reviewer=rita,
        accept=False,
        reason_code="unreadable",
        user_note="Your face is hidden by a cap.",
        internal_note="INTERNAL-ONLY",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.kyc_case_request_resubmission(
            case_id=case.pk,
            reviewer=rita,
            document_types=[],
            user_message="Please retake the selfie.",
            internal_note="INTERNAL-ONLY",
        )
    body = client.get("/api/v1/kyc").json()
    assert "INTERNAL-ONLY" not in str(body)
    assert body["status"] == "resubmission_requested"
    assert body["needed"]["resend"] == ["selfie"]
    assert body["cases"][0]["requested_documents"] == ["selfie"]
    assert body["cases"][0]["message"] == "Please retake the selfie."
    selfie = next(d for d in body["documents"] if d["doc_type"] == "selfie")
    assert (selfie["status"], selfie["reason_code"], selfie["note"]) == (
        "rejected",
        "unreadable",
        "Your face is hidden by a cap.",
    )
    assert mail.outbox[-1].to == ["asha@example.com"]

    upload(client, "selfie", jpeg_bytes(), "me2.jpg", "image/jpeg")
    assert client.post("/api/v1/kyc/submit").status_code == 200
    second = KycCase.objects.get(number=2)
    services.kyc_case_claim(case_id=second.pk, reviewer=rita)
    for doc in second.documents.all():
        services.kyc_document_decide(
            case_id=second.pk, document_id=doc.pk, reviewer=rita, accept=True
        )
    services.kyc_case_approve(case_id=second.pk, reviewer=rita)
    body = client.get("/api/v1/kyc").json()
    assert (body["status"], body["verified"]) == ("approved", True)
    assert [c["status"] for c in body["cases"]] == [
        "approved",
        "resubmission_requested",
    ]
    assert kyc_is_verified(user=user)


def test_overview_query_count_is_fixed(django_assert_max_num_queries):
    user = make_user()
    submitted_case(user)
    client = api_client_for(user)
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/kyc").status_code == 200


def test_unauthenticated_user_cannot_use_the_api():
    assert APIClient().get("/api/v1/kyc").status_code == 401


# --- Who may read a document's bytes ----------------------------------------------


@pytest.fixture
def document():
    case = submitted_case(make_user())
    return case.documents.get(doc_type="pan_card")


def file_url(doc):
    return f"/api/v1/kyc/documents/{doc.pk}/file"


def test_owner_gets_the_file_with_safe_headers(document):
    client = api_client_for(document.profile.user)
    response = client.get(file_url(document))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"] == (
        f'inline; filename="document-{document.pk}.png"'
    )
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert not AuditEvent.objects.filter(code=AuditCode.KYC_DOCUMENT_VIEWED).exists()


@pytest.mark.parametrize("who", ["other_trader", "anonymous", "missing"])
def test_others_get_404_for_someone_elses_document(document, who):
    if who == "anonymous":
        response = APIClient().get(file_url(document))
    elif who == "missing":
        response = api_client_for(make_user()).get("/api/v1/kyc/documents/999999/file")
    else:
        response = api_client_for(make_user()).get(file_url(document))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "document_not_found"


def test_others_get_404_on_the_browser_file_view(document, client: Client):
    url = f"/kyc/documents/{document.pk}/file/"
    assert client.get(url).status_code == 404  # anonymous
    client.force_login(make_user(), backend="accounts.backends.EmailBackend")
    assert client.get(url).status_code == 404  # another trader


def test_reviewer_needs_a_second_factor_and_is_audited(document):
    rita = make_reviewer()
    assert api_client_for(rita).get(file_url(document)).status_code == 404
    backup_codes_ensure(user=rita)  # 2FA on: the API login demanded a code
    response = api_client_for(rita).get(file_url(document))
    assert response.status_code == 200
    event = AuditEvent.objects.get(code=AuditCode.KYC_DOCUMENT_VIEWED)
    assert (event.user, event.acting_user) == (document.profile.user, rita)


def test_staff_without_the_review_permission_get_404(document):
    support = make_user(is_staff=True)
    backup_codes_ensure(user=support)
    assert api_client_for(support).get(file_url(document)).status_code == 404


def test_cannot_delete_someone_elses_draft():
    owner = make_user()
    client = api_client_for(owner)
    client.put("/api/v1/kyc/profile", PROFILE, format="json")
    doc = upload(client, "selfie", jpeg_bytes(), "me.jpg", "image/jpeg").json()
    other = api_client_for(make_user())
    assert other.delete(f"/api/v1/kyc/documents/{doc['id']}").status_code == 404
    assert KycDocument.objects.filter(pk=doc["id"]).exists()


def test_underage_profile_is_refused():
    client = api_client_for(make_user())
    response = client.put(
        "/api/v1/kyc/profile", {**PROFILE, "date_of_birth": "2020-01-01"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "underage"


def test_submit_lists_what_is_missing():
    client = api_client_for(make_user())
    client.put("/api/v1/kyc/profile", PROFILE, format="json")
    response = client.post("/api/v1/kyc/submit")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "documents_missing"
    assert error["details"]["documents"][1] == ["proof_of_address"]


def test_reviewers_never_see_unsubmitted_drafts():
    owner = make_user()
    client = api_client_for(owner)
    client.put("/api/v1/kyc/profile", PROFILE, format="json")
    doc = upload(client, "selfie", jpeg_bytes(), "me.jpg", "image/jpeg").json()
    rita = make_reviewer()
    backup_codes_ensure(user=rita)
    url = f"/api/v1/kyc/documents/{doc['id']}/file"
    assert api_client_for(rita).get(url).status_code == 404
    assert client.get(url).status_code == 200
