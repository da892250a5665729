"""The beneficiary address book and withdrawals to it (services)."""

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.services import audit_event_record, backup_codes_ensure
from accounts.testing import admin_client_for, make_user
from accounts.tests.conftest import totp_code
from config.errors import ApplicationError, http_status
from kyc.testing import kyc_approve
from wallet import services
from wallet.models import Asset, Beneficiary, Withdrawal
from wallet.tests.helpers import (
    assert_ledger_ok,
    balances,
    fund,
    make_asset,
    make_beneficiary,
)

pytestmark = pytest.mark.django_db

IBAN = "DE89 3704 0044 0532 0130 00"
IBAN_COMPACT = "DE89370400440532013000"


def _totp(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)


def _codes(user) -> list[int]:
    return [e.code for e in AuditEvent.objects.filter(user=user).order_by("id")]


def _link_token(message) -> str:
    link = re.search(r"/wallet/beneficiaries/confirm/([^/\s]+)/", message.body)
    assert link is not None, message.body
    return link[1]


def _add(user, django_capture_on_commit_callbacks, **kwargs):
    kwargs.setdefault("rail", "bank_iban")
    kwargs.setdefault("destination", IBAN)
    with django_capture_on_commit_callbacks(execute=True):
        return services.beneficiary_add(
            user=user, site_url="https://exchange.test", **kwargs
        )


@contextmanager
def _raises(code: str, status: int):
    with pytest.raises(ApplicationError) as info:
        yield info
    assert (info.value.code, http_status(info.value)) == (code, status)


# --- Adding and confirming -----------------------------------------------------------


def test_add_then_confirm_by_totp(alice, django_capture_on_commit_callbacks):
    device = _totp(alice)
    beneficiary = _add(
        alice, django_capture_on_commit_callbacks, label=" Savings ", destination=IBAN
    )
    assert (beneficiary.status, beneficiary.destination, beneficiary.label) == (
        "pending_confirmation",
        IBAN_COMPACT,
        "Savings",
    )
    assert mail.outbox == []  # 2FA on: no link, the code confirms
    added = AuditEvent.objects.get(code=AuditCode.BENEFICIARY_ADDED)
    assert (added.user, added.acting_user) == (alice, alice)
    assert added.extra == {
        "rail": "bank_iban",
        "destination": IBAN_COMPACT,
        "label": "Savings",
        "confirm_with": "second_factor",
    }
    with _raises("otp_required", 403):
        services.beneficiary_confirm(beneficiary=beneficiary, user=alice)
    with _raises("otp_invalid", 403):
        services.beneficiary_confirm(beneficiary=beneficiary, user=alice, otp="12345")
    # A link token is no substitute for the second factor.
    token = services.beneficiary_link_token(beneficiary=beneficiary)
    with _raises("otp_required", 403):
        services.beneficiary_confirm(beneficiary=beneficiary, user=alice, token=token)
    now = timezone.now()
    with (
        time_machine.travel(now, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        confirmed = services.beneficiary_confirm(
            beneficiary=beneficiary, user=alice, otp=totp_code(device)
        )
    [notice] = mail.outbox  # the holder hears of each new destination
    assert notice.subject == "A new withdrawal destination was confirmed"
    assert notice.to == ["alice@example.com"]
    assert IBAN_COMPACT in notice.body
    when = (now + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M UTC")
    assert f"Withdrawals to it are possible from {when}." in notice.body
    assert confirmed.status == "confirmed"
    assert confirmed.confirmed_at == now
    assert confirmed.usable_from == now + timedelta(hours=24)
    assert not confirmed.is_usable()
    assert list(confirmed.history.values_list("old_status", "new_status")) == [
        ("", "pending_confirmation"),
        ("pending_confirmation", "confirmed"),
    ]
    event = AuditEvent.objects.get(code=AuditCode.BENEFICIARY_CONFIRMED)
    assert event.extra == {
        "old": "pending_confirmation",
        "new": "confirmed",
        "method": "totp",
        "usable_from": (now + timedelta(hours=24)).isoformat(),
    }
    with _raises("beneficiary_not_pending", 409):
        services.beneficiary_confirm(
            beneficiary=confirmed, user=alice, otp=totp_code(device, offset_steps=1)
        )


def test_confirm_by_backup_code_uses_it_up(alice, django_capture_on_commit_callbacks):
    codes = backup_codes_ensure(user=alice, count=2)
    first = _add(alice, django_capture_on_commit_callbacks)
    second = _add(
        alice, django_capture_on_commit_callbacks, rail="upi", destination="ab@upi"
    )
    services.beneficiary_confirm(beneficiary=first, user=alice, otp=codes[0])
    with _raises("otp_invalid", 403):
        services.beneficiary_confirm(beneficiary=second, user=alice, otp=codes[0])
    services.beneficiary_confirm(beneficiary=second, user=alice, otp=codes[1])
    methods = [
        e.extra["method"]
        for e in AuditEvent.objects.filter(code=AuditCode.BENEFICIARY_CONFIRMED)
    ]
    assert methods == ["backup_code", "backup_code"]
    assert list(
        Beneficiary.objects.order_by("id").values_list("status", flat=True)
    ) == ["confirmed", "confirmed"]


def test_email_link_confirms_once(alice, django_capture_on_commit_callbacks):
    beneficiary = _add(alice, django_capture_on_commit_callbacks)
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Confirm your new withdrawal destination"
    assert "https://exchange.test/wallet/beneficiaries/confirm/" in message.body
    assert IBAN_COMPACT in message.body
    token = _link_token(message)
    assert services.beneficiary_link_read(token=token) == beneficiary.pk
    with _raises("confirmation_link_invalid", 400):
        services.beneficiary_confirm(beneficiary=beneficiary, user=alice)
    confirmed = services.beneficiary_confirm(
        beneficiary=beneficiary, user=alice, token=token
    )
    assert confirmed.status == "confirmed"
    assert AuditEvent.objects.get(code=AuditCode.BENEFICIARY_CONFIRMED).extra[
        "method"
    ] == ("email_link")
    with _raises("beneficiary_not_pending", 409):
        services.beneficiary_confirm(beneficiary=confirmed, user=alice, token=token)


def test_expired_forged_and_foreign_links_are_refused(
    alice, bob, django_capture_on_commit_callbacks
):
    beneficiary = _add(alice, django_capture_on_commit_callbacks)
    other = _add(
        alice, django_capture_on_commit_callbacks, rail="upi", destination="xy@ybank"
    )
    token = _link_token(mail.outbox[0])
    with _raises("confirmation_link_invalid", 400):
        services.beneficiary_confirm(
            beneficiary=beneficiary, user=alice, token=token[:-2] + "xx"
        )
    with _raises("confirmation_link_invalid", 400):  # the link names another one
        services.beneficiary_confirm(beneficiary=other, user=alice, token=token)
    with _raises("not_found", 404):  # bob cannot confirm alice's
        services.beneficiary_confirm(beneficiary=beneficiary, user=bob, token=token)
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        with _raises("confirmation_link_expired", 400):
            services.beneficiary_confirm(
                beneficiary=beneficiary, user=alice, token=token
            )
    beneficiary.refresh_from_db()
    assert beneficiary.status == "pending_confirmation"
    # A fresh link works.
    with django_capture_on_commit_callbacks(execute=True):
        services.beneficiary_link_resend(beneficiary=beneficiary, user=alice)
    fresh = _link_token(mail.outbox[-1])
    with time_machine.travel(timezone.now() + timedelta(minutes=59)):
        services.beneficiary_confirm(beneficiary=beneficiary, user=alice, token=fresh)
    beneficiary.refresh_from_db()
    assert beneficiary.status == "confirmed"


def test_invalid_destination_and_duplicates(alice, django_capture_on_commit_callbacks):
    with _raises("invalid_destination", 400) as info:
        services.beneficiary_add(
            user=alice, rail="bitcoin", destination="not-an-address !!"
        )
    assert info.value.details == {
        "destination": [
            "not a valid Bitcoin mainnet address (checksum, network or format "
            "is wrong)."
        ]
    }
    first = _add(alice, django_capture_on_commit_callbacks)
    with _raises("beneficiary_exists", 409):  # same account, other spacing
        services.beneficiary_add(
            user=alice, rail="bank_iban", destination=IBAN_COMPACT.lower()
        )
    services.beneficiary_remove(beneficiary=first, user=alice)
    again = _add(alice, django_capture_on_commit_callbacks)
    assert again.pk != first.pk
    assert _codes(alice)[-3:] == [
        AuditCode.BENEFICIARY_ADDED,
        AuditCode.BENEFICIARY_REMOVED,
        AuditCode.BENEFICIARY_ADDED,
    ]
    with _raises("invalid_transition", 409):
        services.beneficiary_remove(beneficiary=first, user=alice)
    assert Beneficiary.objects.count() == 2


# --- Withdrawals to beneficiaries ---------------------------------------------------


def test_withdrawal_waits_for_confirmation_and_cool_off(
    alice, usd, django_capture_on_commit_callbacks
):
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    beneficiary = _add(alice, django_capture_on_commit_callbacks, label="Bank")
    with _raises("beneficiary_not_confirmed", 422):
        services.withdrawal_request(
            user=alice, asset=usd, amount=1_000, beneficiary=beneficiary
        )
    token = _link_token(mail.outbox[0])
    services.beneficiary_confirm(beneficiary=beneficiary, user=alice, token=token)
    beneficiary.refresh_from_db()
    with _raises("beneficiary_cooling_off", 422) as info:
        services.withdrawal_request(
            user=alice, asset=usd, amount=1_000, beneficiary=beneficiary
        )
    assert info.value.details["usable_from"] == beneficiary.usable_from.isoformat()
    assert not Withdrawal.objects.exists()
    assert balances(alice) == {"USD": (10_000, 0)}
    with time_machine.travel(beneficiary.usable_from + timedelta(seconds=1)):
        withdrawal = services.withdrawal_request(
            user=alice, asset=usd, amount=1_000, beneficiary=beneficiary
        )
    assert (
        withdrawal.beneficiary,
        withdrawal.rail,
        withdrawal.destination,
        withdrawal.status,
    ) == (beneficiary, "bank_iban", IBAN_COMPACT, "requested")
    assert balances(alice) == {"USD": (9_000, 1_000)}
    requested = AuditEvent.objects.get(code=AuditCode.WITHDRAWAL_REQUESTED)
    assert requested.extra == {
        "asset": "USD",
        "amount": "10.00",
        "beneficiary": beneficiary.pk,
        "rail": "bank_iban",
        "destination": IBAN_COMPACT,
        "second_factor": "off",
    }
    assert not AuditEvent.objects.filter(code=AuditCode.WITHDRAWAL_CONFIRMED).exists()
    # Removing the beneficiary keeps the request's snapshot; no new request can use it.
    services.beneficiary_remove(beneficiary=beneficiary, user=alice)
    withdrawal.refresh_from_db()
    assert withdrawal.destination == IBAN_COMPACT
    with _raises("beneficiary_not_confirmed", 422):
        services.withdrawal_request(
            user=alice, asset=usd, amount=1_000, beneficiary=beneficiary
        )
    assert_ledger_ok()


def test_withdrawal_needs_the_second_factor_when_on(alice, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    to = make_beneficiary(alice)
    device = _totp(alice)
    with _raises("otp_required", 403):
        services.withdrawal_request(user=alice, asset=usd, amount=500, beneficiary=to)
    with _raises("otp_invalid", 403):
        services.withdrawal_request(
            user=alice, asset=usd, amount=500, beneficiary=to, otp="000000x"
        )
    assert balances(alice) == {"USD": (10_000, 0)}
    code = totp_code(device)
    withdrawal = services.withdrawal_request(
        user=alice, asset=usd, amount=500, beneficiary=to, otp=code
    )
    assert withdrawal.status == "requested"
    confirmed = AuditEvent.objects.get(code=AuditCode.WITHDRAWAL_CONFIRMED)
    assert (confirmed.target_id, confirmed.extra) == (
        str(withdrawal.pk),
        {"method": "totp"},
    )
    assert (
        AuditEvent.objects.get(code=AuditCode.WITHDRAWAL_REQUESTED).extra[
            "second_factor"
        ]
        == "totp"
    )
    with _raises("otp_invalid", 403):  # a code works once
        services.withdrawal_request(
            user=alice, asset=usd, amount=500, beneficiary=to, otp=code
        )
    assert balances(alice) == {"USD": (9_500, 500)}


def test_a_refused_withdrawal_does_not_spend_the_code(alice, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 100)
    to = make_beneficiary(alice)
    [code] = backup_codes_ensure(user=alice, count=1)
    with _raises("insufficient_funds", 422):
        services.withdrawal_request(
            user=alice, asset=usd, amount=101, beneficiary=to, otp=code
        )
    withdrawal = services.withdrawal_request(
        user=alice, asset=usd, amount=100, beneficiary=to, otp=code
    )
    assert withdrawal.amount == 100


def test_withdrawal_rail_must_fit_the_asset(alice, usd):
    kyc_approve(user=alice)
    inr = make_asset("INR", 2)
    shares = make_asset("RELIANCE", 0)
    fund(alice, usd, 10_000)
    fund(alice, inr, 10_000)
    fund(alice, shares, 10)
    eth_wallet = make_beneficiary(alice, rail="ethereum")
    with _raises("beneficiary_rail_mismatch", 422) as info:
        services.withdrawal_request(
            user=alice, asset=usd, amount=100, beneficiary=eth_wallet
        )
    assert info.value.message == (
        "beneficiary: USD pays out to a Bank account (IBAN), not to a Ethereum address."
    )
    with _raises("asset_not_withdrawable", 422) as info:
        services.withdrawal_request(
            user=alice, asset=shares, amount=1, beneficiary=eth_wallet
        )
    assert info.value.details == {"asset": ["RELIANCE is not withdrawable."]}
    # INR pays out on both Indian rails.
    for rail in ("bank_account_in", "upi"):
        services.withdrawal_request(
            user=alice,
            asset=inr,
            amount=100,
            beneficiary=make_beneficiary(alice, rail=rail),
        )
    assert list(
        Withdrawal.objects.order_by("id").values_list("rail", "destination")
    ) == [
        ("bank_account_in", "50100012345678 HDFC0001234"),
        ("upi", "alice@okhdfc"),
    ]


def test_another_users_beneficiary_is_not_found(alice, bob, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 1_000)
    bobs = make_beneficiary(bob)
    with _raises("not_found", 404) as info:
        services.withdrawal_request(user=alice, asset=usd, amount=100, beneficiary=bobs)
    assert info.value.details == {"beneficiary": ["Not found."]}
    with _raises("not_found", 404):
        services.beneficiary_remove(beneficiary=bobs, user=alice)


def test_staff_credential_action_pauses_withdrawals(alice, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 1_000)
    to = make_beneficiary(alice)
    support = make_user(email="support@example.com", roles=(Role.SUPPORT,))
    event = audit_event_record(
        code=AuditCode.STAFF_ACCOUNT_LOCKED, user=alice, acting_user=support
    )
    with _raises("withdrawal_cooloff", 403) as info:
        services.withdrawal_request(user=alice, asset=usd, amount=100, beneficiary=to)
    until = event.created_at + timedelta(hours=48)
    assert info.value.details == {"cooloff_until": until.isoformat()}
    with time_machine.travel(until + timedelta(seconds=1)):
        services.withdrawal_request(user=alice, asset=usd, amount=100, beneficiary=to)
    assert balances(alice) == {"USD": (900, 100)}


def test_staff_see_beneficiaries_read_only_in_the_admin(alice):
    beneficiary = make_beneficiary(alice, label="Savings")
    support = make_user(
        email="support@example.com", roles=(Role.SUPPORT,), is_staff=True
    )
    client = admin_client_for(support)
    listing = client.get("/admin/wallet/beneficiary/")
    assert listing.status_code == 200
    assert b"DE89370400440532013000" in listing.content
    page = client.get(f"/admin/wallet/beneficiary/{beneficiary.pk}/change/")
    assert page.status_code == 200
    assert b"Save" not in page.content
    assert (
        client.post(
            f"/admin/wallet/beneficiary/{beneficiary.pk}/change/",
            {"status": "confirmed", "destination": "x"},
        ).status_code
        == 403
    )
    assert client.get("/admin/wallet/beneficiary/add/").status_code == 403


@pytest.mark.parametrize(
    ("rails", "message"),
    [
        (["paypal"], "Unknown rail(s) ['paypal']"),
        ("bank_iban", "A list of rails"),
        (["upi", "upi"], "Each rail once."),
    ],
)
def test_asset_payout_rails_are_validated(rails, message):
    asset = Asset(code="EUR", name="Euro", decimals=2, kind="fiat", payout_rails=rails)
    with pytest.raises(ValidationError) as info:
        asset.full_clean()
    assert info.value.message_dict["payout_rails"][0].startswith(message)
    Asset(
        code="EUR", name="Euro", decimals=2, kind="fiat", payout_rails=["bank_iban"]
    ).full_clean()


def test_wrong_codes_lock_out_even_when_the_request_rolls_back(alice, usd, settings):
    settings.WALLET_OTP_FAILURE_LIMIT = 3
    kyc_approve(user=alice)
    fund(alice, usd, 1_000)
    to = make_beneficiary(alice)
    device = _totp(alice)
    for _ in range(3):
        with _raises("otp_invalid", 403):
            services.withdrawal_request(
                user=alice, asset=usd, amount=100, beneficiary=to, otp="000000x"
            )
    with _raises("otp_locked", 429) as info:
        services.withdrawal_request(
            user=alice, asset=usd, amount=100, beneficiary=to, otp=totp_code(device)
        )
    assert info.value.message == "otp: too many wrong codes; try again in 15 minutes."
    # The lock covers every wallet action that asks for the code.
    pending = services.beneficiary_add(user=alice, rail="upi", destination="ab@upi")
    with _raises("otp_locked", 429):
        services.beneficiary_confirm(
            beneficiary=pending, user=alice, otp=totp_code(device)
        )
    assert balances(alice) == {"USD": (1_000, 0)}
    # Another user is not locked out by alice's wrong codes.
    carol = make_user(email="carol@example.com")
    carols_device = _totp(carol)
    carols = services.beneficiary_add(user=carol, rail="upi", destination="ab@upi")
    confirmed = services.beneficiary_confirm(
        beneficiary=carols, user=carol, otp=totp_code(carols_device)
    )
    assert confirmed.status == "confirmed"
