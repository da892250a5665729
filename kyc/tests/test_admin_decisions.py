"""Rough edges of the KYC back office: a repeated document decision is a no-op,
the buttons offer only a change, and the country filter lists each country once."""

import pytest

from accounts.models import AuditCode, AuditEvent
from accounts.testing import admin_client_for, make_user
from kyc import services
from kyc.models import EventAction, KycStatusEvent
from kyc.tests.helpers import make_reviewer, submitted_case

pytestmark = pytest.mark.django_db
QUEUE = "/admin/kyc/kyccase/"


@pytest.fixture
def rita():
    return make_reviewer(email="rita@example.com")


def _decide(client, case, doc, **data):
    return client.post(f"{QUEUE}{case.pk}/documents/{doc.pk}/decide/", data)


def _decisions(doc):
    return KycStatusEvent.objects.filter(
        document=doc, action=EventAction.DOCUMENT_DECIDED
    )


def test_accepting_an_accepted_document_again_changes_nothing(rita):
    # Given a claimed case whose PAN card rita accepted
    case = submitted_case()
    client = admin_client_for(rita)
    client.post(f"{QUEUE}{case.pk}/claim/")
    pan = case.documents.get(doc_type="pan_card")
    assert _decide(client, case, pan, decision="accept").status_code == 302
    pan.refresh_from_db()
    decided_at = pan.decided_at
    # When she clicks Accept again (twice)
    _decide(client, case, pan, decision="accept")
    _decide(client, case, pan, decision="accept")
    # Then there is one "pending -> accepted" row and one audit event
    assert list(_decisions(pan).values_list("from_status", "to_status")) == [
        ("pending", "accepted")
    ]
    assert (
        AuditEvent.objects.filter(
            code=AuditCode.KYC_DOCUMENT_DECIDED, target_id=str(pan.pk)
        ).count()
        == 1
    )
    pan.refresh_from_db()
    assert (pan.status, pan.decided_at) == ("accepted", decided_at)


def test_rejecting_again_with_the_same_reason_is_a_no_op_a_new_reason_is_not(rita):
    case = submitted_case()
    services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    selfie = case.documents.get(doc_type="selfie")
    decide = dict(case_id=case.pk, document_id=selfie.pk, reviewer=rita, accept=False)
    services.kyc_document_decide(**decide, reason_code="unreadable")
    services.kyc_document_decide(**decide, reason_code="unreadable")
    assert _decisions(selfie).count() == 1
    # A different reason is a real change of the decision: recorded.
    services.kyc_document_decide(**decide, reason_code="mismatch")
    assert list(
        _decisions(selfie).values_list("to_status", "reason_codes").order_by("pk")
    ) == [("rejected", ["unreadable"]), ("rejected", ["mismatch"])]
    selfie.refresh_from_db()
    assert (selfie.status, selfie.reason_code) == ("rejected", "mismatch")
    assert (
        AuditEvent.objects.filter(
            code=AuditCode.KYC_DOCUMENT_DECIDED, target_id=str(selfie.pk)
        ).count()
        == 2
    )


def test_the_case_screen_offers_only_the_decision_a_document_does_not_have(rita):
    # Given a claimed case: PAN accepted, selfie rejected, address still pending
    case = submitted_case()
    services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    docs = {doc.doc_type: doc for doc in case.documents.all()}
    services.kyc_document_decide(
        case_id=case.pk, document_id=docs["pan_card"].pk, reviewer=rita, accept=True
    )
    services.kyc_document_decide(
        case_id=case.pk,
        document_id=docs["selfie"].pk,
        reviewer=rita,
        accept=False,
        reason_code="unreadable",
    )
    # When rita opens the case
    page = admin_client_for(rita).get(f"{QUEUE}{case.pk}/change/").content.decode()

    # Then each document shows only the buttons that would change it
    parts = page.split('<div class="kyc-doc" id="doc-')[1:]
    by_pk = {int(part.split('"', 1)[0]): part for part in parts}
    pan, selfie, address = docs["pan_card"], docs["selfie"], docs["proof_of_address"]
    blocks = {doc.doc_type: by_pk[doc.pk] for doc in (pan, selfie, address)}
    assert f'data-testid="accept-{pan.pk}"' not in blocks["pan_card"]
    assert "Reject document" in blocks["pan_card"]
    assert f'data-testid="accept-{selfie.pk}"' in blocks["selfie"]
    assert "Reject document" not in blocks["selfie"]
    assert f'data-testid="accept-{address.pk}"' in blocks["proof_of_address"]
    assert "Reject document" in blocks["proof_of_address"]


def test_country_filter_lists_each_country_once_by_name(rita):
    # Given three cases from India and two from France
    for country in ("IN", "FR", "IN", "FR", "IN"):
        submitted_case(make_user(), country=country)
    # When a reviewer opens the queue
    response = admin_client_for(rita).get(QUEUE)
    # Then the country filter offers France then India, once each
    country_filter = next(
        spec
        for spec in response.context["cl"].filter_specs
        if spec.parameter_name == "country"
    )
    assert country_filter.lookup_choices == [
        ("FR", "France (FR)"),
        ("IN", "India (IN)"),
    ]
    assert response.content.decode().count("India (IN)</a>") == 1
