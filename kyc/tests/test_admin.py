"""The back office, driven like a reviewer would: the Django test client logged in
with a verified second factor."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail

from accounts.roles import Role
from accounts.testing import admin_client_for, make_user
from kyc.models import KycCase, KycStatus, KycStatusEvent
from kyc.selectors import kyc_is_verified
from kyc.tests.helpers import PAN, make_reviewer, submitted_case

pytestmark = pytest.mark.django_db
QUEUE = "/admin/kyc/kyccase/"


def case_url(case, action=""):
    return f"{QUEUE}{case.pk}/{action + '/' if action else 'change/'}"


@pytest.fixture
def rita():
    return make_reviewer(email="rita@example.com")


@pytest.fixture
def browser(rita):
    return admin_client_for(rita)


def test_queue_lists_waiting_cases_oldest_first_with_a_count(browser):
    first = submitted_case(make_user(email="first@example.com"), legal_name="Ann One")
    second = submitted_case(make_user(email="second@example.com"), country="FR")
    approve_me = submitted_case(make_user())
    approve_me.status = KycStatus.APPROVED  # not waiting (set directly for the list)
    KycCase.objects.filter(pk=approve_me.pk).update(
        status=KycStatus.APPROVED, decided_at=approve_me.submitted_at
    )
    response = browser.get(QUEUE)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [first, second]
    assert "KYC review queue: 2 waiting" in response.content.decode()

    by_country = browser.get(QUEUE, {"country": "FR"}).context["cl"].result_list
    assert list(by_country) == [second]
    by_email = browser.get(QUEUE, {"q": "first@example"}).context["cl"].result_list
    assert list(by_email) == [first]
    by_name = browser.get(QUEUE, {"q": "Ann One"}).context["cl"].result_list
    assert list(by_name) == [first]
    approved = browser.get(QUEUE, {"queue": "approved"}).context["cl"].result_list
    assert list(approved) == [KycCase.objects.get(pk=approve_me.pk)]


def test_full_review_flow_in_the_admin(
    browser, rita, django_capture_on_commit_callbacks
):
    user = make_user(email="asha@example.com")
    case = submitted_case(user)

    page = browser.get(case_url(case)).content.decode()
    assert "Claim this case" in page
    assert PAN not in page  # masked until claimed
    assert "••••••234F" in page
    for doc in case.documents.all():
        assert f"/kyc/documents/{doc.pk}/file/" in page
    assert 'target="_blank"' in page  # the PDF opens in a new tab

    response = browser.post(case_url(case, "claim"))
    assert response.status_code == 302
    page = browser.get(case_url(case)).content.decode()
    assert PAN in page  # the reviewer who claimed sees the full number
    assert "Release to the queue" in page

    # Inline previews load through the protected view (session with a 2nd factor).
    doc = case.documents.get(doc_type="pan_card")
    image = browser.get(f"/kyc/documents/{doc.pk}/file/")
    assert image.status_code == 200
    assert image["X-Content-Type-Options"] == "nosniff"

    for doc in case.documents.all():
        response = browser.post(
            case_url(case, f"documents/{doc.pk}/decide"), {"decision": "accept"}
        )
        assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            case_url(case, "approve"), {"internal_note": "all good"}, follow=True
        )
    assert "Decision recorded." in response.content.decode()
    case.refresh_from_db()
    assert (case.status, case.decided_by) == (KycStatus.APPROVED, rita)
    assert kyc_is_verified(user=user)
    assert mail.outbox[-1].to == ["asha@example.com"]

    page = browser.get(case_url(case)).content.decode()
    assert "History (append-only)" in page
    assert "all good" in page  # internal notes are visible to reviewers
    assert PAN not in page  # decided: masked again


def test_reject_a_document_with_a_reason_then_request_resubmission(browser):
    case = submitted_case()
    browser.post(case_url(case, "claim"))
    selfie = case.documents.get(doc_type="selfie")
    response = browser.post(
        case_url(case, f"documents/{selfie.pk}/decide"),
        {"decision": "reject", "reason_code": "other", "user_note": ""},
        follow=True,
    )
    assert "explain the reason" in response.content.decode()
    browser.post(
        case_url(case, f"documents/{selfie.pk}/decide"),
        {"decision": "reject", "reason_code": "mismatch", "internal_note": "older"},
    )
    selfie.refresh_from_db()
    assert (selfie.status, selfie.reason_code) == ("rejected", "mismatch")
    page = browser.get(case_url(case)).content.decode()
    assert 'value="selfie"' in page and "checked" in page  # pre-selected to resend
    browser.post(
        case_url(case, "resubmission"),
        {"document_types": ["proof_of_address"], "user_message": "Newer bill"},
    )
    case.refresh_from_db()
    assert case.status == KycStatus.RESUBMISSION_REQUESTED
    assert case.requested_documents == ["proof_of_address", "selfie"]


def test_reject_case_needs_reasons(browser):
    case = submitted_case()
    browser.post(case_url(case, "claim"))
    response = browser.post(case_url(case, "reject"), {}, follow=True)
    assert "reason_codes" in response.content.decode()
    browser.post(case_url(case, "reject"), {"reason_codes": ["duplicate_account"]})
    case.refresh_from_db()
    assert (case.status, case.reason_codes) == ("rejected", ["duplicate_account"])


def test_a_reviewer_cannot_decide_their_own_case(rita, browser):
    case = submitted_case(rita)
    page = browser.get(case_url(case)).content.decode()
    assert "This is your own case" in page
    assert "Claim this case" not in page
    response = browser.post(case_url(case, "claim"), follow=True)
    assert "Nobody may review their own KYC case." in response.content.decode()
    response = browser.post(case_url(case, "approve"), follow=True)
    case.refresh_from_db()
    assert case.status == KycStatus.SUBMITTED
    assert case.claimed_by is None


def test_two_reviewers_never_work_the_same_case(browser):
    case = submitted_case()
    rob = admin_client_for(make_reviewer())
    browser.post(case_url(case, "claim"))
    response = rob.post(case_url(case, "claim"), follow=True)
    assert "already claimed by rita@example.com" in response.content.decode()
    doc = case.documents.first()
    rob.post(case_url(case, f"documents/{doc.pk}/decide"), {"decision": "accept"})
    doc.refresh_from_db()
    assert doc.status == "pending"


def test_claim_next_takes_the_oldest_case_not_ones_own(rita, browser):
    submitted_case(rita)
    oldest = submitted_case()
    submitted_case()
    response = browser.post(f"{QUEUE}claim-next/")
    assert response["Location"] == case_url(oldest)
    oldest.refresh_from_db()
    assert oldest.claimed_by == rita


def test_four_eyes_through_the_admin(settings, browser):
    settings.KYC_HIGH_RISK_COUNTRIES = ["RU"]
    case = submitted_case(country="RU")
    browser.post(case_url(case, "claim"))
    for doc in case.documents.all():
        browser.post(
            case_url(case, f"documents/{doc.pk}/decide"), {"decision": "accept"}
        )
    page = browser.get(case_url(case)).content.decode()
    assert "Give first approval" in page
    browser.post(case_url(case, "approve"))
    case.refresh_from_db()
    assert case.status == KycStatus.SUBMITTED and case.first_approved_by
    response = browser.post(case_url(case, "claim"), follow=True)
    assert "another reviewer gives the second" in response.content.decode()
    rob = admin_client_for(make_reviewer())
    rob.post(case_url(case, "claim"))
    assert "Give second approval" in rob.get(case_url(case)).content.decode()
    rob.post(case_url(case, "approve"))
    case.refresh_from_db()
    assert case.status == KycStatus.APPROVED


def test_history_cannot_be_edited_even_by_a_superuser():
    case = submitted_case()
    event = KycStatusEvent.objects.get(case=case)
    boss = admin_client_for(make_user(is_staff=True, is_superuser=True, roles=()))
    url = "/admin/kyc/kycstatusevent/"
    assert boss.get(url).status_code == 200
    assert boss.get(f"{url}add/").status_code == 403
    page = boss.get(f"{url}{event.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert boss.post(f"{url}{event.pk}/change/", {"to_status": "x"}).status_code == 403
    assert boss.post(f"{url}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.to_status == "submitted"
    # The case itself has no form to save or delete either.
    assert boss.post(f"{QUEUE}{case.pk}/delete/", {"post": "yes"}).status_code == 403
    assert boss.get(f"{QUEUE}add/").status_code == 403


def test_reviewer_sees_kyc_and_nothing_else(browser):
    for url in (
        "/admin/accounts/user/",
        "/admin/auth/group/",
        "/admin/accounts/auditevent/",
    ):
        assert browser.get(url).status_code == 403
    index = browser.get("/admin/").content.decode()
    assert "/admin/kyc/kyccase/" in index
    assert "/admin/accounts/" not in index
    assert "/admin/wallet/" not in index
    assert "/admin/trading/" not in index


def test_reviewer_group_holds_only_kyc_permissions():
    group = Group.objects.get(name=Role.KYC_REVIEWER)
    labels = set(group.permissions.values_list("content_type__app_label", flat=True))
    assert labels == {"kyc"}
    codes = set(group.permissions.values_list("codename", flat=True))
    assert "review_kyccase" in codes
    assert not any(code.startswith(("add_", "delete_")) for code in codes)
    assert Permission.objects.filter(codename="review_kyccase").exists()


def test_support_can_view_cases_but_not_act(browser):
    case = submitted_case()
    support = make_user(roles=(Role.SUPPORT,), is_staff=True)
    client = admin_client_for(support)
    page = client.get(case_url(case)).content.decode()
    assert "Claim this case" not in page
    assert "/kyc/documents/" not in page  # no previews without the review right
    assert client.post(case_url(case, "claim")).status_code == 403


def test_admin_needs_the_second_factor():
    from django.test import Client

    rita = make_reviewer()
    client = Client()
    client.force_login(rita, backend="accounts.backends.EmailBackend")
    assert client.get(QUEUE).status_code == 302  # to the admin login
    case = submitted_case()
    doc = case.documents.first()
    assert client.get(f"/kyc/documents/{doc.pk}/file/").status_code == 404


def test_queue_and_case_screen_queries_do_not_grow_with_cases(
    browser, django_assert_max_num_queries
):
    for _ in range(6):
        submitted_case()
    with django_assert_max_num_queries(14):
        assert browser.get(QUEUE).status_code == 200
    case = KycCase.objects.first()
    with django_assert_max_num_queries(22):
        assert browser.get(case_url(case)).status_code == 200
