"""The support-started second-factor reset: support opens a KYC re-check (912);
only a reviewer's approval removes the factors (908), ends sessions and tokens,
puts withdrawals on the cool-off and emails the user (through a real SMTP
server)."""

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts import services
from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.selectors import user_has_two_factor, user_withdrawal_cooloff_until
from accounts.testing import PASSWORD, admin_client_for, api_client_for, make_user
from accounts.tests.conftest import totp_code
from config.errors import ApplicationError
from kyc import services as kyc_services
from kyc.models import CasePurpose, KycCase, KycProfile, KycStatus
from kyc.testing import make_verified_user


@pytest.fixture
def support(db):
    return make_user(email="support@example.com", roles=(Role.SUPPORT,))


@pytest.fixture
def reviewer(db):
    return make_user(email="reviewer@example.com", roles=(Role.KYC_REVIEWER,))


@pytest.fixture
def locked_out(db, reviewer):
    """A verified user with an authenticator, recovery codes and a passkey, who
    lost them all; signed in through the API."""
    user = make_verified_user(email="lost@example.com", full_name="Lou Lost")
    services.totp_setup(user=user)
    device = TOTPDevice.objects.get(user=user)
    services.totp_confirm(user=user, otp=totp_code(device))
    WebAuthnCredential.objects.create(
        user=user, name="Phone", credential_id=b"cred", public_key=b"key"
    )
    return user


def _start(support, user):
    response = admin_client_for(support).post(
        f"/admin/accounts/user/{user.pk}/reset-second-factor/",
        {"reason": "lost phone and codes, ticket 4711"},
    )
    assert response.status_code == 302
    return KycCase.objects.get(
        profile__user=user, purpose=CasePurpose.SECOND_FACTOR_RESET
    )


def test_support_starts_a_kyc_recheck_and_nothing_is_removed_yet(support, locked_out):
    user = locked_out
    case = _start(support, user)
    assert case.status == KycStatus.SUBMITTED
    assert set(case.documents.values_list("doc_type", flat=True)) == {
        "pan_card",
        "proof_of_address",
        "selfie",
    }
    # the profile stays verified while the re-check waits
    assert KycProfile.objects.get(user=user).status == KycStatus.APPROVED
    assert user_has_two_factor(user=user)
    assert WebAuthnCredential.objects.filter(user=user).exists()
    assert user_withdrawal_cooloff_until(user=user) is None
    started = AuditEvent.objects.get(code=AuditCode.STAFF_SECOND_FACTOR_RESET_STARTED)
    assert (started.user, started.acting_user) == (user, support)
    assert started.target_id == str(case.pk)
    assert started.extra == {
        "reason": "lost phone and codes, ticket 4711",
        "kyc_case": case.pk,
    }
    assert not AuditEvent.objects.filter(
        code=AuditCode.STAFF_SECOND_FACTOR_RESET
    ).exists()
    # a second start while one waits is refused
    with pytest.raises(ApplicationError) as exc:
        services.user_second_factor_reset_start(
            user=user, staff=support, reason="again"
        )
    assert exc.value.code == "second_factor_reset_open"


def test_the_reviewers_approval_removes_every_factor_and_starts_the_cooloff(
    support, reviewer, locked_out, smtp_server, django_capture_on_commit_callbacks
):
    user = locked_out
    access = api_client_for(user)
    assert access.get("/api/v1/me").status_code == 200
    case = _start(support, user)
    kyc_services.kyc_case_claim(case_id=case.pk, reviewer=reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        kyc_services.kyc_case_approve(case_id=case.pk, reviewer=reviewer)

    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert access.get("/api/v1/me").status_code == 401  # tokens ended
    assert user_withdrawal_cooloff_until(user=user) is not None
    assert KycProfile.objects.get(user=user).status == KycStatus.APPROVED
    reset = AuditEvent.objects.get(code=AuditCode.STAFF_SECOND_FACTOR_RESET)
    assert (reset.user, reset.acting_user) == (user, reviewer)
    assert reset.extra == {
        "reason": "lost phone and codes, ticket 4711",
        "kyc_case": case.pk,
        "started_by": support.pk,
        "devices": [
            "totpdevice:Authenticator",
            "staticdevice:Recovery codes",
            "webauthncredential:Phone",
        ],
        "refresh_tokens": 1,
    }
    # the user signs in with the password alone and may set up 2FA again
    client = Client()
    assert (
        client.post("/login/", {"email": user.email, "password": PASSWORD})["Location"]
        == "/"
    )
    # one email, through a real SMTP server (not KYC's "you are verified")
    [mail] = smtp_server.to(user.email)
    assert mail["Subject"] == "Your second factor was reset"
    body = mail.get_content()
    assert body.startswith("Hello Lou Lost,")
    assert "Withdrawals are paused for 48 hours." in body


def test_the_reset_cannot_complete_without_the_recheck(
    support, reviewer, locked_out, smtp_server, django_capture_on_commit_callbacks
):
    user = locked_out
    case = _start(support, user)
    # waiting, then claimed: nothing happens until the approval
    kyc_services.kyc_case_claim(case_id=case.pk, reviewer=reviewer)
    assert user_has_two_factor(user=user)
    # a rejection closes the re-check and keeps the factors
    with django_capture_on_commit_callbacks(execute=True):
        kyc_services.kyc_case_reject(
            case_id=case.pk,
            reviewer=reviewer,
            reason_codes=["profile_mismatch"],
        )
    [mail] = smtp_server.to(user.email)
    assert mail["Subject"] == "Your second-factor reset was not completed"
    assert user_has_two_factor(user=user)
    assert WebAuthnCredential.objects.filter(user=user).exists()
    assert user_withdrawal_cooloff_until(user=user) is None
    assert KycProfile.objects.get(user=user).status == KycStatus.APPROVED
    assert not AuditEvent.objects.filter(
        code=AuditCode.STAFF_SECOND_FACTOR_RESET
    ).exists()


def test_the_starter_may_not_approve_the_recheck(locked_out):
    both = make_user(email="both@example.com", roles=(Role.SUPPORT, Role.KYC_REVIEWER))
    user = locked_out
    services.user_second_factor_reset_start(user=user, staff=both, reason="lost phone")
    case = KycCase.objects.get(
        profile__user=user, purpose=CasePurpose.SECOND_FACTOR_RESET
    )
    kyc_services.kyc_case_claim(case_id=case.pk, reviewer=both)
    with pytest.raises(ApplicationError) as exc:
        kyc_services.kyc_case_approve(case_id=case.pk, reviewer=both)
    assert exc.value.code == "four_eyes_required"
    case.refresh_from_db()
    assert case.status == KycStatus.IN_REVIEW  # the approval rolled back
    assert user_has_two_factor(user=user)


def test_a_user_never_verified_cannot_be_reset_from_the_back_office(support):
    user = make_user(email="unverified@example.com")
    TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)
    with pytest.raises(ApplicationError) as exc:
        services.user_second_factor_reset_start(
            user=user, staff=support, reason="lost phone"
        )
    assert exc.value.code == "kyc_recheck_impossible"
    assert not KycCase.objects.filter(profile__user=user).exists()


def test_only_staff_with_the_permission_start_a_reset(locked_out):
    operator = make_user(email="op@example.com", roles=(Role.OPERATOR,))
    url = f"/admin/accounts/user/{locked_out.pk}/reset-second-factor/"
    assert admin_client_for(operator).post(url, {"reason": "x"}).status_code == 403
    assert not KycCase.objects.filter(purpose=CasePurpose.SECOND_FACTOR_RESET).exists()
