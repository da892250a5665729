"""On PostgreSQL: the checks read one snapshot, and concurrent runs of one period
record one outcome."""

import threading

import pytest
from django.db import connection
from django.db.models import F

from accounts.models import AuditCode, AuditEvent, User
from backoffice.models import LedgerVerification
from backoffice.queries import read_snapshot
from backoffice.services import ledger_verification_run
from wallet.models import Account, Asset, Journal
from wallet.tests.helpers import fund

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_thread(target):
    """Run `target` on its own connection (another session) and wait for it."""
    errors: list[BaseException] = []

    def runner():
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=runner)
    thread.start()
    thread.join(timeout=60)
    if errors:
        raise errors[0]


@pytest.fixture
def holder():
    usd = Asset.objects.create(code="USD", name="USD", decimals=2, kind="fiat")
    user = User.objects.create_user(email="holder@example.com", full_name="Holder")
    fund(user, usd, 10_000)
    return user, usd


def test_the_checks_read_one_snapshot(holder):
    user, usd = holder
    with read_snapshot():
        before = Journal.objects.count()
        # a posting commits in another session while the checks run
        in_thread(lambda: fund(user, usd, 500))
        during = Journal.objects.count()
    after = Journal.objects.count()
    assert (before, during, after) == (1, 1, 2)


def test_a_run_outside_any_transaction_records_its_outcome(holder):
    user, _ = holder
    ok = ledger_verification_run(run_key="beat:ok", trigger="beat")
    Account.objects.filter(owner=user, kind=Account.Kind.AVAILABLE).update(
        balance=F("balance") + 1
    )
    failed = ledger_verification_run(run_key="beat:failed", trigger="beat")
    assert (ok.ok, failed.ok, failed.problem_count) == (True, False, 3)


def test_concurrent_runs_of_one_period_record_one_outcome(holder):
    user, _ = holder
    Account.objects.filter(owner=user, kind=Account.Kind.AVAILABLE).update(
        balance=F("balance") + 1
    )
    barrier = threading.Barrier(3)
    rows: list[int] = []

    def run():
        barrier.wait(timeout=30)
        rows.append(ledger_verification_run(run_key="beat:same", trigger="beat").pk)

    threads = [threading.Thread(target=lambda: in_thread(run)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert len(rows) == 3 and len(set(rows)) == 1
    assert LedgerVerification.objects.count() == 1
    assert (
        AuditEvent.objects.filter(code=AuditCode.LEDGER_VERIFICATION_FAILED).count()
        == 1
    )
