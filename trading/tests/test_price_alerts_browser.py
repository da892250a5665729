"""The trade screen's price alerts panel in a real browser against a real server
(the live server of marketdata/tests/test_browser.py: uvicorn, seeded demo data,
headless Chromium): Alice adds alerts, sees a refused price named on its field,
watches one fire on a trade and removes one, all through the API."""

from __future__ import annotations

import pytest

from marketdata.tests.test_browser import (  # noqa: F401 (the fixture)
    CHROMIUM,
    CHROMIUM_ARGS,
    _request,
    _skip_reason,
    _token,
    server,
)

pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def test_alerts_are_added_fired_and_removed_on_the_trade_screen(server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    base = server
    bob = _token(base, "bob@example.com")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(base + "/login/")
            page.fill("input[name=email]", "alice@example.com")
            page.fill("input[name=password]", "exchange-demo-pass")
            page.click("form button[type=submit]")
            page.wait_for_load_state()
            page.goto(base + "/trade/BTC-USD/")
            panel = page.locator("[data-price-alerts]")
            expect(panel.locator(".ts-empty")).to_have_text(
                "No price alerts on BTC-USD yet."
            )

            # an off-tick price is refused on its field
            panel.locator("#pa-price").fill("95000.001")
            panel.locator("[data-pa-submit]").click()
            expect(panel.locator('[data-pa-error="price"]')).not_to_be_empty()
            assert panel.locator("[data-pa-alert]").count() == 0

            # two alerts: one that the trade below crosses, one it does not
            panel.locator("#pa-condition").select_option("below")
            panel.locator("#pa-price").fill("90000")
            panel.locator("[data-pa-submit]").click()
            expect(panel.locator("[data-pa-alert]")).to_have_count(1)
            panel.locator("#pa-condition").select_option("above")
            panel.locator("#pa-price").fill("99000")
            panel.locator("[data-pa-repeating]").check()
            panel.locator("#pa-cooldown").fill("10")
            panel.locator("[data-pa-submit]").click()
            expect(panel.locator("[data-pa-alert]")).to_have_count(2)
            expect(panel.locator('[data-pa-error="price"]')).to_be_empty()
            expect(panel.locator("[data-pa-alert]").first).to_contain_text(
                "Repeats, rests 10 min"
            )

            # a trade at 89,000: Bob rests a bid, Alice sells into it (the API)
            alice = _token(base, "alice@example.com")
            for token, side in ((bob, "buy"), (alice, "sell")):
                status, body = _request(
                    base,
                    "POST",
                    "/api/v1/orders",
                    {
                        "symbol": "BTC-USD",
                        "side": side,
                        "type": "limit",
                        "price": "89000.00",
                        "quantity": "0.01",
                    },
                    token=bob if side == "buy" else alice,
                )
                assert status in (201, 202), body
            page.reload()
            below = panel.locator("[data-pa-alert]").filter(has_text="At or below")
            expect(below).to_contain_text("Fired")
            above = panel.locator("[data-pa-alert]").filter(has_text="At or above")
            expect(above).to_contain_text("Watching")

            # remove the fired one
            below.get_by_role("button", name="Remove").click()
            expect(panel.locator("[data-pa-alert]")).to_have_count(1)
            status, listed = _request(
                base, "GET", "/api/v1/price-alerts?symbol=BTC-USD", token=alice
            )
            assert status == 200
            assert [(a["condition"], a["price"]) for a in listed["results"]] == [
                ("above", "99000.00")
            ]
            assert errors == []
        finally:
            browser.close()
