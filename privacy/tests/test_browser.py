"""A person's whole journey in Chromium: sign up accepting the terms, verify the
email address from the link, download their data, close the account, and find
the door shut behind them."""

from __future__ import annotations

import json

import pytest

from marketdata.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _skip_reason
from marketdata.tests.test_browser import server as server  # the live server fixture

pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")

EMAIL = "journey@example.com"
PASSWORD = "a-long-enough-secret"


def test_sign_up_download_your_data_and_close_the_account(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(accept_downloads=True)
            # sign up: the box must be ticked
            page.goto(server + "/signup/")
            page.fill("input[name=email]", EMAIL)
            page.fill("input[name=full_name]", "Jo Journey")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator(".field-error")).to_contain_text(
                "Accept the terms of service and the privacy notice"
            )
            page.fill("input[name=password]", PASSWORD)
            page.check("input[name=accept_terms]")
            page.click("button[type=submit]")
            page.wait_for_url(server + "/signup/sent/")
            # follow the link in the email, and confirm
            page.goto(server.last_link("/verify-email/"))
            page.get_by_role("button", name="Confirm my email address").click()
            expect(page.get_by_test_id("email-verified")).to_contain_text(EMAIL)
            # log in
            page.goto(server + "/login/")
            page.fill("input[name=email]", EMAIL)
            page.fill("input[name=password]", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(server + "/")  # home, the first page after sign-in
            page.goto(server + "/account/security/")

            # download everything held about the account
            page.get_by_role("link", name="download it or close your account").click()
            page.wait_for_url(server + "/account/privacy/")
            with page.expect_download() as download_info:
                page.get_by_role("button", name="Download my data").click()
            download = download_info.value
            assert download.suggested_filename.startswith("exchange-data-")
            document = json.loads(open(download.path()).read())
            assert document["profile"]["email"] == EMAIL
            assert [c["document"] for c in document["consents"]] == [
                "terms",
                "privacy",
            ]

            # close it: password and an explicit confirmation
            page.fill("input[name=password]", PASSWORD)
            page.check("input[name=confirm]")
            page.get_by_role("button", name="Close my account").click()
            page.wait_for_url(server + "/login/")
            expect(page.get_by_text("Your account is closed")).to_be_visible()

            # the same email and password no longer open anything
            page.fill("input[name=email]", EMAIL)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.get_by_text("Email or password is incorrect.")).to_be_visible()
        finally:
            browser.close()
