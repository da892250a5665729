from datetime import date

import pytest
from django.core import mail
from django.db import IntegrityError

from accounts.models import AuditCode, AuditEvent
from accounts.testing import make_user
from config.errors import ApplicationError, http_status
from kyc import crypto, services
from kyc.models import (
    DocumentStatus,
    KycCase,
    KycProfile,
    KycStatus,
    KycStatusEvent,
)
from kyc.selectors import kyc_is_verified, kyc_require_verified, kyc_requirements
from kyc.tests.helpers import (
    PAN,
    TODAY,
    approve,
    fill_profile,
    make_reviewer,
    submitted_case,
    upload,
)

pytestmark = pytest.mark.django_db


# --- Profile ----------------------------------------------------------------------


def test_identity_number_is_encrypted_at_rest_and_masked():
    user = make_user()
    profile = fill_profile(user, id_number="abcde 1234-f")
    stored = KycProfile.objects.values_list("id_number_encrypted", flat=True).get()
    assert PAN not in stored
    assert crypto.decrypt(stored) == PAN
    assert profile.id_number_last4 == "234F"
    assert profile.id_number_masked == "••••••234F"
    event = AuditEvent.objects.get(code=AuditCode.KYC_PROFILE_UPDATED)
    assert PAN not in str(event.extra)


@pytest.mark.parametrize(
    ("id_type", "number", "ok"),
    [
        ("pan", "ABCDE1234F", True),
        ("pan", "ABCD12345F", False),
        ("pan", "ABCDE1234", False),
        ("passport", "K1234567", True),
        ("passport", "K12", False),
        ("national_id", "X1234567890", True),
        ("driving_licence", "DL-0420110149646", True),
        ("driving_licence", "DL/04", False),
    ],
)
def test_identity_number_format_is_checked_per_type(id_type, number, ok):
    user = make_user()
    if ok:
        fill_profile(user, id_type=id_type, id_number=number)
    else:
        with pytest.raises(ApplicationError) as exc:
            fill_profile(user, id_type=id_type, id_number=number)
        assert exc.value.code == "invalid_id_number"


def test_adults_only_counted_on_the_given_day():
    user = make_user()
    with pytest.raises(ApplicationError) as exc:
        fill_profile(user, date_of_birth=date(2007, 6, 2), today=TODAY)
    assert exc.value.code == "underage"
    fill_profile(user, date_of_birth=date(2007, 6, 1), today=TODAY)  # 18 today


def test_country_must_be_iso_alpha2():
    with pytest.raises(ApplicationError) as exc:
        fill_profile(make_user(), country="XX")
    assert exc.value.details == {
        "country": ["Use an ISO 3166 alpha-2 country code, e.g. IN."]
    }


def test_blank_id_number_keeps_the_stored_one():
    user = make_user()
    fill_profile(user)
    profile = fill_profile(user, id_number="", city="Mysuru")
    assert crypto.decrypt(profile.id_number_encrypted) == PAN
    assert profile.city == "Mysuru"


def test_same_identity_on_two_accounts_shares_a_digest():
    a = fill_profile(make_user())
    b = fill_profile(make_user())
    c = fill_profile(make_user(), id_number="ZZZZZ9999Z")
    assert a.id_number_digest == b.id_number_digest != c.id_number_digest


# --- Submission -------------------------------------------------------------------


def test_submission_needs_profile_and_one_document_of_each_group():
    user = make_user()
    with pytest.raises(ApplicationError) as exc:
        services.kyc_submit(user=user, today=TODAY)
    assert exc.value.code == "profile_incomplete"
    fill_profile(user)
    upload(user, "passport")
    with pytest.raises(ApplicationError) as exc:
        services.kyc_submit(user=user, today=TODAY)
    assert exc.value.code == "documents_missing"
    assert exc.value.details["documents"] == [["proof_of_address"], ["selfie"]]


def test_submit_opens_a_case_with_history_and_locks_the_profile():
    user = make_user()
    case = submitted_case(user)
    assert case.status == KycStatus.SUBMITTED
    assert case.number == 1
    assert case.documents.count() == 3
    assert KycProfile.objects.get(user=user).status == KycStatus.SUBMITTED
    event = KycStatusEvent.objects.get()
    assert (event.from_status, event.to_status, event.actor) == (
        "not_submitted",
        "submitted",
        user,
    )
    with pytest.raises(ApplicationError) as exc:
        fill_profile(user)
    assert exc.value.code == "kyc_locked"
    with pytest.raises(ApplicationError):
        upload(user, "selfie")
    with pytest.raises(ApplicationError) as exc:
        services.kyc_submit(user=user, today=TODAY)
    assert exc.value.code == "kyc_locked"


def test_only_one_open_case_per_profile_in_the_database():
    case = submitted_case()
    with pytest.raises(IntegrityError):
        KycCase.objects.create(
            profile=case.profile, number=2, legal_name="x", country="IN"
        )


def test_draft_documents_can_be_deleted_submitted_ones_cannot():
    user = make_user()
    fill_profile(user)
    draft = upload(user, "selfie")
    services.kyc_document_delete(user=user, document_id=draft.pk)
    assert not KycProfile.objects.get(user=user).documents.exists()
    case = submitted_case(user)
    doc = case.documents.first()
    with pytest.raises(ApplicationError) as exc:
        services.kyc_document_delete(user=user, document_id=doc.pk)
    assert exc.value.code == "document_locked"


# --- Review -----------------------------------------------------------------------


def test_claim_is_exclusive_and_required_before_deciding():
    case = submitted_case()
    rita, rob = make_reviewer(), make_reviewer()
    doc = case.documents.first()
    with pytest.raises(ApplicationError) as exc:
        services.kyc_document_decide(
            case_id=case.pk, document_id=doc.pk, reviewer=rita, accept=True
        )
    assert exc.value.code == "not_claimed"
    services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    with pytest.raises(ApplicationError) as exc:
        services.kyc_case_claim(case_id=case.pk, reviewer=rob)
    assert exc.value.code == "already_claimed"
    case.refresh_from_db()
    assert case.status == KycStatus.IN_REVIEW
    assert case.claimed_by == rita
    services.kyc_case_release(case_id=case.pk, reviewer=rita)
    services.kyc_case_claim(case_id=case.pk, reviewer=rob)


def test_a_reviewer_never_reviews_their_own_case():
    rita = make_reviewer()
    case = submitted_case(rita)
    with pytest.raises(ApplicationError) as exc:
        services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    assert exc.value.code == "own_case"
    assert http_status(exc.value) == 403


def test_traders_are_not_reviewers():
    case = submitted_case()
    with pytest.raises(ApplicationError) as exc:
        services.kyc_case_claim(case_id=case.pk, reviewer=make_user())
    assert exc.value.code == "not_a_reviewer"


def test_approval_needs_every_document_accepted_then_verifies_and_emails(
    django_capture_on_commit_callbacks,
):
    user = make_user(email="asha@example.com")
    case = submitted_case(user)
    rita = make_reviewer()
    services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    with pytest.raises(ApplicationError) as exc:
        services.kyc_case_approve(case_id=case.pk, reviewer=rita)
    assert exc.value.code == "documents_undecided"
    assert not kyc_is_verified(user=user)
    with pytest.raises(ApplicationError) as exc:
        kyc_require_verified(user=user)
    assert (exc.value.code, http_status(exc.value)) == ("kyc_required", 403)

    mail.outbox.clear()
    for doc in case.documents.all():
        services.kyc_document_decide(
            case_id=case.pk, document_id=doc.pk, reviewer=rita, accept=True
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.kyc_case_approve(
            case_id=case.pk, reviewer=rita, internal_note="secret"
        )
    case.refresh_from_db()
    assert case.status == KycStatus.APPROVED
    assert case.decided_by == rita
    assert case.claimed_by is None
    assert kyc_is_verified(user=user)
    kyc_require_verified(user=user)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["asha@example.com"]
    assert "approved" in mail.outbox[0].body
    assert "secret" not in mail.outbox[0].body
    assert AuditEvent.objects.filter(
        code=AuditCode.KYC_APPROVED, user=user, acting_user=rita
    ).exists()


def test_suspended_users_are_not_verified():
    user = make_user()
    approve(submitted_case(user), make_reviewer())
    user.status = user.Status.SUSPENDED
    assert not kyc_is_verified(user=user)


def test_reject_needs_known_reasons_and_is_final(django_capture_on_commit_callbacks):
    user = make_user()
    case = submitted_case(user)
    rita = make_reviewer()
    services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    with pytest.raises(ApplicationError):
        services.kyc_case_reject(case_id=case.pk, reviewer=rita, reason_codes=[])
    with pytest.raises(ApplicationError) as exc:
        services.kyc_case_reject(case_id=case.pk, reviewer=rita, reason_codes=["other"])
    assert exc.value.code == "reason_required"
    with django_capture_on_commit_callbacks(execute=True):
        services.kyc_case_reject(
            case_id=case.pk,
            reviewer=rita,
            reason_codes=["suspected_fraud"],
            internal_note="same selfie as account 77",
        )
    assert KycProfile.objects.get(user=user).status == KycStatus.REJECTED
    body = mail.outbox[-1].body
    assert "Suspected fraud" in body
    assert "account 77" not in body
    with pytest.raises(ApplicationError):
        services.kyc_submit(user=user, today=TODAY)


def test_resubmission_names_documents_and_keeps_the_accepted_ones(
    django_capture_on_commit_callbacks,
):
    user = make_user()
    case = submitted_case(user)
    rita = make_reviewer()
    services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    docs = {doc.doc_type: doc for doc in case.documents.all()}
    services.kyc_document_decide(
        case_id=case.pk, document_id=docs["pan_card"].pk, reviewer=rita, accept=True
    )
    services.kyc_document_decide(
        case_id=case.pk,
        document_id=docs["proof_of_address"].pk,
        reviewer=rita,
        accept=False,
        reason_code="expired",
        internal_note="bill from 2019",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.kyc_case_request_resubmission(
            case_id=case.pk, reviewer=rita, document_types=["selfie"]
        )
    profile = KycProfile.objects.get(user=user)
    assert profile.status == KycStatus.RESUBMISSION_REQUESTED
    case.refresh_from_db()
    assert case.requested_documents == ["proof_of_address", "selfie"]
    docs["selfie"].refresh_from_db()
    assert docs["selfie"].status == DocumentStatus.SUPERSEDED
    assert "Proof of address: Expired" in mail.outbox[-1].body
    assert "2019" not in mail.outbox[-1].body

    needs = kyc_requirements(profile=profile)
    assert needs.resend == ["proof_of_address", "selfie"]
    upload(user, "selfie")
    upload(user, "proof_of_address")
    assert kyc_requirements(profile=profile).complete
    second = services.kyc_submit(user=user, today=TODAY)
    assert second.number == 2
    assert sorted(second.documents.values_list("doc_type", "status")) == [
        ("pan_card", "accepted"),
        ("proof_of_address", "pending"),
        ("selfie", "pending"),
    ]
    approve(second, make_reviewer())
    assert kyc_is_verified(user=user)


def test_four_eyes_for_high_risk_countries(settings):
    settings.KYC_HIGH_RISK_COUNTRIES = ["IR"]
    user = make_user()
    case = submitted_case(user, country="IR")
    assert case.needs_second_approval
    rita, rob = make_reviewer(), make_reviewer()
    approve(case, rita)
    case.refresh_from_db()
    assert case.status == KycStatus.SUBMITTED
    assert case.first_approved_by == rita
    assert not kyc_is_verified(user=user)
    with pytest.raises(ApplicationError) as exc:
        services.kyc_case_claim(case_id=case.pk, reviewer=rita)
    assert exc.value.code == "second_approver_required"
    services.kyc_case_claim(case_id=case.pk, reviewer=rob)
    services.kyc_case_approve(case_id=case.pk, reviewer=rob)
    case.refresh_from_db()
    assert (case.status, case.decided_by) == (KycStatus.APPROVED, rob)
    assert kyc_is_verified(user=user)
    actions = list(case.events.values_list("action", flat=True))
    assert actions.count("first_approval") == 1
    assert actions[-1] == "approved"


def test_status_events_are_append_only():
    case = submitted_case()
    event = case.events.get()
    event.internal_note = "rewritten"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    with pytest.raises(ValueError):
        KycStatusEvent.objects.all().delete()
    with pytest.raises(ValueError):
        KycStatusEvent.objects.update(internal_note="x")


def test_invalid_transitions_are_refused():
    user = make_user()
    case = submitted_case(user)
    approve(case, make_reviewer())
    with pytest.raises(ApplicationError) as exc:
        services.kyc_case_claim(case_id=case.pk, reviewer=make_reviewer())
    assert exc.value.code == "invalid_transition"


def test_upload_count_is_capped(settings):
    settings.KYC_MAX_DRAFT_DOCUMENTS = 2
    user = make_user()
    upload(user, "selfie")
    upload(user, "selfie")
    with pytest.raises(ApplicationError) as exc:
        upload(user, "selfie")
    assert exc.value.code == "too_many_documents"


def test_system_check_refuses_a_missing_or_bad_key(settings):
    from kyc.checks import kyc_encryption_key_check

    assert kyc_encryption_key_check(None) == []
    settings.KYC_ENCRYPTION_KEY = ""
    assert [e.id for e in kyc_encryption_key_check(None)] == ["kyc.E001"]
    settings.KYC_ENCRYPTION_KEY = "not-a-fernet-key"
    assert [e.id for e in kyc_encryption_key_check(None)] == ["kyc.E001"]


def test_key_rotation_keeps_old_numbers_readable(settings):
    from cryptography.fernet import Fernet

    profile = fill_profile(make_user())
    old_key = settings.KYC_ENCRYPTION_KEY
    settings.KYC_ENCRYPTION_KEY = Fernet.generate_key().decode()
    settings.KYC_ENCRYPTION_OLD_KEYS = [old_key]
    assert crypto.decrypt(profile.id_number_encrypted) == PAN


def test_private_storage_must_not_be_public(settings):
    from kyc.checks import kyc_private_storage_check

    assert kyc_private_storage_check(None) == []
    settings.STORAGES = {
        **settings.STORAGES,
        "kyc": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(settings.STATIC_ROOT) + "/kyc"},
        },
    }
    assert [e.id for e in kyc_private_storage_check(None)] == ["kyc.E003"]
