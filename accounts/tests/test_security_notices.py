"""Every change to the ways into an account, and every staff action on it,
records a `SecurityNotice` for its owner (notifications deliver it). Detail
values are short display strings: never a password, a secret or a code."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts import services
from accounts.events import SecurityNotice
from accounts.roles import Role
from accounts.services import factors
from accounts.testing import PASSWORD, make_user
from accounts.tests.conftest import totp_code
from config.domain_errors import ApplicationError
from config.tests.recording import recorded
from kyc.testing import make_verified_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a new and long passphrase 42"


def _notices(seen) -> list[tuple[int, str, dict]]:
    return [(n.user_id, n.kind, dict(n.detail)) for n in seen]


def _secrets_absent(seen, *secrets: str) -> None:
    text = repr(seen)
    for secret in secrets:
        assert secret not in text


def test_password_change(user):
    with recorded(SecurityNotice) as seen:
        services.password_change(
            user=user,
            old_password=PASSWORD,
            new_password=NEW_PASSWORD,
            meta=services.RequestMeta(ip_address="198.51.100.4", user_agent="UA"),
        )
    assert seen == [
        SecurityNotice(
            user_id=user.pk,
            kind="password_changed",
            ip_address="198.51.100.4",
            user_agent="UA",
        )
    ]
    _secrets_absent(seen, PASSWORD, NEW_PASSWORD)


def test_a_wrong_old_password_records_nothing(user):
    with recorded(SecurityNotice) as seen, pytest.raises(ApplicationError):
        services.password_change(
            user=user, old_password="wrong", new_password=NEW_PASSWORD
        )
    assert seen == []


def test_second_factors_added_removed_and_codes_regenerated(user):
    with recorded(SecurityNotice) as seen:
        services.totp_setup(user=user)
        device = TOTPDevice.objects.get(user=user)
        codes = services.totp_confirm(user=user, otp=totp_code(device))
        factors.recovery_codes_regenerate(user=user, otp=codes[0])
        passkey = WebAuthnCredential.objects.create(
            user=user, name="Laptop", credential_id=b"laptop", public_key=b"key"
        )
        factors.passkey_added_record(user=user, passkey=passkey)
        new_codes = list(factors.recovery_codes_issue(user=user, reason="test"))
        factors.passkey_remove(user=user, passkey_id=passkey.pk, otp=new_codes[0])
        services.totp_disable(user=user, password=PASSWORD, otp=new_codes[1])
    assert _notices(seen) == [
        (user.pk, "second_factor_added", {"factor": "Authenticator app"}),
        (user.pk, "backup_codes_regenerated", {}),
        (user.pk, "second_factor_added", {"factor": "Passkey", "name": "Laptop"}),
        (user.pk, "second_factor_removed", {"factor": "Passkey", "name": "Laptop"}),
        (user.pk, "second_factor_removed", {"factor": "Authenticator app"}),
    ]
    _secrets_absent(seen, *codes, *new_codes)


def test_the_users_own_phone_change(user):
    with recorded(SecurityNotice) as seen:
        services.user_profile_update(user=user, full_name="Tina T.")  # not a way in
        services.user_profile_update(user=user, phone="+44 20 7946 0000")
    assert _notices(seen) == [(user.pk, "phone_changed", {})]


def test_every_staff_action_on_the_account_tells_its_owner(user):
    operator = make_user(email="otto@example.com", roles=(Role.OPERATOR,))
    meta = services.RequestMeta(ip_address="10.0.0.9", user_agent="staff browser")
    with recorded(SecurityNotice) as seen:
        services.user_lock(user=user, staff=operator, reason="fraud check", meta=meta)
        services.user_unlock(user=user, staff=operator, reason="cleared", meta=meta)
        services.user_sessions_end(user=user, staff=operator, reason="phone stolen")
        services.user_profile_update_by_staff(
            user=user,
            staff=operator,
            reason="customer asked",
            full_name="Tina Trader-Smith",
            phone="+44 20 7946 0001",
            email="tina.new@example.com",
        )
    assert _notices(seen) == [
        (user.pk, "staff_action", {"action": "Account locked by support"}),
        (user.pk, "staff_action", {"action": "Account unlocked by support"}),
        (user.pk, "staff_action", {"action": "Every sign-in ended by support"}),
        (
            user.pk,
            "staff_action",
            {
                "action": "Profile changed by support: name, phone number, "
                "email (once the new address is confirmed)"
            },
        ),
    ]
    # the staff member's address and browser are not the user's business
    assert {(n.ip_address, n.user_agent) for n in seen} == {(None, "")}


def test_a_second_factor_reset_started_by_support_is_told():
    make_user(email="reviewer@example.com", roles=(Role.KYC_REVIEWER,))
    support = make_user(email="support@example.com", roles=(Role.SUPPORT,))
    user = make_verified_user(email="lost@example.com")
    services.totp_setup(user=user)
    services.totp_confirm(user=user, otp=totp_code(TOTPDevice.objects.get(user=user)))
    with recorded(SecurityNotice) as seen:
        services.user_second_factor_reset_start(
            user=user, staff=support, reason="lost phone"
        )
    assert _notices(seen) == [
        (user.pk, "staff_action", {"action": "Second-factor reset started by support"})
    ]


def test_an_unknown_kind_is_a_bug(user):
    with pytest.raises(ValueError):
        services.security_notice_record(user=user, kind="sneaky")
