"""The wallet page: balances, sandbox checkout, withdraw, transfer, statement."""

import re

import pytest
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import backup_codes_ensure
from accounts.tests.conftest import totp_code
from kyc.testing import kyc_approve
from wallet.models import Beneficiary, Deposit
from wallet.tests.helpers import balances, fund, make_beneficiary

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(alice):
    client = Client()
    client.force_login(alice, backend="accounts.backends.EmailBackend")
    return client


def test_wallet_page_needs_login(db):
    response = Client().get("/wallet/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_wallet_page_shows_balances_and_alert_flag(browser, alice, usd):
    fund(alice, usd, 12_345)
    browser.post("/wallet/alerts/", {"asset": "USD", "minimum": "200"})
    page = browser.get("/wallet/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<td class="num">123.45</td>' in html
    assert "below 200.00" in html


@pytest.mark.kyc_verified
def test_deposit_through_the_sandbox_checkout(
    browser, alice, usd, django_capture_on_commit_callbacks
):
    response = browser.post("/wallet/deposit/", {"asset": "USD", "amount": "50.00"})
    deposit = Deposit.objects.get()
    assert response.status_code == 302
    assert (
        response["Location"]
        == f"/wallet/sandbox/checkout/{deposit.provider_reference}/"
    )
    checkout = browser.get(response["Location"])
    assert b"50.00 USD" in checkout.content
    with django_capture_on_commit_callbacks(execute=True):
        paid = browser.post(response["Location"], {"action": "pay"})
    assert paid.status_code == 302
    deposit.refresh_from_db()
    assert deposit.status == "credited"
    assert balances(alice) == {"USD": (5_000, 0)}
    assert b"credited" in browser.get(response["Location"]).content


@pytest.mark.kyc_verified
def test_checkout_fail_and_other_users_get_404(
    browser, alice, bob, usd, django_capture_on_commit_callbacks
):
    browser.post("/wallet/deposit/", {"asset": "USD", "amount": "5"})
    deposit = Deposit.objects.get()
    url = f"/wallet/sandbox/checkout/{deposit.provider_reference}/"
    other = Client()
    other.force_login(bob, backend="accounts.backends.EmailBackend")
    assert other.get(url).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(url, {"action": "fail"})
    deposit.refresh_from_db()
    assert deposit.status == "failed"
    assert balances(alice) == {}


@pytest.mark.kyc_verified
def test_deposit_form_errors_name_the_field(browser, usd):
    response = browser.post("/wallet/deposit/", {"asset": "USD", "amount": "1.999"})
    assert response.status_code == 400
    assert b"has more than 2 decimal places" in response.content
    assert not Deposit.objects.exists()


def test_transfer_and_withdraw_forms(browser, alice, bob, usd):
    # given alice (signed in, funded) without KYC and bob verified
    fund(alice, usd, 10_000)
    kyc_approve(user=bob)
    transfer = {"asset": "USD", "amount": "10", "to": "bob@example.com", "note": "hi"}
    to = make_beneficiary(alice)
    form = {"asset": "USD", "amount": "10", "beneficiary": to.pk}
    # when she sends or withdraws, then both are refused and nothing moves
    refused = browser.post("/wallet/transfer/", transfer)
    assert refused.status_code == 400
    assert b'id="transfer-kyc-required">Transfers need a verified' in refused.content
    refused = browser.post("/wallet/withdraw/", form)
    assert refused.status_code == 400
    assert b"Withdrawals need a verified identity (KYC)." in refused.content
    assert balances(alice) == {"USD": (10_000, 0)}
    # when her KYC is approved, then both go through
    kyc_approve(user=alice)
    response = browser.post("/wallet/transfer/", transfer)
    assert response.status_code == 302
    assert balances(bob) == {"USD": (1_000, 0)}
    ok = browser.post("/wallet/withdraw/", form)
    assert ok.status_code == 302
    assert balances(alice) == {"USD": (8_000, 1_000)}
    withdrawal = alice.withdrawals.get()
    browser.post(f"/wallet/withdrawals/{withdrawal.pk}/cancel/")
    assert balances(alice) == {"USD": (9_000, 0)}


@pytest.mark.kyc_verified
def test_statement_page_paging_and_csv(browser, alice, bob, usd):
    from wallet.services import transfer_create

    fund(alice, usd, 100_000)
    for _ in range(30):
        transfer_create(sender=alice, to_email=bob.email, asset=usd, amount=100)
    first = browser.get("/wallet/statement/", {"asset": "USD"})
    html = first.content.decode()
    assert html.count("Transfer to bob@example.com") == 25
    assert first.context["next_url"].startswith("/wallet/statement/?asset=USD&before=")
    second = browser.get(first.context["next_url"]).content.decode()
    assert second.count("Transfer to bob@example.com") == 5
    assert second.count("Deposit") >= 1
    csv = browser.get(first.context["csv_url"])
    assert len(b"".join(csv.streaming_content).decode().splitlines()) == 32


@pytest.mark.kyc_verified
def test_a_double_submitted_transfer_form_moves_money_once(browser, alice, bob, usd):
    fund(alice, usd, 10_000)
    form = {
        "asset": "USD",
        "amount": "10",
        "to": "bob@example.com",
        "form_key": "0123456789abcdef",
    }
    browser.post("/wallet/transfer/", form)
    second = browser.post("/wallet/transfer/", form, follow=True)
    assert b"already submitted" in second.content
    assert balances(bob) == {"USD": (1_000, 0)}
    # A refused submission frees its key: fixing the form and resending works.
    refused = browser.post(
        "/wallet/transfer/", {**form, "amount": "1000", "form_key": "fedcba9876543210"}
    )
    assert refused.status_code == 400
    browser.post("/wallet/transfer/", {**form, "form_key": "fedcba9876543210"})
    assert balances(bob) == {"USD": (2_000, 0)}


# --- Beneficiaries -------------------------------------------------------------------


def test_beneficiaries_page_add_and_confirm_by_emailed_link(
    browser, alice, bob, django_capture_on_commit_callbacks
):
    page = browser.get("/wallet/beneficiaries/")
    assert page.status_code == 200
    assert b"No beneficiaries yet" in page.content
    bad = browser.post(
        "/wallet/beneficiaries/add/",
        {"rail": "bitcoin", "destination": "not-an-address !!", "label": "x"},
    )
    assert bad.status_code == 400
    assert b"not a valid Bitcoin mainnet address" in bad.content
    with django_capture_on_commit_callbacks(execute=True):
        added = browser.post(
            "/wallet/beneficiaries/add/",
            {
                "rail": "bank_iban",
                "destination": "de89370400440532013000",
                "label": "B",
            },
        )
    assert added.status_code == 302
    assert b"waiting for confirmation" in browser.get("/wallet/beneficiaries/").content
    [message] = mail.outbox
    path = re.search(
        r"http://testserver(/wallet/beneficiaries/confirm/\S+/)", message.body
    )[1]
    # GET only shows what is confirmed (mail scanners open links).
    shown = browser.get(path)
    assert shown.status_code == 200
    assert b"DE89 3704 0044 0532 0130 00" in shown.content
    assert Beneficiary.objects.get().status == "pending_confirmation"
    # Someone else, logged in, cannot use alice's link.
    other = Client()
    other.force_login(bob, backend="accounts.backends.EmailBackend")
    assert other.post(path).status_code == 404
    confirmed = browser.post(path)
    assert confirmed.status_code == 302
    beneficiary = Beneficiary.objects.get()
    assert beneficiary.status == "confirmed"
    when = beneficiary.usable_from.strftime("%Y-%m-%d %H:%M")
    assert (
        f"{when} UTC</time>".encode() in browser.get("/wallet/beneficiaries/").content
    )
    used = browser.post(path)
    assert used.status_code == 400
    assert b"a confirmation works once" in used.content


def test_beneficiaries_page_confirm_with_code_and_remove(browser, alice):
    device = TOTPDevice.objects.create(user=alice, name="A", confirmed=True)
    browser.post("/wallet/beneficiaries/add/", {"rail": "upi", "destination": "al@ybl"})
    beneficiary = Beneficiary.objects.get()
    assert beneficiary.label == "UPI id ...@ybl"
    page = browser.get("/wallet/beneficiaries/").content.decode()
    assert "Two-factor code" in page
    wrong = browser.post(
        f"/wallet/beneficiaries/{beneficiary.pk}/confirm/", {"otp": "000"}
    )
    assert wrong.status_code == 400
    assert b"That code is wrong, expired or already used" in wrong.content
    ok = browser.post(
        f"/wallet/beneficiaries/{beneficiary.pk}/confirm/", {"otp": totp_code(device)}
    )
    assert ok.status_code == 302
    beneficiary.refresh_from_db()
    assert beneficiary.status == "confirmed"
    browser.post(f"/wallet/beneficiaries/{beneficiary.pk}/remove/")
    beneficiary.refresh_from_db()
    assert beneficiary.status == "removed"
    assert b"No beneficiaries yet" in browser.get("/wallet/beneficiaries/").content


def test_withdraw_form_picks_a_usable_beneficiary_and_asks_for_the_code(
    browser, alice, usd
):
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    to = make_beneficiary(alice, label="Main account")
    page = browser.get("/wallet/").content.decode()
    assert f'<option value="{to.pk}">Main account · Bank account (IBAN) DE89' in page
    assert "Two-factor code" not in page
    [code] = backup_codes_ensure(user=alice, count=1)
    assert "Two-factor code" in browser.get("/wallet/").content.decode()
    form = {"asset": "USD", "amount": "10", "beneficiary": to.pk}
    refused = browser.post("/wallet/withdraw/", form)
    assert refused.status_code == 400
    assert b"This field is required." in refused.content
    ok = browser.post("/wallet/withdraw/", {**form, "otp": code})
    assert ok.status_code == 302
    assert balances(alice) == {"USD": (9_000, 1_000)}
    assert alice.withdrawals.get().beneficiary == to


def test_unverified_user_sees_a_kyc_message_instead_of_deposit_and_transfer_forms(
    browser, alice
):
    # given alice signed in without KYC; when she opens her wallet
    html = browser.get("/wallet/").content.decode()
    # then the deposit and transfer forms are replaced by a message and a KYC link
    assert 'action="/wallet/deposit/"' not in html
    assert 'action="/wallet/transfer/"' not in html
    assert (
        '<p class="message" id="deposit-kyc-required">Deposits need a verified '
        'identity. <a href="/kyc/">Complete your KYC</a>' in html
    )
    assert (
        '<p class="message" id="transfer-kyc-required">Transfers need a verified '
        'identity. <a href="/kyc/">Complete your KYC</a>' in html
    )
    # when her KYC is approved, then the forms are there and the messages gone
    kyc_approve(user=alice)
    html = browser.get("/wallet/").content.decode()
    assert 'action="/wallet/deposit/"' in html
    assert 'action="/wallet/transfer/"' in html
    assert "kyc-required" not in html


def test_sandbox_setting_shows_the_deposit_form_without_kyc(browser, alice, settings):
    # given a sandbox that lets unverified users deposit
    settings.WALLET_DEPOSITS_NEED_KYC = False
    # when alice (no KYC) opens her wallet, then she may deposit but not transfer
    html = browser.get("/wallet/").content.decode()
    assert 'action="/wallet/deposit/"' in html
    assert 'action="/wallet/transfer/"' not in html


@pytest.mark.kyc_verified
def test_deposit_form_refuses_an_amount_with_a_no_break_space(browser, usd):
    # given a verified user; when the form's amount ends in U+00A0
    response = browser.post("/wallet/deposit/", {"asset": "USD", "amount": "25\u00a0"})
    # then the form is shown again with the syntax error, and nothing is written
    assert response.status_code == 400
    assert b"must be a decimal string such as" in response.content
    assert not Deposit.objects.exists()
