"""Registration, login (with 2FA), token rotation, logout and password change."""

import pytest
from django.contrib.auth.hashers import identify_hasher
from rest_framework.test import APIClient

from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.services import user_lock
from accounts.testing import PASSWORD, make_user
from accounts.tests.conftest import totp_code

pytestmark = pytest.mark.django_db


def login(client, email="trader@example.com", password=PASSWORD, **extra):
    return client.post(
        "/api/v1/auth/login",
        {"email": email, "password": password, **extra},
        format="json",
    )


def test_register_returns_user_without_password_hash():
    response = APIClient().post(
        "/api/v1/auth/register",
        {
            "email": "New.User@Example.com",
            "password": "a-long-enough-secret",
            "full_name": "New User",
            "phone": "+91 98765 43210",
            "accept_terms": True,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new.user@example.com"
    assert body["full_name"] == "New User"
    assert body["phone"] == "+91 98765 43210"
    assert body["status"] == "active"
    assert body["two_factor_enabled"] is False
    assert "password" not in body
    user = User.objects.get(email="new.user@example.com")
    assert user.groups.filter(name="trader").exists()
    assert (
        AuditEvent.objects.filter(user=user, code=AuditCode.USER_REGISTERED).count()
        == 1
    )


@pytest.mark.parametrize(
    "email", ["trader@example.com", "TRADER@EXAMPLE.COM", "Trader@example.com"]
)
def test_register_duplicate_email_in_any_case_is_409(user, email):
    response = APIClient().post(
        "/api/v1/auth/register",
        {
            "email": email,
            "password": "a-long-enough-secret",
            "full_name": "X",
            "accept_terms": True,
        },
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "password", ["short", "password123", "12345678901234", "trader@example.com"]
)
def test_register_weak_password_is_400_naming_the_field(password):
    response = APIClient().post(
        "/api/v1/auth/register",
        {
            "email": "trader@example.com",
            "password": password,
            "full_name": "Tina",
            "accept_terms": True,
        },
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "weak_password"
    assert "password" in error["details"]
    assert error["message"].startswith("password:")
    assert not User.objects.exists()


def test_register_bad_input_names_each_field():
    response = APIClient().post(
        "/api/v1/auth/register",
        {"email": "not-an-email", "phone": "abc"},
        format="json",
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert set(details) == {"email", "password", "full_name", "phone"}


def test_password_is_hashed_with_argon2_in_production_settings(settings):
    from config.settings import base

    assert base.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    settings.PASSWORD_HASHERS = base.PASSWORD_HASHERS
    created = make_user(email="argon@example.com")
    assert identify_hasher(created.password).algorithm == "argon2"


def test_login_returns_token_pair_and_me_works(user):
    response = login(APIClient())
    assert response.status_code == 200
    tokens = response.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == "trader@example.com"
    assert (
        AuditEvent.objects.filter(user=user, code=AuditCode.LOGIN_SUCCEEDED).count()
        == 1
    )


def test_login_email_is_case_insensitive(user):
    assert login(APIClient(), email="TRADER@example.COM").status_code == 200


def test_login_wrong_password_is_401_and_audited(user):
    response = login(APIClient(), password="wrong-password-1")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    event = AuditEvent.objects.get(user=user, code=AuditCode.LOGIN_FAILED)
    assert event.extra["reason"] == "invalid_credentials"
    assert event.ip_address == "127.0.0.1"


def test_suspended_user_cannot_log_in_or_use_old_tokens(user):
    tokens = login(APIClient()).json()
    admin = make_user(email="ops@example.com", roles=(Role.OPERATOR,))
    user_lock(user=user, staff=admin, reason="fraud report")

    response = login(APIClient())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_suspended"

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get("/api/v1/me").status_code == 401
    refreshed = APIClient().post(
        "/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 401
    event = AuditEvent.objects.get(code=AuditCode.STAFF_ACCOUNT_LOCKED)
    assert (event.user, event.acting_user) == (user, admin)
    assert event.extra == {
        "old": "active",
        "new": "suspended",
        "reason": "fraud report",
        "refresh_tokens": 1,
    }


def test_login_with_2fa_requires_the_code(user_with_2fa):
    _, device = user_with_2fa
    missing = login(APIClient())
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "otp_required"

    wrong = login(
        APIClient(), otp="000000" if totp_code(device) != "000000" else "111111"
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "otp_invalid"

    ok = login(APIClient(), otp=totp_code(device))
    assert ok.status_code == 200
    assert set(ok.json()) == {"access", "refresh"}


def test_otp_code_cannot_be_replayed(user_with_2fa):
    _, device = user_with_2fa
    code = totp_code(device)
    assert login(APIClient(), otp=code).status_code == 200
    replay = login(APIClient(), otp=code)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "otp_invalid"


def test_refresh_rotates_and_a_reused_rotated_token_ends_the_family(user):
    first = login(APIClient()).json()
    rotated = APIClient().post(
        "/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json"
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh"] != first["refresh"]

    reuse = APIClient().post(
        "/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json"
    )
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "token_invalid"
    assert AuditEvent.objects.filter(
        code=AuditCode.TOKEN_REFRESH_REUSED, user=user
    ).exists()

    # the reuse ended the whole family: the newer token is refused too
    again = APIClient().post(
        "/api/v1/auth/refresh", {"refresh": second["refresh"]}, format="json"
    )
    assert again.status_code == 401
    assert again.json()["error"]["message"] == "refresh: this sign-in was ended."


def test_refresh_rejects_garbage_and_access_tokens(user):
    tokens = login(APIClient()).json()
    for value in ("garbage", tokens["access"]):
        response = APIClient().post(
            "/api/v1/auth/refresh", {"refresh": value}, format="json"
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_invalid"


def test_logout_revokes_the_refresh_token(user):
    tokens = login(APIClient()).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert (
        client.post(
            "/api/v1/auth/logout", {"refresh": tokens["refresh"]}, format="json"
        ).status_code
        == 204
    )
    refreshed = APIClient().post(
        "/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 401
    assert AuditEvent.objects.filter(code=AuditCode.LOGOUT, user=user).count() == 1


def test_logout_of_someone_elses_token_is_refused(user):
    other = make_user(email="other@example.com")
    theirs = login(APIClient(), email=other.email).json()
    mine = login(APIClient()).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mine['access']}")
    response = client.post(
        "/api/v1/auth/logout", {"refresh": theirs["refresh"]}, format="json"
    )
    assert response.status_code == 401
    ok = APIClient().post(
        "/api/v1/auth/refresh", {"refresh": theirs["refresh"]}, format="json"
    )
    assert ok.status_code == 200


def test_password_change_revokes_every_token(user):
    session_one = login(APIClient()).json()
    session_two = login(APIClient()).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session_one['access']}")
    response = client.post(
        "/api/v1/auth/password",
        {"old_password": PASSWORD, "new_password": "brand-new-secret-77"},
        format="json",
    )
    assert response.status_code == 204

    for tokens in (session_one, session_two):
        refreshed = APIClient().post(
            "/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json"
        )
        assert refreshed.status_code == 401
        stale = APIClient()
        stale.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        assert stale.get("/api/v1/me").status_code == 401
    assert login(APIClient()).status_code == 401
    assert login(APIClient(), password="brand-new-secret-77").status_code == 200
    revoked = AuditEvent.objects.get(code=AuditCode.TOKENS_REVOKED, user=user)
    assert revoked.extra == {"refresh_tokens": 2, "reason": "password_changed"}


def test_password_change_with_wrong_old_or_weak_new_is_400(user):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {login(APIClient()).json()['access']}"
    )
    wrong = client.post(
        "/api/v1/auth/password",
        {"old_password": "nope-nope-nope", "new_password": "brand-new-secret-77"},
        format="json",
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"] == {"old_password": ["Wrong password."]}
    weak = client.post(
        "/api/v1/auth/password",
        {"old_password": PASSWORD, "new_password": "123"},
        format="json",
    )
    assert weak.status_code == 400
    assert "new_password" in weak.json()["error"]["details"]


def test_repeated_failures_lock_the_login_even_with_the_right_password(user, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 3
    client = APIClient()
    codes = [login(client, password="wrong-password-1").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    locked = login(client)
    assert locked.status_code == 429
    assert locked["Retry-After"] == "60"
    assert locked.json() == {
        "error": {
            "code": "login_locked",
            "message": "Too many failed login attempts for this account from "
            "your address. Try again in 1 minute.",
            "details": {"retry_after_seconds": 60},
        }
    }
    assert AuditEvent.objects.filter(
        code=AuditCode.LOGIN_LOCKED_OUT, user=user
    ).exists()


def test_login_throttle_scope(user, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "2/min")
    client = APIClient()
    statuses = [login(client).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert login(client).json()["error"]["code"] == "throttled"


def _bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_the_token_s_user_is_read_as_the_orm_would_build_it(user):
    """accounts.authentication reads the user in SQL: same fields, same types,
    a saved instance of the default database."""
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.authentication import JWTAuthentication

    token = AccessToken(login(APIClient()).json()["access"])
    read = JWTAuthentication().get_user(token)
    expected = User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        mine, theirs = getattr(read, field.attname), getattr(expected, field.attname)
        assert (mine, type(mine)) == (theirs, type(theirs)), field.name
    assert (read._state.adding, read._state.db) == (False, "default")
    assert _bearer(token).get("/api/v1/me").json()["email"] == user.email


@pytest.mark.parametrize("user_id", [987654321, "not-a-number"])
def test_a_token_naming_no_user_is_refused(user, user_id):
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    token["user_id"] = user_id
    response = _bearer(token).get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User not found"
