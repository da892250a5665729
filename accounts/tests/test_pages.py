"""Browser pages: sign up, log in with the OTP step, log out, account security."""

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditCode, AuditEvent, User
from accounts.testing import PASSWORD
from accounts.tests.conftest import totp_code

pytestmark = pytest.mark.django_db


def test_signup_page_creates_account_and_asks_to_verify_the_address(
    mailoutbox, django_capture_on_commit_callbacks
):
    client = Client()
    assert client.get("/signup/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/signup/",
            {
                "email": "Page@Example.com",
                "full_name": "Page User",
                "password": "a-long-enough-secret",
                "accept_terms": "on",
            },
            follow=True,
        )
    assert response.redirect_chain == [("/signup/sent/", 302)]
    assert "Check your inbox" in response.content.decode()
    user = User.objects.get(email="page@example.com")
    assert user.email_verified_at is None
    [mail] = mailoutbox
    assert mail.to == ["page@example.com"]
    assert "/verify-email/" in mail.body
    # not logged in: a registered address gets the same answer without a login
    assert client.get("/account/security/").status_code == 302


def test_signup_page_shows_field_errors():
    response = Client().post(
        "/signup/", {"email": "bad", "full_name": "", "password": "123"}
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {
        "email",
        "full_name",
        "accept_terms",
    }
    weak = Client().post(
        "/signup/",
        {
            "email": "ok@example.com",
            "full_name": "Ok",
            "password": "1234567890",
            "accept_terms": "on",
        },
    )
    assert "password" in weak.context["form"].errors
    assert not User.objects.exists()


def test_csrf_is_enforced_on_pages():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"email": "a@example.com", "password": "x"})
    assert response.status_code == 403


def test_login_without_2fa(user):
    client = Client()
    response = client.post("/login/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/account/security/").status_code == 200
    event = AuditEvent.objects.get(code=AuditCode.LOGIN_SUCCEEDED)
    assert event.extra == {"channel": "web"}


def test_login_wrong_password_shows_error(user):
    response = Client().post(
        "/login/", {"email": user.email, "password": "wrong-pass-1"}
    )
    assert response.status_code == 401
    assert "Email or password is incorrect." in response.content.decode()


def test_login_with_2fa_asks_for_the_code(user_with_2fa):
    user, device = user_with_2fa
    client = Client()
    response = client.post(
        "/login/?next=/account/security/", {"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/login/otp/"
    assert client.get("/account/security/").status_code == 302  # not logged in yet

    bad = client.post(
        "/login/otp/", {"otp": "000000" if totp_code(device) != "000000" else "999999"}
    )
    assert bad.status_code == 401
    good = client.post("/login/otp/", {"otp": totp_code(device)})
    assert good.status_code == 302
    assert good["Location"] == "/account/security/"
    page = client.get("/account/security/")
    assert page.status_code == 200
    assert page.context["user"].is_verified()


def test_otp_step_without_password_step_redirects_to_login():
    response = Client().get("/login/otp/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"


def test_login_open_redirect_is_ignored(user):
    response = Client().post(
        "/login/?next=https://evil.example.com/",
        {"email": user.email, "password": PASSWORD},
    )
    assert response["Location"] == "/"


def test_browser_lockout(user, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    client = Client()
    client.post("/login/", {"email": user.email, "password": "wrong-pass-1"})
    locked = client.post("/login/", {"email": user.email, "password": "wrong-pass-1"})
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.content.decode()
    still = client.post("/login/", {"email": user.email, "password": PASSWORD})
    assert still.status_code == 429


def test_logout_requires_post(user):
    client = Client()
    client.force_login(user)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/account/security/").status_code == 302


def test_security_page_turns_2fa_on_and_off(user):
    client = Client()
    client.force_login(user)
    setup = client.post("/account/security/", {"action": "2fa-setup"})
    assert setup.status_code == 200
    assert "<svg" in setup.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    confirm = client.post(
        "/account/security/", {"action": "2fa-confirm", "otp": totp_code(device)}
    )
    # the answer is the one page that shows the new recovery codes
    assert confirm.status_code == 200
    assert len(confirm.context["codes"]) == 10
    assert confirm["Cache-Control"] == "no-store"
    device.refresh_from_db()
    assert device.confirmed
    page = client.get("/account/security/")
    assert page.context["two_factor_enabled"] is True
    assert "Two-factor enabled" in page.content.decode()

    off = client.post(
        "/account/security/",
        {
            "action": "2fa-disable",
            "password": PASSWORD,
            "otp": totp_code(device, offset_steps=1),
        },
    )
    assert off.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_security_page_password_change_keeps_session(user):
    client = Client()
    client.force_login(user)
    response = client.post(
        "/account/security/",
        {
            "action": "password",
            "old_password": PASSWORD,
            "new_password": "another-secret-88",
        },
    )
    assert response.status_code == 302
    assert client.get("/account/security/").status_code == 200
    user.refresh_from_db()
    assert user.check_password("another-secret-88")
    wrong = client.post(
        "/account/security/",
        {
            "action": "password",
            "old_password": "nope",
            "new_password": "another-secret-99",
        },
    )
    assert wrong.status_code == 400
    assert "old_password" in wrong.context["password_form"].errors


def test_security_page_requires_login():
    response = Client().get("/account/security/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
