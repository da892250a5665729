"""Content-Security-Policy on every page (config/csp.py, settings in base.py).

Every page of the site, walked from the URLconf as a verified demo user (the
seeded alice) and anonymously, answers with the policy and a fresh nonce, and
every inline <script> and <style> it sends carries that nonce; the templates hold
no inline event handler and no javascript: URL; the admin and the API get their
own policies; report-only mode sends the same policy under the other header. One
headless Chromium run proves the trade screen and the login page load with no
violation at all.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import User
from accounts.roles import Role
from accounts.testing import admin_client_for, make_user
from config.csp import REDOC_STYLE_HASHES
from kyc.services import kyc_case_claim
from kyc.tests.helpers import submitted_case
from marketdata.tests.test_browser import CHROMIUM_ARGS
from marketdata.tests.test_browser import server as server  # the live server fixture
from wallet.models import Asset
from wallet.services import deposit_create

ROOT = Path(__file__).resolve().parents[2]
CSP = "Content-Security-Policy"
CSP_RO = "Content-Security-Policy-Report-Only"
NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=]+)'")

PAGE_DIRECTIVES = {
    "default-src": "'self'",
    "font-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _directives(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


# django-csp joins the directives in set order: compare them, not the string.
STRICT = {"default-src": "'none'", "frame-ancestors": "'none'"}


def _page_policy(response) -> tuple[dict[str, str], str]:
    """The page policy's directives and its nonce, checked directive by directive."""
    assert CSP_RO not in response
    directives = _directives(response[CSP])
    for name, value in PAGE_DIRECTIVES.items():
        assert directives[name] == value, (name, response[CSP])
    found = NONCE.search(directives["script-src"])
    assert found is not None, directives["script-src"]
    nonce = found.group(1)
    assert len(nonce) == 24  # 16 random bytes, base64
    assert directives["script-src"] == f"'self' 'nonce-{nonce}'"
    assert directives["style-src"] == f"'self' 'nonce-{nonce}'"
    assert directives["connect-src"] == "'self' ws://testserver"
    assert "unsafe" not in response[CSP].replace("style-src-attr 'unsafe-inline'", "")
    return directives, nonce


# What a browser runs as script; any other type (`json_script`'s
# application/json) is a data block that CSP does not govern.
SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}


class _Inline(HTMLParser):
    """The nonce of each inline <script> and <style>, and every event handler or
    javascript: URL, as the browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[tuple[str, str | None]] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        runs = (values.get("type") or "").lower() in SCRIPT_TYPES
        if tag == "style" or (tag == "script" and runs and not values.get("src")):
            self.inline.append((tag, values.get("nonce")))
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.handlers.append(f"<{tag} {name}={value}>")


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _page_paths() -> list[str]:
    """Every route of the site without arguments, API and admin aside."""
    return [
        "/" + route
        for route in _routes(get_resolver().url_patterns)
        if not route.startswith(("api/", "admin/")) and "<" not in route
    ]


@pytest.fixture
def demo(db) -> User:
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return User.objects.get(email="alice@example.com")


def test_every_page_has_the_policy_and_a_fresh_nonce_on_every_inline_script(demo):
    # Given alice (verified, funded, seeded) with a sandbox deposit to pay
    usd = Asset.objects.get(code="USD")
    deposit = deposit_create(user=demo, asset=usd, amount=10**10)
    alice = Client()
    alice.force_login(demo, backend="accounts.backends.EmailBackend")
    with_arguments = [
        "/trade/BTC-USD/",
        "/trade/RELIANCE-INR/",
        f"/wallet/sandbox/checkout/{deposit.provider_reference}/",
    ]
    paths = _page_paths()
    assert {"/markets/", "/wallet/", "/kyc/", "/login/"} <= set(paths)
    visits = [(alice, path) for path in paths + with_arguments]
    visits += [(Client(), path) for path in ("/login/", "/signup/", "/markets/")]

    # When every page is fetched
    nonces: list[str] = []
    pages = scripts = 0
    for client, path in visits:
        response = client.get(path)
        assert response.status_code in (200, 302, 405), (path, response.status_code)
        if not response["Content-Type"].startswith("text/html"):
            # Then a file or a probe (statement.csv, /healthz) loads nothing at all
            assert _directives(response[CSP]) == STRICT, path
            continue
        # Then each HTML answer has the page policy with its own nonce
        _, nonce = _page_policy(response)
        nonces.append(nonce)
        if response.status_code != 200:
            continue
        pages += 1
        parser = _Inline()
        parser.feed(response.content.decode())
        # and every inline script or style carries exactly that nonce
        assert parser.inline == [(tag, nonce) for tag, _ in parser.inline], path
        assert parser.handlers == [], (path, parser.handlers)
        scripts += sum(
            tag == "script" for tag, _ in parser.inline
        ) + response.content.count(b"<script src=")

    assert len(nonces) == len(set(nonces))  # fresh per response
    assert pages >= 15
    assert scripts >= pages  # every page has its scripts (theme.js at least)
    trade = alice.get("/trade/BTC-USD/").content.decode()
    assert (
        "vendor/lightweight-charts/lightweight-charts.standalone.production.js" in trade
    )


def test_the_kyc_page_styles_carry_the_nonce(demo):
    # Given alice on her KYC page, which keeps an inline <style>
    client = Client()
    client.force_login(demo, backend="accounts.backends.EmailBackend")
    # When she opens it twice
    first, second = client.get("/kyc/"), client.get("/kyc/")
    # Then each page's <style> has that response's nonce, and the nonces differ
    for response in (first, second):
        _, nonce = _page_policy(response)
        assert f'<style nonce="{nonce}">'.encode() in response.content
    assert _page_policy(first)[1] != _page_policy(second)[1]


def test_templates_have_no_inline_handlers_and_every_inline_tag_has_the_nonce():
    # Given every template of the project
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert len(templates) > 30
    offenders = []
    for template in templates:
        text = template.read_text()
        # Then no inline event handler (onclick=, onload=, ...) and no javascript:
        for match in re.finditer(r"<[a-zA-Z][^>]*?\son[a-z]+\s*=", text):
            offenders.append(f"{template}: {match.group(0)[:60]}")
        if re.search(r"javascript:", text, re.IGNORECASE):
            offenders.append(f"{template}: javascript: URL")
        # and every inline <script> or <style> has the request's nonce
        for match in re.finditer(r"<(script|style)\b([^>]*)>", text):
            tag, attrs = match.groups()
            if tag == "script" and "src=" in attrs:
                continue
            if 'nonce="{{ request.csp_nonce }}"' not in attrs:
                offenders.append(f"{template}: {match.group(0)}")
    assert offenders == []


def test_static_scripts_need_no_eval():
    # Given our own browser scripts (the policy has no 'unsafe-eval')
    scripts = sorted((ROOT / "static" / "js").glob("*.js"))
    assert scripts
    for script in scripts:
        text = script.read_text()
        # Then none evaluates strings as code
        assert not re.search(
            r"\beval\(|new Function\(|set(Timeout|Interval)\(\s*['\"`]", text
        ), script


def test_the_admin_has_its_policy_with_style_attributes_only(db):
    # Given a reviewer past the admin's second factor, who claimed a KYC case
    reviewer = make_user(email="reviewer@example.com", roles=(Role.KYC_REVIEWER,))
    case = submitted_case()
    kyc_case_claim(case_id=case.pk, reviewer=reviewer)
    client = admin_client_for(reviewer)
    pages = {}
    for path in (
        reverse("admin:index"),
        reverse("admin:kyc_kyccase_change", args=[case.pk]),
    ):
        # When a back-office page is opened
        response = client.get(path)
        assert response.status_code == 200, path
        # Then it has the page policy, plus style attributes (never scripts)
        directives, nonce = _page_policy(response)
        assert directives["style-src-attr"] == "'unsafe-inline'"
        parser = _Inline()
        parser.feed(response.content.decode())
        # and each inline <style> it keeps (the ops tiles, the case page) is nonced
        assert ("style", nonce) in parser.inline, path
        assert parser.inline == [(tag, nonce) for tag, _ in parser.inline], path
        assert parser.handlers == [], path
        pages[path] = response.content.decode()
    # The case page asks before a rejection through static/js/confirm.js
    case_page = pages[reverse("admin:kyc_kyccase_change", args=[case.pk])]
    assert 'data-confirm="Reject this case for good?"' in case_page
    assert '<script src="/static/js/confirm.js" defer></script>' in case_page
    # while the site's own pages allow no style attribute
    assert "style-src-attr" not in Client().get("/login/")[CSP]


def test_api_answers_carry_a_policy_that_loads_nothing(db):
    # Given an anonymous client
    client = Client()
    # When it calls the API (an error and a success)
    for path, status in (("/api/v1/me", 401), ("/api/schema/", 200)):
        response = client.get(path, HTTP_ACCEPT="application/json")
        # Then the JSON or YAML answer forbids everything
        assert response.status_code == status
        assert _directives(response[CSP]) == STRICT


def test_swagger_ui_gets_its_bundle_origin_and_nonces(db):
    # Given drf-spectacular's Swagger UI bundle location (a CDN unless set locally)
    from drf_spectacular.settings import spectacular_settings

    dist = urlsplit(str(spectacular_settings.SWAGGER_UI_DIST))
    remote = dist.scheme in ("http", "https")
    extra = f" {dist.scheme}://{dist.netloc}" if remote else ""
    # When the API docs page (HTML) is opened
    response = Client().get("/api/docs/")
    # Then the bundle's origin is allowed there, and its inline script is nonced
    directives = _directives(response[CSP])
    nonce = NONCE.search(directives["script-src"]).group(1)
    assert directives["script-src"] == f"'self' 'nonce-{nonce}'{extra}"
    assert directives["style-src"] == f"'self' 'nonce-{nonce}'{extra}"
    assert directives["img-src"] == f"'self' data:{extra}"
    parser = _Inline()
    parser.feed(response.content.decode())
    assert parser.inline == [("style", nonce), ("script", nonce)]
    # and no other page names it (script-src is exactly 'self' and the nonce)
    _page_policy(Client().get("/login/"))


def test_swagger_ui_is_served_from_our_static_files_under_the_page_policy(db):
    # Given the API docs page, with drf-spectacular-sidecar as SWAGGER_UI_DIST
    from django.contrib.staticfiles import finders

    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    # When its scripts, stylesheet and icon are read
    sources = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)
    # Then each is one of our static files (Swagger UI's bundle included), no CDN
    prefix = "/static/drf_spectacular_sidecar/swagger-ui-dist/"
    assert sorted(sources) == [
        f"{prefix}favicon-32x32.png",
        f"{prefix}swagger-ui-bundle.js",
        f"{prefix}swagger-ui-standalone-preset.js",
        f"{prefix}swagger-ui.css",
    ]
    for source in sources:
        assert finders.find(source.removeprefix("/static/")), source
    assert "//" not in "".join(sources)
    # and the page has the site's page policy exactly: no extra origin anywhere
    directives, nonce = _page_policy(response)
    assert directives["script-src"] == f"'self' 'nonce-{nonce}'"
    assert "http" not in response[CSP]


def test_redoc_is_served_from_our_static_files_with_blob_workers_only_there(db):
    # Given the ReDoc page, with drf-spectacular-sidecar as REDOC_DIST
    from django.contrib.staticfiles import finders

    response = Client().get("/api/redoc/")
    assert response.status_code == 200
    html = response.content.decode()
    # Then its only external file is ReDoc's bundle from our static files
    sources = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)
    bundle = "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
    assert sources == [bundle]
    assert finders.find(bundle.removeprefix("/static/"))
    # and the page policy, plus blob: workers (its search index) and the hashes of
    # the style its bundle inserts on load, on this page only
    directives = _directives(response[CSP])
    nonce = NONCE.search(directives["script-src"]).group(1)
    assert directives["style-src"] == (
        f"'self' 'nonce-{nonce}' " + " ".join(REDOC_STYLE_HASHES)
    )
    for name, value in PAGE_DIRECTIVES.items():
        assert directives[name] == value, name
    assert directives["script-src"] == f"'self' 'nonce-{nonce}'"
    assert directives["connect-src"] == "'self' ws://testserver"
    assert directives["worker-src"] == "'self' blob:"
    assert "unsafe" not in response[CSP]
    assert "worker-src" not in Client().get("/api/docs/")[CSP]
    assert "http" not in response[CSP]
    # and its inline style and script carry the nonce, which ReDoc is handed too
    parser = _Inline()
    parser.feed(html)
    assert parser.inline == [("style", nonce), ("script", nonce)]
    assert f'{{nonce: "{nonce}"}}' in html
    assert 'Redoc.init("/api/schema/"' in html


def test_https_pages_allow_their_own_secure_websocket(db):
    # When a page is fetched over HTTPS
    response = Client().get("/login/", secure=True)
    # Then connect-src names wss: of the same host, not ws:
    assert _directives(response[CSP])["connect-src"] == "'self' wss://testserver"


def test_report_only_mode_and_report_uri(db, settings):
    # Given the policy switched to report-only with a report address
    policy = settings.CONTENT_SECURITY_POLICY
    directives = {**policy["DIRECTIVES"], "report-uri": ["/csp-reports/"]}
    settings.CONTENT_SECURITY_POLICY = None
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": directives}
    # When a page and an API answer are fetched
    page = Client().get("/login/")
    api = Client().get("/api/v1/me")
    # Then only the report-only header is sent, with the same policy and the report URI
    assert CSP not in page
    header = _directives(page[CSP_RO])
    assert header["default-src"] == "'self'"
    assert header["report-uri"] == "/csp-reports/"
    assert NONCE.search(header["script-src"])
    assert CSP not in api
    assert _directives(api[CSP_RO]) == {**STRICT, "report-uri": "/csp-reports/"}


def test_settings_from_the_environment_pass_django_csp_checks():
    # Given the environment of a site trying its policy in report-only mode
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CSP_REPORT_ONLY": "true",
        "CSP_REPORT_URI": "https://reports.example.com/csp",
    }
    script = (
        "import django, json; django.setup();"
        "from django.conf import settings; from django.core import checks;"
        "print(json.dumps({"
        "'enforced': getattr(settings, 'CONTENT_SECURITY_POLICY', None),"
        "'report_only': settings.CONTENT_SECURITY_POLICY_REPORT_ONLY['DIRECTIVES']"
        "['report-uri'],"
        "'errors': [e.id for e in checks.run_checks() if e.id.startswith('csp')]}))"
    )
    # When the settings load and django-csp's system checks run
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Then only the report-only policy is set, with the report URI, and no check fails
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "enforced": None,
        "report_only": ["https://reports.example.com/csp"],
        "errors": [],
    }


# --- In a real browser -----------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
_browser_missing = os.environ.get("REQUIRE_BROWSER") != "1" and (
    not Path(CHROMIUM).exists()
    or importlib.util.find_spec("playwright") is None
    or not (ROOT / "node_modules" / "lightweight-charts").is_dir()
)
# Every violation the page sees, as the page itself reports it; Playwright's init
# scripts run outside the page's policy.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sample}`);
});
"""


@pytest.mark.skipif(
    _browser_missing,
    reason=f"needs {CHROMIUM}, playwright and `npm ci` (REQUIRE_BROWSER=1: a failure)",
)
def test_swagger_ui_and_redoc_render_in_chromium_from_our_static_files(server):
    """The API's documentation pages, bundles from our static files, under their
    policies in a real browser: both render; nothing is blocked but ReDoc's
    "by Redocly" logo, which its bundle names on a CDN (so nothing leaves the site)."""
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            page.set_default_timeout(20_000)
            page.add_init_script(RECORD_VIOLATIONS)
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            seen = {}
            # When Swagger UI is opened
            page.goto(server + "/api/docs/")
            # Then it renders the schema's operations
            expect(page.locator(".opblock").first).to_be_visible()
            seen["/api/docs/"] = page.evaluate("window.__csp")
            # When ReDoc is opened
            page.goto(server + "/api/redoc/")
            # Then it renders the operations and its search box works (ReDoc
            # parses the whole schema first: seconds on a loaded machine)
            expect(page.locator("[role=search] input")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Exchange API").first).to_be_visible()
            seen["/api/redoc/"] = page.evaluate("window.__csp")
            # with no violation but ReDoc's "by Redocly" logo, which the policy
            # keeps from loading (ReDoc then leaves it out), no page error, and
            # every request to this server
            assert seen == {
                "/api/docs/": [],
                "/api/redoc/": [f"img-src {logo} "],
            }
            assert errors == []
            outside = [
                url
                for url in requests
                if not url.startswith((server, "data:", "blob:"))
            ]
            # (the logo's request is attempted, and blocked: it never leaves)
            assert outside == [logo] and failed == [logo]
        finally:
            browser.close()


@pytest.mark.skipif(
    _browser_missing,
    reason=f"needs {CHROMIUM}, playwright and `npm ci` (REQUIRE_BROWSER=1: a failure)",
)
def test_login_and_trade_pages_run_in_chromium_with_no_violation(server):
    """`server` (marketdata/tests/test_browser.py): uvicorn on a seeded SQLite
    database, the real middleware, static files and WebSockets."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            page.set_default_timeout(15_000)
            page.add_init_script(RECORD_VIOLATIONS)
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.on("pageerror", lambda error: console.append(str(error)))
            seen: dict[str, list[str]] = {}

            # Given the login page, anonymous
            page.goto(server + "/login/")
            seen["/login/"] = page.evaluate("window.__csp")
            # When alice logs in and opens the trade screen
            page.fill("input[name=email]", "alice@example.com")
            page.fill("input[name=password]", "exchange-demo-pass")
            page.click("form button[type=submit]")
            page.wait_for_load_state()
            page.goto(server + "/trade/BTC-USD/")
            # Then the chart library runs (a static file) and both WebSockets open
            expect(page.locator("[data-chart] canvas").first).to_be_attached()
            expect(page.locator("[data-conn]")).to_have_attribute("data-conn", "live")
            expect(page.locator("[data-user-conn]")).to_have_attribute(
                "data-user-conn", "live"
            )
            seen["/trade/BTC-USD/"] = page.evaluate("window.__csp")
            # and the KYC page's nonced <style> applies
            page.goto(server + "/kyc/")
            seen["/kyc/"] = page.evaluate("window.__csp")

            # with no violation anywhere, and no console line about the policy
            assert seen == {"/login/": [], "/trade/BTC-USD/": [], "/kyc/": []}
            assert [m for m in console if "Content Security Policy" in m] == []

            # And the policy is enforced, and seen: a script without the nonce
            ran = page.evaluate(
                """() => {
                  const s = document.createElement("script");
                  s.textContent = "window.__injected = true";
                  document.head.append(s);
                  return window.__injected === true;
                }"""
            )
            assert ran is False
            expect(page.locator("body")).to_be_attached()
            page.wait_for_function("window.__csp.length > 0")
            assert page.evaluate("window.__csp")[0].startswith("script-src-elem inline")
        finally:
            browser.close()
