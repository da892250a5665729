"""Tamper-proof history: on PostgreSQL the database itself refuses UPDATE, DELETE
and TRUNCATE of the append-only tables (config/append_only.py), whatever sends the
SQL; the normal flows, the ledger's proof and the test suite's flush still work."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, connection, models, transaction

from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.services import role_grant_approve, role_grant_request
from accounts.testing import make_user
from config.append_only import (
    TRUNCATE_TRIGGER,
    append_only_models,
    append_only_triggers,
)
from config.tests.test_append_only import PROTECTED
from kyc.models import KycStatusEvent
from kyc.testing import make_verified_user
from trading.models import Fill, Order, OrderStatusChange, Trade
from trading.services import order_place
from trading.tests.helpers import make_btc_usd, match
from wallet import services as wallet
from wallet.models import (
    AdjustmentStatusChange,
    DepositReversal,
    DepositStatusChange,
    Entry,
    Journal,
    Withdrawal,
    WithdrawalStatusChange,
)
from wallet.providers.sandbox import SandboxProvider
from wallet.tests.helpers import balances, fund, make_beneficiary
from wallet.tests.test_entry_references import references_pgid

pytestmark = pytest.mark.postgres

USD = 100  # cents per dollar
BTC = 10**8  # satoshi per bitcoin


# pg_trigger.tgtype bits
ROW, BEFORE, INSERT, DELETE, UPDATE, TRUNCATE = 1, 2, 4, 8, 16, 32


def _history():
    """A day on the platform through the real services: two verified traders
    funded, one trade, a deposit, a withdrawal to a beneficiary paid out, an
    adjustment, a role granted by two administrators: every append-only table has
    rows."""
    instrument = make_btc_usd()
    seller = make_verified_user(email="seller@example.com")
    buyer = make_verified_user(email="buyer@example.com")
    fund(seller, instrument.base, 2 * BTC)
    fund(buyer, instrument.quote, 200_000 * USD)
    order_place(
        user=seller, symbol="BTC-USD", side="sell", price="95000", quantity="0.5"
    )
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="95000", quantity="0.5")
    match(instrument)
    op1 = make_user(email="op1@example.com", roles=(Role.OPERATOR,), is_staff=True)
    op2 = make_user(email="op2@example.com", roles=(Role.OPERATOR,), is_staff=True)
    deposit = wallet.deposit_create(
        user=buyer, asset=instrument.quote, amount=5_000 * USD
    )
    # credited, then refunded in part (a DepositReversal)
    for outcome, amount in (("succeeded", None), ("refunded", 1_000 * USD)):
        headers, body = SandboxProvider().build_webhook(
            deposit=deposit, outcome=outcome, amount=amount
        )
        wallet.deposit_webhook_process(provider="sandbox", headers=headers, body=body)
    withdrawal = wallet.withdrawal_request(
        user=seller,
        asset=instrument.quote,
        amount=10_000 * USD,
        beneficiary=make_beneficiary(seller),
    )
    note = "Checked and paid out."
    wallet.withdrawal_approve(withdrawal=withdrawal, operator=op1, note=note)
    wallet.withdrawal_mark_sent(
        withdrawal=withdrawal, operator=op1, payout_reference="PAYOUT-1", note=note
    )
    wallet.withdrawal_complete(withdrawal=withdrawal, operator=op1, note=note)
    admin1 = make_user(
        email="admin1@example.com", roles=(Role.ADMINISTRATOR,), is_staff=True
    )
    admin2 = make_user(
        email="admin2@example.com", roles=(Role.ADMINISTRATOR,), is_staff=True
    )
    grant = role_grant_request(
        requested_by=admin1, user=buyer, role=Role.SUPPORT, reason="Joins support."
    )
    role_grant_approve(request_id=grant.pk, approver=admin2, note="Agreed.")
    adjustment = wallet.adjustment_request(
        user=buyer,
        asset=instrument.quote,
        amount=25 * USD,
        reason="goodwill",
        operator=op1,
    )
    wallet.adjustment_approve(adjustment=adjustment, operator=op2, note="Goodwill ok.")
    # a calendar session entered (calendars.SessionTransition)
    from calendars.services import instrument_calendar_set
    from calendars.tests.helpers import advance, make_berlin, utc

    instrument_calendar_set(
        instrument=instrument,
        calendar=make_berlin(),
        volatility_band_bps=0,
        volatility_call_seconds=120,
        volatility_random_seconds=30,
        acting_user=op1,
    )
    advance(instrument, utc(2026, 6, 2, 9))
    # The test's transaction is still open: run the deferred foreign key checks
    # now, as a commit would (PostgreSQL refuses a TRUNCATE while any are due).
    connection.check_constraints()
    return instrument, buyer, seller


def _model(label: str):
    return next(m for m in append_only_models() if m._meta.label == label)


def _row(model) -> tuple[int, object]:
    """The pk and created_at of the table's first row, read in SQL."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, created_at FROM {table} ORDER BY id LIMIT 1")
        return cursor.fetchone()


def _refused(sql: str, params=(), *, operation: str) -> str:
    """Run `sql` in a savepoint; it must be refused by an append-only trigger."""
    with pytest.raises(ProgrammingError) as info:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    message = str(info.value)
    assert re.search(rf"append-only table \w+: {operation} refused", message), message
    return message


@pytest.mark.django_db
def test_each_protected_table_has_its_triggers_installed_and_enabled():
    # given the migrated test database
    tables = {m._meta.db_table: m for m in append_only_models()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, t.tgtype, t.tgenabled FROM pg_trigger t"
            " JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND c.relname = ANY(%s)",
            [list(tables)],
        )
        found = {(table, name): (kind, on) for table, name, kind, on in cursor}
    # then each table has a BEFORE UPDATE OR DELETE row trigger and a BEFORE
    # TRUNCATE statement trigger, both enabled, and nothing else of ours but
    # the entries' reference check (config/references.py)
    references = references_pgid()
    assert found.pop(("wallet_entry", references)) == (INSERT, "O")
    expected = {}
    for table, model in tables.items():
        row, truncate = append_only_triggers()
        expected[(table, row.get_pgid(model))] = (ROW | BEFORE | UPDATE | DELETE, "O")
        expected[(table, truncate.get_pgid(model))] = (BEFORE | TRUNCATE, "O")
    assert found == expected
    assert len(found) == 2 * len(PROTECTED)


@pytest.mark.django_db
@pytest.mark.parametrize("label", PROTECTED)
def test_raw_update_delete_and_truncate_are_refused(label):
    # given a day's history
    _history()
    model = _model(label)
    table = connection.ops.quote_name(model._meta.db_table)
    pk, created_at = _row(model)
    count = model._base_manager.count()
    assert count > 0

    # when someone rewrites, removes or wipes it in raw SQL: the database refuses
    _refused(
        f"UPDATE {table} SET created_at = created_at - interval '1 day' WHERE id = %s",
        [pk],
        operation="UPDATE",
    )
    _refused(f"DELETE FROM {table} WHERE id = %s", [pk], operation="DELETE")
    _refused(f"DELETE FROM {table}", operation="DELETE")
    # CASCADE: the tables that point at this one would go too, history first
    _refused(f"TRUNCATE {table} CASCADE", operation="TRUNCATE")

    # then the row and the table are as they were
    assert _row(model) == (pk, created_at)
    assert model._base_manager.count() == count


@pytest.mark.django_db
def test_plain_truncate_of_an_unreferenced_history_table_is_refused_by_its_trigger():
    _history()
    message = _refused("TRUNCATE wallet_entry", operation="TRUNCATE")
    assert "append-only table wallet_entry: TRUNCATE refused" in message
    assert Entry.objects.count() > 0


@pytest.mark.django_db
def test_pgtriggers_ignore_switch_does_not_open_them():
    # given history, and a session that sets django-pgtrigger's ignore switch
    # (the setting pgtrigger.ignore() sets) naming every append-only trigger
    _history()
    entry = Entry.objects.order_by("pk").first()
    names = [
        trigger.get_pgid(model)
        for model in append_only_models()
        for trigger in append_only_triggers()
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pgtrigger.ignore', %s, false)",
            ["{" + ",".join(names) + "}"],
        )
    # when it rewrites, removes or wipes entries: still refused
    _refused(
        "UPDATE wallet_entry SET amount = amount * 10 WHERE id = %s",
        [entry.pk],
        operation="UPDATE",
    )
    _refused("DELETE FROM wallet_entry WHERE id = %s", [entry.pk], operation="DELETE")
    _refused("TRUNCATE wallet_entry", operation="TRUNCATE")
    # then the entry is as it was
    assert Entry.objects.get(pk=entry.pk).amount == entry.amount


@pytest.mark.django_db
def test_the_orm_cannot_edit_or_delete_history_either():
    # given history rows
    _history()
    entry = Entry.objects.order_by("pk").first()
    # when the ORM's own queryset update / delete and a save() of a loaded row try
    with pytest.raises(ProgrammingError), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount=entry.amount * 10)
    with pytest.raises(ProgrammingError), transaction.atomic():
        Fill.objects.all().delete()
    history = WithdrawalStatusChange.objects.order_by("pk").first()
    history.new_status = "rejected"
    with pytest.raises(ValueError):  # the model refuses first (config/models.py)
        history.save()
    with pytest.raises(ProgrammingError), transaction.atomic():
        models.Model.save(history)  # and past the model, the database
    # then nothing changed
    entry_now = Entry.objects.get(pk=entry.pk)
    assert entry_now.amount == entry.amount
    assert Fill.objects.count() == 2
    assert list(
        WithdrawalStatusChange.objects.values_list("old_status", "new_status")
    ) == [
        ("", "requested"),
        ("requested", "approved"),
        ("approved", "sent"),
        ("sent", "completed"),
    ]


@pytest.mark.django_db
def test_forging_an_entry_is_refused_and_the_ledger_still_verifies():
    # given a trade, a deposit, a withdrawal paid out and an adjustment
    instrument, buyer, seller = _history()
    before = balances(seller)
    entry = Entry.objects.filter(account__owner=seller).order_by("pk").first()
    # when someone multiplies a credit of the seller's in SQL
    _refused(
        "UPDATE wallet_entry SET amount = amount * 10 WHERE id = %s",
        [entry.pk],
        operation="UPDATE",
    )
    # then the ledger is untouched and proves itself
    assert balances(seller) == before
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger verified." in out.getvalue()
    assert "FAIL" not in out.getvalue()


@pytest.mark.django_db
def test_normal_flows_still_write_their_history():
    # given / when: the normal trading, deposit, withdrawal and adjustment flows
    instrument, buyer, seller = _history()
    # then each wrote its history and the money went where it should
    assert Trade.objects.count() == 1
    assert Fill.objects.count() == 2
    assert list(
        OrderStatusChange.objects.filter(order__user=seller).values_list(
            "from_status", "to_status"
        )
    ) == [("", "pending"), ("pending", "open"), ("open", "filled")]
    assert DepositStatusChange.objects.count() == 2  # pending, credited
    assert DepositReversal.objects.get().amount == 1_000 * USD
    assert AdjustmentStatusChange.objects.count() == 2
    assert Withdrawal.objects.get().status == "completed"
    assert Order.objects.filter(status="filled").count() == 2
    # 0.5 BTC at 95,000.00: the seller (maker, 10 bps in USD) gets 47,500.00 less
    # 47.50 and paid out 10,000.00; the buyer (taker, 20 bps in BTC) paid
    # 47,500.00 for 0.499 BTC, was credited 25.00 and deposited 5,000.00 of
    # which 1,000.00 were refunded
    assert balances(seller) == {"BTC": (150_000_000, 0), "USD": (3_745_250, 0)}
    assert balances(buyer) == {"BTC": (49_900_000, 0), "USD": (15_652_500, 0)}
    assert AuditEvent.objects.filter(code=AuditCode.WITHDRAWAL_APPROVED).count() == 1
    assert AuditEvent.objects.filter(code=AuditCode.WITHDRAWAL_COMPLETED).count() == 1
    assert (
        AuditEvent.objects.filter(code=AuditCode.ROLE_GRANTED, user=buyer).count() == 1
    )
    assert KycStatusEvent.objects.filter(action="approved").count() == 2
    assert Journal.objects.count() > 0
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger verified." in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_test_flush_empties_history_and_leaves_the_triggers_on():
    # given history in a transactional test
    _history()
    assert Journal.objects.exists()
    # when Django's flush runs (as it does after every transactional test)
    call_command("flush", interactive=False, verbosity=0)
    # then the history tables are empty ...
    assert [m._base_manager.count() for m in append_only_models()] == [0] * len(
        PROTECTED
    )
    # ... and their TRUNCATE triggers are enabled again
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE %s AND tgenabled = 'O'",
            [f"pgtrigger_{TRUNCATE_TRIGGER}_%"],
        )
        assert cursor.fetchone() == (len(PROTECTED),)
    _refused("TRUNCATE wallet_journal CASCADE", operation="TRUNCATE")


@pytest.mark.django_db(transaction=True)
def test_the_trigger_migrations_reverse_and_apply_again():
    # given the migrated database: 2 triggers per protected table
    def ours() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgtrigger_append%%'"
            )
            return cursor.fetchone()[0]

    assert ours() == 2 * len(PROTECTED)
    previous = {
        "accounts": "0006_administrator_role",
        "kyc": "0002_roles",
        "trading": "0006_trade_buyer_fee_asset_required",
        "wallet": "0006_withdrawal_payout_steps",
    }
    # when each app's append-only migration is reversed: its triggers go
    for app, migration in previous.items():
        call_command("migrate", app, migration, verbosity=0)
    assert ours() == 0
    # and applied again: they come back
    call_command("migrate", verbosity=0)
    assert ours() == 2 * len(PROTECTED)
