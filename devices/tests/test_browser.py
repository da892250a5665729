"""Web Push in Chromium: the channels page registers the service worker at the
root scope under the site's CSP, and a push delivered to it (through the
DevTools protocol, standing in for the push service) becomes a notification
with the message's title, body and link."""

from __future__ import annotations

import json
import os

import pytest

from devices.management.commands.webpush_vapid_keys import vapid_key_pair
from marketdata.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _skip_reason
from marketdata.tests.test_browser import server as server  # the live server fixture

pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")

VAPID_SETTINGS = (
    "WEBPUSH_VAPID_PUBLIC_KEY",
    "WEBPUSH_VAPID_PRIVATE_KEY",
    "WEBPUSH_VAPID_SUBJECT",
)


@pytest.fixture(scope="module")
def vapid_env():
    """Web Push switched on in the server's environment (set before it starts)."""
    saved = {name: os.environ.get(name) for name in VAPID_SETTINGS}
    public, private = vapid_key_pair()
    os.environ.update(
        WEBPUSH_VAPID_PUBLIC_KEY=public,
        WEBPUSH_VAPID_PRIVATE_KEY=private,
        WEBPUSH_VAPID_SUBJECT="mailto:ops@example.com",
    )
    yield public
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_the_service_worker_turns_a_push_into_a_notification(vapid_env, server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context()
            context.grant_permissions(["notifications"], origin=server)
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto(server + "/login/")
            page.fill("input[name=email]", "alice@example.com")
            page.fill("input[name=password]", "exchange-demo-pass")
            page.click("form button[type=submit]")
            page.wait_for_load_state()

            page.goto(server + "/account/notification-channels/")
            expect(page.locator("h1")).to_have_text("Notification channels")
            assert (
                page.locator("#webpush").get_attribute("data-public-key") == vapid_env
            )
            # the page's script ran (CSP allows it) and found no subscription
            expect(page.locator("[data-webpush-status]")).to_have_text(
                "This browser does not receive your notifications."
            )
            expect(page.locator("[data-webpush-on]")).to_be_visible()
            scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
            assert scope == server + "/"

            registrations: list[dict] = []
            cdp = context.new_cdp_session(page)
            cdp.on(
                "ServiceWorker.workerRegistrationUpdated",
                lambda event: registrations.extend(event["registrations"]),
            )
            cdp.send("ServiceWorker.enable")
            page.wait_for_timeout(300)
            registration = next(
                r for r in registrations if r["scopeURL"] == server + "/"
            )
            for url in (server + "/wallet/", "https://evil.example/phish"):
                cdp.send(
                    "ServiceWorker.deliverPushMessage",
                    {
                        "origin": server,
                        "registrationId": registration["registrationId"],
                        "data": json.dumps(
                            {
                                "title": "Deposit credited",
                                "body": f"100 USD ({url})",
                                "url": url,
                                "tag": f"deposit_credited-{len(url)}",
                                "data": {},
                            }
                        ),
                    },
                )
            shown = page.wait_for_function(
                """() => navigator.serviceWorker.ready
                    .then(r => r.getNotifications())
                    .then(ns => ns.length !== 2 ? null
                        : ns.map(n => [n.title, n.body, n.tag, n.data.url]))""",
                timeout=10_000,
            ).json_value()
            assert sorted(shown) == sorted(
                [
                    [
                        "Deposit credited",
                        f"100 USD ({server}/wallet/)",
                        f"deposit_credited-{len(server + '/wallet/')}",
                        server + "/wallet/",
                    ],
                    [
                        "Deposit credited",
                        "100 USD (https://evil.example/phish)",
                        f"deposit_credited-{len('https://evil.example/phish')}",
                        server + "/",  # another origin is never opened
                    ],
                ]
            )
            assert not [e for e in errors if "Content Security Policy" in e]
        finally:
            browser.close()
