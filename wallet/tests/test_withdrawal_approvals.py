"""Issue 15's money rules: cool-offs, four eyes above the threshold, the payout
steps after approval and what each posts in the ledger."""

import importlib
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.services import audit_event_record
from accounts.testing import api_client_for, make_user
from config.errors import ApplicationError, http_status
from kyc.testing import kyc_approve
from wallet import selectors, services
from wallet.checks import wallet_second_approval_threshold_check
from wallet.ledger import account_ensure
from wallet.models import Account, Hold, Journal, Withdrawal
from wallet.tests.helpers import (
    assert_ledger_ok,
    balances,
    fund,
    make_asset,
    make_beneficiary,
)

pytestmark = pytest.mark.django_db

NOTE = "Checked the destination and the history."


@pytest.fixture
def operator(db):
    return make_user(email="op1@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def operator2(db):
    return make_user(email="op2@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def operator3(db):
    return make_user(email="op3@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def funded(alice, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 100_000)  # 1,000.00 USD
    return alice


@pytest.fixture
def threshold_100_usd(settings):
    settings.WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER = {"USD": "100", "BTC": "0.5"}


def _external(asset) -> int:
    return account_ensure(asset=asset, kind=Account.Kind.EXTERNAL).balance


def _error(call) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        call()
    return info.value


def _verify_ledger() -> None:
    call_command("verify_ledger", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert_ledger_ok()


# --- Cool-offs ------------------------------------------------------------------


def test_takeover_the_operator_who_acted_cannot_approve_withdrawal_or_adjustment(
    settings, funded, usd, operator, operator2, operator3
):
    # given: alice asked for 50.00; later operator ends her sessions and changes
    # her email (the takeover), and the credential cool-off has run out
    settings.BACKOFFICE_CREDENTIAL_COOLOFF_HOURS = 1
    withdrawal = services.withdrawal_request(
        user=funded, asset=usd, amount=5_000, beneficiary=make_beneficiary(funded)
    )
    adjustment = services.adjustment_request(
        user=funded, asset=usd, amount=2_500, reason="goodwill", operator=operator2
    )
    for code in (AuditCode.STAFF_SESSIONS_ENDED, AuditCode.STAFF_CONTACT_CHANGED):
        audit_event_record(code=code, user=funded, acting_user=operator)
    later = timezone.now() + timedelta(hours=2)
    with mock.patch("django.utils.timezone.now", return_value=later):
        # when: that operator tries to approve either
        refused_w = _error(
            lambda: services.withdrawal_approve(
                withdrawal=withdrawal, operator=operator, note=NOTE
            )
        )
        refused_a = _error(
            lambda: services.adjustment_approve(
                adjustment=adjustment, operator=operator, note=NOTE
            )
        )
        # then: 403, nothing moves; someone else may
        for error in (refused_w, refused_a):
            assert (error.code, http_status(error)) == ("staff_action_cooloff", 403)
            assert error.message == (
                "You performed a staff action on this user in the last 48 hours: "
                "another operator must approve their money."
            )
        assert balances(funded) == {"USD": (95_000, 5_000)}
        services.withdrawal_approve(
            withdrawal=withdrawal, operator=operator3, note=NOTE
        )
        services.adjustment_approve(
            adjustment=adjustment, operator=operator3, note=NOTE
        )
    withdrawal.refresh_from_db()
    adjustment.refresh_from_db()
    assert (withdrawal.status, withdrawal.decided_by) == ("approved", operator3)
    assert (adjustment.status, adjustment.decided_by) == ("approved", operator3)
    assert balances(funded) == {"USD": (97_500, 5_000)}
    # and once the staff-action window is over, the first operator may approve again
    with mock.patch(
        "django.utils.timezone.now", return_value=timezone.now() + timedelta(hours=49)
    ):
        other = services.withdrawal_request(
            user=funded, asset=usd, amount=1_000, beneficiary=make_beneficiary(funded)
        )
        services.withdrawal_approve(withdrawal=other, operator=operator, note=NOTE)
    assert Withdrawal.objects.get(pk=other.pk).status == "approved"


def test_withdrawal_request_refused_during_the_credential_cooloff_and_works_after(
    funded, usd, operator, operator2
):
    # given: alice asked for 10.00, then an operator changed her email
    pending = services.withdrawal_request(
        user=funded, asset=usd, amount=1_000, beneficiary=make_beneficiary(funded)
    )
    event = audit_event_record(
        code=AuditCode.STAFF_CONTACT_CHANGED, user=funded, acting_user=operator
    )
    ends = event.created_at + timedelta(hours=48)
    # when: she asks again
    error = _error(
        lambda: services.withdrawal_request(
            user=funded, asset=usd, amount=1_000, beneficiary=make_beneficiary(funded)
        )
    )
    # then: 403 naming when the hold ends; the pending one cannot be approved
    assert (error.code, http_status(error)) == ("withdrawal_cooloff", 403)
    assert error.message == (
        f"Withdrawals are on hold until {ends:%Y-%m-%d %H:%M} UTC: a member of staff "
        "changed this account's credentials or contact details."
    )
    assert error.details == {"cooloff_until": ends.isoformat()}
    assert Withdrawal.objects.count() == 1
    assert (
        _error(
            lambda: services.withdrawal_approve(
                withdrawal=pending, operator=operator2, note=NOTE
            )
        ).code
        == "withdrawal_cooloff"
    )
    # and after the cool-off both work
    with mock.patch(
        "django.utils.timezone.now", return_value=ends + timedelta(minutes=1)
    ):
        services.withdrawal_request(
            user=funded, asset=usd, amount=1_000, beneficiary=make_beneficiary(funded)
        )
        services.withdrawal_approve(withdrawal=pending, operator=operator2, note=NOTE)
    assert sorted(Withdrawal.objects.values_list("status", flat=True)) == [
        "approved",
        "requested",
    ]


def test_the_user_changing_their_own_email_starts_no_cooloff(funded, usd):
    audit_event_record(
        code=AuditCode.STAFF_CONTACT_CHANGED, user=funded, acting_user=funded
    )
    services.withdrawal_request(
        user=funded, asset=usd, amount=100, beneficiary=make_beneficiary(funded)
    )
    assert Withdrawal.objects.count() == 1


def test_withdrawal_cooloff_over_the_api(funded, usd, operator):
    audit_event_record(
        code=AuditCode.STAFF_SESSIONS_ENDED, user=funded, acting_user=operator
    )
    response = api_client_for(funded).post(
        "/api/v1/wallet/withdrawals",
        {"asset": "USD", "amount": "1.00", "beneficiary": make_beneficiary(funded).pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="cool-1",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "withdrawal_cooloff"


# --- Four eyes above the threshold ------------------------------------------------


def test_above_threshold_needs_two_distinct_approvers_neither_the_requester(
    threshold_100_usd, usd, operator, operator2
):
    # given: an operator who is also a customer asks for 100.01 USD (threshold 100)
    requester = make_user(
        email="op0@example.com", roles=(Role.OPERATOR,), is_staff=True
    )
    kyc_approve(user=requester)
    fund(requester, usd, 50_000)
    withdrawal = services.withdrawal_request(
        user=requester,
        asset=usd,
        amount=10_001,
        beneficiary=make_beneficiary(requester),
    )
    # when/then: the requester cannot approve
    own = _error(
        lambda: services.withdrawal_approve(
            withdrawal=withdrawal, operator=requester, note=NOTE
        )
    )
    assert (own.code, http_status(own)) == ("four_eyes_violation", 403)
    # the first approval only records itself; the funds stay held
    services.withdrawal_approve(withdrawal=withdrawal, operator=operator, note=NOTE)
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.first_approved_by) == (
        "first_approved",
        operator,
    )
    assert withdrawal.first_approved_at is not None
    assert withdrawal.decided_by is None
    assert balances(requester) == {"USD": (39_999, 10_001)}
    first = AuditEvent.objects.get(code=AuditCode.WITHDRAWAL_FIRST_APPROVAL)
    assert (first.user, first.acting_user, first.extra) == (
        requester,
        operator,
        {"old": "requested", "new": "first_approved", "note": NOTE},
    )
    # one approver cannot approve twice
    twice = _error(
        lambda: services.withdrawal_approve(
            withdrawal=withdrawal, operator=operator, note=NOTE
        )
    )
    assert (twice.code, http_status(twice)) == ("four_eyes_violation", 403)
    assert twice.message == (
        "Four eyes: you gave the first approval; a second operator must give the "
        "second."
    )
    # a second, different operator approves
    services.withdrawal_approve(withdrawal=withdrawal, operator=operator2, note=NOTE)
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.decided_by) == ("approved", operator2)
    assert list(withdrawal.history.values_list("old_status", "new_status")) == [
        ("", "requested"),
        ("requested", "first_approved"),
        ("first_approved", "approved"),
    ]
    assert AuditEvent.objects.filter(code=AuditCode.WITHDRAWAL_APPROVED).count() == 1
    assert balances(requester) == {"USD": (39_999, 10_001)}
    assert Hold.objects.get().status == "pending"


def test_at_the_threshold_one_approver_is_enough(
    threshold_100_usd, funded, usd, operator
):
    withdrawal = services.withdrawal_request(
        user=funded, asset=usd, amount=10_000, beneficiary=make_beneficiary(funded)
    )
    services.withdrawal_approve(withdrawal=withdrawal, operator=operator, note=NOTE)
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.first_approved_by) == ("approved", None)


def test_threshold_is_per_asset_in_whole_units(threshold_100_usd, usd, btc):
    assert selectors.second_approval_threshold(asset=usd) == 10_000
    assert selectors.second_approval_threshold(asset=btc) == 50_000_000
    assert selectors.needs_second_approval(asset=btc, amount=50_000_001) is True
    eth = make_asset("ETH", 18)
    assert selectors.second_approval_threshold(asset=eth) is None
    assert selectors.needs_second_approval(asset=eth, amount=10**20) is False


def test_database_keeps_the_approvers_distinct(
    threshold_100_usd, funded, usd, operator
):
    withdrawal = services.withdrawal_request(
        user=funded, asset=usd, amount=20_000, beneficiary=make_beneficiary(funded)
    )
    rows = Withdrawal.objects.filter(pk=withdrawal.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.update(first_approved_by=funded)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.update(first_approved_by=operator, decided_by=operator, status="approved")
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.update(status="sent")  # no payout reference
    assert rows.get().status == "requested"


def test_the_first_approver_may_still_reject(threshold_100_usd, funded, usd, operator):
    withdrawal = services.withdrawal_request(
        user=funded, asset=usd, amount=20_000, beneficiary=make_beneficiary(funded)
    )
    services.withdrawal_approve(withdrawal=withdrawal, operator=operator, note=NOTE)
    services.withdrawal_reject(
        withdrawal=withdrawal, operator=operator, reason="Second thoughts on it."
    )
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.decided_by) == ("rejected", operator)
    assert balances(funded) == {"USD": (100_000, 0)}


def test_the_user_may_cancel_after_a_first_approval(
    threshold_100_usd, funded, usd, operator
):
    withdrawal = services.withdrawal_request(
        user=funded, asset=usd, amount=20_000, beneficiary=make_beneficiary(funded)
    )
    services.withdrawal_approve(withdrawal=withdrawal, operator=operator, note=NOTE)
    services.withdrawal_cancel(withdrawal=withdrawal, user=funded)
    assert balances(funded) == {"USD": (100_000, 0)}


def test_adjustment_requester_cannot_approve_it(alice, usd, operator, operator2):
    adjustment = services.adjustment_request(
        user=alice, asset=usd, amount=100, reason="refund", operator=operator
    )
    error = _error(
        lambda: services.adjustment_approve(
            adjustment=adjustment, operator=operator, note=NOTE
        )
    )
    assert (error.code, http_status(error)) == ("four_eyes_violation", 403)
    short = _error(
        lambda: services.adjustment_approve(
            adjustment=adjustment, operator=operator2, note="ok"
        )
    )
    assert (short.code, http_status(short), short.details) == (
        "note_required",
        400,
        {"note": ["Type at least 10 characters."]},
    )
    assert balances(alice) == {}


# --- After approval: sent, completed, failed ---------------------------------------


@pytest.fixture
def approved(funded, usd, operator):
    withdrawal = services.withdrawal_request(
        user=funded, asset=usd, amount=12_345, beneficiary=make_beneficiary(funded)
    )
    return services.withdrawal_approve(
        withdrawal=withdrawal, operator=operator, note=NOTE
    )


def test_sent_posts_the_hold_to_external_and_completed_only_confirms(
    approved, funded, usd, operator2
):
    assert (balances(funded), _external(usd)) == ({"USD": (87_655, 12_345)}, -100_000)
    services.withdrawal_mark_sent(
        withdrawal=approved,
        operator=operator2,
        payout_reference="  SEPA-77  ",
        note=NOTE,
    )
    approved.refresh_from_db()
    assert (approved.status, approved.payout_reference, approved.sent_by) == (
        "sent",
        "SEPA-77",
        operator2,
    )
    assert (balances(funded), _external(usd)) == ({"USD": (87_655, 0)}, -87_655)
    journal = Journal.objects.get(kind="withdrawal", reference=str(approved.pk))
    assert sorted(journal.entries.values_list("amount", flat=True)) == [
        -12_345,
        12_345,
    ]
    assert journal.metadata["payout_reference"] == "SEPA-77"
    sent = AuditEvent.objects.get(code=AuditCode.WITHDRAWAL_SENT)
    assert sent.extra == {
        "old": "approved",
        "new": "sent",
        "payout_reference": "SEPA-77",
        "payout_provider": "manual",
        "note": NOTE,
    }
    services.withdrawal_complete(withdrawal=approved, operator=operator2, note=NOTE)
    approved.refresh_from_db()
    assert approved.status == "completed"
    assert approved.settled_at is not None
    assert (balances(funded), _external(usd)) == ({"USD": (87_655, 0)}, -87_655)
    assert Journal.objects.filter(kind="withdrawal").count() == 1
    assert AuditEvent.objects.filter(code=AuditCode.WITHDRAWAL_COMPLETED).count() == 1
    assert list(approved.history.values_list("new_status", flat=True)) == [
        "requested",
        "approved",
        "sent",
        "completed",
    ]
    _verify_ledger()


def test_failed_returns_the_funds_with_a_new_journal(approved, funded, usd, operator2):
    services.withdrawal_mark_sent(
        withdrawal=approved, operator=operator2, payout_reference="TX-1", note=NOTE
    )
    sent_journal = Journal.objects.get(kind="withdrawal", reference=str(approved.pk))
    services.withdrawal_fail(
        withdrawal=approved, operator=operator2, note="Bank returned: closed account."
    )
    approved.refresh_from_db()
    assert approved.status == "failed"
    assert approved.reason == "The payout failed; the funds are back in your balance."
    assert (balances(funded), _external(usd)) == ({"USD": (100_000, 0)}, -100_000)
    returned = Journal.objects.get(
        kind="withdrawal", reference=f"{approved.pk}:returned"
    )
    assert sorted(returned.entries.values_list("amount", flat=True)) == [
        -12_345,
        12_345,
    ]
    # the sent journal is untouched
    assert sorted(sent_journal.entries.values_list("amount", flat=True)) == [
        -12_345,
        12_345,
    ]
    failed = AuditEvent.objects.get(code=AuditCode.WITHDRAWAL_FAILED)
    assert (failed.acting_user, failed.extra) == (
        operator2,
        {"old": "sent", "new": "failed", "note": "Bank returned: closed account."},
    )
    entry = returned.entries.get(account__owner=funded)
    assert (
        selectors.entry_description(entry, user=funded)
        == f"Withdrawal #{approved.pk} returned (payout failed)"
    )
    # a failed payout no longer counts against the daily limit; a completed one does
    assert services.withdrawals.withdrawn_today(user=funded, asset=usd) == 0
    _verify_ledger()


def test_steps_follow_the_transition_table(approved, funded, usd, operator2):
    for step in (
        lambda: services.withdrawal_complete(
            withdrawal=approved, operator=operator2, note=NOTE
        ),
        lambda: services.withdrawal_fail(
            withdrawal=approved, operator=operator2, note=NOTE
        ),
        lambda: services.withdrawal_cancel(withdrawal=approved, user=funded),
    ):
        error = _error(step)
        assert error.code in ("invalid_transition", "withdrawal_not_cancellable")
        assert http_status(error) == 409
    services.withdrawal_mark_sent(
        withdrawal=approved, operator=operator2, payout_reference="R-1", note=NOTE
    )
    reject = _error(
        lambda: services.withdrawal_reject(
            withdrawal=approved, operator=operator2, reason="Too late for this."
        )
    )
    assert (reject.code, reject.message) == (
        "invalid_transition",
        "status: cannot go from sent to rejected.",
    )
    assert (balances(funded), _external(usd)) == ({"USD": (87_655, 0)}, -87_655)


def test_approved_but_not_sent_can_be_rejected_and_nothing_was_posted(
    approved, funded, operator2
):
    services.withdrawal_reject(
        withdrawal=approved, operator=operator2, reason="Beneficiary name mismatch."
    )
    assert balances(funded) == {"USD": (100_000, 0)}
    assert not Journal.objects.filter(kind="withdrawal").exists()
    _verify_ledger()


def test_payout_reference_is_required_and_unique_per_asset(
    approved, funded, usd, btc, operator, operator2
):
    missing = _error(
        lambda: services.withdrawal_mark_sent(
            withdrawal=approved, operator=operator2, payout_reference=" ", note=NOTE
        )
    )
    assert (missing.code, http_status(missing), list(missing.details)) == (
        "payout_reference_required",
        400,
        ["payout_reference"],
    )
    services.withdrawal_mark_sent(
        withdrawal=approved, operator=operator2, payout_reference="SAME", note=NOTE
    )
    second = services.withdrawal_approve(
        withdrawal=services.withdrawal_request(
            user=funded, asset=usd, amount=100, beneficiary=make_beneficiary(funded)
        ),
        operator=operator,
        note=NOTE,
    )
    taken = _error(
        lambda: services.withdrawal_mark_sent(
            withdrawal=second, operator=operator2, payout_reference="SAME", note=NOTE
        )
    )
    assert (taken.code, http_status(taken), taken.message) == (
        "payout_reference_taken",
        409,
        f"payout_reference: Already recorded on USD withdrawal #{approved.pk}.",
    )
    # another asset's rail may reuse the same reference
    fund(funded, btc, 1_000)
    in_btc = services.withdrawal_approve(
        withdrawal=services.withdrawal_request(
            user=funded,
            asset=btc,
            amount=1_000,
            beneficiary=make_beneficiary(funded, "bitcoin"),
        ),
        operator=operator,
        note=NOTE,
    )
    services.withdrawal_mark_sent(
        withdrawal=in_btc, operator=operator2, payout_reference="SAME", note=NOTE
    )
    assert Withdrawal.objects.filter(payout_reference="SAME").count() == 2


def test_marking_sent_follows_the_approver_rules(approved, funded, operator2):
    audit_event_record(
        code=AuditCode.STAFF_ACCOUNT_LOCKED, user=funded, acting_user=operator2
    )
    error = _error(
        lambda: services.withdrawal_mark_sent(
            withdrawal=approved, operator=operator2, payout_reference="R", note=NOTE
        )
    )
    assert error.code == "staff_action_cooloff"
    assert Withdrawal.objects.get(pk=approved.pk).status == "approved"


def test_daily_limit_counts_money_gone_or_going(funded, usd, operator, operator2):
    usd.daily_withdrawal_limit = 10_000
    usd.save()
    statuses = {}
    for amount in (1_000, 2_000, 3_000):
        w = services.withdrawal_request(
            user=funded, asset=usd, amount=amount, beneficiary=make_beneficiary(funded)
        )
        statuses[amount] = w
    services.withdrawal_approve(
        withdrawal=statuses[2_000], operator=operator, note=NOTE
    )
    services.withdrawal_approve(
        withdrawal=statuses[3_000], operator=operator, note=NOTE
    )
    services.withdrawal_mark_sent(
        withdrawal=statuses[3_000], operator=operator2, payout_reference="L", note=NOTE
    )
    services.withdrawal_complete(
        withdrawal=statuses[3_000], operator=operator2, note=NOTE
    )
    assert services.withdrawals.withdrawn_today(user=funded, asset=usd) == 6_000
    error = _error(
        lambda: services.withdrawal_request(
            user=funded, asset=usd, amount=4_001, beneficiary=make_beneficiary(funded)
        )
    )
    assert error.code == "daily_limit_exceeded"


# --- The review's risk flags --------------------------------------------------------


def test_risk_flags_first_withdrawal_then_amount_against_history(
    funded, usd, operator, operator2
):
    # a beneficiary confirmed a month ago: not a "new beneficiary"
    old_beneficiary = make_beneficiary(funded, confirmed_ago=timedelta(days=30))
    first = services.withdrawal_request(
        user=funded, asset=usd, amount=1_000, beneficiary=old_beneficiary
    )
    assert [f.code for f in selectors.withdrawal_review(withdrawal=first).flags] == [
        "first_withdrawal"
    ]
    services.withdrawal_approve(withdrawal=first, operator=operator, note=NOTE)
    services.withdrawal_mark_sent(
        withdrawal=first, operator=operator2, payout_reference="H-1", note=NOTE
    )
    services.withdrawal_complete(withdrawal=first, operator=operator2, note=NOTE)
    big = services.withdrawal_request(
        user=funded, asset=usd, amount=3_001, beneficiary=old_beneficiary
    )
    fine = services.withdrawal_request(
        user=funded, asset=usd, amount=3_000, beneficiary=old_beneficiary
    )
    flags = selectors.withdrawal_review(withdrawal=big).flags
    assert [(f.code, f.text) for f in flags] == [
        (
            "large_vs_history",
            "More than 3x the user's largest completed USD withdrawal (10.00).",
        )
    ]
    assert selectors.withdrawal_review(withdrawal=fine).flags == []


def test_withdrawal_api_shows_the_new_statuses(approved, funded, operator2):
    services.withdrawal_mark_sent(
        withdrawal=approved, operator=operator2, payout_reference="API-1", note=NOTE
    )
    listed = api_client_for(funded).get("/api/v1/wallet/withdrawals").json()
    row = listed["results"][0]
    assert (row["status"], row["payout_reference"]) == ("sent", "API-1")
    schema = Client().get("/api/schema/?format=json").json()
    output = schema["components"]["schemas"]["WithdrawalOutput"]["properties"]
    enum_name = output["status"]["allOf"][0]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][enum_name]["enum"] == [
        "requested",
        "first_approved",
        "approved",
        "sent",
        "completed",
        "failed",
        "rejected",
        "cancelled",
    ]


def test_queues_list_what_waits_oldest_first(
    threshold_100_usd, funded, usd, operator, operator2
):
    old = services.withdrawal_request(
        user=funded, asset=usd, amount=20_000, beneficiary=make_beneficiary(funded)
    )
    new = services.withdrawal_request(
        user=funded, asset=usd, amount=1_000, beneficiary=make_beneficiary(funded)
    )
    done = services.withdrawal_request(
        user=funded, asset=usd, amount=1_000, beneficiary=make_beneficiary(funded)
    )
    services.withdrawal_approve(withdrawal=old, operator=operator, note=NOTE)
    services.withdrawal_approve(withdrawal=done, operator=operator, note=NOTE)
    assert [w.pk for w in selectors.withdrawal_queue()] == [old.pk, new.pk]
    first = services.adjustment_request(
        user=funded, asset=usd, amount=5, reason="one", operator=operator
    )
    second = services.adjustment_request(
        user=funded, asset=usd, amount=7, reason="two", operator=operator
    )
    services.adjustment_approve(adjustment=first, operator=operator2, note=NOTE)
    assert [a.pk for a in selectors.adjustment_queue()] == [second.pk]


def test_migration_turns_old_approved_withdrawals_into_completed(
    approved, funded, operator2
):
    # given: a row as the old code left it: `approved` with its hold posted
    from django.apps import apps

    migration = importlib.import_module(
        "wallet.migrations.0006_withdrawal_payout_steps"
    )
    services.withdrawal_mark_sent(
        withdrawal=approved, operator=operator2, payout_reference="tmp", note=NOTE
    )
    Withdrawal.objects.filter(pk=approved.pk).update(
        status="approved", payout_reference="", sent_by=None, sent_at=None
    )
    untouched = services.withdrawal_approve(
        withdrawal=services.withdrawal_request(
            user=funded,
            asset=approved.asset,
            amount=100,
            beneficiary=make_beneficiary(funded),
        ),
        operator=operator2,
        note=NOTE,
    )
    # when
    migration.approved_and_posted_to_completed(apps, None)
    # then: completed with a reference naming the migration; the new-style one stays
    approved.refresh_from_db()
    assert (approved.status, approved.payout_reference) == (
        "completed",
        f"pre-payout-steps-{approved.pk}",
    )
    assert approved.history.last().note == migration.LEGACY_NOTE
    assert Withdrawal.objects.get(pk=untouched.pk).status == "approved"
    _verify_ledger()


def test_a_bad_threshold_setting_fails_the_system_check(settings):
    settings.WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER = {"USD": "10000", "BTC": "1e3"}
    [error] = wallet_second_approval_threshold_check(None)
    assert (error.id, error.msg) == (
        "wallet.E002",
        "WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER[BTC]='1e3' is not a non-negative "
        "decimal amount in whole units.",
    )
    settings.WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER = {"USD": "10000", "BTC": "0.5"}
    assert wallet_second_approval_threshold_check(None) == []
