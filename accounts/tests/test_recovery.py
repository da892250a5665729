"""Password reset by email (accounts/services/recovery.py): the API, the pages and
the staff action. Emails go through a real SMTP server (`smtp_server`) where the
flow depends on them; links are taken from the delivered messages."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice

from accounts.events import SecurityNotice
from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.selectors import user_withdrawal_cooloff_until
from accounts.testing import PASSWORD, admin_client_for, make_user
from accounts.tests.conftest import totp_code
from config.tests.recording import recorded

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-secret-77"
RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a request leaves for after its commit (the emails)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _api_login(email: str, password: str = PASSWORD, otp: str = "") -> dict:
    response = Client().post(
        "/api/v1/auth/login",
        {"email": email, "password": password, "otp": otp},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _uid_token(link: str) -> tuple[str, str]:
    _, uid, token, _ = urlsplit(link).path.split("/")[1:]
    return uid, token


def _post(path: str, data: dict, **extra):
    return Client().post(path, data, content_type="application/json", **extra)


# --- Asking for a link --------------------------------------------------------------


def test_the_api_answers_the_same_for_a_registered_and_an_unknown_email(
    user, smtp_server, committed
):
    with committed():
        known = _post(RESET, {"email": "TRADER@example.com"})
    with committed():
        unknown = _post(RESET, {"email": "nobody@example.com"})
    assert (known.status_code, unknown.status_code) == (202, 202)
    assert known.json() == unknown.json()
    assert "works once, for 60 minutes" in known.json()["detail"]
    [message] = smtp_server.messages
    assert message["To"] == "trader@example.com"
    assert message["Subject"] == "Choose a new password"
    events = AuditEvent.objects.filter(code=AuditCode.PASSWORD_RESET_REQUESTED)
    assert {(e.user_id, e.extra["sent"]) for e in events} == {
        (None, False),
        (user.pk, True),
    }


def test_a_suspended_account_gets_no_link_and_the_same_answer(user, committed):
    User.objects.filter(pk=user.pk).update(status=User.Status.SUSPENDED)
    with committed():
        response = _post(RESET, {"email": user.email})
    assert response.status_code == 202
    event = AuditEvent.objects.get(code=AuditCode.PASSWORD_RESET_REQUESTED)
    assert event.extra == {"email": user.email, "sent": False}


# --- The whole reset through the API ------------------------------------------------


def test_reset_through_the_api_ends_every_session_and_token(
    user, smtp_server, committed
):
    # given a user signed in on the API (a pair) and in a browser
    tokens = _api_login(user.email)
    browser = Client()
    browser.force_login(user, backend="accounts.backends.EmailBackend")
    assert browser.get("/account/security/").status_code == 200
    # when they ask for a link and follow it with a new password
    with committed():
        assert _post(RESET, {"email": user.email}).status_code == 202
    uid, token = _uid_token(smtp_server.link(user.email, "/password-reset/"))
    weak = _post(CONFIRM, {"uid": uid, "token": token, "new_password": "1234567890"})
    assert weak.status_code == 400
    assert weak.json()["error"]["code"] == "weak_password"
    with committed(), recorded(SecurityNotice) as notices:
        done = _post(
            CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
        )
    assert done.status_code == 204
    # then the password is the new one
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # and the refresh token issued before is refused, the access token too
    refused = _post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]})
    assert refused.status_code == 401
    me = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 401
    # and the browser session is logged out
    assert browser.get("/account/security/").status_code == 302
    # and the user is told, and it is audited
    assert [(n.user_id, n.kind, n.detail) for n in notices] == [
        (user.pk, "password_changed", (("via", "Password reset link"),))
    ]
    completed = AuditEvent.objects.get(code=AuditCode.PASSWORD_RESET_COMPLETED)
    assert (completed.user, completed.extra) == (user, {"second_factor": None})
    revoked = AuditEvent.objects.get(code=AuditCode.TOKENS_REVOKED)
    assert revoked.extra == {"refresh_tokens": 1, "reason": "password_reset"}
    # and the link worked once
    again = _post(
        CONFIRM, {"uid": uid, "token": token, "new_password": "x" + NEW_PASSWORD}
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "link_invalid"
    _api_login(user.email, NEW_PASSWORD)


def test_a_reset_link_expires(user, settings):
    from accounts.services.recovery import password_reset_link

    settings.PASSWORD_RESET_TIMEOUT = 600
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        uid, token = _uid_token(
            password_reset_link(user=user, site_url="http://testserver")
        )
        traveller.shift(timedelta(seconds=601))
        response = _post(
            CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "link_invalid"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_garbled_link_is_refused_like_a_used_one(user):
    for uid, token in (("???", "x"), ("MQ", "1-2"), ("", "")):
        response = _post(
            CONFIRM, {"uid": uid or "x", "token": token or "x", "new_password": "y"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] in {"link_invalid", "invalid"}


def test_reset_does_not_bypass_the_second_factor(user_with_2fa, committed):
    from accounts.services.recovery import password_reset_link

    user, device = user_with_2fa
    uid, token = _uid_token(password_reset_link(user=user, site_url="http://t"))
    body = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    missing = _post(CONFIRM, body)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "otp_required"
    wrong = _post(CONFIRM, {**body, "otp": "000000"})
    assert wrong.json()["error"]["code"] == "otp_invalid"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    with committed():
        done = _post(CONFIRM, {**body, "otp": totp_code(device)})
    assert done.status_code == 204
    event = AuditEvent.objects.get(code=AuditCode.PASSWORD_RESET_COMPLETED)
    assert event.extra == {"second_factor": "totpdevice"}


def test_a_backup_code_also_finishes_a_reset(user, committed):
    from accounts.services import backup_codes_ensure
    from accounts.services.recovery import password_reset_link

    [code, *_] = backup_codes_ensure(user=user)
    uid, token = _uid_token(password_reset_link(user=user, site_url="http://t"))
    body = {"uid": uid, "token": token, "new_password": NEW_PASSWORD, "otp": code}
    with committed():
        assert _post(CONFIRM, body).status_code == 204
    # the code worked once
    assert not StaticDevice.objects.get(user=user).token_set.filter(token=code)


# --- Rate limits --------------------------------------------------------------------


def test_requests_are_limited_per_account_with_retry_after(user, settings):
    settings.PASSWORD_RESET_RATE_PER_ACCOUNT = "2/h"
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    with time_machine.travel(start + timedelta(minutes=15), tick=False) as traveller:
        for address in ("198.51.100.1", "198.51.100.2"):
            response = _post(RESET, {"email": user.email}, REMOTE_ADDR=address)
            assert response.status_code == 202
        # a third ask for the account, from yet another address, waits
        limited = _post(RESET, {"email": user.email}, REMOTE_ADDR="198.51.100.3")
        assert limited.status_code == 429
        assert limited["Retry-After"] == "2700"
        assert limited.json()["error"] == {
            "code": "throttled",
            "message": "Too many requests; try again in 45 minutes.",
            "details": {"retry_after_seconds": 2700},
        }
        # an unknown email is limited exactly the same (nothing to tell apart)
        for _ in range(2):
            assert _post(RESET, {"email": "ghost@example.com"}).status_code == 202
        assert _post(RESET, {"email": "ghost@example.com"}).status_code == 429
        # the next window counts afresh
        traveller.shift(timedelta(minutes=45))
        assert _post(RESET, {"email": user.email}).status_code == 202


def test_requests_are_limited_per_client_address(settings, db):
    settings.PASSWORD_RESET_RATE_PER_ADDRESS = "3/m"
    with time_machine.travel(timezone.now().replace(second=10), tick=False):
        for n in range(3):
            response = _post(RESET, {"email": f"u{n}@example.com"})
            assert response.status_code == 202
        limited = _post(RESET, {"email": "u9@example.com"})
        assert (limited.status_code, limited["Retry-After"]) == (429, "50")
        # another client is not held up
        other = _post(RESET, {"email": "u9@example.com"}, REMOTE_ADDR="203.0.113.9")
        assert other.status_code == 202


# --- The pages ----------------------------------------------------------------------


def test_reset_on_the_pages_reveals_nothing_and_logs_the_browser_out(
    user_with_2fa, smtp_server, committed
):
    user, device = user_with_2fa
    signed_in = Client()
    signed_in.force_login(user, backend="accounts.backends.EmailBackend")
    assert "Forgot your password?" in Client().get("/login/").content.decode()
    # asking for a registered and an unknown address looks the same
    answers = []
    for email in (user.email, "nobody@example.com"):
        browser = Client()
        with committed():
            response = browser.post("/password-reset/", {"email": email}, follow=True)
        assert response.redirect_chain == [("/password-reset/sent/", 302)]
        answers.append(response.content.decode().replace(email, ""))
    assert answers[0] == answers[1]
    assert len(smtp_server.messages) == 1
    # the link moves its token into the session before showing the form
    link = smtp_server.link(user.email, "/password-reset/")
    browser = Client()
    page = browser.get(urlsplit(link).path, follow=True)
    uid, _ = _uid_token(link)
    assert page.redirect_chain == [(f"/password-reset/{uid}/set-password/", 302)]
    assert set(page.context["form"].fields) == {"new_password", "new_password2", "otp"}
    form_url = page.redirect_chain[0][0]
    mismatch = browser.post(
        form_url,
        {"new_password": NEW_PASSWORD, "new_password2": "other", "otp": "1"},
    )
    assert "The two passwords differ." in mismatch.content.decode()
    wrong = browser.post(
        form_url,
        {"new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "otp": "1"},
    )
    assert wrong.status_code == 400
    assert wrong.context["form"].errors["otp"] == ["Invalid code."]
    with committed():
        done = browser.post(
            form_url,
            {
                "new_password": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
                "otp": totp_code(device),
            },
            follow=True,
        )
    assert done.redirect_chain == [("/password-reset/done/", 302)]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # the browser that was signed in is signed out
    assert signed_in.get("/account/security/").status_code == 302
    # and the link does not work twice
    reused = Client().get(urlsplit(link).path, follow=True)
    assert reused.status_code == 400
    assert "invalid, expired or already used" in reused.content.decode()


def test_the_reset_page_answers_429_with_retry_after(db, settings):
    settings.PASSWORD_RESET_RATE_PER_ACCOUNT = "1/d"
    browser = Client()
    assert (
        browser.post("/password-reset/", {"email": "a@example.com"}).status_code == 302
    )
    limited = browser.post("/password-reset/", {"email": "a@example.com"})
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert "Too many requests" in limited.content.decode()


# --- Staff send the link ------------------------------------------------------------


def test_staff_send_a_reset_link_with_a_reason_and_the_cooloff_starts(
    user, smtp_server, committed
):
    support = make_user(email="sam@example.com", roles=(Role.SUPPORT,))
    client = admin_client_for(support)
    page = client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert b'data-testid="send-password-reset"' in page.content
    url = f"/admin/accounts/user/{user.pk}/send-password-reset/"
    no_reason = client.post(url, {"reason": " "}, follow=True)
    assert "say why" in no_reason.content.decode()
    assert not smtp_server.messages
    with committed(), recorded(SecurityNotice) as sent:
        response = client.post(url, {"reason": "customer called, identity checked"})
    assert response.status_code == 302
    assert [(n.user_id, n.kind, n.detail) for n in sent] == [
        (user.pk, "staff_action", (("action", "Password reset link sent by support"),))
    ]
    # the reset link, and the security notice of the staff action (notifications)
    assert len(smtp_server.messages) == 2
    [message] = [
        m for m in smtp_server.messages if m["Subject"] == "Choose a new password"
    ]
    assert message["To"] == user.email
    event = AuditEvent.objects.get(code=AuditCode.STAFF_PASSWORD_RESET_SENT)
    assert (event.user, event.acting_user) == (user, support)
    assert event.extra == {
        "reason": "customer called, identity checked",
        "email": user.email,
    }
    assert user_withdrawal_cooloff_until(user=user) is not None
    # the link is the user's own reset: it works, once
    uid, token = _uid_token(smtp_server.link(user.email, "/password-reset/"))
    with committed():
        done = _post(
            CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
        )
    assert done.status_code == 204


def test_only_staff_with_the_permission_send_reset_links(user):
    reviewer = make_user(email="rita@example.com", roles=(Role.KYC_REVIEWER,))
    response = admin_client_for(reviewer).post(
        f"/admin/accounts/user/{user.pk}/send-password-reset/", {"reason": "x"}
    )
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(code=AuditCode.STAFF_PASSWORD_RESET_SENT)
