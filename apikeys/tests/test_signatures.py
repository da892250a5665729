"""Signed requests through the real API (Django's test client, the whole
middleware chain): each refusal in the spec's order, with its code."""

from __future__ import annotations

import time

from apikeys.tests.conftest import error_code

ME = "/api/v1/me"


def now_ms() -> int:
    return int(time.time() * 1000)


def test_a_signed_get_authenticates_as_the_owner(signed, owner):
    response = signed.get(ME)
    assert response.status_code == 200, response.content
    assert response.json()["email"] == owner.email


def test_without_x_api_key_the_other_schemes_answer(db):
    from rest_framework.test import APIClient

    response = APIClient().get(ME)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
