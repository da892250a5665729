"""Profile, 2FA provisioning and security events through the API."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import AuditCode, AuditEvent, User
from accounts.testing import PASSWORD, api_client_for, make_user
from accounts.tests.conftest import totp_code

pytestmark = pytest.mark.django_db


def test_me_requires_authentication():
    response = APIClient().get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_patch_me_changes_name_and_phone_only(user):
    client = api_client_for(user)
    response = client.patch(
        "/api/v1/me",
        {"full_name": "Tina T. Trader", "phone": "+1 555 0100"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "Tina T. Trader"
    user.refresh_from_db()
    assert (user.full_name, user.phone) == ("Tina T. Trader", "+1 555 0100")
    event = AuditEvent.objects.get(code=AuditCode.PROFILE_UPDATED)
    assert event.extra["changes"]["full_name"] == ["Tina Trader", "Tina T. Trader"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("status", "active"),
        ("is_staff", True),
        ("is_superuser", True),
        ("token_version", 0),
        ("groups", [1]),
    ],
)
def test_patch_me_refuses_forbidden_fields(user, field, value):
    client = api_client_for(user)
    response = client.patch(
        "/api/v1/me", {field: value, "full_name": "X"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        field: ["This field cannot be changed here."]
    }
    user.refresh_from_db()
    assert user.full_name == "Tina Trader"
    assert user.email == "trader@example.com"
    assert not user.is_staff


def test_two_factor_setup_confirm_disable(user):
    client = api_client_for(user)
    setup = client.post("/api/v1/auth/2fa/setup")
    assert setup.status_code == 200
    body = setup.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg")
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed is False

    wrong = client.post("/api/v1/auth/2fa/confirm", {"otp": "12345"}, format="json")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "otp_invalid"

    ok = client.post(
        "/api/v1/auth/2fa/confirm", {"otp": totp_code(device)}, format="json"
    )
    assert ok.status_code == 200
    assert len(ok.json()["recovery_codes"]) == 10
    assert client.get("/api/v1/me").json()["two_factor_enabled"] is True
    again = client.post("/api/v1/auth/2fa/setup")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "two_factor_already_enabled"

    device.refresh_from_db()
    bad_password = client.post(
        "/api/v1/auth/2fa/disable",
        {"password": "wrong-password", "otp": totp_code(device, offset_steps=1)},
        format="json",
    )
    assert bad_password.status_code == 400
    disabled = client.post(
        "/api/v1/auth/2fa/disable",
        {"password": PASSWORD, "otp": totp_code(device, offset_steps=1)},
        format="json",
    )
    assert disabled.status_code == 204
    assert not TOTPDevice.objects.filter(user=user).exists()
    # the recovery codes went with the authenticator: login is one step again
    assert client.get("/api/v1/me").json()["two_factor_enabled"] is False
    codes = list(
        AuditEvent.objects.filter(user=user, code__in=[106, 107]).values_list(
            "code", flat=True
        )
    )
    assert sorted(codes) == [
        AuditCode.TWO_FACTOR_ENABLED,
        AuditCode.TWO_FACTOR_DISABLED,
    ]


def test_disable_with_replayed_code_is_refused(user_with_2fa):
    user, device = user_with_2fa
    client = api_client_for(user)
    code = totp_code(device)
    login = APIClient().post(
        "/api/v1/auth/login",
        {"email": user.email, "password": PASSWORD, "otp": code},
        format="json",
    )
    assert login.status_code == 200
    response = client.post(
        "/api/v1/auth/2fa/disable", {"password": PASSWORD, "otp": code}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "otp_invalid"
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def test_confirm_without_setup_is_400(user):
    response = api_client_for(user).post(
        "/api/v1/auth/2fa/confirm", {"otp": "123456"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "two_factor_setup_missing"


def test_security_events_are_the_users_own_and_paginated(user):
    other = make_user(email="other@example.com")
    for _ in range(3):
        APIClient().post(
            "/api/v1/auth/login",
            {"email": user.email, "password": "wrong-one-1"},
            format="json",
        )
    APIClient().post(
        "/api/v1/auth/login",
        {"email": other.email, "password": "wrong-one-1"},
        format="json",
    )
    client = api_client_for(user)
    page = client.get("/api/v1/me/security-events?limit=2").json()
    assert [event["code"] for event in page["results"]] == [102, 102]
    assert page["next"]
    rest = client.get(page["next"]).json()
    assert [event["code"] for event in rest["results"]] == [102, 100]
    assert rest["next"] is None
    ids = {e["id"] for e in page["results"] + rest["results"]}
    assert not ids & set(
        AuditEvent.objects.filter(user=other).values_list("id", flat=True)
    )


def test_audit_events_cannot_be_edited_or_deleted(user):
    event = AuditEvent.objects.get(user=user)
    event.extra = {"tampered": True}
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_user_model_email_is_unique_case_insensitively_in_the_database(user):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="TRADER@example.com", full_name="dup")
