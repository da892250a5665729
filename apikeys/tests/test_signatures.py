"""Signed requests through the real API (Django's test client, the whole
middleware chain): each refusal in the spec's order, with its code."""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apikeys import signing
from apikeys.models import ApiKey
from apikeys.tests.conftest import SignedClient, error_code, make_key

ME = "/api/v1/me"
BY_CLIENT_ID = "/api/v1/orders/by-client-id/"


def now_ms() -> int:
    return int(time.time() * 1000)


def test_a_signed_get_authenticates_as_the_owner(signed, owner):
    response = signed.get(ME)
    assert response.status_code == 200, response.content
    assert response.json()["email"] == owner.email


def test_an_ed25519_key_signs_too(owner):
    key, private = make_key(owner, kind="ed25519")
    response = SignedClient(key, private).get(ME)
    assert response.status_code == 200, response.content
    assert response.json()["email"] == owner.email


def test_without_x_api_key_the_other_schemes_answer(db):
    response = APIClient().get(ME)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- malformed headers: 400, naming the header ------------------------------------


@pytest.mark.parametrize(
    ("drop", "replace", "header"),
    [
        ("HTTP_X_API_TIMESTAMP", None, "X-Api-Timestamp"),
        ("HTTP_X_API_SIGNATURE", None, "X-Api-Signature"),
        (None, ("HTTP_X_API_KEY", "not-a-key"), "X-Api-Key"),
        (None, ("HTTP_X_API_TIMESTAMP", "12.5"), "X-Api-Timestamp"),
        (None, ("HTTP_X_API_SIGNATURE", "ab cd"), "X-Api-Signature"),
        (None, ("HTTP_X_API_WINDOW", "0"), "X-Api-Window"),
        (None, ("HTTP_X_API_WINDOW", "60001"), "X-Api-Window"),
        (None, ("HTTP_X_API_WINDOW", "5s"), "X-Api-Window"),
    ],
)
def test_malformed_headers_are_a_400_naming_the_header(signed, drop, replace, header):
    meta = signed.headers("GET", ME)
    if drop:
        del meta[drop]
    if replace:
        meta[replace[0]] = replace[1]
    response = signed.client.get(ME, **meta)
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "api_key_headers_invalid"
    assert body["message"].startswith(f"{header}: ")
    assert list(body["details"]) == [header]


# --- who signed: 401 signature_invalid, one answer for all -------------------------


def test_an_unknown_key_and_a_wrong_signature_answer_alike(signed):
    wrong = signed.headers("GET", ME)
    wrong["HTTP_X_API_SIGNATURE"] = "0" * 64
    unknown = signed.headers("GET", ME)
    unknown["HTTP_X_API_KEY"] = "ak_" + "A" * 24
    first = signed.client.get(ME, **wrong)
    second = signed.client.get(ME, **unknown)
    assert first.status_code == second.status_code == 401
    assert first.json() == second.json()
    assert error_code(first) == "signature_invalid"


def test_a_tampered_body_is_refused(owner):
    key, secret = make_key(owner, scopes=("read", "trade"))
    client = SignedClient(key, secret)
    meta = client.headers("POST", "/api/v1/orders", body=b'{"side": "buy"}')
    response = client.client.generic(
        "POST",
        "/api/v1/orders",
        data=b'{"side": "sell"}',
        content_type="application/json",
        **meta,
    )
    assert response.status_code == 401
    assert error_code(response) == "signature_invalid"


def test_a_signature_of_the_other_kind_is_refused(owner):
    ed_key, _ = make_key(owner, kind="ed25519")
    hmac_key, secret = make_key(owner)
    # an HMAC signature sent for the Ed25519 key
    forged = SignedClient(ed_key, secret)
    assert error_code(forged.get(ME)) == "signature_invalid"
    # an Ed25519 signature sent for the HMAC key
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = SignedClient(hmac_key, Ed25519PrivateKey.generate())
    response = other.get(ME)
    assert response.status_code == 401
    assert error_code(response) == "signature_invalid"


def test_the_query_may_come_in_any_order(signed):
    meta = signed.headers("GET", ME, query="b=2&a=1&a=0")
    response = signed.client.get(f"{ME}?a=0&b=2&a=1", **meta)
    assert response.status_code == 200, response.content


def test_a_changed_query_value_is_refused(signed):
    meta = signed.headers("GET", ME, query="a=1")
    response = signed.client.get(f"{ME}?a=2", **meta)
    assert error_code(response) == "signature_invalid"


@pytest.mark.parametrize(
    ("signed_path", "sent_path"),
    [("a%7Eb", "a~b"), ("a~b", "a%7Eb"), ("a%20b", "a%20b")],
)
def test_a_path_signs_the_same_encoded_or_not(owner, signed_path, sent_path):
    key, secret = make_key(owner)
    client = SignedClient(key, secret)
    meta = client.headers("GET", BY_CLIENT_ID + signed_path)
    response = client.client.get(BY_CLIENT_ID + sent_path, **meta)
    # authenticated: the order is unknown, not the signature
    assert response.status_code == 404, response.content


def test_an_empty_body_signs_the_hash_of_nothing(signed):
    response = signed.post("/api/v1/stream-tickets")
    assert response.status_code == 201, response.content
    assert signing.body_digest(b"") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_a_body_near_the_limit_is_signed_whole(owner):
    key, secret = make_key(owner, scopes=("read", "trade"))
    client = SignedClient(key, secret)
    padding = settings.API_MAX_BODY_BYTES - 200
    body = json.dumps({"symbol": "NOPE-USD", "note": "x" * padding}).encode()
    assert settings.API_MAX_BODY_BYTES - 200 < len(body) < settings.API_MAX_BODY_BYTES
    response = client.post("/api/v1/orders", body=body)
    # through authentication and the scope: the order itself is refused
    assert response.status_code == 400, response.content[:300]
    assert error_code(response) == "invalid"
    meta = client.headers("POST", "/api/v1/orders", body=body)
    tampered = body[:-2] + b" }"
    response = client.client.generic(
        "POST", "/api/v1/orders", data=tampered, content_type="application/json", **meta
    )
    assert error_code(response) == "signature_invalid"


# --- the clock and replays -----------------------------------------------------------


def test_just_inside_the_default_window(signed):
    assert signed.get(ME, timestamp_ms=now_ms() - 4500).status_code == 200
    assert signed.get(ME, timestamp_ms=now_ms() + 4500).status_code == 200


@pytest.mark.parametrize("skew", [-5600, 5600])
def test_just_outside_the_default_window(signed, skew):
    response = signed.get(ME, timestamp_ms=now_ms() + skew)
    assert response.status_code == 401
    body = response.json()["error"]
    assert body["code"] == "timestamp_outside_window"
    assert body["details"]["window"] == 5000


def test_a_custom_window(signed):
    inside = signed.get(ME, timestamp_ms=now_ms() - 15_000, window_ms=20_000)
    assert inside.status_code == 200
    outside = signed.get(ME, timestamp_ms=now_ms() - 25_000, window_ms=20_000)
    assert error_code(outside) == "timestamp_outside_window"
    short = signed.get(ME, timestamp_ms=now_ms() - 1500, window_ms=1000)
    assert error_code(short) == "timestamp_outside_window"


def test_a_window_over_60_seconds_is_malformed(signed):
    response = signed.get(ME, window_ms=60_001)
    assert response.status_code == 400
    assert error_code(response) == "api_key_headers_invalid"
    assert signed.get(ME, window_ms=60_000).status_code == 200


def test_the_same_signature_works_once(signed):
    meta = signed.headers("GET", ME)
    assert signed.client.get(ME, **meta).status_code == 200
    again = signed.client.get(ME, **meta)
    assert again.status_code == 401
    assert error_code(again) == "signature_replayed"


def test_a_refused_signature_is_not_recorded(signed):
    """Only a verified signature is remembered: nobody can burn someone else's."""
    meta = signed.headers("GET", ME)
    stolen = dict(meta, HTTP_X_API_KEY="ak_" + "B" * 24)
    assert error_code(signed.client.get(ME, **stolen)) == "signature_invalid"
    assert signed.client.get(ME, **meta).status_code == 200


# --- the key's own state --------------------------------------------------------------


def test_a_revoked_key_is_refused_on_the_next_request(signed, owner):
    from apikeys import services

    assert signed.get(ME).status_code == 200
    services.api_key_revoke(key=signed.key, user=owner)
    response = signed.get(ME)
    assert response.status_code == 401
    assert error_code(response) == "api_key_revoked"


def test_an_expired_key_is_refused(signed):
    from django.utils import timezone

    ApiKey.objects.filter(pk=signed.key.pk).update(expires_at=timezone.now())
    response = signed.get(ME)
    assert response.status_code == 401
    assert error_code(response) == "api_key_expired"


def test_revoked_is_said_before_expired(signed, owner):
    from django.utils import timezone

    ApiKey.objects.filter(pk=signed.key.pk).update(
        expires_at=timezone.now(), revoked_at=timezone.now()
    )
    assert error_code(signed.get(ME)) == "api_key_revoked"


def test_an_inactive_owner_is_refused(signed, owner):
    type(owner).objects.filter(pk=owner.pk).update(status="suspended")
    response = signed.get(ME)
    assert response.status_code == 401
    assert error_code(response) == "account_suspended"


def test_last_used_is_written_once_a_minute_at_most(signed):
    assert signed.get(ME).status_code == 200
    key = ApiKey.objects.get(pk=signed.key.pk)
    assert key.last_used_at is not None
    assert key.last_used_ip == "127.0.0.1"
    with CaptureQueriesContext(connection) as queries:
        assert signed.get(ME).status_code == 200
    writes = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert not [sql for sql in writes if "apikeys_apikey" in sql]
    assert ApiKey.objects.get(pk=signed.key.pk).last_used_at == key.last_used_at
