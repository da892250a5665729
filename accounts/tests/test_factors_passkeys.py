"""Passkeys outside the browser: who may start a ceremony, and listing, renaming
and removing them (pages and API). The ceremonies themselves run in Chromium
(test_factors_browser.py)."""

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp_webauthn.models import WebAuthnCredential

from accounts import services
from accounts.models import AuditCode, AuditEvent
from accounts.testing import PASSWORD, api_client_for, make_user
from accounts.tests.conftest import totp_code


@pytest.fixture
def with_passkey(user_with_2fa):
    user, device = user_with_2fa
    passkey = WebAuthnCredential.objects.create(
        user=user, name="Laptop", credential_id=b"laptop", public_key=b"key"
    )
    return user, device, passkey


def _verified_client(user, device) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def test_registering_needs_the_authenticator_on(user):
    client = Client()
    client.force_login(user)
    response = client.post("/account/passkeys/register/begin/")
    assert response.status_code == 409
    assert response.json()["code"] == "two_factor_not_enabled"


def test_registering_needs_a_session_verified_with_a_factor(user_with_2fa):
    user, device = user_with_2fa
    unverified = Client()
    unverified.force_login(user)
    refused = unverified.post("/account/passkeys/register/begin/")
    assert refused.status_code == 403
    options = _verified_client(user, device).post("/account/passkeys/register/begin/")
    assert options.status_code == 200
    body = options.json()
    assert body["rp"]["id"] == "localhost"
    assert body["user"]["name"] == user.email


def test_the_passkey_step_is_only_for_the_user_past_the_password(with_passkey):
    user, _, passkey = with_passkey
    # nobody at the second step: no passwordless login
    assert Client().post("/login/passkey/begin/").status_code == 403
    client = Client()
    client.post("/login/", {"email": user.email, "password": PASSWORD})
    page = client.get("/login/otp/")
    assert "passkey-verification-button" in page.content.decode()
    options = client.post("/login/passkey/begin/")
    assert options.status_code == 200
    allowed = options.json()["allowCredentials"]
    assert len(allowed) == 1  # this user's passkey only


def test_removing_a_passkey_takes_a_current_code(with_passkey):
    user, device, passkey = with_passkey
    client = api_client_for(user)
    listed = client.get("/api/v1/me/passkeys").json()
    assert [(p["id"], p["name"]) for p in listed] == [(passkey.pk, "Laptop")]
    wrong = client.post(
        f"/api/v1/me/passkeys/{passkey.pk}/remove", {"otp": "000000"}, format="json"
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "otp_invalid"
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    removed = client.post(
        f"/api/v1/me/passkeys/{passkey.pk}/remove",
        {"otp": totp_code(device)},
        format="json",
    )
    assert removed.status_code == 204
    assert not WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    event = AuditEvent.objects.get(user=user, code=AuditCode.PASSKEY_REMOVED)
    assert event.extra == {"passkey_id": passkey.pk, "name": "Laptop"}
    assert client.get("/api/v1/me/passkeys").json() == []


def test_renaming_a_passkey_through_the_api_and_the_page(with_passkey):
    user, device, passkey = with_passkey
    renamed = api_client_for(user).patch(
        f"/api/v1/me/passkeys/{passkey.pk}", {"name": "  Work  key "}, format="json"
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Work key"
    client = _verified_client(user, device)
    response = client.post(
        "/account/security/factors/",
        {"action": "passkey-rename", "passkey": passkey.pk, "name": "Yubikey"},
    )
    assert response.status_code == 302
    passkey.refresh_from_db()
    assert passkey.name == "Yubikey"


def test_another_users_passkey_is_not_found(with_passkey):
    _, _, passkey = with_passkey
    other = make_user(email="other@example.com")
    response = api_client_for(other).patch(
        f"/api/v1/me/passkeys/{passkey.pk}", {"name": "Mine"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "passkey_not_found"


def test_removing_on_the_page_with_a_wrong_code_shows_the_error(with_passkey):
    user, device, passkey = with_passkey
    client = _verified_client(user, device)
    response = client.post(
        "/account/security/factors/",
        {"action": "passkey-remove", "passkey": passkey.pk, "otp": "000000"},
    )
    assert response.status_code == 400
    assert "Invalid code." in response.content.decode()
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    done = client.post(
        "/account/security/factors/",
        {"action": "passkey-remove", "passkey": passkey.pk, "otp": totp_code(device)},
    )
    assert done.status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=passkey.pk).exists()


def test_turning_2fa_off_removes_the_passkeys(with_passkey):
    user, device, passkey = with_passkey
    services.totp_disable(user=user, password=PASSWORD, otp=totp_code(device))
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(user=user, code=AuditCode.TWO_FACTOR_DISABLED)
    assert event.extra == {"removed": ["passkey:Laptop"]}
