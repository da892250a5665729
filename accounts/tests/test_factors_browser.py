"""Passkeys in a real Chromium with a virtual authenticator (CDP `WebAuthn.*`)
against a real server: turn 2FA on, keep the recovery codes (download), add a
passkey, log in with it; and a member of staff into the admin with a passkey.

WebAuthn needs a secure context and a domain as relying party: the server
listens on 127.0.0.1 and the browser opens http://localhost:<port> (RP ID
"localhost"). The pages' policy (config/csp.py) stays on: django-otp-webauthn's
scripts load from /static/ with no inline script.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from marketdata.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, _manage

ROOT = Path(__file__).resolve().parents[2]
STAFF_KEY = "3132333435363738393031323334353637383930"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("REQUIRE_BROWSER") != "1",
    reason=f"needs {CHROMIUM} (set REQUIRE_BROWSER=1 to make this a failure)",
)

SEED = f"""
from accounts.roles import Role
from accounts.testing import make_user
from django_otp.plugins.otp_totp.models import TOTPDevice
make_user(email="pat@example.com", full_name="Pat Passkey")
staff = make_user(email="sam@example.com", roles=(Role.SUPPORT,))
TOTPDevice.objects.create(
    user=staff, name="Authenticator", confirmed=True, key="{STAFF_KEY}"
)
"""


def _totp(key_hex: str) -> str:
    from django_otp.oath import totp

    return f"{totp(bytes.fromhex(key_hex), t0=0, step=30, digits=6):06d}"


def _b32_to_hex(secret: str) -> str:
    import base64

    return base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    directory = tmp_path_factory.mktemp("passkeys")
    port = _free_port()
    base = f"http://localhost:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "SQLITE_PATH": str(directory / "db.sqlite3"),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "DJANGO_DEBUG": "1",
        "KYC_STORAGE_ROOT": str(directory / "kyc"),
        "WEBAUTHN_RP_ID": "localhost",
        "WEBAUTHN_ALLOWED_ORIGINS": base,
    }
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "shell", "-c", SEED)
    log = (directory / "server.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-proxy-headers",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "server did not start:\n"
                        + (directory / "server.log").read_text()[-4000:]
                    ) from None
                time.sleep(0.3)
        yield base, env, directory
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _audit_codes(env: dict, email: str) -> list[int]:
    out = _manage(
        env,
        "shell",
        "-c",
        "from accounts.models import AuditEvent; print(sorted(set(AuditEvent.objects"
        f".filter(user__email='{email}').values_list('code', flat=True))))",
    )
    return [int(code) for code in re.findall(r"\d+", out.strip().splitlines()[-1])]


def _browser_page(browser, violations: list[str]):
    page = browser.new_page()
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return page


def _password_step(page, base: str, email: str, path: str = "/login/") -> None:
    page.goto(base + path)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "correct-horse-battery-42")
    page.click("button[type=submit]")


def test_a_user_turns_2fa_on_adds_a_passkey_and_logs_in_with_it(site):
    from playwright.sync_api import expect, sync_playwright

    base, env, directory = site
    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = _browser_page(browser, violations)
            # password only (2FA is off), then turn 2FA on from the secret shown
            _password_step(page, base, "pat@example.com")
            page.goto(base + "/account/security/")
            page.click("text=Set up two-factor")
            secret = page.locator("code").first.inner_text().strip()
            key = _b32_to_hex(secret)
            page.fill("input[name=otp]", _totp(key))
            page.click("text=Turn on two-factor")
            # the recovery codes, shown once, with a text download
            codes = page.locator("[data-testid=recovery-codes] li").all_inner_texts()
            assert len(codes) == 10
            with page.expect_download() as download:
                page.click("text=Download as a text file")
            text = Path(download.value.path()).read_text()
            assert all(code in text for code in codes)
            # a passkey, made by the virtual authenticator
            page.click("text=I have saved them")
            page.click("#passkey-register-button")
            expect(page.locator("[data-testid=passkey-row]")).to_have_count(1)
            expect(page.locator("input[name=name]")).to_have_value("Passkey 1")
            # out, and in again: the password, then the passkey
            page.click("text=Log out")
            _password_step(page, base, "pat@example.com")
            expect(page).to_have_url(re.compile(r"/login/otp/$"))
            page.click("#passkey-verification-button")
            expect(page).to_have_url(f"{base}/")  # home after sign-in
            page.goto(f"{base}/account/security/")
            expect(page.locator("h1")).to_have_text("Account security")
        except Exception:
            print((directory / "server.log").read_text()[-3000:])
            raise
        finally:
            browser.close()
    assert violations == []
    codes_seen = _audit_codes(env, "pat@example.com")
    for code in (106, 116, 118):  # 2FA on, recovery codes, passkey added
        assert code in codes_seen


def test_staff_sign_in_to_the_admin_with_a_passkey(site):
    from playwright.sync_api import expect, sync_playwright

    base, env, directory = site
    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = _browser_page(browser, violations)
            # with the authenticator: add a passkey on the factors page
            _password_step(page, base, "sam@example.com")
            page.fill("input[name=otp]", _totp(STAFF_KEY))
            page.click("button[type=submit]")
            page.goto(base + "/account/security/factors/")
            page.click("#passkey-register-button")
            expect(page.locator("[data-testid=passkey-row]")).to_have_count(1)
            page.click("text=Log out")
            # the back office: its sign-in page offers the passkey
            page.goto(base + "/admin/")
            expect(page).to_have_url(re.compile(r"/admin/login/"))
            page.click("[data-testid=passkey-sign-in]")
            page.fill("input[name=email]", "sam@example.com")
            page.fill("input[name=password]", "correct-horse-battery-42")
            page.click("button[type=submit]")
            page.click("#passkey-verification-button")
            expect(page).to_have_url(re.compile(r"/admin/$"))
            expect(page.locator("#site-name")).to_contain_text("Exchange back office")
        except Exception:
            print((directory / "server.log").read_text()[-3000:])
            raise
        finally:
            browser.close()
    assert violations == []
