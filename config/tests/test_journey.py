"""The whole retail journey in a real browser, on PostgreSQL, with every page audited.

A uvicorn subprocess serves the test database (PostgreSQL; the test commits, the
server reads) with the embedded settings: Celery eager, the Redis channel layer,
emails delivered over SMTP to a real local server (aiosmtpd, in this process).
Headless Chromium (the distribution's, /usr/bin/chromium) then goes through what a
new retail user does, and the back office does for them:

sign up, verify the email from the link the SMTP server received, log in, turn on
two-factor (the TOTP code computed from the secret on the page), KYC with
documents (generated PNGs and a PDF), a KYC reviewer approves in the admin (a
second browser context), a sandbox deposit, a limit and a market order on the
trade screen (through the order review when the page shows one), a cancel, the
statement and its CSV, a beneficiary (cool-off 0) and a withdrawal that an
operator approves in the admin (a third context).

Every page the journey opens is audited at desktop (1280x800) and phone
(390x844) size: no horizontal overflow, no console error, no failed request (a
response of 400 or more included), and axe-core (npm, node_modules/axe-core)
finds no serious or critical violation. A page reached by GET is opened again in
a phone-sized page of the same context; a page that is the answer to a POST (or
a single-use link) is resized in place. Screenshots of both sizes go to
$ARTEFACTS_DIR (default var/screenshots, git-ignored). All findings are collected
and reported together at the end, so one run lists every page's problems.

Skipped without Chromium or node_modules unless REQUIRE_BROWSER=1 (CI), where
that is a failure; marked `postgres`. docs/browser-tests.md.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from config.tests.live_server import uvicorn_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "journey-Pass-2026!"
DEMO_PASSWORD = "exchange-demo-pass"
EMAIL = "june.journey@example.com"
# What axe-core must not find; "moderate" and "minor" are reported by axe but
# do not fail the journey.
FAILING_IMPACTS = ("serious", "critical")
# The order review dialog of the trade screen: its confirm button.
REVIEW_CONFIRM = (
    "#order-review-confirm, [data-review-confirm], "
    "dialog[open] button[type=submit], [role=dialog] button[data-confirm]"
)


def _skip_reason() -> str | None:
    if REQUIRED:
        return None
    if not Path(CHROMIUM).exists():
        return f"needs {CHROMIUM} (set REQUIRE_BROWSER=1 to make this a failure)"
    if not AXE.exists():
        return "needs `npm ci` (axe-core)"
    return None


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
]


# --- the server and its mail -----------------------------------------------------


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}"
        f":{db['PORT'] or 5432}/{db['NAME']}"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Site:
    base: str
    mail: Any  # accounts.tests.conftest.CapturedMail
    staff_codes: dict[str, list[str]]
    log_path: Path


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def _staff_backup_codes(seed_output: str) -> dict[str, list[str]]:
    """seed_demo prints each member of staff's one-time backup codes under them."""
    codes: dict[str, list[str]] = {}
    email = ""
    for line in seed_output.splitlines():
        found = re.match(r"\s+(\S+@example\.com)\s", line)
        if found:
            email = found.group(1)
        elif "backup codes:" in line and email:
            codes[email] = line.split("backup codes:", 1)[1].split()
    return codes


@pytest.fixture
def site(transactional_db, tmp_path):
    """uvicorn on the test database, seeded with the demo data the journey
    needs (SEED), mail over SMTP."""
    from aiosmtpd.controller import Controller

    from conftest import CapturedMail

    if REQUIRED:
        assert Path(CHROMIUM).exists(), f"REQUIRE_BROWSER=1 but {CHROMIUM} is missing"
        assert AXE.exists(), "REQUIRE_BROWSER=1 but axe-core is missing: `npm ci`"
    mail = CapturedMail()
    smtp_port = _free_port()
    controller = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {
        # the embedded settings (Argon2, the sandbox provider, DEBUG static files)
        # on the test database
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": _database_url(),
        "DB_POOL": "false",
        "CELERY_BROKER_URL": "",
        "DJANGO_DEBUG": "1",
        "KYC_STORAGE_ROOT": str(tmp_path / "kyc"),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "WALLET_BENEFICIARY_COOLOFF_HOURS": "0",
        "THROTTLE_ORDERS": "1000/s",
    }
    try:
        seeded = _manage(
            {**env, "EMAIL_URL": "", "EMAIL_BACKEND": _DUMMY_MAIL},
            "shell",
            "-c",
            SEED,
        )
        log_path = tmp_path / "server.log"
        with uvicorn_server(env=env, log_path=log_path) as port:
            yield Site(
                base=f"http://127.0.0.1:{port}",
                mail=mail,
                staff_codes=_staff_backup_codes(seeded),
                log_path=log_path,
            )
    finally:
        controller.stop()


_DUMMY_MAIL = "django.core.mail.backends.dummy.EmailBackend"
# What the journey needs of `seed_demo`, through the same seeders: the roles, the
# demo staff (their backup codes printed) and traders (alice, KYC-approved and
# funded, rests the ask a market buy takes), assets and instruments. The market
# maker's bots and the reports are left out: they only cost time here.
SEED = """
from importlib import import_module
from django.db import transaction
from accounts.roles import sync_role_permissions
with transaction.atomic():
    sync_role_permissions()
    for name in ("accounts.seed", "kyc.seed", "wallet.seed", "trading.seed"):
        import_module(name).seed(out=print)
"""


def _api(base: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


# --- documents and codes -----------------------------------------------------------


def _png(label: str, color: tuple[int, int, int]) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (420, 270), color)
    ImageDraw.Draw(image).text((24, 24), label, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _pdf(text: str) -> bytes:
    stream = b"BT /F1 18 Tf 40 100 Td (" + text.encode() + b") Tj ET"
    return (
        b"%PDF-1.4\n"
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >> endobj\n"
        b"4 0 obj << /Length " + str(len(stream)).encode() + b" >>\nstream\n"
        b"" + stream + b"\nendstream\nendobj\n"
        b"5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


class Authenticator:
    """The user's authenticator app: TOTP codes from the secret the page showed.
    django-otp accepts a code once per 30-second step, and one step ahead
    (tolerance 1): each code is for a later step than the last one used, and
    waits only when that step would be two ahead."""

    def __init__(self, secret: str) -> None:
        import base64

        self.key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        self.last_step = -1

    def code(self) -> str:
        from django_otp.oath import TOTP

        while True:
            now_step = int(time.time()) // 30
            step = max(now_step, self.last_step + 1)
            if step <= now_step + 1:
                break
            time.sleep(0.5)
        self.last_step = step
        totp = TOTP(self.key, step=30, t0=0, digits=6)
        totp.time = step * 30 + 1
        return f"{totp.token():06d}"


# --- the audit of each page -------------------------------------------------------


@dataclass
class Audit:
    """Checks each page at both sizes, saves its screenshots, collects findings."""

    directory: Path
    findings: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    count: int = 0
    axe_source: str = field(default="", repr=False)

    def watch(self, context: Any, who: str) -> None:
        def on_console(message: Any) -> None:
            if message.type == "error":
                self.events.append(f"{who}: console error: {message.text}")

        def on_response(response: Any) -> None:
            if response.status >= 400:
                self.events.append(
                    f"{who}: HTTP {response.status} {response.request.method} "
                    f"{response.url}"
                )

        def on_failed(request: Any) -> None:
            failure = request.failure or ""
            # a navigation that replaces a page cancels its pending requests
            if "ERR_ABORTED" not in failure:
                self.events.append(f"{who}: failed {request.url}: {failure}")

        context.on("console", on_console)
        context.on("response", on_response)
        context.on("requestfailed", on_failed)
        context.on(
            "weberror", lambda error: self.events.append(f"{who}: {error.error}")
        )

    def page(self, page: Any, name: str, *, revisit: bool = True) -> None:
        """Audit what `page` shows now at desktop size, then at phone size: in a
        new page of the same context when it can be opened again by GET, else
        by resizing this one (and back)."""
        self.count += 1
        started = time.monotonic()
        label = f"{self.count:02d}-{name}"
        page.wait_for_load_state()
        self._check(page, label, "desktop")
        if revisit:
            phone = page.context.new_page()
            phone.set_viewport_size(PHONE)
            phone.goto(page.url)
            self._check(phone, label, "phone")
            phone.close()
        else:
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(150)
            self._check(page, label, "phone")
            page.set_viewport_size(DESKTOP)
        self._drain(label)
        print(f"audited {label} in {time.monotonic() - started:.1f}s")  # noqa: T201

    def _drain(self, label: str) -> None:
        for event in self.events:
            self.findings.append(f"{label}: {event}")
        self.events.clear()

    def _check(self, page: Any, label: str, size: str) -> None:
        where = f"{label} [{size}] {page.url}"
        overflow = page.evaluate(
            "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
        )
        if overflow[0] > overflow[1]:
            wide = page.evaluate(_WIDEST_JS)
            self.findings.append(
                f"{where}: horizontal overflow, scrollWidth {overflow[0]} > "
                f"innerWidth {overflow[1]}; widest: {wide}"
            )
        for violation in self._axe(page):
            self.findings.append(f"{where}: axe {violation}")
        page.screenshot(path=self.directory / f"{label}-{size}.png", full_page=True)

    def _axe(self, page: Any) -> list[str]:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            # The pages' CSP refuses an inline <script>: the source is
            # evaluated through the DevTools protocol instead, which CSP
            # does not govern.
            page.evaluate(self.axe_source)
        result = page.evaluate(_AXE_JS, list(FAILING_IMPACTS))
        return [
            f"{v['impact']} {v['id']} ({v['help']}): {'; '.join(v['nodes'])}"
            for v in result
        ]


_AXE_JS = """
async (impacts) => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 6).map((n) => n.target.join(" ")),
    }));
}
"""

# The elements wider than the viewport, deepest first (what to fix).
_WIDEST_JS = """
() => {
  const limit = window.innerWidth;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.right > limit + 1 && r.width > 0) {
      const kids = [...el.children].some(
        (c) => c.getBoundingClientRect().right > limit + 1);
      if (!kids) {
        const id = el.id ? "#" + el.id : "";
        const cls = el.className && typeof el.className === "string"
          ? "." + el.className.trim().split(/\\s+/).join(".") : "";
        out.push(el.tagName.toLowerCase() + id + cls + " right=" + Math.round(r.right));
      }
    }
    if (out.length >= 4) break;
  }
  return out.join(", ");
}
"""


# --- the journey --------------------------------------------------------------------


def _submit(page: Any, form: str) -> None:
    """Click `form`'s submit button and wait for the page it leads to."""
    with page.expect_navigation():
        page.locator(form).locator(
            "button[type=submit], input[type=submit]"
        ).first.click()


def _staff_login(audit: Audit, page: Any, site: Site, email: str) -> None:
    page.goto(site.base + "/admin/login/")
    audit.page(page, "admin-login")
    page.fill("#id_username", email)
    page.fill("#id_password", DEMO_PASSWORD)
    page.fill("#id_otp_token", site.staff_codes[email].pop())
    _submit(page, "#login-form")
    assert page.url.rstrip("/").endswith("/admin"), page.url
    audit.page(page, f"admin-home-{email.split('@')[0]}")


def test_retail_journey_end_to_end_at_desktop_and_phone_size(site, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    from kyc.models import KycProfile
    from trading.models import Order
    from wallet.models import Deposit, Withdrawal

    # The ORM checks run in this thread, where sync playwright keeps an event
    # loop: Django refuses that unless told it is safe (nothing else runs here).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    directory = Path(os.environ.get("ARTEFACTS_DIR") or ROOT / "var" / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.png"):
        old.unlink()
    audit = Audit(directory=directory, axe_source=AXE.read_text())
    base = site.base

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            user = browser.new_context(
                viewport=DESKTOP, accept_downloads=True, timezone_id="UTC"
            )
            audit.watch(user, "user")
            page = user.new_page()
            page.set_default_timeout(15_000)

            # Sign up; the verification link arrives over SMTP.
            page.goto(base + "/signup/")
            audit.page(page, "signup")
            page.fill("#id_email", EMAIL)
            page.fill("#id_full_name", "June Journey")
            page.fill("#id_password", PASSWORD)
            page.check("#id_accept_terms")
            _submit(page, "form[method=post]:has(#id_email)")
            assert "/signup/sent/" in page.url, page.url
            audit.page(page, "signup-sent")
            deadline = time.monotonic() + 15
            while not site.mail.to(EMAIL) and time.monotonic() < deadline:
                time.sleep(0.2)
            link = site.mail.link(EMAIL, "/verify-email/")
            page.goto(link)
            audit.page(page, "email-verify")
            with page.expect_navigation():
                page.locator("[data-testid=email-verify]").click()
            expect(page.locator("[data-testid=email-verified]")).to_contain_text(EMAIL)
            audit.page(page, "email-verified", revisit=False)

            # Log in.
            page.goto(base + "/login/")
            audit.page(page, "login")
            page.fill("#id_email", EMAIL)
            page.fill("#id_password", PASSWORD)
            _submit(page, "form[method=post]:has(#id_email)")
            audit.page(page, "first-page")

            # Two-factor: the secret on the page, a code from it.
            page.goto(base + "/account/security/")
            audit.page(page, "security")
            with page.expect_navigation():
                page.get_by_role("button", name="Set up two-factor").click()
            audit.page(page, "2fa-setup", revisit=False)
            secret = page.locator("code").first.inner_text().strip().replace(" ", "")
            authenticator = Authenticator(secret)
            page.fill("[name=otp]", authenticator.code())
            with page.expect_navigation():
                page.get_by_role("button", name="Turn on two-factor").click()
            audit.page(page, "2fa-recovery-codes", revisit=False)

            # KYC: profile, three documents, submit.
            page.goto(base + "/kyc/")
            audit.page(page, "kyc")
            page.fill("#id_legal_name", "June Journey")
            page.fill("#id_date_of_birth", "1990-04-12")
            page.select_option("#id_country", "GB")
            page.fill("#id_address_line1", "1 Journey Street")
            page.fill("#id_city", "London")
            page.fill("#id_postal_code", "N1 9GU")
            page.select_option("#id_id_type", "passport")
            page.fill("#id_id_number", "J12345678")
            _submit(page, "form:has(#id_legal_name)")
            for doc_type, name, mime, content in (
                (
                    "passport",
                    "passport.png",
                    "image/png",
                    _png("PASSPORT", (40, 90, 160)),
                ),
                (
                    "proof_of_address",
                    "bill.pdf",
                    "application/pdf",
                    _pdf("Utility bill"),
                ),
                ("selfie", "selfie.png", "image/png", _png("SELFIE", (150, 90, 60))),
            ):
                page.select_option("#id_doc_type", doc_type)
                page.set_input_files(
                    "#id_file",
                    files=[{"name": name, "mimeType": mime, "buffer": content}],
                )
                _submit(page, "form:has(#id_file)")
            audit.page(page, "kyc-documents")
            _submit(page, "form:has(input[name=action][value=submit])")
            audit.page(page, "kyc-submitted")
            assert KycProfile.objects.get(user__email=EMAIL).status == "submitted"

            # A KYC reviewer approves in the admin.
            reviewer = browser.new_context(viewport=DESKTOP, timezone_id="UTC")
            audit.watch(reviewer, "reviewer")
            admin = reviewer.new_page()
            admin.set_default_timeout(15_000)
            _staff_login(audit, admin, site, "reviewer@example.com")
            admin.goto(base + "/admin/kyc/kyccase/")
            audit.page(admin, "admin-kyc-queue")
            with admin.expect_navigation():
                admin.locator("tr", has_text="June Journey").locator("a").first.click()
            audit.page(admin, "admin-kyc-case")
            _submit(admin, "form:has([data-testid=claim])")
            accept = admin.locator("[data-testid^=accept-]")
            assert accept.count() == 3
            while accept.count():
                with admin.expect_navigation():
                    accept.first.click()
            audit.page(admin, "admin-kyc-case-decided")
            with admin.expect_navigation():
                admin.locator("[data-testid=approve]").click()
            audit.page(admin, "admin-kyc-approved")
            assert KycProfile.objects.get(user__email=EMAIL).status == "approved"
            page.goto(base + "/kyc/")
            audit.page(page, "kyc-approved")

            # A sandbox deposit of 20,000 USD.
            page.goto(base + "/wallet/")
            audit.page(page, "wallet")
            deposit = page.locator("form[action$='/wallet/deposit/']")
            deposit.locator("[name=asset]").select_option("USD")
            deposit.locator("[name=amount]").fill("20000")
            _submit(page, "form[action$='/wallet/deposit/']")
            assert "/sandbox/checkout/" in page.url, page.url
            audit.page(page, "sandbox-checkout")
            with page.expect_navigation():
                page.locator("button[value=pay]").click()
            audit.page(page, "wallet-deposited", revisit=False)
            assert Deposit.objects.get(user__email=EMAIL).status == "credited"

            # Alice (a demo trader) sells BTC, so a market buy finds liquidity.
            status, body = _api(
                base,
                "POST",
                "/api/v1/auth/login",
                {"email": "alice@example.com", "password": DEMO_PASSWORD},
            )
            assert status == 200, body
            status, body = _api(
                base,
                "POST",
                "/api/v1/orders",
                {
                    "symbol": "BTC-USD",
                    "side": "sell",
                    "type": "limit",
                    "price": "95000.00",
                    "quantity": "0.10",
                    "client_order_id": "journey-maker-ask",
                },
                token=body["access"],
            )
            assert status == 201, body

            # A limit buy that rests, and a market buy that fills.
            page.goto(base + "/trade/BTC-USD/")
            expect(page.locator("[data-conn]")).to_have_attribute("data-conn", "live")
            audit.page(page, "trade")
            _place_order(page, order_type="limit", price="90000", quantity="0.02")
            expect(page.locator("[data-count=orders]")).to_have_text("1")
            _place_order(page, order_type="market", price="", quantity="0.01")
            audit.page(page, "trade-after-orders", revisit=False)
            orders = Order.objects.filter(user__email=EMAIL).order_by("pk")
            deadline = time.monotonic() + 15
            while orders.filter(status="pending").exists():
                assert time.monotonic() < deadline, list(orders.values("status"))
                time.sleep(0.2)
            assert [(o.type, o.status) for o in orders] == [
                ("limit", "open"),
                ("market", "filled"),
            ]

            # Cancel the resting limit order on the orders page.
            page.goto(base + "/trading/orders/")
            audit.page(page, "orders")
            limit = orders[0]
            _submit(page, f"form[action$='/trading/orders/{limit.pk}/cancel/']")
            audit.page(page, "orders-cancelled", revisit=False)
            limit.refresh_from_db()
            assert limit.status in {"cancelled", "pending"}
            for path, name in (
                ("/trading/fills/", "fills"),
                ("/trading/portfolio/", "portfolio"),
                ("/markets/", "markets"),
                ("/", "home"),
            ):
                page.goto(base + path)
                audit.page(page, name)

            # The statement and its CSV.
            page.goto(base + "/wallet/statement/")
            audit.page(page, "statement")
            with page.expect_download() as download_info:
                page.get_by_role("link", name="Download CSV").click()
            rows = list(
                csv.reader(io.StringIO(Path(download_info.value.path()).read_text()))
            )
            kinds = {cell for row in rows[1:] for cell in row}
            assert "deposit" in kinds and "trade" in kinds, rows[:5]

            # A beneficiary (its cool-off is 0 here), then a withdrawal.
            page.goto(base + "/wallet/beneficiaries/")
            audit.page(page, "beneficiaries")
            add = page.locator("form[action$='/wallet/beneficiaries/add/']")
            add.locator("[name=rail]").select_option("bank_iban")
            add.locator("[name=destination]").fill("GB82WEST12345698765432")
            add.locator("[name=label]").fill("My bank")
            _submit(page, "form[action$='/wallet/beneficiaries/add/']")
            audit.page(page, "beneficiary-added", revisit=False)
            confirm = page.locator("form[action$='/confirm/']")
            if confirm.locator("[name=otp]").count():
                confirm.locator("[name=otp]").fill(authenticator.code())
            with page.expect_navigation():
                confirm.locator("button[type=submit]").click()
            audit.page(page, "beneficiary-confirmed", revisit=False)
            page.goto(base + "/wallet/")
            withdraw = page.locator("form[action$='/wallet/withdraw/']")
            withdraw.locator("[name=asset]").select_option("USD")
            withdraw.locator("[name=amount]").fill("250")
            mine = withdraw.locator("[name=beneficiary] option", has_text="My bank")
            withdraw.locator("[name=beneficiary]").select_option(
                mine.get_attribute("value")
            )
            if withdraw.locator("[name=otp]").count():
                withdraw.locator("[name=otp]").fill(authenticator.code())
            _submit(page, "form[action$='/wallet/withdraw/']")
            audit.page(page, "withdrawal-requested", revisit=False)
            withdrawal = Withdrawal.objects.get(user__email=EMAIL)
            assert withdrawal.status == "requested"

            # An operator approves it in the admin.
            operator = browser.new_context(viewport=DESKTOP, timezone_id="UTC")
            audit.watch(operator, "operator")
            office = operator.new_page()
            office.set_default_timeout(15_000)
            _staff_login(audit, office, site, "operator@example.com")
            office.goto(base + "/admin/wallet/withdrawal/")
            audit.page(office, "admin-withdrawals")
            office.goto(base + f"/admin/wallet/withdrawal/{withdrawal.pk}/review/")
            audit.page(office, "admin-withdrawal-review")
            office.fill(
                "#approve-note", "Journey test: destination and amount checked."
            )
            with office.expect_navigation():
                office.locator("[data-testid=approve]").click()
            audit.page(office, "admin-withdrawal-approved", revisit=False)
            withdrawal.refresh_from_db()
            assert withdrawal.status == "approved", withdrawal.status
            page.goto(base + "/wallet/")
            audit.page(page, "wallet-after-withdrawal")
        finally:
            browser.close()

    if audit.findings:
        pytest.fail(
            f"{len(audit.findings)} findings on {audit.count} pages "
            f"(screenshots in {directory}):\n" + "\n".join(audit.findings),
            pytrace=False,
        )


def _place_order(page: Any, *, order_type: str, price: str, quantity: str) -> None:
    """Buy on the trade screen's order form; confirm the review when it shows."""
    form = page.locator("[data-order-form]")
    form.locator("[data-side=buy]").click()
    form.locator("#of-type").select_option(order_type)
    if price:
        form.locator("#of-price").fill(price)
    form.locator("#of-qty").fill(quantity)
    form.locator("[data-submit]").click()
    confirm = page.locator(REVIEW_CONFIRM)
    try:
        confirm.first.wait_for(state="visible", timeout=2_000)
    except Exception:  # noqa: BLE001 (no review step for this order)
        return
    confirm.first.click()
