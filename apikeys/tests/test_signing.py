"""The string to sign, line by line (apikeys/signing.py: pure, no Django), and a
fixed vector the example client (docs/api-keys.md) can check itself against."""

from __future__ import annotations

import ast
import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from apikeys import signing

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ"  # 43 characters


def test_signing_imports_nothing_but_the_standard_library():
    tree = ast.parse(Path(signing.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    # cryptography only inside the Ed25519 verification
    assert imported <= {
        "__future__",
        "base64",
        "binascii",
        "hashlib",
        "hmac",
        "urllib",
        "cryptography",
    }
    assert "django" not in imported and "rest_framework" not in imported


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("/api/v1/orders", "/api/v1/orders"),
        ("/api/v1/a~b", "/api/v1/a~b"),
        ("/api/v1/a%7Eb", "/api/v1/a~b"),
        ("/api/v1/a%7eb", "/api/v1/a~b"),
        ("/api/v1/a b", "/api/v1/a%20b"),
        ("/api/v1/a%20b", "/api/v1/a%20b"),
        ("/api/v1/caf%C3%A9", "/api/v1/caf%C3%A9"),
        ("/api/v1/a%2Fb", "/api/v1/a/b"),
    ],
)
def test_canonical_path(path, canonical):
    assert signing.canonical_path(path) == canonical


def test_a_decoded_path_is_not_decoded_twice():
    assert signing.canonical_path("/x/%41", decoded=True) == "/x/%2541"
    assert signing.canonical_path("/x/%41") == "/x/A"


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1", "a=1&a=2"),
        ("flag&a=1", "a=1&flag="),
        ("q=a+b", "q=a%20b"),
        ("q=a%20b", "q=a%20b"),
        ("q=%7E", "q=~"),
        ("q=a/b", "q=a%2Fb"),
        ("&&a=1&", "a=1"),
        ("k=v=w", "k=v%3Dw"),
    ],
)
def test_canonical_query(query, canonical):
    assert signing.canonical_query(query) == canonical


def test_the_string_to_sign_and_a_fixed_hmac_vector():
    message = signing.string_to_sign(
        timestamp="1765000000000",
        method="post",
        path="/api/v1/orders",
        query="b=2&a=1",
        body=b'{"side":"buy"}',
    )
    assert message.split("\n") == [
        "1765000000000",
        "POST",
        "/api/v1/orders",
        "a=1&b=2",
        "02a4c4ea1ba9bcacc294a495f31a2b2b2f475967eccaabc9aaecc621222a3f1e",
    ]
    signature = signing.hmac_sign(SECRET, message)
    assert signature == (
        "abacef9818a4a159ca269334dd750c36ce848e2c1ad4e0936e1ac0543d23bae0"
    )
    assert signing.hmac_verify(SECRET, message, signature)
    assert not signing.hmac_verify(SECRET, message + " ", signature)


def test_ed25519_round_trip():
    private = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    signature = signing.ed25519_sign(private, "hello")
    assert len(base64.b64decode(signature)) == 64
    assert signature.endswith("==")
    assert signing.ed25519_verify(public, "hello", signature)
    assert not signing.ed25519_verify(public, "hello!", signature)
    assert not signing.ed25519_verify(public, "hello", "not base64!")
    assert not signing.ed25519_verify(public, "hello", base64.b64encode(b"x").decode())


def test_signed_headers_take_exactly_one_credential():
    with pytest.raises(ValueError):
        signing.signed_headers(key_id="ak_x", method="GET", path="/", timestamp_ms=1)
    headers = signing.signed_headers(
        key_id="ak_x",
        method="GET",
        path="/",
        timestamp_ms=1,
        secret=SECRET,
        window_ms=10_000,
    )
    assert headers["X-Api-Timestamp"] == "1"
    assert headers["X-Api-Window"] == "10000"


def test_the_encryption_key_check(settings):
    from apikeys.checks import api_key_encryption_key_check

    assert api_key_encryption_key_check(None) == []
    settings.API_KEY_ENCRYPTION_KEY = ""
    assert [m.id for m in api_key_encryption_key_check(None)] == ["apikeys.W001"]
    settings.API_KEY_ENCRYPTION_KEY = "not-a-fernet-key"
    assert [m.id for m in api_key_encryption_key_check(None)] == ["apikeys.E001"]
