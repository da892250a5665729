"""Key management over the API (JWT): creation needs a fresh second factor, the
HMAC secret is shown once and kept encrypted, every change is audited and told
to the owner by email."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from accounts.models import AuditCode, AuditEvent
from accounts.testing import api_client_for, make_user
from apikeys import crypto
from apikeys.models import ApiKey
from apikeys.tests.conftest import SignedClient, backup_code, error_code, make_key

KEYS = "/api/v1/api-keys"


@pytest.fixture
def api(owner):
    return api_client_for(owner)


def create(api, owner, **body):
    body.setdefault("kind", "hmac")
    body.setdefault("otp", backup_code(owner))
    return api.post(KEYS, body, format="json")


def test_an_hmac_key_is_shown_once_and_kept_encrypted(api, owner):
    response = create(
        api, owner, label="grid bot", scopes=["trade"], ip_allowlist=["10.0.0.0/8"]
    )
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["secret"]
    assert len(secret) == 43 and "=" not in secret
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert body["key_id"].startswith("ak_") and len(body["key_id"]) == 27
    assert body["scopes"] == ["read", "trade"]
    assert body["ip_allowlist"] == ["10.0.0.0/8"]
    assert body["status"] == "active"
    key = ApiKey.objects.get(key_id=body["key_id"])
    assert secret not in key.secret_encrypted
    assert crypto.secret_decrypt(key.secret_encrypted) == secret
    listed = api.get(KEYS).json()
    assert [row["key_id"] for row in listed] == [key.key_id]
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"{KEYS}/{key.key_id}").json()


def test_an_ed25519_key_from_a_pem_public_key(api, owner):
    private = Ed25519PrivateKey.generate()
    pem = (
        private.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )
    response = create(api, owner, kind="ed25519", public_key=pem)
    assert response.status_code == 201, response.content
    assert response.json()["secret"] is None
    key = ApiKey.objects.get(key_id=response.json()["key_id"])
    assert len(bytes(key.public_key)) == 32
    assert key.secret_encrypted == ""
    assert SignedClient(key, private).get("/api/v1/me").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "rsa"}, "kind"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"scopes": ["withdraw"]}, "ip_allowlist"),
        ({"ip_allowlist": ["10.0.0.300"]}, "ip_allowlist"),
        ({"kind": "ed25519", "public_key": "c2hvcnQ="}, "public_key"),
        ({"kind": "ed25519"}, "public_key"),
        ({"public_key": base64.b64encode(b"k" * 32).decode()}, "public_key"),
        ({"label": "x" * 65}, "label"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, owner, body, field):
    response = create(api, owner, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
    assert not ApiKey.objects.exists()


def test_an_expiry_in_the_past_is_refused(api, owner):
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    response = create(api, owner, expires_at=past)
    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["details"]


def test_creation_needs_a_fresh_second_factor(api, owner):
    backup_code(owner)  # the user has a second factor
    missing = api.post(KEYS, {"kind": "hmac"}, format="json")
    assert missing.status_code == 403
    assert error_code(missing) == "otp_required"
    wrong = api.post(KEYS, {"kind": "hmac", "otp": "bk99999999"}, format="json")
    assert wrong.status_code == 403
    assert error_code(wrong) == "otp_invalid"
    code = backup_code(owner)
    assert create(api, owner, otp=code).status_code == 201
    reused = create(api, owner, otp=code)
    assert reused.status_code == 403
    assert error_code(reused) == "otp_invalid"
    assert ApiKey.objects.count() == 1


def test_no_second_factor_no_keys(db):
    user = make_user(email="plain@example.com")
    response = api_client_for(user).post(
        KEYS, {"kind": "hmac", "otp": "123456"}, format="json"
    )
    assert response.status_code == 403
    assert error_code(response) == "second_factor_required"


def test_creation_is_audited_and_emailed(
    api, owner, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = create(api, owner, label="grid bot")
    key_id = response.json()["key_id"]
    event = AuditEvent.objects.get(code=AuditCode.API_KEY_CREATED)
    assert (event.user, event.acting_user) == (owner, owner)
    assert event.target_id == str(ApiKey.objects.get(key_id=key_id).pk)
    assert event.extra["new"]["key_id"] == key_id
    assert event.extra["new"]["scopes"] == ["read"]
    assert event.ip_address == "127.0.0.1"
    assert response.json()["secret"] not in repr(event.extra)
    [mail] = [m for m in mailoutbox if owner.email in m.to]
    assert mail.subject == "An API key of your account was created or changed"
    assert "Action: Created" in mail.body
    assert f"Key: {key_id}" in mail.body
    assert response.json()["secret"] not in mail.body


def test_update_changes_label_allowlist_and_expiry(
    api, owner, mailoutbox, django_capture_on_commit_callbacks
):
    key, _ = make_key(owner, label="old")
    later = timezone.now() + timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"{KEYS}/{key.key_id}",
            {
                "label": "new",
                "ip_allowlist": ["192.0.2.1/32"],
                "expires_at": later.isoformat(),
                "otp": backup_code(owner),
            },
            format="json",
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["label"], body["ip_allowlist"]) == ("new", ["192.0.2.1"])
    event = AuditEvent.objects.get(code=AuditCode.API_KEY_UPDATED)
    assert event.extra["old"]["label"] == "old"
    assert event.extra["new"]["label"] == "new"
    assert event.extra["new"]["ip_allowlist"] == ["192.0.2.1"]
    assert any("Action: Changed" in m.body for m in mailoutbox)


def test_update_needs_the_second_factor_and_keeps_withdraw_limited(api, owner):
    key, _ = make_key(owner, scopes=("read", "withdraw"), ip_allowlist=["10.0.0.1"])
    missing = api.patch(f"{KEYS}/{key.key_id}", {"label": "x"}, format="json")
    assert error_code(missing) == "otp_required"
    opened = api.patch(
        f"{KEYS}/{key.key_id}",
        {"ip_allowlist": [], "otp": backup_code(owner)},
        format="json",
    )
    assert opened.status_code == 400
    assert "ip_allowlist" in opened.json()["error"]["details"]
    assert ApiKey.objects.get(pk=key.pk).ip_allowlist == ["10.0.0.1"]


def test_revoke_is_audited_emailed_and_final(
    api, owner, mailoutbox, django_capture_on_commit_callbacks
):
    key, secret = make_key(owner)
    signed = SignedClient(key, secret)
    assert signed.get("/api/v1/me").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"{KEYS}/{key.key_id}").status_code == 204
    assert error_code(signed.get("/api/v1/me")) == "api_key_revoked"
    assert api.get(f"{KEYS}/{key.key_id}").json()["status"] == "revoked"
    event = AuditEvent.objects.get(code=AuditCode.API_KEY_REVOKED)
    assert (event.user, event.acting_user, event.extra) == (
        owner,
        owner,
        {"key_id": key.key_id},
    )
    assert any("Action: Revoked" in m.body for m in mailoutbox)
    # again: nothing more happens
    assert api.delete(f"{KEYS}/{key.key_id}").status_code == 204
    assert AuditEvent.objects.filter(code=AuditCode.API_KEY_REVOKED).count() == 1
    changed = api.patch(
        f"{KEYS}/{key.key_id}", {"label": "x", "otp": backup_code(owner)}, format="json"
    )
    assert changed.status_code == 409
    assert error_code(changed) == "api_key_revoked"


def test_another_users_key_is_not_found(api, owner):
    other = make_user(email="other@example.com")
    key, _ = make_key(other)
    for response in (
        api.get(f"{KEYS}/{key.key_id}"),
        api.delete(f"{KEYS}/{key.key_id}"),
        api.patch(f"{KEYS}/{key.key_id}", {"label": "mine"}, format="json"),
    ):
        assert response.status_code == 404
        assert error_code(response) == "api_key_not_found"
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_the_number_of_live_keys_is_bounded(api, owner, settings):
    settings.API_KEY_MAX_PER_USER = 2
    make_key(owner)
    make_key(owner)
    response = create(api, owner)
    assert response.status_code == 409
    assert error_code(response) == "api_key_limit"


def test_the_list_is_one_query_whatever_its_length(
    api, owner, django_assert_max_num_queries
):
    for _ in range(3):
        make_key(owner)
    api.get(KEYS)  # warm
    with django_assert_max_num_queries(6):
        assert len(api.get(KEYS).json()) == 3
