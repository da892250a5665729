"""An entry's journal and account are checked once per INSERT statement
(config/references.py) instead of by per-row foreign keys: the same refusals,
the same error class, nothing half-written, and no way around them."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from pgtrigger import registry

from config.references import StatementReferences
from wallet.ledger import JournalSpec, Posting, hold_create, ledger_post_batch
from wallet.models import Account, Entry
from wallet.tests.helpers import balances, fund
from wallet.verification import ledger_problems

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

MISSING = 10**15


def references_pgid() -> str:
    """The installed name of Entry's reference check."""
    return next(
        trigger.get_pgid(model)
        for model, trigger in registry.registered()
        if model is Entry and isinstance(trigger, StatementReferences)
    )


def _insert(rows: list[tuple[int, int, int]]) -> None:
    """Entries straight in SQL, as a faulty writer would: (journal, account,
    amount)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallet_entry (journal_id, account_id, amount, balance_after,"
            " created_at) SELECT j, a, m, 0, now()"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS x(j, a, m)",
            [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
        )


def test_an_entry_naming_a_missing_journal_fails_its_statement_whole(alice, usd):
    # given a real journal and account
    journal = fund(alice, usd, 500)
    account = Account.objects.get(owner=alice, asset=usd, kind="available")
    count = Entry.objects.count()
    # when one row of a multi-row insert names a journal that does not exist
    with pytest.raises(IntegrityError, match="wallet_entry.journal_id"):
        with transaction.atomic():
            _insert([(journal.pk, account.pk, 1), (MISSING, account.pk, -1)])
    # then no row of that statement was written
    assert Entry.objects.count() == count


def test_an_entry_naming_a_missing_account_is_refused(alice, usd):
    journal = fund(alice, usd, 500)
    with pytest.raises(IntegrityError, match="wallet_entry.account_id"):
        with transaction.atomic():
            _insert([(journal.pk, MISSING, 1)])
    # the ORM's insert is refused the same way
    with pytest.raises(IntegrityError, match="wallet_entry.account_id"):
        with transaction.atomic():
            Entry.objects.create(
                journal=journal, account_id=MISSING, amount=1, balance_after=1
            )


def test_the_ignore_switch_does_not_open_the_check(alice, usd):
    journal = fund(alice, usd, 500)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pgtrigger.ignore', %s, false)",
            ["{" + references_pgid() + "}"],
        )
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            _insert([(journal.pk, MISSING, 1)])


def test_an_account_with_entries_cannot_be_deleted_but_an_unused_one_can(
    alice, bob, usd
):
    fund(alice, usd, 500)
    used = Account.objects.get(owner=alice, asset=usd, kind="available")
    with pytest.raises(IntegrityError, match="is named by wallet_entry"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM wallet_account WHERE id = %s", [used.pk])
    assert Account.objects.filter(pk=used.pk).exists()
    unused = Account.objects.create(owner=bob, asset=usd, kind="held")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM wallet_account WHERE id = %s", [unused.pk])
    assert not Account.objects.filter(pk=unused.pk).exists()


def test_a_batch_and_a_hold_write_journals_and_entries_in_one_transaction(
    alice, bob, usd
):
    # the batch inserts its journals and then its entries; a hold's journal,
    # hold and entries are one statement: each entry's journal is checked at
    # its statement's end and found
    fund(alice, usd, 10_000)
    alice_usd = Account.objects.get(owner=alice, asset=usd, kind="available")
    bob_usd = Account.objects.get_or_create(owner=bob, asset=usd, kind="available")[0]
    journals = ledger_post_batch(
        journals=[
            JournalSpec(
                "transfer",
                f"ref-{index}",
                [Posting(alice_usd, -10), Posting(bob_usd, 10)],
            )
            for index in range(50)
        ]
    )
    assert len(journals) == 50
    with transaction.atomic():
        hold_create(
            user=alice,
            asset=usd,
            amount=300,
            reference_kind="order",
            reference_id="1",
            new_reference=True,
        )
    assert balances(alice) == {"USD": (9_200, 300)}
    assert balances(bob) == {"USD": (500, 0)}
    assert ledger_problems() == []


def test_verify_ledger_reports_an_entry_whose_journal_is_missing(alice, usd):
    # given an orphan entry slipped in past the trigger (its table owner
    # switched it off: what only a migration or a superuser can do)
    journal = fund(alice, usd, 500)
    account = Account.objects.get(owner=alice, asset=usd, kind="available")
    assert ledger_problems() == []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE wallet_entry DISABLE TRIGGER USER")
            _insert([(MISSING, account.pk, 1), (journal.pk, account.pk, -1)])
            cursor.execute("ALTER TABLE wallet_entry ENABLE TRIGGER USER")
        # then the proof names it
        problems = ledger_problems()
        assert any(f"its journal {MISSING} does not exist" in p for p in problems), (
            problems
        )
        transaction.set_rollback(True)
