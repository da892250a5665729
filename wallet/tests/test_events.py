"""The wallet's domain events (wallet/events.py): recorded by the transition that
makes them true, carrying what a notification needs (the user, the amount as an
integer with its asset, the status, the reason)."""

import pytest

from accounts.roles import Role
from accounts.testing import make_user
from config.errors import ApplicationError
from config.tests.recording import recorded
from kyc.testing import kyc_approve
from wallet import services
from wallet.events import AdjustmentDecided, DepositCredited, WithdrawalDecided
from wallet.providers.sandbox import SandboxProvider
from wallet.tests.helpers import fund, make_beneficiary

pytestmark = pytest.mark.django_db

NOTE = "Checked the destination and the history."


@pytest.fixture
def operator(db):
    return make_user(email="op1@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def operator2(db):
    return make_user(email="op2@example.com", roles=(Role.OPERATOR,), is_staff=True)


def _webhook(deposit, outcome):
    headers, body = SandboxProvider().build_webhook(deposit=deposit, outcome=outcome)
    return services.deposit_webhook_process(
        provider="sandbox", headers=headers, body=body
    )


@pytest.mark.kyc_verified
def test_a_credited_deposit_is_recorded_once_a_failed_one_not_at_all(alice, usd):
    credited = services.deposit_create(user=alice, asset=usd, amount=5_000)
    failed = services.deposit_create(user=alice, asset=usd, amount=700)
    with recorded(DepositCredited) as seen:
        for _ in range(2):  # the provider retries: credited once
            _webhook(credited, "succeeded")
        _webhook(failed, "failed")
    assert seen == [DepositCredited(credited.pk, alice.pk, "USD", 5_000)]


def _withdrawal(user, usd, amount=4_000):
    return services.withdrawal_request(
        user=user, asset=usd, amount=amount, beneficiary=make_beneficiary(user)
    )


def test_each_withdrawal_decision_is_recorded_with_its_reason(
    alice, usd, operator, operator2
):
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    paid = _withdrawal(alice, usd)
    refused = _withdrawal(alice, usd, 1_000)
    returned = _withdrawal(alice, usd, 2_000)
    with recorded(WithdrawalDecided) as seen:
        services.withdrawal_approve(withdrawal=paid, operator=operator, note=NOTE)
        services.withdrawal_mark_sent(
            withdrawal=paid, operator=operator, payout_reference="B-1", note=NOTE
        )
        services.withdrawal_complete(withdrawal=paid, operator=operator2, note=NOTE)
        services.withdrawal_reject(
            withdrawal=refused, operator=operator, reason="Destination is a mule."
        )
        services.withdrawal_approve(withdrawal=returned, operator=operator, note=NOTE)
        services.withdrawal_mark_sent(
            withdrawal=returned, operator=operator, payout_reference="B-2", note=NOTE
        )
        services.withdrawal_fail(withdrawal=returned, operator=operator, note=NOTE)
    back = "The payout failed; the funds are back in your balance."
    assert seen == [
        WithdrawalDecided(paid.pk, alice.pk, "USD", 4_000, "requested", "approved", ""),
        WithdrawalDecided(paid.pk, alice.pk, "USD", 4_000, "approved", "sent", ""),
        WithdrawalDecided(paid.pk, alice.pk, "USD", 4_000, "sent", "completed", ""),
        WithdrawalDecided(
            refused.pk,
            alice.pk,
            "USD",
            1_000,
            "requested",
            "rejected",
            "Destination is a mule.",
        ),
        WithdrawalDecided(
            returned.pk, alice.pk, "USD", 2_000, "requested", "approved", ""
        ),
        WithdrawalDecided(returned.pk, alice.pk, "USD", 2_000, "approved", "sent", ""),
        WithdrawalDecided(returned.pk, alice.pk, "USD", 2_000, "sent", "failed", back),
    ]


def test_a_first_approval_a_cancel_and_a_refused_move_record_nothing(
    settings, alice, usd, operator
):
    settings.WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER = {"USD": "10"}
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    big = _withdrawal(alice, usd, 5_000)
    small = _withdrawal(alice, usd, 500)
    with recorded(WithdrawalDecided) as seen:
        services.withdrawal_approve(withdrawal=big, operator=operator, note=NOTE)
        services.withdrawal_cancel(withdrawal=small, user=alice)
        with pytest.raises(ApplicationError) as info:
            services.withdrawal_complete(withdrawal=small, operator=operator, note=NOTE)
    assert info.value.code == "invalid_transition"
    assert seen == []
    big.refresh_from_db()
    assert big.status == "first_approved"


def test_adjustment_decisions_are_recorded_with_the_signed_amount(
    alice, usd, operator, operator2
):
    credit = services.adjustment_request(
        user=alice, asset=usd, amount=7_500, reason="goodwill", operator=operator
    )
    debit = services.adjustment_request(
        user=alice, asset=usd, amount=-300, reason="duplicate credit", operator=operator
    )
    with recorded(AdjustmentDecided) as seen:
        services.adjustment_approve(adjustment=credit, operator=operator2, note=NOTE)
        services.adjustment_reject(
            adjustment=debit, operator=operator2, reason="Not warranted, see ticket."
        )
    assert seen == [
        AdjustmentDecided(credit.pk, alice.pk, "USD", 7_500, "approved", "goodwill"),
        AdjustmentDecided(
            debit.pk, alice.pk, "USD", -300, "rejected", "duplicate credit"
        ),
    ]
