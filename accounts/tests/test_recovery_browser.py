"""The whole password reset clicked through in headless Chromium, as a person
would: "Forgot your password?", the link from the message a real SMTP server
received, a new password, log in with it. The browser that was signed in before
is signed out, and the refresh token issued before is refused.

Skipped, with the reason, when /usr/bin/chromium or playwright is missing, unless
REQUIRE_BROWSER=1 (CI), where that is a failure."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import pytest
from django.test import Client

from accounts.testing import PASSWORD, make_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]
NEW_PASSWORD = "clicked-new-secret-58"


def _skip_reason() -> str | None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        return None
    if not Path(CHROMIUM).exists():
        return f"needs {CHROMIUM} (set REQUIRE_BROWSER=1 to make this a failure)"
    if importlib.util.find_spec("playwright") is None:
        return "needs the playwright package (requirements.txt)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def _wait_for_link(smtp_server, address: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if smtp_server.to(address):
            return smtp_server.link(address, "/password-reset/")
        time.sleep(0.1)
    raise AssertionError(f"no message to {address} within {timeout}s")


@pytest.mark.django_db(transaction=True)
def test_a_person_resets_a_forgotten_password_in_the_browser(
    live_server, smtp_server, monkeypatch
):
    from playwright.sync_api import expect, sync_playwright

    # playwright's sync API runs an event loop in this thread; the ORM calls
    # below are ordinary synchronous test code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    user = make_user(email="carla@example.com", full_name="Carla Client")
    login = Client().post(
        "/api/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    )
    refresh = login.json()["refresh"]
    base = live_server.url

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            # given Carla signed in on her laptop
            laptop = browser.new_context().new_page()
            laptop.goto(f"{base}/login/")
            laptop.fill("#id_email", user.email)
            laptop.fill("#id_password", PASSWORD)
            laptop.get_by_role("button", name="Log in").click()
            expect(laptop).to_have_url(f"{base}/")  # home after sign-in
            laptop.goto(f"{base}/account/security/")
            expect(laptop.locator("h1")).to_have_text("Account security")

            # when, on her phone, she forgets her password and asks for a link
            phone = browser.new_context().new_page()
            phone.goto(f"{base}/login/")
            phone.get_by_role("link", name="Forgot your password?").click()
            phone.fill("#id_email", "Carla@Example.com")
            phone.get_by_test_id("reset-request").click()
            expect(phone.get_by_test_id("reset-sent")).to_contain_text(
                "If an account uses this email address"
            )
            # and follows the link in the email she received
            link = _wait_for_link(smtp_server, user.email)
            assert link.startswith(base)
            phone.goto(link)
            expect(phone).to_have_url(
                f"{base}/password-reset/{link.split('/')[-3]}/set-password/"
            )
            phone.fill("#id_new_password", NEW_PASSWORD)
            phone.fill("#id_new_password2", NEW_PASSWORD)
            phone.get_by_test_id("reset-submit").click()
            expect(phone.get_by_test_id("reset-done")).to_be_visible()

            # then she logs in with the new password
            phone.get_by_role("main").get_by_role("link", name="Log in").click()
            phone.fill("#id_email", user.email)
            phone.fill("#id_password", NEW_PASSWORD)
            phone.get_by_role("button", name="Log in").click()
            expect(phone).to_have_url(f"{base}/")  # home after sign-in

            # and the laptop's session is over
            laptop.reload()
            expect(laptop).to_have_url(f"{base}/login/?next=/account/security/")
        finally:
            browser.close()

    # the refresh token issued before the reset is refused
    refused = Client().post(
        "/api/v1/auth/refresh", {"refresh": refresh}, content_type="application/json"
    )
    assert refused.status_code == 401
    # the reset link, and the security notices notifications deliver: the
    # sign-in from a new device, then the password change
    subjects = [m["Subject"] for m in smtp_server.to(user.email)]
    assert subjects[0] == "Your account was signed in to from a new device"
    assert subjects[1] == "Choose a new password"
    assert len(subjects) == 3 and "password" in subjects[2].lower()
