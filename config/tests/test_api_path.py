"""The lean /api/ path (config/api_path.py): what it skips, what it keeps, and
that the token's user is read fresh on every request (nothing of it is kept)."""

import json

import pytest
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.api.serializers import UserOutputSerializer, user_output
from accounts.models import User
from accounts.roles import Role
from accounts.services import password_change
from accounts.services.recovery import email_verification_token
from accounts.services.staff import user_lock
from accounts.testing import PASSWORD, api_client_for, make_user

pytestmark = pytest.mark.django_db

SECURITY_HEADERS = (
    "X-Request-ID",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
)


@pytest.fixture
def user():
    return make_user(email="lean@example.com")


def _browser_for(user: User, *, enforce_csrf_checks: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user, backend="accounts.backends.EmailBackend")
    return client


def _csp_header(response) -> str | None:
    return response.get("Content-Security-Policy") or response.get(
        "Content-Security-Policy-Report-Only"
    )


def test_the_page_only_block_is_bracketed_in_middleware():
    start = settings.MIDDLEWARE.index("config.api_path.APIPathMiddleware")
    end = settings.MIDDLEWARE.index("config.api_path.PageMiddlewareEnd")
    block = settings.MIDDLEWARE[start + 1 : end]
    assert block == [
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django_otp.middleware.OTPMiddleware",
        "accounts.middleware.SignInMiddleware",
        "accounts.middleware.ConsentMiddleware",
        "accounts.timezones.TimeZoneMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    ]
    # what every request keeps sits outside it
    for kept in (
        "config.request_id.RequestIdMiddleware",
        "config.middleware.APIEdgeMiddleware",
        "config.metrics_middleware.PrometheusBeforeMiddleware",
        "config.clientip.ClientAddressMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "config.csp.CSPMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "accounts.lockout.LoginLockoutMiddleware",
        "config.metrics_middleware.PrometheusAfterMiddleware",
    ):
        assert settings.MIDDLEWARE.index(kept) not in range(start, end + 1)


def test_a_token_request_skips_the_page_middleware_and_keeps_the_edge(user):
    response = api_client_for(user).get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["email"] == "lean@example.com"
    request = response.wsgi_request
    # no session, no CSRF cookie work, no OTP or session user
    assert not hasattr(request, "session")
    assert "CSRF_COOKIE" not in request.META
    assert not hasattr(request.user, "is_verified")
    assert request.user.pk == user.pk  # DRF's, from the token
    assert settings.CSRF_COOKIE_NAME not in response.cookies
    assert "Cookie" not in response.get("Vary", "")
    for header in SECURITY_HEADERS:
        assert response.has_header(header), header
    assert _csp_header(response)
    assert response["Content-Length"] == str(len(response.content))
    # the client address is still resolved and the usage headers written
    assert request.client_ip == "127.0.0.1"
    assert response.has_header("X-RateLimit-Limit")


def test_an_anonymous_api_request_is_lean_and_still_401():
    response = APIClient().get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not hasattr(response.wsgi_request, "session")


def test_an_unknown_api_path_is_the_json_404_without_a_slash_redirect():
    response = APIClient().get("/api/v1/nowhere")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_page_still_gets_sessions_csrf_and_otp(user):
    response = _browser_for(user).get(reverse("accounts:sessions"))

    assert response.status_code == 200
    request = response.wsgi_request
    assert request.session.session_key is not None
    assert "CSRF_COOKIE" in request.META
    assert request.user.is_verified() is False  # the OTP middleware's
    for header in SECURITY_HEADERS:
        assert response.has_header(header), header
    assert _csp_header(response)


def test_the_api_with_the_session_cookie_takes_the_whole_chain(user):
    response = _browser_for(user).get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["email"] == "lean@example.com"
    request = response.wsgi_request
    assert request.session.session_key is not None
    assert hasattr(request.user, "is_verified")


def test_a_session_api_write_without_the_csrf_token_is_403(user):
    client = _browser_for(user, enforce_csrf_checks=True)

    refused = client.patch(
        "/api/v1/me", {"full_name": "No Token"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "CSRF" in refused.json()["error"]["message"]

    client.get(reverse("accounts:sessions"))  # a page sets the CSRF cookie
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = client.patch(
        "/api/v1/me",
        {"full_name": "With Token"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 200
    user.refresh_from_db()
    assert user.full_name == "With Token"


# --- the token's user: read on every request, never kept --------------------------


def _user_reads(queries) -> int:
    table = f'FROM "{User._meta.db_table}" t WHERE'
    return sum(table in query["sql"] for query in queries)


def test_every_token_request_reads_its_user_row_once(user):
    client = api_client_for(user)

    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/me")
        assert response.status_code == 200
        # the row itself, one statement: nothing of it is kept between requests
        assert _user_reads(queries.captured_queries) == 1


def test_an_email_verified_through_the_link_reads_verified_on_the_next_me():
    user = make_user(email="unverified@example.com", email_verified=False)
    client = api_client_for(user)
    assert client.get("/api/v1/me").json()["email_verified"] is False
    token = email_verification_token(user=user)

    verified = APIClient().post(
        "/api/v1/auth/email/verify", {"token": token}, format="json"
    )

    assert verified.status_code == 204
    assert client.get("/api/v1/me").json()["email_verified"] is True


def test_any_write_to_the_user_row_shows_on_the_next_request(user):
    client = api_client_for(user)
    assert client.get("/api/v1/me").json()["full_name"] == user.full_name
    # a write by anyone (another process, the admin, a migration): the row only
    User.objects.filter(pk=user.pk).update(
        full_name="Renamed Elsewhere", time_zone="Asia/Tokyo"
    )

    me = client.get("/api/v1/me").json()

    assert (me["full_name"], me["time_zone"]) == ("Renamed Elsewhere", "Asia/Tokyo")


def test_a_second_factor_shows_on_the_next_me(user):
    client = api_client_for(user)
    assert client.get("/api/v1/me").json()["two_factor_enabled"] is False
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    assert client.get("/api/v1/me").json()["two_factor_enabled"] is True

    device.delete()

    assert client.get("/api/v1/me").json()["two_factor_enabled"] is False


def test_a_password_change_refuses_the_earlier_token_at_once(user):
    client = api_client_for(user)
    assert client.get("/api/v1/me").status_code == 200

    password_change(user=user, old_password=PASSWORD, new_password="n3w-Passw0rd!x")

    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"
    user.refresh_from_db()
    assert api_client_for(user).get("/api/v1/me").status_code == 200


def test_a_staff_lock_refuses_the_token_at_once(user):
    client = api_client_for(user)
    assert client.get("/api/v1/me").status_code == 200
    operator = make_user(email="ops@example.com", roles=(Role.OPERATOR,))

    user_lock(user=user, staff=operator, reason="fraud report")

    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "user_inactive"


def test_a_version_bump_written_elsewhere_refuses_the_token_at_once(user):
    client = api_client_for(user)
    assert client.get("/api/v1/me").status_code == 200
    # another process's revocation: the row's version only, nothing published
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)

    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"


def test_a_suspension_written_elsewhere_refuses_the_token_at_once(user):
    client = api_client_for(user)
    assert client.get("/api/v1/me").status_code == 200
    User.objects.filter(pk=user.pk).update(status=User.Status.SUSPENDED)

    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "user_inactive"


# --- /me without a serializer per request -----------------------------------------


def _users_of_every_kind() -> list[User]:
    plain = make_user(email="plain@example.com")
    verified = make_user(email="Verified.Someone@example.com")
    User.objects.filter(pk=verified.pk).update(
        phone="+1 555 0100",
        email_verified_at=timezone.now(),
        time_zone="Europe/Paris",
        display_currency="EUR",
        status=User.Status.SUSPENDED,
    )
    totp = make_user(email="totp@example.com")
    TOTPDevice.objects.create(user=totp, name="phone", confirmed=True)
    unconfirmed = make_user(email="unconfirmed@example.com")
    TOTPDevice.objects.create(user=unconfirmed, name="phone", confirmed=False)
    codes = make_user(email="codes@example.com")
    StaticDevice.objects.create(user=codes, name="backup", confirmed=True)
    return list(
        User.objects.filter(
            pk__in=[u.pk for u in (plain, verified, totp, unconfirmed, codes)]
        ).order_by("pk")
    )


def test_user_output_is_the_serializers_representation():
    users = _users_of_every_kind()

    outputs = [user_output(user) for user in users]

    assert outputs == [UserOutputSerializer(user).data for user in users]
    assert [output["two_factor_enabled"] for output in outputs] == [
        False,
        False,
        True,
        False,
        True,
    ]
    assert list(outputs[0]) == list(UserOutputSerializer.Meta.fields)


def test_get_me_answers_the_serializers_json_with_one_two_factor_read(
    user, django_assert_num_queries
):
    client = api_client_for(user)

    # the token's user, then its second factor
    with django_assert_num_queries(2):
        response = client.get("/api/v1/me")

    assert response.json() == json.loads(
        json.dumps(UserOutputSerializer(user).data, cls=DjangoJSONEncoder)
    )
