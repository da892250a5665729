"""The ledger's hand-written SQL, each statement behind a name that says what it
does. The posting service (wallet/ledger.py) decides; these only read and write
rows, in as few round trips as the database allows. Vendor differences live
here and in config/bulk.py, never in the service."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction

from config import pgarrays
from config.bulk import (
    bulk_add,
    bulk_update_rows,
    column_in,
    insert_rows,
    instance_from_row,
    model_columns,
    new_instance,
    next_id_sql,
)
from wallet.models import Account, BalanceAlert, Entry, Hold, Journal


def journals_with_keys(*, kinds: Sequence[str], references: Sequence[str]) -> list:
    """The journals whose kind is one of `kinds` and reference one of
    `references` (a probe of the unique index; the caller pairs them)."""
    kind_in, kind_params = column_in("j.kind", sorted(set(kinds)))
    reference_in, reference_params = column_in("j.reference", sorted(set(references)))
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            # names from the model, values bound
            f"SELECT {model_columns(Journal, 'j')} FROM {Journal._meta.db_table} j"  # noqa: S608
            f" WHERE {kind_in} AND {reference_in}",
            kind_params + reference_params,
        )
        rows = cursor.fetchall()
    return [instance_from_row(Journal, row) for row in rows]


def _pg_cursor():
    """A cursor of the transaction's connection that can send packed arrays
    (config/pgarrays.py: one `struct.pack` or join per column)."""
    connection = transaction.get_connection()
    connection.ensure_connection()
    pgarrays.ready(connection.connection)
    return connection.cursor()


def _bigints(values: Sequence[int]) -> pgarrays.PackedArray:
    return pgarrays.pack_array(values, "bigint")


_journals_insert_sql: dict[tuple[str, bool], str] = {}


def journals_insert(
    *,
    kinds: Sequence[str],
    references: Sequence[str],
    metadata: Sequence[dict],
    now: datetime,
    skip_existing: bool,
) -> list[int | None]:
    """Insert the journals (one per index, `created_at` = `now`) and return their
    ids in that order. `skip_existing`: a `(kind, reference)` already posted
    (or posted by a concurrent transaction, which the unique index waits for)
    is left alone and its id is None, the caller's to replay; without it, such a
    reference fails the statement (`IntegrityError`).

    On PostgreSQL one statement of arrays, the same text for any count (so it is
    prepared once): the ids drawn from the sequence in order, the conflicts
    skipped by `ON CONFLICT DO NOTHING` (no savepoint, no probe first)."""
    if not kinds:
        return []
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return _journals_insert_orm(kinds, references, metadata, now, skip_existing)
    key = (connection.alias, skip_existing)
    sql = _journals_insert_sql.get(key)
    if sql is None:
        table = Journal._meta.db_table
        sql = _journals_insert_sql[key] = (
            # names from the model and the catalog, values bound
            f"WITH v AS (SELECT {next_id_sql(Journal)} AS id, v.*"  # noqa: S608
            " FROM unnest(%b::text[], %b::text[], %b::jsonb[]) WITH ORDINALITY"
            " AS v(kind, reference, metadata, n)),"
            f" i AS (INSERT INTO {table} (id, kind, reference, created_at, metadata)"
            " SELECT v.id, v.kind, v.reference, %s, v.metadata FROM v ORDER BY v.n"
            + (" ON CONFLICT (kind, reference) DO NOTHING" if skip_existing else "")
            + " RETURNING id)"
            " SELECT array_agg(i.id ORDER BY v.n) FROM v LEFT JOIN i ON i.id = v.id"
        )
    params = [
        pgarrays.pack_array(kinds, "text"),
        pgarrays.pack_array(references, "text"),
        pgarrays.pack_array(metadata, "jsonb"),
        now,
    ]
    with _pg_cursor() as cursor:
        cursor.execute(sql, params)
        (ids,) = cursor.fetchone()
    return ids


def _journals_insert_orm(kinds, references, metadata, now, skip_existing):
    """`journals_insert` elsewhere (the embedded SQLite): the references already
    posted looked up first, the others inserted under a savepoint; a twin that
    committed the same reference in between is found by a second look."""
    for attempt in (1, 2):
        existing = set()
        if skip_existing:
            existing = {
                (journal.kind, journal.reference)
                for journal in journals_with_keys(kinds=kinds, references=references)
            }
        new = {
            index: new_instance(
                Journal, kind=kind, reference=reference, created_at=now, metadata=meta
            )
            for index, (kind, reference, meta) in enumerate(
                zip(kinds, references, metadata, strict=True)
            )
            if (kind, reference) not in existing
        }
        try:
            with transaction.atomic():
                insert_rows(list(new.values()))
            break
        except IntegrityError:
            if attempt == 2 or not skip_existing:
                raise
    return [new[index].pk if index in new else None for index in range(len(kinds))]


# (journal ids, account ids, amounts, balances after): the entries of a batch,
# one list per column, in the order they are written
EntryColumns = tuple[list[int], list[int], list[int], list[int]]

_HOLD_COLUMNS = (
    "amount",
    "posted_amount",
    "released_amount",
    "remaining_amount",
    "status",
    "updated_at",
)


def postings_write(
    *,
    entries: EntryColumns,
    deltas: dict[int, int],
    holds: Sequence[Hold],
    now: datetime,
) -> None:
    """Write a batch's entries (`created_at` = `now`), add each account's net
    move to its balance (one aggregated update, whatever the number of entries
    per account) and save the holds' amounts and status: on PostgreSQL one
    statement of arrays, the same text for any count. The accounts and holds
    are locked by the caller; the CHECKs refuse what should not be."""
    if transaction.get_connection().vendor != "postgresql":
        _postings_write_orm(entries, deltas, holds, now)
        return
    journal_ids, account_ids, amounts, afters = entries
    entry_table, account_table, hold_table = (
        model._meta.db_table for model in (Entry, Account, Hold)
    )
    sql = (
        # names from the models, values bound
        f"WITH e AS (INSERT INTO {entry_table}"  # noqa: S608
        " (journal_id, account_id, amount, balance_after, created_at)"
        " SELECT x.j, x.a, x.m, x.b, %s FROM unnest(%b::bigint[], %b::bigint[],"
        " %b::bigint[], %b::bigint[]) AS x(j, a, m, b)),"
        f" a AS (UPDATE {account_table} AS t SET balance = t.balance + d.delta"
        " FROM unnest(%b::bigint[], %b::bigint[]) AS d(id, delta) WHERE t.id = d.id),"
        f" h AS (UPDATE {hold_table} AS t SET amount = v.amount,"
        " posted_amount = v.posted, released_amount = v.released,"
        " remaining_amount = v.remaining, status = v.status, updated_at = %s"
        " FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[],"
        " %b::bigint[], %b::text[]) AS v(id, amount, posted, released, remaining,"
        " status) WHERE t.id = v.id)"
        " SELECT 1"
    )
    params = [
        now,
        _bigints(journal_ids),
        _bigints(account_ids),
        _bigints(amounts),
        _bigints(afters),
        _bigints(list(deltas)),
        _bigints(list(deltas.values())),
        now,
        _bigints([hold.pk for hold in holds]),
        _bigints([hold.amount for hold in holds]),
        _bigints([hold.posted_amount for hold in holds]),
        _bigints([hold.released_amount for hold in holds]),
        _bigints([hold.remaining_amount for hold in holds]),
        pgarrays.pack_array([hold.status for hold in holds], "text"),
    ]
    with _pg_cursor() as cursor:
        cursor.execute(sql, params)


def _postings_write_orm(entries: EntryColumns, deltas, holds, now) -> None:
    insert_rows(
        [
            new_instance(
                Entry,
                journal_id=journal_id,
                account_id=account_id,
                amount=amount,
                balance_after=after,
                created_at=now,
            )
            for journal_id, account_id, amount, after in zip(*entries, strict=True)
        ],
        returning=False,
    )
    bulk_add(Account, "balance", deltas)
    for hold in holds:
        hold.updated_at = now
    bulk_update_rows(Hold, holds, _HOLD_COLUMNS)


# (user id, asset code, minimum, available balance): an alert disarmed
AlertCrossing = tuple[int, str, int, int]


def balance_alerts_flip(*, available: dict[tuple[int, int], int]) -> list:
    """Judge the balance alerts of these `{(user id, asset id): available
    balance}` in one statement: an armed alert whose balance is now below its
    minimum is disarmed, a disarmed one at or above it re-armed, others are
    left alone. Returns the disarmed ones (`AlertCrossing`), by user and asset.
    The alert rows are locked by the update, the balances by the posting."""
    if not available:
        return []
    if transaction.get_connection().vendor != "postgresql":
        return _balance_alerts_flip_orm(available)
    quote = transaction.get_connection().ops.quote_name
    alert_table = quote(BalanceAlert._meta.db_table)
    asset_table = quote(
        BalanceAlert._meta.get_field("asset").related_model._meta.db_table
    )
    sql = (
        # names from the models, values bound: the alerts whose state the
        # balances contradict, then each of them flipped
        f"UPDATE {alert_table} AS t SET armed = c.armed FROM (SELECT a.id,"  # noqa: S608
        " a.user_id, s.code, a.minimum, v.balance, v.balance >= a.minimum AS armed"
        f" FROM {alert_table} a"
        " JOIN unnest(%b::bigint[], %b::bigint[], %b::bigint[])"
        " AS v(user_id, asset_id, balance)"
        " ON a.user_id = v.user_id AND a.asset_id = v.asset_id"
        f" JOIN {asset_table} s ON s.id = a.asset_id"
        " WHERE a.armed <> (v.balance >= a.minimum)) AS c"
        " WHERE t.id = c.id"
        " RETURNING c.user_id, c.code, c.minimum, c.balance, c.armed"
    )
    with _pg_cursor() as cursor:
        cursor.execute(
            sql,
            [
                _bigints([user for user, _ in available]),
                _bigints([asset for _, asset in available]),
                _bigints(list(available.values())),
            ],
        )
        rows = cursor.fetchall()
    return sorted(row[:4] for row in rows if not row[4])


def _balance_alerts_flip_orm(available: dict[tuple[int, int], int]) -> list:
    rows = BalanceAlert.objects.filter(
        user_id__in={owner for owner, _ in available},
        asset_id__in={asset for _, asset in available},
    ).values_list("pk", "user_id", "asset_id", "asset__code", "minimum", "armed")
    disarm: list[int] = []
    rearm: list[int] = []
    crossings: list[AlertCrossing] = []
    for pk, user_id, asset_id, code, minimum, armed in rows:
        balance = available.get((user_id, asset_id))
        if balance is None:  # this user's other asset moved, not this one
            continue
        if armed and balance < minimum:
            disarm.append(pk)
            crossings.append((user_id, code, minimum, balance))
        elif not armed and balance >= minimum:
            rearm.append(pk)
    if disarm:
        BalanceAlert.objects.filter(pk__in=disarm).update(armed=False)
    if rearm:
        BalanceAlert.objects.filter(pk__in=rearm).update(armed=True)
    return sorted(crossings)


def owes_sql(user_column: str) -> str:
    """An SQL condition, true while the user in `user_column` owes the platform
    (a receivable below zero, after a refund or a lost dispute of money already
    spent). The restriction rule, written once: `wallet_restricted` and order
    placement's one statement (trading/queries.py) both use it."""
    return (
        f"EXISTS (SELECT 1 FROM {Account._meta.db_table} ra"  # noqa: S608
        f" WHERE ra.owner_id = {user_column}"
        f" AND ra.kind = '{Account.Kind.RECEIVABLE.value}' AND ra.balance < 0)"
    )


def has_alerts_sql(user_column: str) -> str:
    """An SQL condition, true while the user in `user_column` has a balance alert
    (armed or not): without one no posting of theirs has an alert to flip.
    Exact when read under the user's row lock, which `balance_alert_set` and
    `balance_alert_delete` take before they write an alert (order placement
    reads it in its accounts' statement, trading/queries.py, after that lock)."""
    return (
        f"EXISTS (SELECT 1 FROM {BalanceAlert._meta.db_table} ba"  # noqa: S608
        f" WHERE ba.user_id = {user_column})"
    )


def user_owes(*, user_id: int) -> bool:
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(f"SELECT {owes_sql('%s')}", [user_id])  # noqa: S608
        return bool(cursor.fetchone()[0])


# every column of Account, in its fields' order (`Account.from_db` needs it)
ACCOUNT_COLUMNS = ("id", "owner_id", "asset_id", "kind", "balance", "created_at")


def user_accounts_lock_sql(
    *, user_id: int, asset_ids: Sequence[int]
) -> tuple[str, list]:
    """The statement that locks the user's available and held accounts of these
    assets in pk order (the order every posting locks in), reading
    `ACCOUNT_COLUMNS`, with its parameters: `user_accounts_locked` runs it, and
    order placement runs it inside its own statement (trading/queries.py)."""
    connection = transaction.get_connection()
    asset_in, asset_params = column_in("asset_id", sorted(asset_ids))
    sql = (
        # names from the model, values as parameters
        f"SELECT {', '.join(ACCOUNT_COLUMNS)}"  # noqa: S608
        f" FROM {Account._meta.db_table}"
        f" WHERE owner_id = %s AND {asset_in} AND kind IN (%s, %s) ORDER BY id"
    )
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    kinds = [Account.Kind.AVAILABLE.value, Account.Kind.HELD.value]
    return sql, [user_id, *asset_params, *kinds]


def accounts_from_rows(rows: Sequence[Sequence]) -> list[Account]:
    """Accounts from rows of `ACCOUNT_COLUMNS`."""
    alias = transaction.get_connection().alias
    return [Account.from_db(alias, ACCOUNT_COLUMNS, row) for row in rows]


def user_accounts_locked(*, user_id: int, asset_ids: Sequence[int]) -> list[Account]:
    """The user's available and held accounts of these assets, locked in pk
    order (the order every posting locks in), in one statement: the ORM's
    compiler cost more Python than this statement's round trip."""
    if not asset_ids:
        return []
    sql, params = user_accounts_lock_sql(user_id=user_id, asset_ids=asset_ids)
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return accounts_from_rows(cursor.fetchall())


# (hold index, account id, amount, balance after): one entry of a new hold
HoldEntry = tuple[int, int, int, int]


def new_holds_insert(
    *,
    holds: Sequence[Hold],
    metadata: Sequence[dict],
    entries: Sequence[HoldEntry],
    deltas: dict[int, int],
    now: datetime,
) -> None:
    """Write new holds with their journals (`hold:<kind>:<id>`, metadata
    `{"hold": id, ...}`), their entries in the order given and the balance
    moves, and set the holds' ids. On PostgreSQL one statement whose text does
    not depend on how many holds (arrays, unnested), so a pooled connection
    prepares it once; elsewhere a statement per table."""
    if transaction.get_connection().vendor != "postgresql":
        insert_rows(holds)
        journals = [
            Journal(
                kind=Journal.Kind.HOLD,
                reference=f"{hold.reference_kind}:{hold.reference_id}",
                created_at=now,
                metadata={"hold": hold.pk, **extra},
            )
            for hold, extra in zip(holds, metadata, strict=True)
        ]
        insert_rows(journals)
        insert_rows(
            [
                Entry(
                    journal=journals[index],
                    account_id=account_id,
                    amount=amount,
                    balance_after=after,
                    created_at=now,
                )
                for index, account_id, amount, after in entries
            ],
            returning=False,
        )
        bulk_add(Account, "balance", deltas)
        return
    hold_table, journal_table, entry_table, account_table = (
        model._meta.db_table for model in (Hold, Journal, Entry, Account)
    )
    references = [f"{h.reference_kind}:{h.reference_id}" for h in holds]
    sql = (
        # table names from the models, values as parameters
        "WITH v AS (SELECT * FROM unnest(%b::int[], %b::bigint[], %b::bigint[],"  # noqa: S608
        " %b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::bigint[],"
        " %b::text[]) AS v(n, asset_id, held_id, available_id, user_id,"
        " reference_kind, reference_id, amount, metadata)),"
        f" h AS (INSERT INTO {hold_table} (user_id, asset_id, held_account_id,"
        "  available_account_id, reference_kind, reference_id, amount,"
        "  posted_amount, released_amount, remaining_amount, status, created_at,"
        "  updated_at)"
        "  SELECT v.user_id, v.asset_id, v.held_id, v.available_id,"
        "  v.reference_kind, v.reference_id, v.amount, 0, 0, v.amount, %s, %s, %s"
        "  FROM v ORDER BY v.n RETURNING id, reference_kind, reference_id),"
        f" j AS (INSERT INTO {journal_table} (kind, reference, created_at, metadata)"
        "  SELECT %s, v.reference_kind || ':' || v.reference_id, %s,"
        "  jsonb_build_object('hold', h.id) || v.metadata::jsonb"
        "  FROM v JOIN h ON h.reference_kind = v.reference_kind"
        "  AND h.reference_id = v.reference_id ORDER BY v.n RETURNING id, reference),"
        f" e AS (INSERT INTO {entry_table}"
        "  (journal_id, account_id, amount, balance_after, created_at)"
        "  SELECT j.id, x.account, x.amount, x.after, %s"
        "  FROM unnest(%b::int[], %b::text[], %b::bigint[], %b::bigint[],"
        "  %b::bigint[]) AS x(n, reference, account, amount, after)"
        "  JOIN j ON j.reference = x.reference ORDER BY x.n),"
        f" a AS (UPDATE {account_table} AS t SET balance = t.balance + d.delta"
        "  FROM unnest(%b::bigint[], %b::bigint[]) AS d(id, delta) WHERE t.id = d.id)"
        " SELECT h.id, h.reference_kind, h.reference_id FROM h"
    )
    params = [
        list(range(len(holds))),
        [h.asset_id for h in holds],
        [h.held_account_id for h in holds],
        [h.available_account_id for h in holds],
        [h.user_id for h in holds],
        [h.reference_kind for h in holds],
        [h.reference_id for h in holds],
        [h.amount for h in holds],
        [json.dumps(extra) for extra in metadata],
        Hold.Status.PENDING.value,
        now,
        now,
        Journal.Kind.HOLD.value,
        now,
        now,
        list(range(len(entries))),
        [references[index] for index, _, _, _ in entries],
        [account for _, account, _, _ in entries],
        [amount for _, _, amount, _ in entries],
        [after for _, _, _, after in entries],
        list(deltas),
        list(deltas.values()),
    ]
    connection = transaction.get_connection()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = {(kind, reference): pk for pk, kind, reference in cursor.fetchall()}
    for hold in holds:
        hold.pk = ids[(hold.reference_kind, hold.reference_id)]
        hold._state.adding = False
        hold._state.db = connection.alias
