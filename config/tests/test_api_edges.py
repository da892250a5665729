"""The API's edges through Django's test client and the real middleware: hostile
JSON, body limits, one error shape under /api/, Retry-After on every 429."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import path
from rest_framework.throttling import ScopedRateThrottle

from accounts.testing import PASSWORD, api_client_for, make_user
from config.errors import retry_after_seconds
from config.parsers import json_depth_exceeds
from config.urls import handler404, handler500  # noqa: F401  (this module's URLconf)
from config.urls import urlpatterns as project_urlpatterns


def _boom(request):
    raise RuntimeError("a bug in a view")


def _page_boom(request):
    raise RuntimeError("a bug in a page")


# A URLconf for the tests that need a view that fails: the project's, plus two.
urlpatterns = [
    path("api/v1/test-boom", _boom),
    path("test-page-boom", _page_boom),
    *project_urlpatterns,
]


def _error(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


DEPTH_REFUSED = _error(
    "parse_error", "JSON parse error - nested deeper than 32 levels."
)


# --- Hostile JSON -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["/api/v1/auth/login", "/api/v1/auth/register"])
def test_json_nested_10000_deep_is_a_400_parse_error_for_anonymous_routes(route):
    # given an anonymous client
    client = Client()

    # when it posts 10,000 nested arrays
    response = client.post(route, _nested(10_000), content_type="application/json")

    # then it is a 400 in the error shape, not an HTML 500
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == DEPTH_REFUSED


@pytest.mark.django_db
def test_json_nested_10000_deep_is_a_400_for_a_signed_in_user():
    client = api_client_for(make_user())

    response = client.generic(
        "PATCH", "/api/v1/me", _nested(10_000), content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == DEPTH_REFUSED


@pytest.mark.django_db
def test_a_recursion_error_past_a_raised_depth_limit_is_still_a_400(settings):
    # given a depth limit above what Python's decoder can recurse
    settings.API_JSON_MAX_DEPTH = 1_000_000

    # when 100,000 nested objects arrive
    body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    response = Client().post(
        "/api/v1/auth/login", body, content_type="application/json"
    )

    # then the decoder's RecursionError is a parse error too
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert error["message"].startswith("JSON parse error - maximum recursion depth")


@pytest.mark.django_db
def test_depth_at_the_limit_is_parsed_and_brackets_in_strings_do_not_count():
    # given a login body whose password is 100 brackets (a string) and whose
    # extra field is nested exactly 32 deep (the object itself is level 1)
    body = json.dumps(
        {
            "email": "nobody@example.com",
            "password": "[" * 100,
            "extra": json.loads(_nested(31)),
        }
    )

    response = Client().post(
        "/api/v1/auth/login", body, content_type="application/json"
    )

    # then it reached the view: a wrong login, not a parse error
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_json_depth_counts_only_brackets_outside_strings():
    assert json_depth_exceeds(_nested(32), 32) is False
    assert json_depth_exceeds(_nested(33), 32) is True
    assert json_depth_exceeds(b'{"a": "[[[[\\"[[[["}', 1) is False
    assert json_depth_exceeds(b"[" * 10_000, 32) is True
    assert json_depth_exceeds(b"[1], [2], [3]", 1) is False


# --- Body limits (Django layer; the ASGI layer: test_body_limit_live.py) -----------


@pytest.mark.django_db
def test_a_body_over_the_default_limit_is_413_before_it_is_read(settings):
    # given a small limit
    settings.API_MAX_BODY_BYTES = 1000

    # when an anonymous client posts 1001 bytes of valid JSON
    body = json.dumps({"email": "a@example.com", "password": "x" * 950}).encode()
    body += b" " * (1001 - len(body))
    response = Client().post(
        "/api/v1/auth/login", body, content_type="application/json"
    )

    # then 413 in the error shape, naming the limit
    assert response.status_code == 413
    assert response.json() == _error(
        "payload_too_large",
        "The request body is larger than this route's limit of 1000 bytes.",
        {"limit_bytes": 1000},
    )


@pytest.mark.django_db
def test_a_body_at_the_limit_goes_through(settings):
    body = json.dumps({"email": "a@example.com", "password": "wrong"}).encode()
    settings.API_MAX_BODY_BYTES = len(body)

    response = Client().post(
        "/api/v1/auth/login", body, content_type="application/json"
    )

    assert response.status_code == 401


@pytest.mark.django_db
def test_kyc_uploads_have_their_own_larger_limit(settings):
    settings.API_MAX_BODY_BYTES = 1000
    settings.KYC_MAX_UPLOAD_BYTES = 10_000
    client = api_client_for(make_user())
    limit = 10_000 + 64 * 1024

    # a body over the default limit but within the upload's reaches the view
    # (which answers about the upload, not the size)
    within = client.post(
        "/api/v1/kyc/documents", b"x" * 5000, content_type="application/octet-stream"
    )
    over = client.post(
        "/api/v1/kyc/documents",
        b"x" * (limit + 1),
        content_type="application/octet-stream",
    )

    assert within.status_code == 415
    assert over.status_code == 413
    assert over.json()["error"]["details"] == {"limit_bytes": limit}


@pytest.mark.django_db
def test_a_page_over_the_limit_is_413_in_html(settings):
    settings.API_MAX_BODY_BYTES = 10

    response = Client().post("/accounts/login/", {"email": "a" * 50})

    assert response.status_code == 413
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"Request body too large" in response.content


# --- One error shape under /api/ -----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_path_is_a_json_404(settings, debug):
    settings.DEBUG = debug

    response = Client().get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == _error("not_found", "Not found.")


@pytest.mark.django_db
def test_an_unknown_page_outside_the_api_stays_html():
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.django_db
def test_a_wrong_method_is_a_json_405_with_allow():
    response = Client().delete("/api/v1/auth/login")

    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert response.json() == _error(
        "method_not_allowed", 'Method "DELETE" not allowed.'
    )


@pytest.mark.django_db
@pytest.mark.urls(__name__)
@pytest.mark.parametrize("debug", [False, True])
def test_a_server_error_under_the_api_is_a_json_500(settings, debug):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)

    response = client.get("/api/v1/test-boom")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == _error("server_error", "Server error.")


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_server_error_on_a_page_stays_html():
    client = Client(raise_request_exception=False)

    response = client.get("/test-page-boom")

    assert response.status_code == 500
    assert response["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route",
    ["/api/v1/me/security-events", "/api/v1/orders", "/api/v1/wallet/statement"],
)
@pytest.mark.parametrize("cursor", ["garbage!", "cD1ub3QtYS1kYXRl"])
def test_an_invalid_cursor_is_a_400_invalid_cursor(route, cursor):
    # "cD1ub3QtYS1kYXRl" decodes to "p=not-a-date": a position no ordering holds
    client = api_client_for(make_user())

    response = client.get(route, {"cursor": cursor})

    assert response.status_code == 400
    assert response.json() == _error(
        "invalid_cursor",
        "The cursor is not one this list handed out.",
        {"cursor": ["Invalid cursor."]},
    )


@pytest.mark.django_db
def test_redis_down_under_the_api_is_a_503_with_retry_after(settings):
    # given a cache (throttles) on a Redis port nothing listens on
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    user = make_user()

    # when a signed-in user asks for anything (the user throttle reads the cache)
    response = api_client_for(user).get("/api/v1/me")

    # then 503 in the error shape, with Retry-After
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == _error(
        "service_unavailable",
        "A service the API depends on is unavailable; try again shortly.",
    )


@pytest.mark.django_db
def test_every_429_carries_retry_after(monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "1/min")
    user = make_user()
    client = Client()
    body = {"email": user.email, "password": PASSWORD}

    client.post("/api/v1/auth/login", body, content_type="application/json")
    response = client.post("/api/v1/auth/login", body, content_type="application/json")

    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert error["details"] == {"retry_after_seconds": 60}


def test_retry_after_is_whole_seconds_rounded_up_and_never_zero():
    assert retry_after_seconds(0.2) == 1
    assert retry_after_seconds(0) == 1
    assert retry_after_seconds(None) == 1
    assert retry_after_seconds(59.01) == 60
    assert retry_after_seconds(60) == 60


def test_the_project_json_parser_is_the_bounded_one(settings):
    parsers = settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]
    assert parsers[0] == "config.parsers.JSONParser"
    assert "rest_framework.parsers.JSONParser" not in parsers
    # after the request id only (config/request_id.py), which never reads a body
    assert settings.MIDDLEWARE[:2] == [
        "config.request_id.RequestIdMiddleware",
        "config.middleware.APIEdgeMiddleware",
    ]


@pytest.mark.parametrize(
    ("path", "status", "content_type"),
    [
        ("/api/v1/me", 503, "application/json"),
        ("/wallet/", 500, "text/html; charset=utf-8"),
    ],
)
def test_handler500_answers_a_dead_database_in_a_middleware(path, status, content_type):
    # given the database failing outside any view (a session saved on the way
    # out, say): Django calls handler500 inside the exception's `except`
    from django.db import OperationalError
    from django.test import RequestFactory

    from config.errors import server_error

    request = RequestFactory().get(path)
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(request)

    # then under /api/ it is the 503 with Retry-After; a page stays an HTML 500
    assert response.status_code == status
    assert response["Content-Type"] == content_type
    if status == 503:
        assert response["Retry-After"] == "5"
        assert json.loads(response.content)["error"]["code"] == "service_unavailable"
