"""The retail pages in Chromium, in one browser session against one live server
(the `server` fixture of marketdata/tests/test_browser.py: uvicorn, seeded demo):

* no page scrolls sideways at 390 px (phone) or 1280 px (desktop), signed in and
  as a visitor;
* the API docs (Swagger UI, ReDoc) render with every request to anywhere but
  this server refused: they work offline, from drf-spectacular-sidecar;
* the browser's zone becomes the page's zone (body data-time-zone) on the first
  visit, and times are labelled with it;
* /favicon.ico answers with an icon.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from marketdata.tests.test_browser import (  # noqa: F401 (the fixture)
    CHROMIUM,
    CHROMIUM_ARGS,
    _skip_reason,
    server,
)

pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")

INDIA = ("Asia/Kolkata", "Asia/Calcutta")
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}
VISITOR_PAGES = ["/", "/markets/", "/login/", "/signup/"]
SIGNED_IN_PAGES = [
    "/",
    "/wallet/",
    "/wallet/statement/",
    "/wallet/beneficiaries/",
    "/trading/orders/",
    "/trading/fills/",
    "/trading/portfolio/",
    "/markets/",
    "/account/security/",
    "/account/sessions/",
    "/account/security/factors/",
]
# What sticks out: the page's width and the widest elements past the viewport.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && getComputedStyle(el).position !== "fixed") {
      wide.push(el.tagName.toLowerCase() + (el.className ? "." + el.className : "")
                + " right=" + Math.round(box.right));
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
}"""


def _overflow(page) -> dict | None:
    result = page.evaluate(OVERFLOW_JS)
    return result if result["scroll"] > result["width"] else None


def test_pages_fit_phone_and_desktop_docs_work_offline_zone_and_icon(
    server,  # noqa: F811 (the imported fixture)
):
    from playwright.sync_api import expect, sync_playwright

    base = server
    origin = urlparse(base).netloc
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(timezone_id="Asia/Kolkata")
            outside: list[str] = []

            def only_this_server(route):
                if urlparse(route.request.url).netloc == origin:
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            context.route("**/*", only_this_server)
            page = context.new_page()
            failed: list[str] = []
            page.on(
                "response",
                lambda r: (
                    failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
                ),
            )

            # A visitor: the landing page and the sign-in pages, both sizes
            problems: dict[str, dict] = {}
            for size, (width, height) in SIZES.items():
                page.set_viewport_size({"width": width, "height": height})
                for path in VISITOR_PAGES:
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    if (found := _overflow(page)) is not None:
                        problems[f"visitor {size} {path}"] = found
            # the browser's zone, learnt on the first visit (Chromium's ICU may
            # give the zone's older name)
            zone = page.locator("body").get_attribute("data-time-zone")
            assert zone in INDIA

            # Alice signs in; every page she sees, both sizes
            page.goto(base + "/login/")
            page.fill("input[name=email]", "alice@example.com")
            page.fill("input[name=password]", "exchange-demo-pass")
            page.click("form button[type=submit]")
            page.wait_for_load_state("networkidle")
            for size, (width, height) in SIZES.items():
                page.set_viewport_size({"width": width, "height": height})
                for path in SIGNED_IN_PAGES:
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    if (found := _overflow(page)) is not None:
                        problems[f"alice {size} {page.url}"] = found
            assert problems == {}
            page.goto(base + "/")
            expect(page.locator("#home-figures")).to_be_visible()
            expect(page.locator(".zone-note")).to_contain_text(zone)
            assert " IST" in page.locator(".activity").inner_text() or (
                page.locator(".activity time").count() == 0
            )

            # The API docs, with nothing but this server reachable
            page.set_viewport_size({"width": 1280, "height": 800})
            page.goto(base + "/api/docs/")
            expect(page.locator(".swagger-ui .opblock").first).to_be_visible(
                timeout=20_000
            )
            page.goto(base + "/api/redoc/")
            # ReDoc lays out the whole schema first: slow on a busy machine
            expect(page.locator(".api-content").first).to_be_visible(timeout=45_000)
            assert outside == []

            # The icon
            icon = page.request.get(base + "/favicon.ico")
            assert icon.status == 200
            assert icon.headers["content-type"] in (
                "image/x-icon",
                "image/vnd.microsoft.icon",
            )
            assert failed == []
        finally:
            browser.close()
