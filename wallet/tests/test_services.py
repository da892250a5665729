"""Deposits, withdrawals, transfers, adjustments and alerts through the services."""

import json
import time

import pytest
from django.utils import timezone

from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.testing import make_user
from config.errors import ApplicationError, http_status
from kyc.testing import kyc_approve
from wallet import services
from wallet.models import (
    Adjustment,
    Deposit,
    Hold,
    Journal,
    Transfer,
    Withdrawal,
)
from wallet.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, sign
from wallet.tests.helpers import assert_ledger_ok, balances, fund, make_beneficiary

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return make_user(email="op1@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def operator2(db):
    return make_user(email="op2@example.com", roles=(Role.OPERATOR,), is_staff=True)


NOTE = "Checked the request against the ticket."


def _verified(user):
    return kyc_approve(user=user)


# --- Deposits ----------------------------------------------------------------------


@pytest.mark.kyc_verified
def test_deposit_create_returns_a_sandbox_checkout(alice, usd):
    deposit = services.deposit_create(user=alice, asset=usd, amount=5_000)
    assert deposit.status == "pending"
    assert deposit.provider == "sandbox"
    assert deposit.provider_reference.startswith("sbx_")
    assert deposit.checkout_url == (
        f"/wallet/sandbox/checkout/{deposit.provider_reference}/"
    )
    assert list(deposit.history.values_list("old_status", "new_status")) == [
        ("", "pending")
    ]
    assert AuditEvent.objects.filter(code=AuditCode.DEPOSIT_CREATED).count() == 1


def _webhook(deposit, outcome="succeeded"):
    return SandboxProvider().build_webhook(deposit=deposit, outcome=outcome)


@pytest.mark.kyc_verified
def test_webhook_credits_exactly_once(alice, usd):
    deposit = services.deposit_create(user=alice, asset=usd, amount=5_000)
    headers, body = _webhook(deposit)
    for _ in range(3):
        result = services.deposit_webhook_process(
            provider="sandbox", headers=headers, body=body
        )
        assert result.deposit.status == "credited"
    assert balances(alice) == {"USD": (5_000, 0)}
    assert Journal.objects.filter(kind="deposit").count() == 1
    journal = Journal.objects.get(kind="deposit")
    assert journal.reference == f"sandbox:{deposit.provider_reference}"
    # A later "failed" event for the same payment changes nothing.
    headers, body = _webhook(deposit, "failed")
    services.deposit_webhook_process(provider="sandbox", headers=headers, body=body)
    deposit.refresh_from_db()
    assert deposit.status == "credited"
    assert list(deposit.history.values_list("old_status", "new_status")) == [
        ("", "pending"),
        ("pending", "credited"),
    ]
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_failed_payment_credits_nothing(alice, usd):
    deposit = services.deposit_create(user=alice, asset=usd, amount=5_000)
    headers, body = _webhook(deposit, "failed")
    services.deposit_webhook_process(provider="sandbox", headers=headers, body=body)
    deposit.refresh_from_db()
    assert deposit.status == "failed"
    assert balances(alice) == {}
    assert AuditEvent.objects.filter(code=AuditCode.DEPOSIT_FAILED).count() == 1


@pytest.mark.kyc_verified
def test_forged_signature_is_refused(alice, usd):
    deposit = services.deposit_create(user=alice, asset=usd, amount=5_000)
    headers, body = _webhook(deposit)
    forged = body.replace(b'"50.00"', b'"5000.00"')
    with pytest.raises(ApplicationError) as info:
        services.deposit_webhook_process(
            provider="sandbox", headers=headers, body=forged
        )
    assert info.value.code == "invalid_signature"
    wrong_key = {SIGNATURE_HEADER: sign(body, timestamp=int(time.time()), secret=b"x")}
    with pytest.raises(ApplicationError) as info:
        services.deposit_webhook_process(
            provider="sandbox", headers=wrong_key, body=body
        )
    assert info.value.code == "invalid_signature"
    for header in ({}, {SIGNATURE_HEADER: "garbage"}, {SIGNATURE_HEADER: "t=1"}):
        with pytest.raises(ApplicationError) as info:
            services.deposit_webhook_process(
                provider="sandbox", headers=header, body=body
            )
        assert info.value.code == "invalid_signature"
    assert Deposit.objects.get().status == "pending"
    assert balances(alice) == {}


@pytest.mark.parametrize("age", [301, -301, 3600])
@pytest.mark.kyc_verified
def test_stale_signature_is_refused(alice, usd, age):
    deposit = services.deposit_create(user=alice, asset=usd, amount=5_000)
    headers, body = SandboxProvider().build_webhook(
        deposit=deposit, outcome="succeeded", timestamp=int(time.time()) - age
    )
    with pytest.raises(ApplicationError) as info:
        services.deposit_webhook_process(provider="sandbox", headers=headers, body=body)
    assert info.value.code == "stale_signature"
    assert balances(alice) == {}


@pytest.mark.kyc_verified
def test_webhook_credits_the_amount_the_provider_confirms(alice, usd):
    # 50.00 asked, 49.50 paid (e.g. a partial capture): the wallet credits what
    # the provider confirms, and the audit event names both
    deposit = services.deposit_create(user=alice, asset=usd, amount=5_000)
    payload = {
        "id": "evt_1",
        "data": {
            "reference": deposit.provider_reference,
            "status": "succeeded",
            "amount": "49.50",
            "currency": "USD",
        },
    }
    body = json.dumps(payload).encode()
    headers = {SIGNATURE_HEADER: sign(body, timestamp=int(time.time()))}
    services.deposit_webhook_process(provider="sandbox", headers=headers, body=body)
    deposit.refresh_from_db()
    assert (deposit.status, deposit.amount, deposit.credited_amount) == (
        "credited",
        5_000,
        4_950,
    )
    assert balances(alice) == {"USD": (4_950, 0)}
    credited = AuditEvent.objects.get(code=AuditCode.DEPOSIT_CREDITED)
    assert (credited.extra["amount"], credited.extra["requested"]) == (
        "49.50",
        "50.00",
    )
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_webhook_in_another_currency_is_refused(alice, usd):
    deposit = services.deposit_create(user=alice, asset=usd, amount=5_000)
    payload = {
        "id": "evt_2",
        "data": {
            "reference": deposit.provider_reference,
            "status": "succeeded",
            "amount": "50.00",
            "currency": "EUR",
        },
    }
    body = json.dumps(payload).encode()
    headers = {SIGNATURE_HEADER: sign(body, timestamp=int(time.time()))}
    with pytest.raises(ApplicationError) as info:
        services.deposit_webhook_process(provider="sandbox", headers=headers, body=body)
    assert info.value.code == "amount_mismatch"
    assert "currency" in info.value.message
    assert balances(alice) == {}
    assert Deposit.objects.get().status == "pending"


@pytest.mark.kyc_verified
def test_unknown_provider_and_payment(alice, usd):
    with pytest.raises(ApplicationError) as info:
        services.deposit_create(user=alice, asset=usd, amount=1, provider="paypal")
    assert info.value.code == "unknown_provider"
    body = json.dumps(
        {
            "id": "e",
            "data": {
                "reference": "sbx_nope",
                "status": "succeeded",
                "amount": "1.00",
                "currency": "USD",
            },
        }
    ).encode()
    headers = {SIGNATURE_HEADER: sign(body, timestamp=int(time.time()))}
    with pytest.raises(ApplicationError) as info:
        services.deposit_webhook_process(provider="sandbox", headers=headers, body=body)
    assert info.value.code == "unknown_payment"


@pytest.mark.kyc_verified
def test_sandbox_refuses_to_run_without_a_secret(alice, usd, settings):
    settings.SANDBOX_WEBHOOK_SECRET = ""
    with pytest.raises(ApplicationError) as info:
        services.deposit_create(user=alice, asset=usd, amount=1)
    assert info.value.code == "provider_unavailable"
    # a provider that is not enabled does not exist here: a 400 on the field,
    # never a silent fallback to another provider
    settings.SANDBOX_WEBHOOK_SECRET = "x"
    settings.SANDBOX_PAYMENTS_ENABLED = False
    with pytest.raises(ApplicationError) as info:
        services.deposit_create(user=alice, asset=usd, amount=1)
    assert info.value.code == "unknown_provider"
    assert info.value.details == {
        "provider": ["'sandbox' is not enabled here: deposits are off."]
    }
    for name in ("stripe", "razorpay"):  # known, but off without their settings
        with pytest.raises(ApplicationError) as info:
            services.deposit_create(user=alice, asset=usd, amount=1, provider=name)
        assert info.value.code == "unknown_provider"
    assert Deposit.objects.count() == 0


@pytest.mark.kyc_verified
def test_checkout_pay_sends_the_signed_webhook(
    alice, usd, django_capture_on_commit_callbacks
):
    deposit = services.deposit_create(user=alice, asset=usd, amount=1_234)
    with django_capture_on_commit_callbacks(execute=True):
        services.sandbox_checkout_complete(
            deposit=deposit, user=alice, outcome="succeeded"
        )
    deposit.refresh_from_db()
    assert deposit.status == "credited"
    assert balances(alice) == {"USD": (1_234, 0)}


# --- Withdrawals -------------------------------------------------------------------


def test_withdrawal_needs_kyc(alice, usd):
    fund(alice, usd, 10_000)
    with pytest.raises(ApplicationError) as info:
        services.withdrawal_request(
            user=alice, asset=usd, amount=100, beneficiary=make_beneficiary(alice)
        )
    assert (info.value.code, http_status(info.value)) == ("kyc_required", 403)
    assert not Withdrawal.objects.exists()


def test_withdrawal_request_holds_approve_keeps_the_hold_sent_posts_it(
    alice, usd, operator
):
    _verified(alice)
    fund(alice, usd, 10_000)
    withdrawal = services.withdrawal_request(
        user=alice, asset=usd, amount=4_000, beneficiary=make_beneficiary(alice)
    )
    assert withdrawal.status == "requested"
    assert balances(alice) == {"USD": (6_000, 4_000)}
    services.withdrawal_approve(withdrawal=withdrawal, operator=operator, note=NOTE)
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.decided_by) == ("approved", operator)
    assert balances(alice) == {"USD": (6_000, 4_000)}
    assert Hold.objects.get().status == "pending"
    event = AuditEvent.objects.get(code=AuditCode.WITHDRAWAL_APPROVED)
    assert (event.user, event.acting_user) == (alice, operator)
    assert event.extra == {"old": "requested", "new": "approved", "note": NOTE}
    with pytest.raises(ApplicationError) as info:
        services.withdrawal_approve(withdrawal=withdrawal, operator=operator, note=NOTE)
    assert info.value.code == "invalid_transition"
    services.withdrawal_mark_sent(
        withdrawal=withdrawal, operator=operator, payout_reference="BNK-1", note=NOTE
    )
    assert balances(alice) == {"USD": (6_000, 0)}
    assert Hold.objects.get().status == "posted"
    assert list(withdrawal.history.values_list("new_status", flat=True)) == [
        "requested",
        "approved",
        "sent",
    ]
    assert_ledger_ok()


def test_withdrawal_reject_and_cancel_release_the_hold(alice, usd, operator):
    _verified(alice)
    fund(alice, usd, 10_000)
    first = services.withdrawal_request(
        user=alice, asset=usd, amount=1_000, beneficiary=make_beneficiary(alice)
    )
    second = services.withdrawal_request(
        user=alice, asset=usd, amount=2_000, beneficiary=make_beneficiary(alice)
    )
    assert balances(alice) == {"USD": (7_000, 3_000)}
    services.withdrawal_reject(
        withdrawal=first, operator=operator, reason="bad iban checksum"
    )
    services.withdrawal_cancel(withdrawal=second, user=alice)
    assert balances(alice) == {"USD": (10_000, 0)}
    first.refresh_from_db()
    assert (first.status, first.reason) == ("rejected", "bad iban checksum")
    with pytest.raises(ApplicationError) as info:
        services.withdrawal_cancel(withdrawal=first, user=alice)
    assert (info.value.code, http_status(info.value)) == (
        "withdrawal_not_cancellable",
        409,
    )
    assert_ledger_ok()


def test_four_eyes_operator_cannot_approve_own_withdrawal(usd):
    op = _verified(
        make_user(email="op@example.com", roles=(Role.OPERATOR,), is_staff=True)
    )
    fund(op, usd, 1_000)
    withdrawal = services.withdrawal_request(
        user=op, asset=usd, amount=100, beneficiary=make_beneficiary(op)
    )
    with pytest.raises(ApplicationError) as info:
        services.withdrawal_approve(withdrawal=withdrawal, operator=op, note=NOTE)
    assert (info.value.code, http_status(info.value)) == ("four_eyes_violation", 403)
    withdrawal.refresh_from_db()
    assert withdrawal.status == "requested"


def test_only_operators_decide_withdrawals(alice, bob, usd):
    _verified(alice)
    fund(alice, usd, 1_000)
    withdrawal = services.withdrawal_request(
        user=alice, asset=usd, amount=100, beneficiary=make_beneficiary(alice)
    )
    with pytest.raises(ApplicationError) as info:
        services.withdrawal_approve(withdrawal=withdrawal, operator=bob, note=NOTE)
    assert info.value.code == "permission_denied"


def test_daily_withdrawal_limit(alice, usd, operator):
    _verified(alice)
    usd.daily_withdrawal_limit = 5_000
    usd.save()
    fund(alice, usd, 100_000)
    first = services.withdrawal_request(
        user=alice, asset=usd, amount=3_000, beneficiary=make_beneficiary(alice)
    )
    with pytest.raises(ApplicationError) as info:
        services.withdrawal_request(
            user=alice, asset=usd, amount=2_001, beneficiary=make_beneficiary(alice)
        )
    assert info.value.code == "daily_limit_exceeded"
    assert info.value.message == (
        "amount: the daily USD withdrawal limit leaves 20.00 for today."
    )
    # Cancelled requests stop counting; approved ones count.
    services.withdrawal_cancel(withdrawal=first, user=alice)
    services.withdrawal_request(
        user=alice, asset=usd, amount=5_000, beneficiary=make_beneficiary(alice)
    )
    # Yesterday's withdrawals do not count.
    Withdrawal.objects.update(created_at=timezone.now() - timezone.timedelta(days=1))
    services.withdrawal_request(
        user=alice, asset=usd, amount=5_000, beneficiary=make_beneficiary(alice)
    )


def test_withdrawal_of_more_than_available(alice, usd):
    _verified(alice)
    fund(alice, usd, 100)
    with pytest.raises(ApplicationError) as info:
        services.withdrawal_request(
            user=alice, asset=usd, amount=101, beneficiary=make_beneficiary(alice)
        )
    assert info.value.code == "insufficient_funds"
    assert not Withdrawal.objects.exists()


# --- Transfers ---------------------------------------------------------------------


@pytest.mark.kyc_verified
def test_transfer_moves_funds_and_both_statements_show_it(alice, bob, usd):
    fund(alice, usd, 10_000)
    transfer = services.transfer_create(
        sender=alice, to_email="BOB@example.com", asset=usd, amount=2_500, note="lunch"
    )
    assert (transfer.recipient, transfer.amount, transfer.note) == (bob, 2_500, "lunch")
    assert balances(alice) == {"USD": (7_500, 0)}
    assert balances(bob) == {"USD": (2_500, 0)}
    assert transfer.journal.metadata == {
        "transfer": transfer.pk,
        "from": "alice@example.com",
        "to": "bob@example.com",
        "note": "lunch",
    }
    assert (
        AuditEvent.objects.filter(code=AuditCode.TRANSFER_SENT, user=alice).count() == 1
    )


@pytest.mark.parametrize(
    ("to", "code", "status", "message"),
    [
        (
            "alice@example.com",
            "transfer_to_self",
            400,
            "to: you cannot transfer to yourself.",
        ),
        (
            "nobody@example.com",
            "unknown_recipient",
            404,
            "to: no verified user with this email.",
        ),
    ],
)
@pytest.mark.kyc_verified
def test_transfer_refusals(alice, usd, to, code, status, message):
    fund(alice, usd, 10_000)
    with pytest.raises(ApplicationError) as info:
        services.transfer_create(sender=alice, to_email=to, asset=usd, amount=1)
    assert (info.value.code, http_status(info.value)) == (code, status)
    assert info.value.message == message
    assert list(info.value.details) == ["to"]
    assert not Transfer.objects.exists()


@pytest.mark.kyc_verified
def test_transfer_insufficient_funds_writes_nothing(alice, bob, usd):
    fund(alice, usd, 10)
    with pytest.raises(ApplicationError) as info:
        services.transfer_create(sender=alice, to_email=bob.email, asset=usd, amount=11)
    assert info.value.code == "insufficient_funds"
    assert not Transfer.objects.exists()
    assert balances(bob) == {}


def test_inactive_asset_is_refused(usd):
    usd.is_active = False
    usd.save()
    with pytest.raises(ApplicationError) as info:
        services.asset_get(code="usd")
    assert (info.value.code, http_status(info.value)) == ("asset_inactive", 422)
    with pytest.raises(ApplicationError) as info:
        services.asset_get(code="XYZ")
    assert (info.value.code, http_status(info.value)) == ("unknown_asset", 400)


# --- Adjustments (maker-checker) ---------------------------------------------------


def test_adjustment_needs_a_second_operator(alice, usd, operator, operator2):
    adjustment = services.adjustment_request(
        user=alice, asset=usd, amount=7_500, reason="goodwill", operator=operator
    )
    assert adjustment.status == "pending"
    assert balances(alice) == {}
    with pytest.raises(ApplicationError) as info:
        services.adjustment_approve(adjustment=adjustment, operator=operator, note=NOTE)
    assert info.value.code == "four_eyes_violation"
    services.adjustment_approve(adjustment=adjustment, operator=operator2, note=NOTE)
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by) == ("approved", operator2)
    assert balances(alice) == {"USD": (7_500, 0)}
    # A debit back.
    debit = services.adjustment_request(
        user=alice,
        asset=usd,
        amount=-500,
        reason="fee refund reversal",
        operator=operator2,
    )
    services.adjustment_approve(adjustment=debit, operator=operator, note=NOTE)
    assert balances(alice) == {"USD": (7_000, 0)}
    codes = list(
        AuditEvent.objects.filter(code__gte=330, code__lt=340)
        .order_by("id")
        .values_list("code", flat=True)
    )
    assert codes == [330, 331, 330, 331]
    assert_ledger_ok()


def test_adjustment_debit_cannot_overdraw_and_reject_posts_nothing(
    alice, usd, operator, operator2
):
    debit = services.adjustment_request(
        user=alice, asset=usd, amount=-1, reason="x", operator=operator
    )
    with pytest.raises(ApplicationError) as info:
        services.adjustment_approve(adjustment=debit, operator=operator2, note=NOTE)
    assert info.value.code == "insufficient_funds"
    assert Adjustment.objects.get().status == "pending"
    services.adjustment_reject(
        adjustment=debit, operator=operator2, reason="not warranted"
    )
    assert Adjustment.objects.get().status == "rejected"
    assert not Journal.objects.filter(kind="adjustment").exists()


def test_traders_cannot_request_adjustments(alice, bob, usd):
    with pytest.raises(ApplicationError) as info:
        services.adjustment_request(
            user=alice, asset=usd, amount=1, reason="x", operator=bob
        )
    assert info.value.code == "permission_denied"


# --- Alerts ------------------------------------------------------------------------


def test_balance_alert_flags_low_available(alice, usd):
    from wallet.selectors import balance_list

    fund(alice, usd, 1_000)
    services.balance_alert_set(user=alice, asset=usd, minimum=1_500)
    [row] = [b for b in balance_list(user=alice) if b.asset == usd]
    assert (row.minimum, row.below_minimum) == (1_500, True)
    services.balance_alert_set(user=alice, asset=usd, minimum=500)
    [row] = [b for b in balance_list(user=alice) if b.asset == usd]
    assert (row.minimum, row.below_minimum) == (500, False)
    assert services.balance_alert_delete(user=alice, asset=usd) is True
    assert services.balance_alert_delete(user=alice, asset=usd) is False
