"""Sessions and devices in Chromium, as a person uses them: signed in on a laptop
and a phone, the laptop's sessions page lists both, the phone is ended from
there, and the phone's next page is the login page."""

from __future__ import annotations

import pytest

from marketdata.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _skip_reason
from marketdata.tests.test_browser import server as server  # the live server fixture

pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def _log_in(page, base: str) -> None:
    page.goto(base + "/login/")
    page.fill("input[name=email]", "alice@example.com")
    page.fill("input[name=password]", "exchange-demo-pass")
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def test_a_person_ends_their_phones_session_from_the_laptop(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            laptop = browser.new_context().new_page()
            phone = browser.new_context(
                user_agent=PHONE_UA, viewport={"width": 390, "height": 844}
            ).new_page()
            _log_in(laptop, server)
            _log_in(phone, server)

            # the laptop lists both, itself marked
            laptop.goto(server + "/account/sessions/")
            rows = laptop.locator("tr[data-sign-in]")
            expect(rows).to_have_count(2)
            expect(rows.filter(has_text="this device")).to_have_count(1)
            iphone = rows.filter(has_text="iPhone")
            expect(iphone).to_have_count(1)

            # and ends the phone's sign-in
            iphone.get_by_role("button", name="End").click()
            expect(laptop.locator("tr[data-sign-in]")).to_have_count(1)

            # the phone's next page asks it to log in again; the laptop stays in
            phone.goto(server + "/account/security/")
            expect(phone).to_have_url(f"{server}/login/?next=/account/security/")
            laptop.goto(server + "/account/security/")
            expect(laptop.locator("h1")).to_have_text("Account security")
        finally:
            browser.close()
