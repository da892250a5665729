"""The API keys section of the security pages, and where keys do not work: the
pages and the admin (only DRF authenticates a signature)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditCode, AuditEvent
from accounts.testing import admin_client_for, make_user
from apikeys import crypto
from apikeys.models import ApiKey
from apikeys.tests.conftest import SignedClient, backup_code, make_key

PAGE = "/account/api-keys/"


@pytest.fixture
def browser(owner):
    client = Client()
    client.force_login(owner, backend="accounts.backends.EmailBackend")
    return client


def test_the_security_page_links_to_the_keys(browser):
    page = browser.get(reverse("accounts:security")).content.decode()
    assert f'href="{PAGE}"' in page


def test_create_an_hmac_key_see_the_secret_once_then_revoke_it(browser, owner):
    backup_code(owner)
    assert "Create key" in browser.get(PAGE).content.decode()
    # create
    response = browser.post(
        PAGE,
        {
            "action": "create",
            "label": "my bot",
            "kind": "hmac",
            "scopes": ["trade"],
            "ip_allowlist": "127.0.0.1\n10.0.0.0/8",
            "otp": backup_code(owner),
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    key = ApiKey.objects.get(user=owner)
    secret = crypto.secret_decrypt(key.secret_encrypted)
    assert secret in page
    assert "we show it this once" in page
    assert (key.label, key.scopes, key.ip_allowlist) == (
        "my bot",
        ["read", "trade"],
        ["127.0.0.1", "10.0.0.0/8"],
    )
    # the key works, and the page never shows the secret again
    assert SignedClient(key, secret).get("/api/v1/me").status_code == 200
    again = browser.get(PAGE).content.decode()
    assert secret not in again
    assert key.key_id in again
    # revoke
    response = browser.post(PAGE, {"action": "revoke", "key_id": key.key_id})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(
        code=AuditCode.API_KEY_REVOKED, user=owner
    ).exists()
    listed = browser.get(PAGE).content.decode()
    assert re.search(rf'data-key="{key.key_id}".*?revoked', listed, re.S)


def test_a_wrong_code_keeps_the_form_with_its_error(browser, owner):
    backup_code(owner)
    response = browser.post(
        PAGE, {"action": "create", "kind": "hmac", "otp": "bk00000000"}
    )
    assert response.status_code == 403
    assert "That code is wrong, expired or already used." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_withdraw_without_addresses_is_refused_on_the_form(browser, owner):
    response = browser.post(
        PAGE,
        {
            "action": "create",
            "kind": "hmac",
            "scopes": ["withdraw"],
            "otp": backup_code(owner),
        },
    )
    assert response.status_code == 400
    assert "must be limited to some addresses" in response.content.decode()


def test_change_a_key(browser, owner):
    key, _ = make_key(owner, label="before")
    form = browser.get(PAGE, {"edit": key.key_id}).content.decode()
    assert f'data-editing="{key.key_id}"' in form
    assert 'value="before"' in form
    response = browser.post(
        PAGE,
        {
            "action": "update",
            "key_id": key.key_id,
            "label": "after",
            "ip_allowlist": "192.0.2.9",
            "otp": backup_code(owner),
        },
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.label, key.ip_allowlist) == ("after", ["192.0.2.9"])


def test_without_a_second_factor_the_page_says_so(db):
    user = make_user(email="no2fa@example.com")
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    page = client.get(PAGE).content.decode()
    assert "Turn on two-factor login" in page
    assert "Create key" not in page


def test_another_users_key_cannot_be_revoked_from_the_page(browser):
    other = make_user(email="someone@example.com")
    key, _ = make_key(other)
    response = browser.post(PAGE, {"action": "revoke", "key_id": key.key_id})
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


# --- keys do not open pages or the admin ----------------------------------------------


def test_a_signed_request_does_not_open_a_page(signed):
    for path in (PAGE, reverse("accounts:security"), "/wallet/"):
        meta = signed.headers("GET", path)
        response = signed.client.get(path, **meta)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("accounts:login"))


def test_a_signed_request_does_not_open_the_admin(db):
    staff = make_user(email="root@example.com", is_superuser=True)
    key, secret = make_key(staff)
    client = SignedClient(key, secret)
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- the back office ---------------------------------------------------------


def test_staff_revoke_a_key_with_a_reason(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    staff = make_user(email="boss@example.com", is_superuser=True)
    key, secret = make_key(owner)
    admin = admin_client_for(staff)
    changelist = reverse("admin:apikeys_apikey_changelist")
    assert key.key_id in admin.get(changelist).content.decode()
    assert (
        secret
        not in admin.get(
            reverse("admin:apikeys_apikey_change", args=[key.pk])
        ).content.decode()
    )
    # no reason: refused
    admin.post(
        changelist,
        {"action": "revoke_selected", "_selected_action": [key.pk], "reason": ""},
    )
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            changelist,
            {
                "action": "revoke_selected",
                "_selected_action": [key.pk],
                "reason": "secret posted on a forum",
            },
        )
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    event = AuditEvent.objects.get(code=AuditCode.STAFF_API_KEY_REVOKED)
    assert (event.user, event.acting_user) == (owner, staff)
    assert event.extra == {"key_id": key.key_id, "reason": "secret posted on a forum"}
    assert any(
        owner.email in m.to and "Action: Revoked by our staff" in m.body
        for m in mailoutbox
    )
    assert SignedClient(key, secret).get("/api/v1/me").status_code == 401


def test_staff_without_the_permission_cannot_revoke(owner):
    from apikeys.services import api_key_revoke_by_staff
    from config.domain_errors import Forbidden

    staff = make_user(email="helper@example.com", is_staff=True)
    key, _ = make_key(owner)
    with pytest.raises(Forbidden):
        api_key_revoke_by_staff(key=key, staff=staff, reason="why not")
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
