"""Recovery codes: issued with 2FA, shown once, single-use wherever a code is
accepted (API login, page login, the admin), regenerated with a current code."""

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuditCode, AuditEvent
from accounts.services.factors import RECOVERY_DEVICE_NAME, recovery_code_digest
from accounts.testing import PASSWORD, api_client_for, make_user
from accounts.tests.conftest import totp_code


@pytest.fixture
def enrolled(user):
    """A user who turned 2FA on through the service: (user, device, codes)."""
    services.totp_setup(user=user)
    device = TOTPDevice.objects.get(user=user)
    codes = services.totp_confirm(user=user, otp=totp_code(device))
    return user, device, codes


def _api_login(user, otp):
    return APIClient().post(
        "/api/v1/auth/login",
        {"email": user.email, "password": PASSWORD, "otp": otp},
        format="json",
    )


def test_turning_2fa_on_issues_ten_codes_stored_only_as_digests(enrolled):
    user, _, codes = enrolled
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(code) == 11 and code[5] == "-" for code in codes)
    stored = set(
        StaticToken.objects.filter(
            device__user=user, device__name=RECOVERY_DEVICE_NAME
        ).values_list("token", flat=True)
    )
    assert stored == {recovery_code_digest(code) for code in codes}
    assert not stored & set(codes)  # nothing in clear
    event = AuditEvent.objects.get(user=user, code=AuditCode.RECOVERY_CODES_GENERATED)
    assert event.extra == {"count": 10, "reason": "enabled"}


def test_each_recovery_code_logs_in_once_through_the_api(enrolled):
    user, _, codes = enrolled
    first = _api_login(user, codes[0])
    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    again = _api_login(user, codes[0])
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "otp_invalid"
    # typed loosely (upper case, spaces, no dash) it still matches, once
    loose = codes[1].replace("-", " ").upper()
    assert _api_login(user, loose).status_code == 200
    assert _api_login(user, codes[1]).status_code == 401
    used = AuditEvent.objects.filter(
        user=user, code=AuditCode.RECOVERY_CODE_USED
    ).order_by("id")
    assert [e.extra["remaining"] for e in used] == [9, 8]


def test_a_recovery_code_logs_in_once_on_the_pages(enrolled):
    user, _, codes = enrolled
    client = Client()
    client.post("/login/", {"email": user.email, "password": PASSWORD})
    done = client.post("/login/otp/", {"otp": codes[2]})
    assert done.status_code == 302
    assert client.get("/account/security/").status_code == 200
    other = Client()
    other.post("/login/", {"email": user.email, "password": PASSWORD})
    refused = other.post("/login/otp/", {"otp": codes[2]})
    assert refused.status_code == 401
    assert "Invalid code." in refused.content.decode()


def test_a_recovery_code_works_for_the_admin_once(db):
    staff = make_user(email="ops@example.com", is_staff=True)
    services.totp_setup(user=staff)
    device = TOTPDevice.objects.get(user=staff)
    codes = services.totp_confirm(user=staff, otp=totp_code(device))
    form = {"username": staff.email, "password": PASSWORD, "otp_token": codes[0]}
    client = Client()
    assert client.post("/admin/login/?next=/admin/", form).status_code == 302
    assert client.get("/admin/").status_code == 200
    again = Client().post("/admin/login/?next=/admin/", form)
    assert again.status_code == 200
    assert "already used" in again.content.decode()


def test_regenerating_needs_a_current_code_and_voids_the_old_codes(enrolled):
    user, device, codes = enrolled
    client = api_client_for(user)
    wrong = client.post(
        "/api/v1/auth/2fa/recovery-codes", {"otp": "000000"}, format="json"
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "otp_invalid"
    fresh = client.post(
        "/api/v1/auth/2fa/recovery-codes",
        {"otp": totp_code(device, offset_steps=1)},
        format="json",
    )
    assert fresh.status_code == 200
    new_codes = fresh.json()["recovery_codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    assert client.get("/api/v1/auth/2fa/recovery-codes").json() == {"remaining": 10}
    assert _api_login(user, codes[3]).status_code == 401  # old: void
    assert _api_login(user, new_codes[0]).status_code == 200
    assert client.get("/api/v1/auth/2fa/recovery-codes").json() == {"remaining": 9}
    events = AuditEvent.objects.filter(
        user=user, code=AuditCode.RECOVERY_CODES_GENERATED
    ).order_by("id")
    assert [e.extra["reason"] for e in events] == ["enabled", "regenerated"]


def test_regenerating_without_2fa_is_refused(user):
    response = api_client_for(user).post(
        "/api/v1/auth/2fa/recovery-codes", {"otp": "abcde-fghij"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "two_factor_not_enabled"


def test_the_pages_show_new_codes_once_with_a_text_download(enrolled):
    user, device, codes = enrolled
    client = Client()
    client.force_login(user)
    page = client.get("/account/security/factors/")
    assert page.status_code == 200
    assert "10 unused recovery codes left." in page.content.decode()
    made = client.post(
        "/account/security/factors/",
        {"action": "recovery-regenerate", "otp": codes[0]},  # a recovery code works
    )
    assert made.status_code == 200
    assert made["Cache-Control"] == "no-store"
    html = made.content.decode()
    new_codes = made.context["codes"]
    assert all(code in html for code in new_codes)
    assert 'download="recovery-codes.txt"' in html
    assert "data:text/plain;charset=utf-8," in html
    # shown once: the page itself never lists them again
    later = client.get("/account/security/factors/").content.decode()
    assert not any(code in later for code in new_codes)
    assert "10 unused recovery codes left." in later


def test_turning_2fa_off_removes_the_recovery_codes(enrolled):
    user, device, codes = enrolled
    services.totp_disable(user=user, password=PASSWORD, otp=codes[0])
    assert not StaticDevice.objects.filter(user=user).exists()
    assert _api_login(user, codes[1]).status_code == 200  # one step again
    event = AuditEvent.objects.get(user=user, code=AuditCode.TWO_FACTOR_DISABLED)
    assert event.extra == {"removed": ["recovery_codes"]}
