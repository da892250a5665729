"""The bulk writers: the same rows as the ORM's bulk_update / F() updates, on
PostgreSQL by UPDATE ... FROM unnest() and elsewhere through the ORM."""

from datetime import UTC, datetime

import pytest

from config.bulk import bulk_add, bulk_update_rows
from wallet.models import Account, Asset, Hold
from wallet.tests.helpers import fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def usd():
    return Asset.objects.create(code="USD", name="US Dollar", decimals=2, kind="fiat")


def test_bulk_update_rows_writes_each_rows_own_values(usd):
    from accounts.testing import make_user
    from wallet.ledger import hold_create

    users = [make_user(email=f"u{index}@example.com") for index in range(3)]
    holds = []
    for index, user in enumerate(users):
        fund(user, usd, 1_000)
        holds.append(
            hold_create(
                user=user,
                asset=usd,
                amount=100 * (index + 1),
                reference_kind="test",
                reference_id=str(index),
            )
        )
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for index, hold in enumerate(holds[:2]):  # the third stays as it is
        hold.posted_amount = hold.amount
        hold.remaining_amount = 0
        hold.status = Hold.Status.POSTED if index == 0 else Hold.Status.VOIDED
        hold.updated_at = when
    bulk_update_rows(
        Hold, holds[:2], ["posted_amount", "remaining_amount", "status", "updated_at"]
    )
    stored = {
        hold.pk: (
            hold.posted_amount,
            hold.remaining_amount,
            hold.status,
            hold.updated_at,
        )
        for hold in Hold.objects.all()
    }
    assert stored[holds[0].pk] == (100, 0, "posted", when)
    assert stored[holds[1].pk] == (200, 0, "voided", when)
    assert stored[holds[2].pk][:3] == (0, 300, "pending")
    bulk_update_rows(Hold, [], ["status"])  # nothing to do, no statement


def test_bulk_add_moves_each_row_by_its_own_delta(usd):
    from accounts.testing import make_user

    first, second = make_user(email="a@example.com"), make_user(email="b@example.com")
    fund(first, usd, 1_000)
    fund(second, usd, 500)
    accounts = {
        account.owner_id: account
        for account in Account.objects.filter(kind=Account.Kind.AVAILABLE)
    }
    bulk_add(
        Account,
        "balance",
        {accounts[first.pk].pk: -250, accounts[second.pk].pk: 250},
    )
    assert Account.objects.get(pk=accounts[first.pk].pk).balance == 750
    assert Account.objects.get(pk=accounts[second.pk].pk).balance == 750


def test_insert_one_writes_the_row_save_would(usd):
    from config.bulk import insert_one
    from wallet.models import Journal

    first = Journal(kind=Journal.Kind.HOLD, reference="test:1", metadata={"a": [1]})
    insert_one(first)
    second = Journal(kind=Journal.Kind.HOLD, reference="test:2")
    insert_one(second)
    assert first.pk and second.pk and first.pk != second.pk
    assert not first._state.adding and first._state.db == "default"
    stored = Journal.objects.get(pk=first.pk)
    assert (stored.kind, stored.reference, stored.metadata) == (
        "hold",
        "test:1",
        {"a": [1]},
    )
    assert stored.created_at == first.created_at  # the field's default, kept
    assert Journal.objects.get(pk=second.pk).metadata == {}
    assert Journal.objects.count() == 2
    # an inserted instance saves as an UPDATE (on a table that may be updated:
    # journals are append-only)
    euro = Asset(code="EUR", name="Euro", decimals=2, kind="fiat")
    insert_one(euro)
    euro.name = "Euro (EU)"
    euro.save(update_fields=["name"])
    assert Asset.objects.get(pk=euro.pk).name == "Euro (EU)"


def test_insert_one_raises_the_databases_integrity_errors(usd):
    from django.db import IntegrityError, transaction

    from accounts.testing import make_user
    from config.bulk import insert_one

    user = make_user(email="dup@example.com")
    fund(user, usd, 1)
    account = Account.objects.get(owner=user, asset=usd, kind="available")
    duplicate = Account(owner=user, asset=usd, kind="available")
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_one(duplicate)
    assert (
        Account.objects.filter(owner=user, asset=usd, kind="available").get() == account
    )


def test_insert_rows_together_writes_every_group_and_sets_their_ids(usd):
    from config.bulk import insert_rows_together
    from wallet.models import Journal

    journals = [
        Journal(kind=Journal.Kind.HOLD, reference=f"test:{n}", metadata={"n": n})
        for n in range(20)  # past the cached VALUES statements
    ]
    assets = [
        Asset(code=code, name=code, decimals=2, kind="fiat") for code in ("EUR", "GBP")
    ]
    insert_rows_together(journals, [], assets)
    stored = dict(Journal.objects.values_list("pk", "reference"))
    assert [stored[journal.pk] for journal in journals] == [
        f"test:{n}" for n in range(20)
    ]
    assert [journal.pk for journal in journals] == sorted(stored)  # in list order
    assert Journal.objects.get(pk=journals[7].pk).metadata == {"n": 7}
    assert {Asset.objects.get(pk=a.pk).code for a in assets} == {"EUR", "GBP"}
    assert not any(row._state.adding for row in [*journals, *assets])


def test_insert_rows_together_is_all_or_nothing(usd):
    from django.db import IntegrityError, transaction

    from config.bulk import insert_rows_together
    from wallet.models import Journal

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows_together(
            [Journal(kind=Journal.Kind.HOLD, reference="test:new")],
            [Asset(code="USD", name="Again", decimals=2, kind="fiat")],
        )
    assert not Journal.objects.exists()
    assert Asset.objects.count() == 1


def test_inserts_deferred_leaves_rows_to_the_caller(usd):
    from config.bulk import (
        insert_rows_deferrable,
        insert_rows_together,
        inserts_deferred,
    )
    from wallet.models import Journal

    outside = Journal(kind=Journal.Kind.HOLD, reference="test:now")
    insert_rows_deferrable([outside])  # no block: written at once
    assert outside.pk and Journal.objects.filter(pk=outside.pk).exists()
    with inserts_deferred() as later:
        rows = [Journal(kind=Journal.Kind.HOLD, reference=f"test:{n}") for n in (1, 2)]
        insert_rows_deferrable(rows)
        assert later == rows and Journal.objects.count() == 1  # not yet written
        insert_rows_together(later)
    assert all(row.pk for row in rows)
    assert sorted(Journal.objects.values_list("reference", flat=True)) == [
        "test:1",
        "test:2",
        "test:now",
    ]


def test_rows_left_unwritten_by_inserts_deferred_are_an_error(usd):
    from config.bulk import insert_rows_deferrable, inserts_deferred
    from wallet.models import Journal

    with pytest.raises(RuntimeError, match="not written"), inserts_deferred():
        insert_rows_deferrable([Journal(kind=Journal.Kind.HOLD, reference="test:x")])
    assert not Journal.objects.exists()
    with pytest.raises(ValueError), inserts_deferred():  # the caller's own error
        insert_rows_deferrable([Journal(kind=Journal.Kind.HOLD, reference="test:y")])
        raise ValueError


def test_rows_locked_and_instance_from_row_build_what_the_orm_builds(usd):
    """Accounts (integers), journals (JSON metadata, datetimes) and holds read in
    SQL equal the ORM's instances, field by field and type by type."""
    from django.db import connection, transaction

    from accounts.testing import make_user
    from config.bulk import column_in, instance_from_row, model_columns, rows_locked
    from wallet.ledger import hold_create
    from wallet.models import Journal

    user = make_user(email="rows@example.com")
    fund(user, usd, 5_000)
    hold = hold_create(
        user=user, asset=usd, amount=1_000, reference_kind="test", reference_id="1",
        metadata={"nested": {"a": [1, 2]}, "text": "é"},
    )  # fmt: skip
    accounts = list(Account.objects.filter(owner=user).order_by("pk"))
    with transaction.atomic():
        locked = rows_locked(Account, [a.pk for a in reversed(accounts)] + [10**9])
        held = rows_locked(Hold, [hold.pk])
    assert list(locked) == [a.pk for a in accounts]  # pk order, unknown pks skipped
    pairs = [(locked[a.pk], a) for a in accounts] + [(held[hold.pk], hold)]
    journals = list(Journal.objects.order_by("pk"))
    where, params = column_in("j.id", [j.pk for j in journals])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {model_columns(Journal, 'j')} FROM wallet_journal j"  # noqa: S608
            f" WHERE {where} ORDER BY j.id",
            params,
        )
        pairs += [
            (instance_from_row(Journal, row), journal)
            for row, journal in zip(cursor.fetchall(), journals, strict=True)
        ]
    assert journals[-1].metadata["nested"] == {"a": [1, 2]}
    for ours, orms in pairs:
        for field in type(orms)._meta.concrete_fields:
            mine, theirs = getattr(ours, field.attname), getattr(orms, field.attname)
            assert (mine, type(mine)) == (theirs, type(theirs)), field.name
    assert rows_locked(Account, []) == {}


def _same_instance(made, expected) -> None:
    """Same field values (and types), same relation caches, both unsaved."""
    assert type(made) is type(expected)
    for field in type(made)._meta.concrete_fields:
        mine, theirs = getattr(made, field.attname), getattr(expected, field.attname)
        if field.name == "created_at" and callable(field.default):
            assert abs(mine - theirs).total_seconds() < 5  # both "now"
            continue
        assert (mine, type(mine)) == (theirs, type(theirs)), field.name
    assert made._state.fields_cache == expected._state.fields_cache
    assert (made._state.adding, made._state.db) == (True, None)
    assert made.pk is None


def test_new_instance_builds_what_the_constructor_builds(usd, django_user_model):
    """Relations by object and by id, given and defaulted fields, for each model
    the matcher and the ledger create in bulk."""
    from config.bulk import new_instance
    from marketdata.models import UserEvent
    from trading.models import Instrument, Order, OrderStatusChange
    from wallet.models import Entry, Journal

    user = django_user_model.objects.create_user(email="n@example.com", password="x")
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    journal = Journal(kind=Journal.Kind.TRADE, reference="t:1", created_at=now)
    cases = [
        (Journal, {"kind": Journal.Kind.TRADE, "reference": "r", "created_at": now}),
        (Journal, {"kind": Journal.Kind.HOLD, "reference": "r"}),  # default metadata
        (
            Entry,
            {
                "journal": journal,
                "account_id": 7,
                "amount": -5,
                "balance_after": 10,
                "created_at": now,
            },
        ),
        (UserEvent, {"user_id": user.pk, "type": UserEvent.Type.ORDER, "data": {}}),
        (UserEvent, {"user": user, "type": UserEvent.Type.FILL, "data": {"a": 1}}),
    ]
    order = Order(user=user, instrument=Instrument(symbol="X-USD"), side="buy")
    cases.append(
        (
            OrderStatusChange,
            {"order": order, "from_status": "", "to_status": "open", "created_at": now},
        )
    )
    for model, values in cases:
        _same_instance(new_instance(model, **values), model(**values))


def test_new_instance_refuses_unknown_fields_as_the_constructor_does(usd):
    from config.bulk import new_instance
    from wallet.models import Journal

    with pytest.raises(TypeError, match="refernce"):
        new_instance(Journal, kind=Journal.Kind.TRADE, refernce="r")
    with pytest.raises(TypeError):
        Journal(kind=Journal.Kind.TRADE, refernce="r")


def test_new_instance_uses_the_constructor_when_init_signals_listen():
    from django.db.models.signals import post_init

    from config import bulk
    from wallet.models import Journal

    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=Journal)
    bulk._new_makers.pop(Journal, None)
    try:
        made = bulk.new_instance(Journal, kind=Journal.Kind.TRADE, reference="r")
    finally:
        post_init.disconnect(listener, sender=Journal)
        bulk._new_makers.pop(Journal, None)
    assert seen == [made]
