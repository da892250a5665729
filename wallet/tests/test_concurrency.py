"""Real concurrency on PostgreSQL: row locks, no deadlocks, no lost updates."""

import threading

import pytest
from django.db import connection

from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.services import backup_codes_ensure
from accounts.testing import make_user
from config.errors import ApplicationError, http_status
from kyc.testing import kyc_approve
from wallet import services
from wallet.ledger import Posting, account_ensure, ledger_post
from wallet.models import Account, Beneficiary, Deposit, Journal, Withdrawal
from wallet.providers.sandbox import SandboxProvider
from wallet.tests.helpers import fund, make_asset, make_beneficiary
from wallet.verification import ledger_problems

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_threads(target, args_list):
    errors: list[BaseException] = []
    results: list = []
    barrier = threading.Barrier(len(args_list))

    def runner(*args):
        try:
            barrier.wait()
            results.append(target(*args))
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=args) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def _users(n):
    return [
        User.objects.create_user(email=f"c{i}@example.com", full_name=f"C{i}")
        for i in range(n)
    ]


def test_concurrent_transfers_in_both_directions_conserve_money():
    usd = make_asset("USD", 2)
    users = _users(4)
    accounts = [
        account_ensure(owner=u, asset=usd, kind=Account.Kind.AVAILABLE) for u in users
    ]
    for user in users:
        fund(user, usd, 1_000)
    per_thread = 25

    def work(thread_no):
        ok = refused = 0
        for i in range(per_thread):
            a = accounts[(thread_no + i) % 4]
            b = accounts[(thread_no + i + 1 + thread_no % 2) % 4]
            if a.pk == b.pk:
                continue
            # even threads push a -> b, odd threads b -> a: opposite lock wishes
            src, dst = (a, b) if thread_no % 2 == 0 else (b, a)
            try:
                ledger_post(
                    kind="transfer",
                    reference=f"t{thread_no}-{i}",
                    postings=[Posting(src, -(37 + i)), Posting(dst, 37 + i)],
                )
                ok += 1
            except ApplicationError as exc:
                assert exc.code == "insufficient_funds"
                refused += 1
        return ok, refused

    results, errors = _run_threads(work, [(n,) for n in range(8)])
    assert errors == []
    posted = sum(ok for ok, _ in results)
    assert posted == Journal.objects.filter(kind="transfer").count()
    assert posted > 0
    total = sum(a.balance for a in Account.objects.filter(owner__isnull=False))
    assert total == 4_000
    assert not Account.objects.filter(owner__isnull=False, balance__lt=0).exists()
    assert ledger_problems() == []


def test_concurrent_withdrawals_only_the_affordable_succeed():
    usd = make_asset("USD", 2)
    [user] = _users(1)
    kyc_approve(user=user)
    fund(user, usd, 10_000)  # 100.00 USD; each asks 15.00 -> six fit
    beneficiary = make_beneficiary(user)

    def work(n):
        return services.withdrawal_request(
            user=User.objects.get(pk=user.pk),
            asset=usd,
            amount=1_500,
            beneficiary=beneficiary,
        ).pk

    results, errors = _run_threads(work, [(n,) for n in range(12)])
    assert len(results) == 6
    assert len(errors) == 6
    assert {e.code for e in errors} == {"insufficient_funds"}
    assert Withdrawal.objects.count() == 6
    available = Account.objects.get(owner=user, kind="available").balance
    held = Account.objects.get(owner=user, kind="held").balance
    assert (available, held) == (1_000, 9_000)
    assert ledger_problems() == []


def test_a_webhook_delivered_many_times_concurrently_credits_once():
    usd = make_asset("USD", 2)
    [user] = _users(1)
    kyc_approve(user=user)  # deposits need approved KYC
    deposit = services.deposit_create(user=user, asset=usd, amount=4_200)
    headers, body = SandboxProvider().build_webhook(
        deposit=deposit, outcome="succeeded"
    )

    def work():
        return services.deposit_webhook_process(
            provider="sandbox", headers=headers, body=body
        ).deposit.status

    results, errors = _run_threads(work, [() for _ in range(10)])
    assert errors == []
    assert results == ["credited"] * 10
    assert Journal.objects.filter(kind="deposit").count() == 1
    assert Account.objects.get(owner=user, kind="available").balance == 4_200
    assert Deposit.objects.get().history.count() == 2
    assert ledger_problems() == []


def test_the_same_journal_reference_posted_concurrently_posts_once():
    usd = make_asset("USD", 2)
    a, b = _users(2)
    fund(a, usd, 1_000)
    src = account_ensure(owner=a, asset=usd, kind="available")
    dst = account_ensure(owner=b, asset=usd, kind="available")

    def work():
        return ledger_post(
            kind="transfer",
            reference="same",
            postings=[Posting(src, -100), Posting(dst, 100)],
        ).pk

    results, errors = _run_threads(work, [() for _ in range(6)])
    assert errors == []
    assert len(set(results)) == 1
    assert Account.objects.get(pk=dst.pk).balance == 100
    assert ledger_problems() == []


def test_concurrent_adds_of_one_destination_store_it_once():
    [user] = _users(1)

    def work(n):
        spelled = "DE89 3704 0044 0532 0130 00" if n % 2 else "de89370400440532013000"
        return services.beneficiary_add(
            user=User.objects.get(pk=user.pk), rail="bank_iban", destination=spelled
        ).pk

    results, errors = _run_threads(work, [(n,) for n in range(6)])
    assert len(results) == 1
    assert [(e.code, http_status(e)) for e in errors] == [
        ("beneficiary_exists", 409)
    ] * 5
    assert Beneficiary.objects.count() == 1


def test_one_backup_code_confirms_one_beneficiary_under_concurrency():
    [user] = _users(1)
    [code] = backup_codes_ensure(user=user, count=1)
    pending = [
        services.beneficiary_add(user=user, rail="upi", destination=f"u{n}x@ybl")
        for n in range(4)
    ]

    def work(beneficiary):
        return services.beneficiary_confirm(
            beneficiary=beneficiary, user=User.objects.get(pk=user.pk), otp=code
        ).pk

    results, errors = _run_threads(work, [(b,) for b in pending])
    assert len(results) == 1
    assert {(e.code, http_status(e)) for e in errors} == {("otp_invalid", 403)}
    assert Beneficiary.objects.filter(status="confirmed").count() == 1


def test_a_removal_and_withdrawals_to_it_serialize_on_the_beneficiary():
    usd = make_asset("USD", 2)
    [user] = _users(1)
    kyc_approve(user=user)
    fund(user, usd, 10_000)
    beneficiary = make_beneficiary(user)

    def withdraw(_):
        return services.withdrawal_request(
            user=User.objects.get(pk=user.pk),
            asset=usd,
            amount=100,
            beneficiary=beneficiary,
        ).pk

    def remove(_):
        services.beneficiary_remove(
            beneficiary=beneficiary, user=User.objects.get(pk=user.pk)
        )
        return "removed"

    def work(n):
        return remove(n) if n == 3 else withdraw(n)

    results, errors = _run_threads(work, [(n,) for n in range(7)])
    assert "removed" in results
    assert {e.code for e in errors} <= {"beneficiary_not_confirmed"}
    assert len(results) + len(errors) == 7
    removed_at = beneficiary.history.get(new_status="removed").created_at
    made = Withdrawal.objects.filter(beneficiary=beneficiary)
    assert made.count() == len(results) - 1
    # Every withdrawal that got through committed before the removal took the row.
    assert all(w.created_at < removed_at for w in made)


def _operators(n):
    return [
        make_user(email=f"op{i}@example.com", roles=(Role.OPERATOR,), is_staff=True)
        for i in range(n)
    ]


NOTE = "Checked the destination and the history."


def test_two_operators_giving_the_second_approval_at_once_approve_once(settings):
    # given: 500.00 USD above a 100 USD threshold, first-approved by op0
    settings.WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER = {"USD": "100"}
    usd = make_asset("USD", 2)
    [user] = _users(1)
    kyc_approve(user=user)
    fund(user, usd, 100_000)
    first, second, third = _operators(3)
    withdrawal = services.withdrawal_request(
        user=user, asset=usd, amount=50_000, beneficiary=make_beneficiary(user)
    )
    services.withdrawal_approve(withdrawal=withdrawal, operator=first, note=NOTE)

    # when: op1 and op2 give the second approval at the same moment
    def work(operator):
        return services.withdrawal_approve(
            withdrawal=Withdrawal.objects.get(pk=withdrawal.pk),
            operator=operator,
            note=NOTE,
        ).decided_by_id

    results, errors = _run_threads(work, [(second,), (third,)])
    # then: exactly one approves, the other finds it decided
    assert len(results) == 1 and len(errors) == 1
    assert errors[0].code == "invalid_transition"
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.decided_by_id) == ("approved", results[0])
    assert withdrawal.history.filter(new_status="approved").count() == 1
    assert AuditEvent.objects.filter(code=AuditCode.WITHDRAWAL_APPROVED).count() == 1


def test_two_operators_marking_sent_at_once_post_once():
    # given: an approved 150.00 USD withdrawal
    usd = make_asset("USD", 2)
    [user] = _users(1)
    kyc_approve(user=user)
    fund(user, usd, 100_000)
    approver, second, third = _operators(3)
    withdrawal = services.withdrawal_request(
        user=user, asset=usd, amount=15_000, beneficiary=make_beneficiary(user)
    )
    services.withdrawal_approve(withdrawal=withdrawal, operator=approver, note=NOTE)

    # when: two operators mark it sent at once, each with their own reference
    def work(operator, reference):
        return services.withdrawal_mark_sent(
            withdrawal=Withdrawal.objects.get(pk=withdrawal.pk),
            operator=operator,
            payout_reference=reference,
            note=NOTE,
        ).payout_reference

    results, errors = _run_threads(work, [(second, "A-1"), (third, "B-1")])
    # then: exactly one posts to external
    assert len(results) == 1 and [e.code for e in errors] == ["invalid_transition"]
    assert Journal.objects.filter(kind="withdrawal").count() == 1
    assert Account.objects.get(owner=user, kind="available").balance == 85_000
    assert Account.objects.get(owner=user, kind="held").balance == 0
    assert Account.objects.get(owner=None, kind="external").balance == -85_000
    assert Withdrawal.objects.get().payout_reference == results[0]
    assert ledger_problems() == []
